//! The item-events function's own statements (`data.aws_iam_policy_document.item_events` of
//! terraform/modules/functions, as Terraform renders it), on moto with its IAM checks on, as an
//! IAM user holding exactly them:
//!
//! - sufficient: what Lambda's event source mapping does with the function's role (ListStreams,
//!   DescribeStream, GetShardIterator, GetRecords on the table's stream, SendMessage to the
//!   on-failure queue) and what the function does (PutEvents, through its own EventBridge
//!   adapter) all succeed;
//! - minimal: without any one of the actions some of those calls is refused, and calls beyond
//!   them (the table's items, the queue's messages) are refused `AccessDenied`.
//!
//! moto checks actions, not resources (see `iam_on_moto.rs`): the statements are given to moto
//! with every resource `*`, and their scoping is evaluated with IAM's rules offline
//! (`tests/terraform/pipeline.rs`, the item-events role). The log group and X-Ray statements
//! every function role has are proven with the items function's in `iam_on_moto.rs`.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use conformance::render;
use functions::adapters::aws::EventBridgeBus;
use functions::adapters::aws::dynamodb::attr;
use functions::ports::{BusEvent, EventBus};
use serde_json::{Value, json};
use testkit::Moto;
use testkit::aws as aws_env;
use testkit::iam::{Principal, answer_refusal, refusal, signed};

const QUEUE: &str = "items-api-item-events-dlq";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

fn item_events_statements() -> Value {
    render::root_policy("module.functions.data.aws_iam_policy_document.item_events")
}

fn actions_of(policy: &Value) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
            other => panic!("an action list: {other}"),
        })
        .collect()
}

/// The actions as moto checks them: one Allow on `*`.
fn for_moto(actions: &BTreeSet<String>) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    })
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An SQS query-protocol call (the workspace links no SQS client), signed as `credentials`.
fn sqs(
    moto: &Moto,
    credentials: &aws_sdk_dynamodb::config::Credentials,
    params: &[(&str, &str)],
) -> testkit::iam::Answer {
    let mut form = String::from("Version=2012-11-05");
    for (k, v) in params {
        form.push_str(&format!("&{k}={}", encode(v)));
    }
    signed(moto, credentials, "sqs", "/", FORM, &form)
}

/// The items table with its stream, as terraform/modules/data makes it, one item written, the
/// bus, and the queue; made with moto's unchecked set-up key. Answers the stream's ARN and the
/// queue's URL.
async fn set_up(moto: &Moto, sdk: &aws_config::SdkConfig) -> (String, String) {
    testkit::aws::create_table(sdk, attr::OWNER, attr::ID).await;
    let stream = testkit::stream::enable(sdk).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    dynamodb
        .put_item()
        .table_name(aws_env::TABLE)
        .item(attr::OWNER, AttributeValue::S("alice".into()))
        .item(attr::ID, AttributeValue::S("01JF".into()))
        .send()
        .await
        .expect("an item");
    aws_sdk_eventbridge::Client::new(sdk)
        .create_event_bus()
        .name(aws_env::BUS)
        .send()
        .await
        .expect("the bus");
    let setup =
        aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "moto");
    let created = sqs(
        moto,
        &setup,
        &[("Action", "CreateQueue"), ("QueueName", QUEUE)],
    );
    assert_eq!(created.status, 200, "CreateQueue: {}", created.body);
    let url = created
        .body
        .split("<QueueUrl>")
        .nth(1)
        .and_then(|rest| rest.split("</QueueUrl>").next())
        .unwrap_or_else(|| panic!("no QueueUrl in {}", created.body))
        .to_owned();
    (stream, url)
}

