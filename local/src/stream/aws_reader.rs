//! DynamoDB Streams as the mapping's shard, for the twin on AWS services: the table's stream
//! (`DescribeTable`'s `LatestStreamArn`), its shards read in order with `GetShardIterator` and
//! `GetRecords`, each record turned into the JSON Lambda hands to functions.

use async_trait::async_trait;
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::reader::{ShardReader, StreamRecord, sequence_order};

pub struct DynamoDbStreamsShard {
    client: Client,
    stream_arn: String,
    region: String,
    /// The shard last read from (what a dead-letter message names).
    shard: std::sync::Mutex<Option<String>>,
}

/// Pages followed when looking for the newest record of the shard.
const LATEST_PAGES: usize = 20;

fn sdk_error(operation: &str, e: impl std::fmt::Debug) -> String {
    format!("DynamoDB Streams {operation}: {e:?}")
}

impl DynamoDbStreamsShard {
    pub fn new(client: Client, stream_arn: String, region: String) -> Self {
        Self {
            client,
            stream_arn,
            region,
            shard: std::sync::Mutex::new(None),
        }
    }

    /// The shard holding the records after `after`: the first whose range is not behind it.
    async fn shard(&self, after: Option<&str>) -> Result<Option<String>, String> {
        let described = self
            .client
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeStream", e))?;
        let shards = described
            .stream_description
            .and_then(|d| d.shards)
            .unwrap_or_default();
        let ahead = shards.iter().find(|s| {
            let ending = s
                .sequence_number_range()
                .and_then(|r| r.ending_sequence_number());
            match (after, ending) {
                (Some(after), Some(ending)) => sequence_order(ending, after).is_gt(),
                _ => true,
            }
        });
        Ok(ahead.or(shards.last()).and_then(|s| s.shard_id.clone()))
    }

    async fn iterator(&self, shard: &str, after: Option<&str>) -> Result<Option<String>, String> {
        let request = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard);
        let request = match after {
            Some(after) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(after),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let answer = request
            .send()
            .await
            .map_err(|e| sdk_error("GetShardIterator", e))?;
        Ok(answer.shard_iterator)
    }
}

#[async_trait]
impl ShardReader for DynamoDbStreamsShard {
    async fn read(&self, after: Option<&str>, limit: usize) -> Result<Vec<StreamRecord>, String> {
        let Some(shard) = self.shard(after).await? else {
            return Ok(Vec::new());
        };
        *self.shard.lock().unwrap_or_else(|e| e.into_inner()) = Some(shard.clone());
        let Some(iterator) = self.iterator(&shard, after).await? else {
            return Ok(Vec::new());
        };
        let page = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| sdk_error("GetRecords", e))?;
        Ok(page
            .records
            .unwrap_or_default()
            .iter()
            .map(|r| lambda_record(r, &self.stream_arn, &self.region))
            .collect())
    }

    async fn latest(&self) -> Result<Option<String>, String> {
        let Some(shard) = self.shard(None).await? else {
            return Ok(None);
        };
        let mut iterator = self.iterator(&shard, None).await?;
        let mut latest = None;
        for _ in 0..LATEST_PAGES {
            let Some(it) = iterator else { break };
            let page = self
                .client
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .map_err(|e| sdk_error("GetRecords", e))?;
            let records = page.records.unwrap_or_default();
            if records.is_empty() {
                break;
            }
            latest = records
                .last()
                .and_then(|r| r.dynamodb())
                .and_then(|d| d.sequence_number())
                .map(str::to_owned);
            iterator = page.next_shard_iterator;
        }
        Ok(latest)
    }

    fn shard_id(&self) -> String {
        self.shard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default()
    }

    fn stream_arn(&self) -> String {
        self.stream_arn.clone()
    }
}

/// A DynamoDB attribute value as DynamoDB JSON.
fn attribute(value: &AttributeValue) -> Value {
    let b64 = |b: &aws_sdk_dynamodbstreams::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(b.as_ref())
    };
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::Bs(v) => json!({ "BS": v.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item(m) }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        _ => Value::Null,
    }
}

fn item(map: &std::collections::HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect::<Map<_, _>>(),
    )
}

/// A `GetRecords` record as Lambda's event carries it.
pub fn lambda_record(record: &Record, stream_arn: &str, region: &str) -> StreamRecord {
    let mut change = Map::new();
    if let Some(d) = record.dynamodb() {
        if let Some(t) = d.approximate_creation_date_time() {
            change.insert("ApproximateCreationDateTime".into(), json!(t.secs()));
        }
        if let Some(keys) = d.keys() {
            change.insert("Keys".into(), item(keys));
        }
        if let Some(image) = d.new_image() {
            change.insert("NewImage".into(), item(image));
        }
        if let Some(image) = d.old_image() {
            change.insert("OldImage".into(), item(image));
        }
        if let Some(n) = d.sequence_number() {
            change.insert("SequenceNumber".into(), json!(n));
        }
        if let Some(size) = d.size_bytes() {
            change.insert("SizeBytes".into(), json!(size));
        }
        if let Some(view) = d.stream_view_type() {
            change.insert("StreamViewType".into(), json!(view.as_str()));
        }
    }
    let mut out = json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventVersion": record.event_version(),
        "eventSource": record.event_source(),
        "awsRegion": record.aws_region().unwrap_or(region),
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    });
    if let Some(who) = record.user_identity() {
        out["userIdentity"] = json!({ "type": who.r#type(), "principalId": who.principal_id() });
    }
    out
}
