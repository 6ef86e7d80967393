//! The event source mapping's filter (`events/item-events.filter.json`, which Terraform and the
//! twin both read) against real stream records: moto's DynamoDB Streams for a table like the
//! stack's (NEW_IMAGE), after the writes the API makes (an item, the idempotency record beside
//! it), an update and a removal. Each record is put in the shape Lambda hands a function (and
//! matches filters against), and matched with Lambda's filter semantics, which are EventBridge's
//! pattern syntax: the twin's matcher (`functions::adapters::embedded::eventbridge::pattern`).
//! Only the item's INSERT may reach the `item-events` function.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use functions::adapters::aws::dynamodb::{attr, record_attr};
use functions::adapters::embedded::eventbridge::pattern::EventPattern;
use serde_json::{Value, json};
use testkit::Moto;

use testkit::aws::TABLE;
const OWNER: &str = "3f1c9a52-owner";
const ITEM: &str = "01JF0000000000000000000001";

fn filter_file() -> String {
    let path = conformance::repo_root().join("events/item-events.filter.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// POST /items with an idempotency key, then an update and a deletion of the item.
async fn write_like_the_api(sdk: &aws_config::SdkConfig) {
    let db = aws_sdk_dynamodb::Client::new(sdk);
    let item = HashMap::from([
        (attr::OWNER.to_owned(), s(OWNER)),
        (attr::ID.to_owned(), s(ITEM)),
        (attr::NAME.to_owned(), s("first")),
        (attr::CREATED_AT.to_owned(), s("2026-12-07T14:00:00Z")),
        ("request_id".to_owned(), s("b7f2c4e0-request")),
        (
            "trace_header".to_owned(),
            s("Root=1-67a1b2c3-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"),
        ),
    ]);
    let record = HashMap::from([
        (
            attr::OWNER.to_owned(),
            s(&format!("{}{OWNER}", record_attr::PARTITION_PREFIX)),
        ),
        (attr::ID.to_owned(), s("idem-key-1")),
        (record_attr::FINGERPRINT.to_owned(), s("sha256:9a0b1c")),
        (record_attr::ITEM_ID.to_owned(), s(ITEM)),
        (
            record_attr::EXPIRES_AT.to_owned(),
            AttributeValue::N("1796000000".into()),
        ),
    ]);
    for written in [item.clone(), record] {
        db.put_item()
            .table_name(TABLE)
            .set_item(Some(written))
            .send()
            .await
            .expect("PutItem");
    }
    let mut renamed = item;
    renamed.insert(attr::NAME.to_owned(), s("renamed"));
    db.put_item()
        .table_name(TABLE)
        .set_item(Some(renamed))
        .send()
        .await
        .expect("PutItem over the item");
    db.delete_item()
        .table_name(TABLE)
        .key(attr::OWNER, s(OWNER))
        .key(attr::ID, s(ITEM))
        .send()
        .await
        .expect("DeleteItem");
}

/// Every record of the stream, oldest first, in Lambda's event shape.
async fn stream_records(sdk: &aws_config::SdkConfig, stream_arn: &str) -> Vec<Value> {
    let records = testkit::stream::records(sdk, stream_arn).await;
    assert!(!records.is_empty(), "the stream has records");
    let event = testkit::stream::lambda_event(&records, stream_arn);
    event["Records"].as_array().cloned().unwrap_or_default()
}

/// (eventName, partition key) of each record the pattern lets through.
fn passed(pattern: &EventPattern, records: &[Value]) -> Vec<(String, String)> {
    records
        .iter()
        .filter(|r| pattern.matches(r))
        .map(|r| {
            (
                r["eventName"].as_str().unwrap_or_default().to_owned(),
                r["dynamodb"]["Keys"][attr::OWNER]["S"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn only_the_insert_of_an_item_passes_the_mapping_s_filter() {
    let moto = Moto::start();
    let sdk = testkit::aws::sdk_config(&moto).await;
    // As terraform/modules/data makes it: owner and id, a stream of new images.
    testkit::aws::create_table(&sdk, attr::OWNER, attr::ID).await;
    let stream_arn = testkit::stream::enable(&sdk).await;
    write_like_the_api(&sdk).await;
    let records = stream_records(&sdk, &stream_arn).await;

    // The stream carries every write: the item, its idempotency record, the update, the removal.
    let seen: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["eventName"].as_str().unwrap(),
                r["dynamodb"]["Keys"][attr::OWNER]["S"].as_str().unwrap(),
            )
        })
        .collect();
    let record_partition = format!("{}{OWNER}", record_attr::PARTITION_PREFIX);
    assert_eq!(
        seen,
        [
            ("INSERT", OWNER),
            ("INSERT", record_partition.as_str()),
            ("MODIFY", OWNER),
            ("REMOVE", OWNER),
        ],
        "{records:#?}"
    );
    let idempotency_insert = &records[1];
    assert!(
        idempotency_insert["dynamodb"]["NewImage"][record_attr::FINGERPRINT]["S"].is_string(),
        "the idempotency record's new image carries its fingerprint: {idempotency_insert}"
    );

    let filter = EventPattern::parse(&filter_file()).expect("the filter is a valid pattern");
    assert_eq!(
        passed(&filter, &records),
        [("INSERT".to_owned(), OWNER.to_owned())],
        "only the item's INSERT reaches item-events"
    );
}

/// `exists` looks at leaves only (Lambda's filtering guide, "Using the Exists operator"): in a
/// stream record an attribute is an object (`{"S": "…"}`), so the test must name its type.
#[test]
fn the_fingerprint_test_names_the_attribute_s_type() {
    let filter: Value = serde_json::from_str(&filter_file()).expect("JSON");
    assert_eq!(
        filter["dynamodb"]["NewImage"][record_attr::FINGERPRINT],
        json!({"S": [{"exists": false}]})
    );

    let record =
        |new_image: Value| json!({"eventName": "INSERT", "dynamodb": {"NewImage": new_image}});
    let item = record(json!({"owner": {"S": OWNER}, "id": {"S": ITEM}}));
    let idempotency = record(json!({"owner": {"S": "idem#x"}, "fingerprint": {"S": "f"}}));
    let filter = EventPattern::parse(&filter_file()).unwrap();
    assert!(filter.matches(&item));
    assert!(!filter.matches(&idempotency));

    // Without the type level the test is on an object, never a leaf, so it always holds and the
    // idempotency record would be published as an item.
    let untyped = EventPattern::parse(
        r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"fingerprint": [{"exists": false}]}}}"#,
    )
    .unwrap();
    assert!(untyped.matches(&idempotency));
}