/// Every call made with the function's role; each refused or failed one, named.
async fn every_call(
    moto: &Moto,
    principal: &Principal,
    stream: &str,
    queue_url: &str,
) -> Vec<String> {
    let sdk = principal.sdk_config(moto).await;
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let mut failed = Vec::new();
    let mut note = |call: &str, ok: bool, why: String| {
        if !ok {
            failed.push(format!("{call}: {why}"));
        }
    };
    // The event source mapping: finds the stream, its shards, reads from the oldest record.
    let listed = streams
        .list_streams()
        .table_name(aws_env::TABLE)
        .send()
        .await;
    note("ListStreams", listed.is_ok(), format!("{listed:?}"));
    let described = streams.describe_stream().stream_arn(stream).send().await;
    let shard = described
        .as_ref()
        .ok()
        .and_then(|d| d.stream_description())
        .and_then(|d| d.shards().first())
        .and_then(|s| s.shard_id())
        .map(str::to_owned);
    note("DescribeStream", shard.is_some(), format!("{described:?}"));
    let iterator = match &shard {
        Some(shard) => {
            let answer = streams
                .get_shard_iterator()
                .stream_arn(stream)
                .shard_id(shard)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await;
            let iterator = answer
                .as_ref()
                .ok()
                .and_then(|a| a.shard_iterator().map(str::to_owned));
            note(
                "GetShardIterator",
                iterator.is_some(),
                format!("{answer:?}"),
            );
            iterator
        }
        None => None,
    };
    if let Some(iterator) = iterator {
        let records = streams.get_records().shard_iterator(iterator).send().await;
        let read = records.as_ref().is_ok_and(|r| !r.records().is_empty());
        note("GetRecords", read, format!("{records:?}"));
    }
    // The function: ItemCreated through its own adapter.
    let bus = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), aws_env::BUS);
    let published = bus
        .publish(&[BusEvent {
            source: functions::events::SOURCE.into(),
            detail_type: functions::events::ITEM_CREATED.into(),
            detail: json!({"item_id": "01JF", "owner": "alice"}),
            time: time::OffsetDateTime::now_utc(),
            resources: Vec::new(),
            trace_header: None,
        }])
        .await;
    note("PutEvents", published.is_ok(), format!("{published:?}"));
    // Lambda, for a batch it gives up on: its description on the on-failure queue (a body
    // without spaces: moto's signature check disagrees with an encoded space in a form).
    let sent = sqs(
        moto,
        &principal.credentials,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", queue_url),
            ("MessageBody", r#"{"DDBStreamBatchInfo":{"batchSize":1}}"#),
        ],
    );
    note("SendMessage", sent.status == 200, sent.body);
    failed
}

#[tokio::test]
async fn the_item_events_statements_are_sufficient_and_minimal_on_moto() {
    let policy = item_events_statements();
    let actions = actions_of(&policy);
    assert_eq!(
        actions,
        [
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
            "events:PutEvents",
            "sqs:SendMessage",
        ]
        .map(String::from)
        .into(),
        "the statements under test"
    );
    let moto = Moto::start();
    let setup = aws_env::sdk_config(&moto).await;
    let (stream, queue_url) = set_up(&moto, &setup).await;
    let full = Principal::create(&moto, "item-events-function", &for_moto(&actions));
    let short_of_one: Vec<(String, Principal)> = actions
        .iter()
        .enumerate()
        .map(|(n, action)| {
            let mut fewer = actions.clone();
            fewer.remove(action);
            let name = format!("item-events-without-{n}");
            (
                action.clone(),
                Principal::create(&moto, &name, &for_moto(&fewer)),
            )
        })
        .collect();
    moto.enforce_iam();

    let failed = every_call(&moto, &full, &stream, &queue_url).await;
    assert!(
        failed.is_empty(),
        "refused with the whole policy:\n{}",
        failed.join("\n")
    );
    for (action, principal) in &short_of_one {
        let failed = every_call(&moto, principal, &stream, &queue_url).await;
        let operation = action.split(':').nth(1).unwrap();
        assert!(
            failed.iter().any(|f| f.starts_with(operation)),
            "without {action}, its call still succeeds: {failed:?}"
        );
    }

    // Beyond the statements: the table's items, the queue's messages.
    let sdk = full.sdk_config(&moto).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let key = HashMap::from([
        (attr::OWNER.to_owned(), AttributeValue::S("alice".into())),
        (attr::ID.to_owned(), AttributeValue::S("01JF".into())),
    ]);
    let got = dynamodb
        .get_item()
        .table_name(aws_env::TABLE)
        .set_key(Some(key.clone()))
        .send()
        .await;
    let denied = |action: &str, code: Option<String>| {
        assert_eq!(code.as_deref(), Some("AccessDenied"), "{action} is refused");
    };
    denied(
        "dynamodb:GetItem",
        got.err().and_then(|e| refusal(&e)).map(|r| r.code),
    );
    let put = dynamodb
        .put_item()
        .table_name(aws_env::TABLE)
        .set_item(Some(key))
        .send()
        .await;
    denied(
        "dynamodb:PutItem",
        put.err().and_then(|e| refusal(&e)).map(|r| r.code),
    );
    for action in ["ReceiveMessage", "DeleteMessage", "PurgeQueue"] {
        let answer = sqs(
            &moto,
            &full.credentials,
            &[
                ("Action", action),
                ("QueueUrl", &queue_url),
                ("ReceiptHandle", "x"),
            ],
        );
        denied(action, answer_refusal(&answer).map(|r| r.code));
    }
}
