//! The items table's stream on moto: turned on as Terraform turns it on (`NEW_IMAGE`), read
//! with DynamoDB Streams' API, and handed over as Lambda's event source mapping hands records
//! to a function (the event shape of <https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html>).

use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{Map, Value, json};

use crate::aws::TABLE;

/// Turns on the items table's stream (new images); returns the stream's ARN.
pub async fn enable(sdk: &aws_config::SdkConfig) -> String {
    let output = aws_sdk_dynamodb::Client::new(sdk)
        .update_table()
        .table_name(TABLE)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("turn on the table's stream");
    output
        .table_description()
        .and_then(|t| t.latest_stream_arn())
        .expect("the table's stream ARN")
        .to_owned()
}

/// Every record of the stream from its start (`TRIM_HORIZON`), shard after shard, in order.
pub async fn records(sdk: &aws_config::SdkConfig, stream_arn: &str) -> Vec<Record> {
    let streams = aws_sdk_dynamodbstreams::Client::new(sdk);
    let description = streams
        .describe_stream()
        .stream_arn(stream_arn)
        .send()
        .await
        .expect("describe the stream");
    let shards = description
        .stream_description()
        .map(|d| d.shards().to_vec())
        .unwrap_or_default();
    let mut out = Vec::new();
    for shard in shards {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(stream_arn)
            .shard_id(shard.shard_id().expect("a shard id"))
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("a shard iterator")
            .shard_iterator;
        while let Some(at) = iterator {
            let page = streams
                .get_records()
                .shard_iterator(at)
                .send()
                .await
                .expect("read the shard");
            let got = page.records().len();
            out.extend(page.records().iter().cloned());
            // An open shard always has a next iterator: stop once it has nothing more.
            iterator = page.next_shard_iterator.filter(|_| got > 0);
        }
    }
    out
}

/// Lambda's event for a batch of stream records, as its event source mapping invokes a
/// function with them.
pub fn lambda_event(records: &[Record], stream_arn: &str) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|record| lambda_record(record, stream_arn))
        .collect();
    json!({ "Records": records })
}

fn lambda_record(record: &Record, stream_arn: &str) -> Value {
    let change = record.dynamodb().expect("a stream record's change");
    let mut dynamodb = Map::new();
    if let Some(at) = change.approximate_creation_date_time() {
        // Epoch seconds, as a number (Lambda writes it so).
        dynamodb.insert(
            "ApproximateCreationDateTime".into(),
            json!(at.as_secs_f64().floor()),
        );
    }
    for (name, image) in [("Keys", change.keys()), ("NewImage", change.new_image())] {
        if let Some(image) = image {
            dynamodb.insert(name.into(), Value::Object(attributes(image)));
        }
    }
    dynamodb.insert("SequenceNumber".into(), json!(change.sequence_number()));
    dynamodb.insert("SizeBytes".into(), json!(change.size_bytes().unwrap_or(0)));
    dynamodb.insert(
        "StreamViewType".into(),
        json!(change.stream_view_type().map(|v| v.as_str())),
    );
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventVersion": record.event_version(),
        "eventSource": record.event_source(),
        "awsRegion": record.aws_region(),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    })
}

fn attributes(image: &std::collections::HashMap<String, AttributeValue>) -> Map<String, Value> {
    image
        .iter()
        .map(|(name, value)| (name.clone(), attribute(value)))
        .collect()
}

/// An attribute value in DynamoDB's JSON (`{"S": "…"}`, binary as base64).
fn attribute(value: &AttributeValue) -> Value {
    let blob = |b: &aws_smithy_types::Blob| json!(aws_smithy_types::base64::encode(b.as_ref()));
    match value {
        AttributeValue::S(v) => json!({ "S": v }),
        AttributeValue::N(v) => json!({ "N": v }),
        AttributeValue::Bool(v) => json!({ "BOOL": v }),
        AttributeValue::Null(v) => json!({ "NULL": v }),
        AttributeValue::B(v) => json!({ "B": blob(v) }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::Bs(v) => json!({ "BS": v.iter().map(blob).collect::<Vec<_>>() }),
        AttributeValue::L(v) => json!({ "L": v.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::M(v) => json!({ "M": attributes(v) }),
        other => panic!("an attribute type this helper does not know: {other:?}"),
    }
}
