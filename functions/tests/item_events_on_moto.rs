//! The built `item-events` binary as Lambda runs it (through the Runtime API), on the real
//! stream records of items the DynamoDB adapter stored on moto: their events reach the archive
//! (the bus's rule to CloudWatch Logs) with the ids of the requests that created them, and a
//! record it cannot read stops the batch there.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use functions::adapters::aws::DynamoDbItemStore;
use functions::adapters::aws::dynamodb::attr;
use functions::domain::{Item, NewItem, Origin};
use functions::idempotency::{Fingerprint, IdempotencyKey, IdempotencyRecord};
use functions::ports::{Claim, ItemStore};
use serde_json::Value;
use testkit::runtime_api::{Outcome, RuntimeApi};
use testkit::{Moto, aws, stream};

const FUNCTION: &str = "items-api-item-events";
const TRACE_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn item(name: &str, request_id: &str, trace_header: Option<&str>) -> Item {
    let new = NewItem {
        name: name.into(),
        description: None,
    };
    Item::create("alice", new).with_origin(Origin {
        request_id: request_id.into(),
        trace_header: trace_header.map(str::to_owned),
    })
}

/// The function process, polling `api`, its stdout (log lines and EMF) in `out`.
fn spawn(moto: &Moto, api: &RuntimeApi, out: &Path) -> tokio::process::Child {
    let out = std::fs::File::create(out).unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_item-events"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{FUNCTION}"),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/21/[$LATEST]0")
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_REGION", testkit::moto::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("EVENT_BUS_NAME", aws::BUS)
        .env("POWERTOOLS_METRICS_NAMESPACE", "ItemsApi")
        .stdout(out)
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the item-events binary")
}

/// Invokes the function with `event`; returns its `batchItemFailures` identifiers.
async fn invoke(
    api: &RuntimeApi,
    outcomes: &mut tokio::sync::mpsc::UnboundedReceiver<Outcome>,
    event: &Value,
    out: &Path,
) -> Vec<String> {
    let id = api.invoke(Bytes::from(event.to_string())).await;
    loop {
        let outcome = tokio::time::timeout(Duration::from_secs(30), outcomes.recv())
            .await
            .unwrap_or_else(|_| panic!("no answer in 30 s; output:\n{}", output(out)))
            .expect("the Runtime API runs");
        match outcome {
            Outcome::Ready(_) => {}
            Outcome::Response {
                request_id, body, ..
            } if request_id == id => {
                let response: Value = serde_json::from_slice(&body).unwrap();
                return response["batchItemFailures"]
                    .as_array()
                    .expect("a DynamoDbEventResponse")
                    .iter()
                    .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
                    .collect();
            }
            other => panic!("{other:?}; output:\n{}", output(out)),
        }
    }
}

