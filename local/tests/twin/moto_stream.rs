//! The event source mapping's reader of DynamoDB Streams (`--aws`), on moto: a table with a
//! NEW_IMAGE stream, the writes the API makes (an item, an idempotency record), read back in
//! order as the records Lambda hands a function, and filtered by the repository's filter.

use aws_sdk_dynamodb::types::AttributeValue;
use functions::adapters::aws::dynamodb::attr;
use local::stream::aws_reader::DynamoDbStreamsShard;
use local::stream::filter::Filter;
use local::stream::reader::{ShardReader, sequence_of};
use testkit::Moto;
use testkit::aws;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_table_s_stream_in_order_as_lambda_records() {
    let moto = Moto::start();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_table(&sdk, attr::OWNER, attr::ID).await;
    testkit::stream::enable(&sdk).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let s = |v: &str| AttributeValue::S(v.to_owned());
    for (owner, id, extra) in [
        ("alice", "01", None),
        ("idem#alice", "key-1", Some(("fingerprint", "abc"))),
        ("alice", "02", None),
    ] {
        let mut put = dynamodb
            .put_item()
            .table_name(aws::TABLE)
            .item(attr::OWNER, s(owner))
            .item(attr::ID, s(id))
            .item(attr::NAME, s(&format!("name {id}")));
        if let Some((name, value)) = extra {
            put = put.item(name, s(value));
        }
        put.send().await.unwrap();
    }

    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let arn = streams
        .list_streams()
        .table_name(aws::TABLE)
        .send()
        .await
        .unwrap()
        .streams()[0]
        .stream_arn()
        .unwrap()
        .to_owned();
    let shard = DynamoDbStreamsShard::new(streams, arn.clone(), "us-east-1".into());
    let records = shard.read(None, 100).await.unwrap();
    assert!(
        shard.shard_id().starts_with("shardId-"),
        "{}",
        shard.shard_id()
    );
    assert_eq!(records.len(), 3, "{records:#?}");
    assert!(records.iter().all(|r| r["eventName"] == "INSERT"));
    assert_eq!(records[0]["eventSourceARN"], arn.as_str());
    assert_eq!(records[0]["dynamodb"]["NewImage"]["name"]["S"], "name 01");
    assert_eq!(records[0]["dynamodb"]["Keys"]["owner"]["S"], "alice");
    // What the function's runtime reads: Lambda's DynamoDB event.
    let event: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();
    assert_eq!(event.records.len(), 3);

    let rest = shard
        .read(Some(sequence_of(&records[0])), 100)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(sequence_of(&rest[0]), sequence_of(&records[1]));
    assert_eq!(
        shard.latest().await.unwrap().as_deref(),
        Some(sequence_of(&records[2]))
    );

    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let filter = Filter::load(&repo).unwrap();
    let passed: Vec<bool> = records.iter().map(|r| filter.passes(r)).collect();
    assert_eq!(
        passed,
        [true, false, true],
        "the idempotency record is dropped"
    );
}
