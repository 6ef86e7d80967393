//! The table's stream (DynamoDB Streams, view type `NEW_IMAGE`): every write of the store
//! appends a stream record to the `stream` table inside the write's own transaction, so a
//! committed write always has its record and a lost one never does (a crash cannot part
//! them). Each record is kept as Lambda receives it from an event source mapping (`eventID`,
//! `eventName`, `dynamodb.Keys`/`NewImage`/`SequenceNumber`/...), so the mapping hands the
//! records to the function as they are.
//!
//! Sequence numbers only grow, also across trims: the last one given is kept on its own.
//! Records older than 24 hours are trimmed, the stream's retention.

use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde_json::{Map, Value, json};

use crate::ports::StoreError;

/// Sequence number (as a number) → the stream record as JSON.
pub(super) const STREAM: TableDefinition<u64, &[u8]> = TableDefinition::new("stream");
/// `"last"` → the last sequence number given, kept past trims.
pub(super) const STREAM_HEAD: TableDefinition<&str, u64> = TableDefinition::new("stream-head");
pub(super) const LAST: &str = "last";

/// DynamoDB Streams keeps a record for 24 hours.
pub const RETENTION_SECS: i64 = 24 * 60 * 60;

/// Sequence numbers are decimal strings of 21 digits, as DynamoDB's look
/// (`"800000000003126276362"`); numbers below this base keep every one the same length, so
/// they sort as text and as numbers alike.
const SEQUENCE_BASE: u128 = 100_000_000_000_000_000_000;

/// The `SequenceNumber` of the `n`th record.
pub fn sequence_number(n: u64) -> String {
    (SEQUENCE_BASE + u128::from(n)).to_string()
}

/// The position of a `SequenceNumber` this stream gave, `None` for any other text.
pub fn parse_sequence_number(text: &str) -> Option<u64> {
    let value: u128 = text.parse().ok()?;
    u64::try_from(value.checked_sub(SEQUENCE_BASE)?).ok()
}

/// Where the records say they come from: the region and the stream's ARN.
#[derive(Debug, Clone)]
pub struct StreamSource {
    pub region: String,
    pub stream_arn: String,
}

impl Default for StreamSource {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            stream_arn:
                "arn:aws:dynamodb:us-east-1:000000000000:table/items/stream/1970-01-01T00:00:00.000"
                    .into(),
        }
    }
}

/// What a write did to one row, as its stream record names it.
pub(super) enum Change {
    Insert,
    /// A removal by the table's TTL (DynamoDB's own service identity made it).
    TtlRemove,
}

impl Change {
    fn event_name(&self) -> &'static str {
        match self {
            Change::Insert => "INSERT",
            Change::TtlRemove => "REMOVE",
        }
    }
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// A JSON value as a DynamoDB attribute value (`{"S": ...}`, `{"N": ...}`, ...): how the
/// stored rows, kept as JSON, read in a stream record's images.
pub(super) fn attribute(value: &Value) -> Value {
    match value {
        Value::Null => json!({ "NULL": true }),
        Value::Bool(b) => json!({ "BOOL": b }),
        Value::Number(n) => json!({ "N": n.to_string() }),
        Value::String(s) => json!({ "S": s }),
        Value::Array(items) => json!({ "L": items.iter().map(attribute).collect::<Vec<_>>() }),
        Value::Object(fields) => json!({ "M": attributes(fields) }),
    }
}

/// An object's fields as a DynamoDB item (attribute name → attribute value).
pub(super) fn attributes(fields: &Map<String, Value>) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(name, value)| (name.clone(), attribute(value)))
            .collect(),
    )
}

/// Appends the record of `change` to the stream, in `txn` (the write's own transaction).
/// `keys` and `new_image` are DynamoDB items; a removal has no new image.
pub(super) fn append(
    txn: &WriteTransaction,
    source: &StreamSource,
    change: Change,
    keys: Value,
    new_image: Option<Value>,
    now_secs: i64,
) -> Result<u64, StoreError> {
    let mut head = txn.open_table(STREAM_HEAD).map_err(internal)?;
    let n = head.get(LAST).map_err(internal)?.map_or(0, |v| v.value()) + 1;
    head.insert(LAST, n).map_err(internal)?;
    // DynamoDB counts the key and image bytes; their JSON length is near enough.
    let size = keys.to_string().len() + new_image.as_ref().map_or(0, |i| i.to_string().len());
    let mut change_record = json!({
        // Whole seconds, as DynamoDB Streams gives it to Lambda.
        "ApproximateCreationDateTime": now_secs,
        "Keys": keys,
        "SequenceNumber": sequence_number(n),
        "SizeBytes": size,
        "StreamViewType": "NEW_IMAGE",
    });
    if let Some(image) = new_image {
        change_record["NewImage"] = image;
    }
    let mut record = json!({
        "eventID": uuid::Uuid::now_v7().simple().to_string(),
        "eventName": change.event_name(),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": source.region,
        "dynamodb": change_record,
        "eventSourceARN": source.stream_arn,
    });
    if matches!(change, Change::TtlRemove) {
        record["userIdentity"] =
            json!({ "type": "Service", "principalId": "dynamodb.amazonaws.com" });
    }
    let bytes = serde_json::to_vec(&record).map_err(internal)?;
    let mut stream = txn.open_table(STREAM).map_err(internal)?;
    stream.insert(n, bytes.as_slice()).map_err(internal)?;
    Ok(n)
}

/// `ApproximateCreationDateTime` of a stored record; `None` if it does not decode.
pub(super) fn created_secs(bytes: &[u8]) -> Option<i64> {
    let record: Value = serde_json::from_slice(bytes).ok()?;
    record["dynamodb"]["ApproximateCreationDateTime"].as_i64()
}

/// Removes the records created before `now_secs - RETENTION_SECS`, oldest first. Returns how
/// many went.
pub(super) fn trim(txn: &WriteTransaction, now_secs: i64) -> Result<usize, StoreError> {
    let horizon = now_secs - RETENTION_SECS;
    let mut stream = txn.open_table(STREAM).map_err(internal)?;
    let mut expired = Vec::new();
    for entry in stream.iter().map_err(internal)? {
        let (n, value) = entry.map_err(internal)?;
        // Records are in creation order: the first young one ends the trim. One that does
        // not decode is kept, for someone to look at.
        match created_secs(value.value()) {
            Some(created) if created < horizon => expired.push(n.value()),
            _ => break,
        }
    }
    for n in &expired {
        stream.remove(*n).map_err(internal)?;
    }
    Ok(expired.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_are_decimal_text_that_sorts_as_numbers() {
        assert_eq!(sequence_number(1), "100000000000000000001");
        assert_eq!(parse_sequence_number(&sequence_number(42)), Some(42));
        assert!(sequence_number(9) < sequence_number(10));
        assert_eq!(parse_sequence_number("12"), None);
        assert_eq!(parse_sequence_number("x"), None);
    }

    #[test]
    fn json_reads_as_dynamodb_attribute_values() {
        let fields = json!({ "s": "a", "n": 3, "b": true, "m": { "x": [1] } });
        assert_eq!(
            attributes(fields.as_object().unwrap()),
            json!({
                "s": { "S": "a" }, "n": { "N": "3" }, "b": { "BOOL": true },
                "m": { "M": { "x": { "L": [{ "N": "1" }] } } },
            })
        );
    }
}