fn output(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The archived `ItemCreated` details, by item id.
async fn archived(sdk: &aws_config::SdkConfig) -> Vec<Value> {
    aws::archived(sdk)
        .await
        .into_iter()
        .map(|envelope| {
            assert_eq!(envelope["detail-type"], "ItemCreated");
            envelope["detail"].clone()
        })
        .collect()
}

fn sequence_number(record: &aws_sdk_dynamodbstreams::types::Record) -> String {
    record
        .dynamodb()
        .and_then(|c| c.sequence_number())
        .unwrap()
        .to_owned()
}

fn item_id_of(record: &aws_sdk_dynamodbstreams::types::Record) -> Option<String> {
    match record.dynamodb()?.new_image()?.get(attr::ID)? {
        aws_sdk_dynamodbstreams::types::AttributeValue::S(id) => Some(id.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn the_binary_publishes_stored_items_from_their_stream_records() {
    let moto = Moto::start();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_table(&sdk, attr::OWNER, attr::ID).await;
    let stream_arn = stream::enable(&sdk).await;
    aws::create_bus_and_archive(&sdk, functions::events::ITEM_CREATED_RULE_PATTERN).await;
    let store = DynamoDbItemStore::new(aws_sdk_dynamodb::Client::new(&sdk), aws::TABLE);

    // An item, an item with its idempotency record (one transaction), a row the function cannot
    // read as an item (no name: a poison record), and an item after it.
    let traced = item("traced", "Jd8mXh3fIAMEbXw=", Some(TRACE_HEADER));
    store.put(&traced).await.unwrap();
    let keyed = item("keyed", "Ke9nYi4gJBNFcYx=", None);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let record = IdempotencyRecord::begin(
        "alice",
        IdempotencyKey::parse(b"key-1").unwrap(),
        Fingerprint::of("alice", b"{}"),
        keyed.id,
        now,
    );
    assert_eq!(
        store.put_with_record(&keyed, &record, now).await.unwrap(),
        Claim::Created
    );
    let poison_id = item("poison", "r", None).id.to_string();
    aws_sdk_dynamodb::Client::new(&sdk)
        .put_item()
        .table_name(aws::TABLE)
        .item(attr::OWNER, AttributeValue::S("alice".into()))
        .item(attr::ID, AttributeValue::S(poison_id.clone()))
        .item(
            attr::REQUEST_ID,
            AttributeValue::S("Lm0oZj5hKCOGdZy=".into()),
        )
        .send()
        .await
        .unwrap();
    let after = item("after", "Mn1pAk6iLDPHeAz=", None);
    store.put(&after).await.unwrap();

    let records = stream::records(&sdk, &stream_arn).await;
    let poison_at = records
        .iter()
        .position(|r| item_id_of(r).as_deref() == Some(poison_id.as_str()))
        .unwrap_or_else(|| panic!("the poison row's record in {records:#?}"));
    assert!(records.len() >= 4, "{records:#?}");

    let (api, mut outcomes) = RuntimeApi::start(FUNCTION).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stdout");
    let _function = spawn(&moto, &api, &out);

    // The whole batch: published up to the poison record, which is the one failure.
    let failures = invoke(
        &api,
        &mut outcomes,
        &stream::lambda_event(&records, &stream_arn),
        &out,
    )
    .await;
    assert_eq!(failures, [sequence_number(&records[poison_at])]);
    let details = archived(&sdk).await;
    let by_id = |id: String| {
        details
            .iter()
            .find(|d| d["item_id"] == id.as_str())
            .cloned()
    };
    let first = by_id(traced.id.to_string()).expect("the traced item's event");
    assert_eq!(first["request_id"], "Jd8mXh3fIAMEbXw=");
    assert_eq!(first["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(first["owner"], "alice");
    assert_eq!(first["created_at"], traced.created_at_rfc3339());
    let second = by_id(keyed.id.to_string()).expect("the keyed item's event");
    assert_eq!(second["request_id"], "Ke9nYi4gJBNFcYx=");
    assert_eq!(second["trace_id"], Value::Null);
    assert_eq!(
        details.len(),
        2,
        "nothing from the poison record on: {details:#?}"
    );

    // Lambda goes on after the poison record once it is given up on: the rest is published.
    let rest = invoke(
        &api,
        &mut outcomes,
        &stream::lambda_event(&records[poison_at + 1..], &stream_arn),
        &out,
    )
    .await;
    assert!(rest.is_empty(), "{rest:?}");
    let details = archived(&sdk).await;
    assert_eq!(details.len(), 3, "{details:#?}");
    let last = details
        .iter()
        .find(|d| d["item_id"] == after.id.to_string().as_str())
        .expect("the last item's event");
    assert_eq!(last["request_id"], "Mn1pAk6iLDPHeAz=");

    // Its lines name the request of each record; its metrics are the function's.
    let text = output(&out);
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let published = |request_id: &str| {
        lines.iter().any(|l| {
            l["message"] == "ItemCreated published"
                && l["request_id"] == request_id
                && l["service"] == "item-events"
        })
    };
    assert!(published("Jd8mXh3fIAMEbXw="), "{text}");
    assert!(published("Mn1pAk6iLDPHeAz="), "{text}");
    assert!(
        lines.iter().any(|l| l["request_id"] == "Lm0oZj5hKCOGdZy="
            && l["level"] == "ERROR"
            && l["sequence_number"] == sequence_number(&records[poison_at]).as_str()),
        "the poison record's line: {text}"
    );
    let emitted: u64 = lines
        .iter()
        .filter(|l| l["service"] == "item-events")
        .filter_map(|l| l["ItemEventsPublished"].as_u64())
        .sum();
    assert_eq!(emitted, 3, "{text}");
}
