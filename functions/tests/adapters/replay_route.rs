//! `POST /internal/events/replay` through the router (a payload 2.0 request as API Gateway's
//! `AWS_IAM` hands it over), on redb and on DynamoDB (moto): the window's events, in batches
//! `PutEvents` takes, with the original items' fields; refused entries counted and logged;
//! no IAM identity, no replay.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use functions::AppState;
use functions::adapters::aws::DynamoDbItemStore;
use functions::adapters::aws::dynamodb::attr;
use functions::adapters::embedded::config::FileConfig;
use functions::adapters::embedded::store::RedbItemStore;
use functions::domain::{Item, ItemId, Origin};
use functions::ports::{BusError, BusEvent, EventBus, ItemStore};
use serde_json::{Value, json};
use telemetry::metric_names as names;
use testkit::Moto;
use testkit::aws as aws_env;
use tower::ServiceExt;

use crate::support::{counter, with_counters};

/// 2026-11-18T07:06:40Z in milliseconds; items are made at whole seconds after it.
const BASE_MS: u64 = 1_795_000_000_000;

fn item_at(owner: &str, second: u64, n: u64) -> Item {
    let ms = (BASE_MS + second * 1000) as u128;
    Item {
        id: ItemId::from_u128(ms << 80 | 0x7 << 76 | 0b10 << 62 | n as u128),
        owner: owner.to_owned(),
        name: format!("{owner} {second}"),
        description: None,
        origin: None,
    }
}

fn rfc3339(second: u64) -> String {
    functions::domain::rfc3339_millis(
        time::OffsetDateTime::from_unix_timestamp(((BASE_MS / 1000) + second) as i64).unwrap(),
    )
}

/// Keeps every batch; refuses (as `FailedEntryCount`) the entries of the items it is told to.
#[derive(Default)]
struct RecordingBus {
    batches: Mutex<Vec<Vec<BusEvent>>>,
    refuse: Mutex<BTreeSet<String>>,
}

#[async_trait]
impl EventBus for RecordingBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), BusError> {
        let refuse = self.refuse.lock().unwrap().clone();
        let failed: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| refuse.contains(e.detail["item_id"].as_str().unwrap()))
            .map(|(i, _)| i)
            .collect();
        self.batches.lock().unwrap().push(
            events
                .iter()
                .enumerate()
                .filter(|(i, _)| !failed.contains(i))
                .map(|(_, e)| e.clone())
                .collect(),
        );
        if failed.is_empty() {
            Ok(())
        } else {
            Err(BusError::EntriesFailed {
                failed,
                reason: "InternalFailure".into(),
            })
        }
    }
}

