//! The record Lambda sends to a stream mapping's on-failure destination when it discards a
//! batch: not the records, but where they are (`DDBStreamBatchInfo`), with the invocation's
//! context, as the Lambda developer guide shows it for DynamoDB streams.

use serde_json::{Value, json};

use super::reader::{StreamRecord, created_ms, sequence_of};

/// Why the batch was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

impl Condition {
    fn name(self) -> &'static str {
        match self {
            Condition::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Condition::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// Where the discarded batch was read from.
pub struct Source<'a> {
    pub function_arn: &'a str,
    pub shard_id: &'a str,
    pub stream_arn: &'a str,
}

fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    functions::domain::rfc3339_millis(t)
}

/// The message for `batch` (never empty), discarded for `condition` after `invocations`.
pub fn message(
    source: &Source<'_>,
    batch: &[StreamRecord],
    condition: Condition,
    invocations: u32,
    last_error: Option<&str>,
    now_ms: i64,
) -> Value {
    let (first, last) = (&batch[0], &batch[batch.len() - 1]);
    let mut response = json!({ "statusCode": 200, "executedVersion": "$LATEST" });
    if last_error.is_some() {
        response["functionError"] = json!("Unhandled");
    }
    json!({
        "requestContext": {
            "requestId": uuid::Uuid::new_v4().to_string(),
            "functionArn": source.function_arn,
            "condition": condition.name(),
            "approximateInvokeCount": invocations,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": rfc3339(now_ms),
        "DDBStreamBatchInfo": {
            "shardId": source.shard_id,
            "startSequenceNumber": sequence_of(first),
            "endSequenceNumber": sequence_of(last),
            "approximateArrivalOfFirstRecord": rfc3339(created_ms(first)),
            "approximateArrivalOfLastRecord": rfc3339(created_ms(last)),
            "batchSize": batch.len(),
            "streamArn": source.stream_arn,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_batch_by_its_sequence_numbers() {
        let record = |n: &str, secs: i64| json!({ "dynamodb": { "SequenceNumber": n, "ApproximateCreationDateTime": secs } });
        let batch = [
            record("100000000000000000003", 1_700_000_000),
            record("100000000000000000005", 1_700_000_001),
        ];
        let source = Source {
            function_arn: "arn:f",
            shard_id: "shardId-1",
            stream_arn: "arn:s",
        };
        let m = message(
            &source,
            &batch,
            Condition::RetryAttemptsExhausted,
            11,
            Some("boom"),
            1_700_000_002_000,
        );
        assert_eq!(m["requestContext"]["condition"], "RetryAttemptsExhausted");
        assert_eq!(m["requestContext"]["approximateInvokeCount"], 11);
        assert_eq!(m["responseContext"]["functionError"], "Unhandled");
        let info = &m["DDBStreamBatchInfo"];
        assert_eq!(info["startSequenceNumber"], "100000000000000000003");
        assert_eq!(info["endSequenceNumber"], "100000000000000000005");
        assert_eq!(
            info["approximateArrivalOfFirstRecord"],
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(info["batchSize"], 2);
        assert_eq!(info["streamArn"], "arn:s");
        assert_eq!(m["timestamp"], "2023-11-14T22:13:22.000Z");
    }
}
