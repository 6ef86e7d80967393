//! Faults of the AWS dependencies, through the SDK's own mock tooling (aws-smithy-mocks): the
//! real clients, with canned answers where moto cannot produce the fault.

use std::sync::Arc;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;
use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::types::error::ResourceNotFoundException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use functions::AppState;
use functions::adapters::aws::eventbridge::Backoff;
use functions::adapters::aws::{DynamoDbItemStore, EventBridgeBus, SecretsManagerConfig};
use functions::adapters::embedded::config::FileConfig;
use functions::domain::{Item, NewItem};
use functions::events::ItemCreated;
use functions::ports::{BusError, BusEvent, ConfigError, EventBus};
use tower::ServiceExt;

use crate::support::{counter, with_counters};

/// The metadata an error read off the wire carries: its code (a built error has none).
fn wire_error(code: &str) -> aws_sdk_dynamodb::error::ErrorMetadata {
    aws_sdk_dynamodb::error::ErrorMetadata::builder()
        .code(code)
        .build()
}

fn event() -> BusEvent {
    let item = Item::create(
        "alice",
        NewItem {
            name: "n".into(),
            description: None,
        },
    );
    ItemCreated::new(&item, "req", None).to_bus_event(&item)
}

fn ok_entry() -> PutEventsResultEntry {
    PutEventsResultEntry::builder().event_id("e-ok").build()
}

fn failed_entry(code: &str) -> PutEventsResultEntry {
    PutEventsResultEntry::builder()
        .error_code(code)
        .error_message("entry failed")
        .build()
}

fn fast() -> Backoff {
    Backoff {
        delays: vec![std::time::Duration::from_millis(1); 3],
    }
}

#[test]
fn a_partial_put_events_failure_retries_only_the_failed_entries() {
    let rule = mock!(aws_sdk_eventbridge::Client::put_events)
        .sequence()
        .output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(ok_entry())
                .entries(failed_entry("InternalFailure"))
                .build()
        })
        .output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(0)
                .entries(ok_entry())
                .build()
        })
        .build();
    let second_call_sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sizes = Arc::clone(&second_call_sizes);
    let sizes_rule = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(move |req| {
            sizes.lock().unwrap().push(req.entries().len());
            false
        })
        .then_output(|| unreachable!("only observes"));
    let client = mock_client!(
        aws_sdk_eventbridge,
        RuleMode::MatchAny,
        [&sizes_rule, &rule]
    );
    let bus = EventBridgeBus::new(client, "items-api").with_backoff(fast());
    let (result, counters) = with_counters(bus.publish(&[event(), event()]));
    result.unwrap();
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(
        *second_call_sizes.lock().unwrap(),
        vec![2, 1],
        "the retry carries only the failed entry"
    );
    assert_eq!(
        counter(
            &counters,
            telemetry::metric_names::ITEM_EVENT_PUBLISH_RETRIES
        ),
        1
    );
}

#[test]
fn entries_that_keep_failing_are_reported_after_bounded_retries() {
    let rule = mock!(aws_sdk_eventbridge::Client::put_events)
        .sequence()
        .output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(failed_entry("ThrottlingException"))
                .build()
        })
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_eventbridge, [&rule]);
    let bus = EventBridgeBus::new(client, "items-api").with_backoff(fast());
    let (result, counters) = with_counters(bus.publish(&[event()]));
    match result {
        Err(BusError::EntriesFailed { failed, reason }) => {
            assert_eq!(failed, vec![0]);
            assert!(reason.contains("ThrottlingException"), "{reason}");
        }
        other => panic!("expected EntriesFailed, got {other:?}"),
    }
    assert_eq!(rule.num_calls(), 4, "one call and three retries");
    assert_eq!(
        counter(
            &counters,
            telemetry::metric_names::ITEM_EVENT_PUBLISH_RETRIES
        ),
        3
    );
}

#[test]
fn a_malformed_entry_is_not_retried() {
    let rule = mock!(aws_sdk_eventbridge::Client::put_events)
        .sequence()
        .output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(failed_entry("MalformedDetail"))
                .build()
        })
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_eventbridge, [&rule]);
    let bus = EventBridgeBus::new(client, "items-api").with_backoff(fast());
    let (result, _) = with_counters(bus.publish(&[event()]));
    assert!(matches!(result, Err(BusError::EntriesFailed { .. })));
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_missing_secret_fails_the_cold_start_with_a_clear_message() {
    let rule = mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_error(|| {
        GetSecretValueError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("Secrets Manager can't find the specified secret.")
                .meta(wire_error("ResourceNotFoundException"))
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_secretsmanager, [&rule]);
    let err = SecretsManagerConfig::load(
        client,
        "items-api/config",
        std::time::Duration::from_secs(300),
    )
    .await
    .err()
    .expect("no secret, no start");
    assert!(matches!(err, ConfigError::Invalid(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("items-api/config") && message.contains("ResourceNotFoundException"),
        "{message}"
    );
}

/// An API Gateway payload 2.0 request for `POST /items` from `sub`.
fn create_request(sub: &str) -> lambda_http::Request {
    let event = serde_json::json!({
        "version": "2.0", "routeKey": "POST /items", "rawPath": "/items", "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "api.example.com"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "http": {"method": "POST", "path": "/items", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "JKJaXmPLvHcESHA=", "routeKey": "POST /items", "stage": "$default",
            "time": "21/Nov/2026:22:42:17 +0000", "timeEpoch": 1795300937000i64,
            "authorizer": {"jwt": {"claims": {"sub": sub}, "scopes": null}}
        },
        "body": "{\"name\": \"during a throttle\"}", "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

#[test]
fn a_throttled_table_is_a_503_with_retry_after_and_no_item_or_event() {
    let put = mock!(aws_sdk_dynamodb::Client::put_item)
        .sequence()
        .error(|| {
            PutItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder()
                    .message("Rate of requests exceeds the allowed throughput.")
                    .meta(wire_error("ProvisionedThroughputExceededException"))
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let dynamodb = mock_client!(aws_sdk_dynamodb, [&put]);
    let put_events = mock!(aws_sdk_eventbridge::Client::put_events)
        .then_output(|| PutEventsOutput::builder().build());
    let eventbridge = mock_client!(aws_sdk_eventbridge, [&put_events]);
    let dir = tempfile::tempdir().unwrap();
    let state = AppState {
        store: Arc::new(DynamoDbItemStore::new(dynamodb, "items")),
        bus: Arc::new(EventBridgeBus::new(eventbridge, "items-api")),
        config: Arc::new(FileConfig::load_or_create(&dir.path().join("secret.json")).unwrap()),
    };
    let router = functions::router(state);
    let (response, counters) = with_counters(router.oneshot(create_request("alice")));
    let response = response.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(put.num_calls() >= 1, "the put was tried");
    assert_eq!(
        put_events.num_calls(),
        0,
        "no event for an item that was not stored"
    );
    assert_eq!(
        counter(&counters, telemetry::metric_names::ITEMS_CREATED),
        0
    );
    assert!(counter(&counters, telemetry::metric_names::STORE_THROTTLES) >= 1);
}