async fn call(router: &axum::Router, body: &Value, iam: bool) -> (u16, Value) {
    let mut context = json!({
        "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
        "http": {"method": "POST", "path": "/internal/events/replay", "protocol": "HTTP/1.1",
                 "sourceIp": "127.0.0.1", "userAgent": "opsctl"},
        "requestId": "Rpl4yReQuEstId0=", "routeKey": "ANY /internal/{proxy+}", "stage": "$default",
        "time": "21/Nov/2026:22:42:17 +0000", "timeEpoch": 1795300937000i64
    });
    if iam {
        context["authorizer"] = json!({"iam": {
            "accessKey": "AKIAEXAMPLE", "accountId": "123456789012", "callerId": "AIDAEXAMPLE",
            "cognitoIdentity": null, "principalOrgId": null,
            "userArn": "arn:aws:iam::123456789012:user/on-call", "userId": "AIDAEXAMPLE"
        }});
    }
    let event = json!({
        "version": "2.0", "routeKey": "ANY /internal/{proxy+}",
        "rawPath": "/internal/events/replay", "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "api.example.com"},
        "pathParameters": {"proxy": "events/replay"},
        "requestContext": context,
        "body": body.to_string(), "isBase64Encoded": false
    });
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The replay's cases on one store.
async fn replay_contract(store: Arc<dyn ItemStore>) {
    let dir = tempfile::tempdir().unwrap();
    let bus = Arc::new(RecordingBus::default());
    let router = functions::router(AppState {
        store: Arc::clone(&store),
        bus: Arc::clone(&bus) as Arc<dyn EventBus>,
        config: Arc::new(FileConfig::load_or_create(&dir.path().join("secret.json")).unwrap()),
    });
    // 25 items in the window (seconds 10..15, five owners), 10 outside it (seconds 0 and 20).
    let mut inside = Vec::new();
    for second in 10..15 {
        for o in 0..5 {
            let mut item = item_at(&format!("owner-{o}"), second, o);
            // Odd owners' items were stored with their request's ids; the others before those
            // were kept.
            if o % 2 == 1 {
                item = item.with_origin(Origin {
                    request_id: format!("made-by-{o}-{second}"),
                    trace_header: (o == 1).then(|| format!("Root=1-5759e988-{second:024x}")),
                });
            }
            store.put(&item).await.unwrap();
            inside.push(item);
        }
    }
    for (o, second) in (0..5).flat_map(|o| [(o, 0), (o, 20)]) {
        store
            .put(&item_at(&format!("owner-{o}"), second, o))
            .await
            .unwrap();
    }
    let window = json!({"from": rfc3339(10), "to": rfc3339(15)});

    // No IAM identity in the request context: the route was deployed without its authorizer.
    let (status, _) = call(&router, &window, false).await;
    assert_eq!(status, 401);
    assert!(bus.batches.lock().unwrap().is_empty());

    // Two entries refused by the bus: counted as failed, the others published.
    let refused: BTreeSet<String> = inside[..2].iter().map(|i| i.id.to_string()).collect();
    *bus.refuse.lock().unwrap() = refused.clone();
    let (status, answer) = call(&router, &window, true).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"items": 25, "published": 23, "failed": 2, "next_cursor": null})
    );
    let batches = bus.batches.lock().unwrap().clone();
    assert!(batches.iter().all(|b| b.len() <= 10), "PutEvents takes 10");
    let published: Vec<&BusEvent> = batches.iter().flatten().collect();
    assert_eq!(published.len(), 23);
    for event in &published {
        let item = inside
            .iter()
            .find(|i| event.detail["item_id"] == i.id.to_string())
            .expect("only items of the window");
        assert_eq!(event.detail["owner"], item.owner.as_str());
        assert_eq!(event.detail["created_at"], item.created_at_rfc3339());
        match &item.origin {
            Some(origin) => {
                assert_eq!(event.detail["request_id"], origin.request_id.as_str());
                assert_eq!(event.trace_header, origin.trace_header);
                assert_eq!(
                    event.detail["trace_id"].as_str(),
                    origin.trace_header.as_deref().map(|h| &h[5..])
                );
            }
            None => assert_eq!(event.detail["request_id"], "Rpl4yReQuEstId0="),
        }
        assert_eq!(event.time, item.created_at());
        assert_eq!(
            (event.source.as_str(), event.detail_type.as_str()),
            ("items.api", "ItemCreated")
        );
    }
    let ids: BTreeSet<String> = published
        .iter()
        .map(|e| e.detail["item_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 23, "each once");
    assert!(ids.is_disjoint(&refused));

    // Running it again publishes the two that failed (and, harmlessly, the others again).
    bus.refuse.lock().unwrap().clear();
    let (status, answer) = call(&router, &window, true).await;
    assert_eq!(status, 200);
    assert_eq!(answer["failed"], 0);
    assert_eq!(answer["published"], 25);
}

#[test]
fn the_replay_route_on_redb_publishes_the_window_and_counts_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RedbItemStore::open(&dir.path().join("items.redb")).unwrap());
    let ((), counters) = with_counters(replay_contract(store));
    assert_eq!(counter(&counters, names::ITEM_EVENTS_PUBLISHED), 23 + 25);
    assert_eq!(counter(&counters, names::ITEM_EVENT_PUBLISH_FAILURES), 2);
}

#[tokio::test]
async fn the_replay_route_on_dynamodb_publishes_the_window_and_counts_refusals() {
    let moto = Moto::start();
    let sdk = aws_env::sdk_config(&moto).await;
    aws_env::create_table(&sdk, attr::OWNER, attr::ID).await;
    let store = DynamoDbItemStore::new(aws_sdk_dynamodb::Client::new(&sdk), aws_env::TABLE);
    replay_contract(Arc::new(store)).await;
}
