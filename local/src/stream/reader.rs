//! Reading the table's one shard in order: [`ShardReader`], with the embedded store's stream
//! ([`EmbeddedShard`]) and DynamoDB Streams (`super::aws_reader`) behind it.

use std::sync::Arc;

use async_trait::async_trait;
use functions::adapters::embedded::store::{RedbItemStore, parse_sequence_number};
use serde_json::Value;

/// A stream record as Lambda receives it (`eventID`, `eventName`, `dynamodb`, ...).
pub type StreamRecord = Value;

/// One shard of a table's stream, read in order.
#[async_trait]
pub trait ShardReader: Send + Sync {
    /// Up to `limit` records after the sequence number `after` (from the oldest kept when
    /// `None`, `TRIM_HORIZON`), oldest first.
    async fn read(&self, after: Option<&str>, limit: usize) -> Result<Vec<StreamRecord>, String>;
    /// The sequence number of the newest record, if any: the mapping is caught up once its
    /// checkpoint is there.
    async fn latest(&self) -> Result<Option<String>, String>;
    fn shard_id(&self) -> String;
    fn stream_arn(&self) -> String;
}

/// The embedded store's stream: one shard.
pub struct EmbeddedShard {
    pub store: Arc<RedbItemStore>,
}

/// The shard id the embedded stream's records are read from (DynamoDB's form).
pub const EMBEDDED_SHARD_ID: &str = "shardId-00000000000000000000-00000000";

#[async_trait]
impl ShardReader for EmbeddedShard {
    async fn read(&self, after: Option<&str>, limit: usize) -> Result<Vec<StreamRecord>, String> {
        let after = match after {
            None => 0,
            Some(text) => parse_sequence_number(text)
                .ok_or_else(|| format!("{text} is not a sequence number of this stream"))?,
        };
        let entries = self
            .store
            .stream_after(after, limit)
            .await
            .map_err(|e| e.to_string())?;
        entries
            .iter()
            .map(|e| serde_json::from_slice(&e.record).map_err(|e| e.to_string()))
            .collect()
    }

    async fn latest(&self) -> Result<Option<String>, String> {
        let bounds = self.store.stream_bounds().map_err(|e| e.to_string())?;
        Ok((bounds.last > 0)
            .then(|| functions::adapters::embedded::store::sequence_number(bounds.last)))
    }

    fn shard_id(&self) -> String {
        EMBEDDED_SHARD_ID.to_owned()
    }

    fn stream_arn(&self) -> String {
        self.store.stream_source().stream_arn.clone()
    }
}

/// A record's `dynamodb.SequenceNumber`.
pub fn sequence_of(record: &StreamRecord) -> &str {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap_or_default()
}

/// A record's `ApproximateCreationDateTime`, epoch milliseconds.
pub fn created_ms(record: &StreamRecord) -> i64 {
    let secs = record["dynamodb"]["ApproximateCreationDateTime"]
        .as_f64()
        .unwrap_or_default();
    (secs * 1000.0) as i64
}

/// When the record was written, epoch milliseconds: the embedded stream's `eventID` is a
/// UUIDv7 taken at the write, to the millisecond; other records tell their creation second.
pub fn written_ms(record: &StreamRecord) -> i64 {
    record["eventID"]
        .as_str()
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .filter(|id| id.get_version_num() == 7)
        .and_then(|id| id.get_timestamp())
        .map_or_else(
            || created_ms(record),
            |t| {
                let (secs, nanos) = t.to_unix();
                secs as i64 * 1000 + i64::from(nanos / 1_000_000)
            },
        )
}

/// Sequence numbers compare as numbers (decimal strings of any length).
pub fn sequence_order(a: &str, b: &str) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_write_is_dated_by_its_uuid_v7_event_id_or_else_its_second() {
        let id = uuid::Uuid::now_v7();
        let (secs, nanos) = id.get_timestamp().unwrap().to_unix();
        let record = json!({
            "eventID": id.simple().to_string(),
            "dynamodb": { "ApproximateCreationDateTime": secs },
        });
        assert_eq!(
            written_ms(&record),
            secs as i64 * 1000 + i64::from(nanos / 1_000_000)
        );
        let other = json!({
            "eventID": "c4ca4238a0b923820dcc509a6f75849b",
            "dynamodb": { "ApproximateCreationDateTime": 1_700_000_000 },
        });
        assert_eq!(written_ms(&other), 1_700_000_000_000);
    }
}
