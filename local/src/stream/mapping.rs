//! The event source mapping's loop, as the Lambda developer guide describes it for DynamoDB
//! streams ("Using AWS Lambda with Amazon DynamoDB", "Configuring partial batch response"):
//!
//! - one shard, read in order from the checkpoint (`TRIM_HORIZON` at first), polled 4 times a
//!   second;
//! - records that match no filter are dropped; the others are gathered until the batch size
//!   or until the batching window has passed since the first of them;
//! - a batch answered without `batchItemFailures` is done. A reported failure moves the
//!   checkpoint to just before the lowest reported `itemIdentifier` and the rest is retried;
//!   an identifier that is empty, missing or not in the batch fails the whole batch;
//! - a failed batch (an error, or a failure reported at its first record) is split in two
//!   (`BisectBatchOnFunctionError`), which does not count as a retry; a batch of one is
//!   retried up to `MaximumRetryAttempts` times;
//! - records older than `MaximumRecordAgeInSeconds` are not sent any more;
//! - a batch given up (retries exhausted, records too old) goes to the on-failure destination
//!   as a [`super::on_failure`] message, and the mapping moves on;
//! - a throttled invocation never reached the function: retried, not counted;
//! - `IteratorAge` (the age of the batch's last record) is published with each invocation.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::streams::DynamoDbEventResponse;

use super::checkpoint::Checkpoint;
use super::consumer::{ConsumerFunction, Outcome};
use super::filter::Filter;
use super::on_failure::{self, Condition};
use super::reader::{
    ShardReader, StreamRecord, created_ms, sequence_of, sequence_order, written_ms,
};
use crate::cloudwatch::clock::real_ms;
use crate::sqs::Queue;

/// The mapping's settings, Terraform's `aws_lambda_event_source_mapping` arguments.
#[derive(Debug, Clone)]
pub struct Settings {
    pub batch_size: usize,
    pub batching_window: Duration,
    /// -1: until the record leaves the stream.
    pub maximum_retry_attempts: i64,
    /// -1: until the record leaves the stream.
    pub maximum_record_age_seconds: i64,
    pub bisect_batch_on_function_error: bool,
    /// How often the shard is read when there is nothing to do.
    pub poll_interval: Duration,
    /// The wait before a failed or throttled batch is tried again.
    pub retry_backoff: Duration,
}

/// Most records one read of the shard returns (`GetRecords`' limit).
const READ_LIMIT: usize = 1000;

/// What `/_twin/stream` shows: the checkpoint, against the shard's newest record.
pub struct MappingStatus {
    pub reader: Arc<dyn ShardReader>,
    pub function_name: String,
    pub settings: Settings,
    checkpoint: Mutex<Option<String>>,
    last_error: Mutex<Option<String>>,
}

impl MappingStatus {
    pub fn new(reader: Arc<dyn ShardReader>, function_name: &str, settings: Settings) -> Self {
        Self {
            reader,
            function_name: function_name.to_owned(),
            settings,
            checkpoint: Mutex::new(None),
            last_error: Mutex::new(None),
        }
    }

    pub fn checkpoint(&self) -> Option<String> {
        self.checkpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn note(&self, checkpoint: &str) {
        *self.checkpoint.lock().unwrap_or_else(|e| e.into_inner()) = Some(checkpoint.to_owned());
    }

    fn note_error(&self, error: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// The status as JSON: the checkpoint, the newest sequence number, caught up or not.
    pub async fn view(&self) -> serde_json::Value {
        let checkpoint = self.checkpoint();
        let latest = self.reader.latest().await;
        let caught_up = match (&latest, &checkpoint) {
            (Ok(None), _) => Some(true),
            (Ok(Some(latest)), Some(at)) => Some(sequence_order(at, latest).is_ge()),
            (Ok(Some(_)), None) => Some(false),
            (Err(_), _) => None,
        };
        let s = &self.settings;
        serde_json::json!({
            "functionName": self.function_name,
            "eventSourceArn": self.reader.stream_arn(),
            "shardId": self.reader.shard_id(),
            "checkpoint": checkpoint,
            "latestSequenceNumber": latest.as_ref().ok().cloned().flatten(),
            "caughtUp": caught_up,
            "readError": latest.err(),
            "lastFunctionError": self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            "batchSize": s.batch_size,
            "maximumBatchingWindowInSeconds": s.batching_window.as_secs_f64(),
            "maximumRetryAttempts": s.maximum_retry_attempts,
            "maximumRecordAgeInSeconds": s.maximum_record_age_seconds,
            "bisectBatchOnFunctionError": s.bisect_batch_on_function_error,
            "functionResponseTypes": ["ReportBatchItemFailures"],
            "startingPosition": "TRIM_HORIZON",
        })
    }
}

/// Records still to deliver, with what was tried on them.
struct Pending {
    records: Vec<StreamRecord>,
    /// Retries counted against `MaximumRetryAttempts`.
    attempts: i64,
    /// Invocations that carried these records.
    invocations: u32,
    last_error: Option<String>,
}

pub struct Mapping {
    pub status: Arc<MappingStatus>,
    pub filter: Filter,
    pub function: ConsumerFunction,
    pub checkpoint: Checkpoint,
    pub dlq: Queue,
}

impl Mapping {
    fn settings(&self) -> &Settings {
        &self.status.settings
    }

    /// Runs for the twin's life.
    pub async fn run(self) {
        match self.checkpoint.get() {
            Ok(Some(at)) => self.status.note(&at),
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot read the stream checkpoint"),
        }
        let mut gathering = None;
        loop {
            match self.step(&mut gathering).await {
                Ok(true) => tokio::task::yield_now().await,
                Ok(false) => tokio::time::sleep(self.settings().poll_interval).await,
                Err(e) => {
                    tracing::error!(error = %e, "the event source mapping cannot read on");
                    tokio::time::sleep(self.settings().poll_interval).await;
                }
            }
        }
    }

    /// One read of the shard and, if a batch is ready, its delivery. `Ok(true)` when it moved
    /// on; `gathering` is when the batch being gathered got its first record.
    pub async fn step(&self, gathering: &mut Option<Instant>) -> Result<bool, String> {
        let after = self.status.checkpoint();
        let read = self
            .status
            .reader
            .read(after.as_deref(), READ_LIMIT)
            .await?;
        let Some(last_read) = read.last() else {
            *gathering = None;
            return Ok(false);
        };
        let full = read.len() == READ_LIMIT;
        let last_read = sequence_of(last_read).to_owned();
        let mut batch = Vec::new();
        let mut end = None;
        for record in read {
            if batch.len() == self.settings().batch_size {
                break;
            }
            end = Some(sequence_of(&record).to_owned());
            if self.filter.passes(&record) {
                batch.push(record);
            }
        }
        let end = end.unwrap_or(last_read);
        if batch.is_empty() {
            self.advance(&end)?;
            return Ok(true);
        }
        if batch.len() < self.settings().batch_size && !full {
            let since = *gathering.get_or_insert_with(Instant::now);
            if since.elapsed() < self.settings().batching_window {
                return Ok(false);
            }
        }
        *gathering = None;
        self.deliver(batch).await?;
        self.advance(&end)?;
        Ok(true)
    }

    fn advance(&self, sequence_number: &str) -> Result<(), String> {
        self.checkpoint.set(sequence_number)?;
        self.status.note(sequence_number);
        Ok(())
    }

    /// Delivers `batch` until every record of it is done with: handed over, or discarded to
    /// the on-failure destination.
    async fn deliver(&self, batch: Vec<StreamRecord>) -> Result<(), String> {
        let mut work = VecDeque::from([Pending {
            records: batch,
            attempts: 0,
            invocations: 0,
            last_error: None,
        }]);
        while let Some(mut pending) = work.pop_front() {
            let expired = self.expired(&pending.records);
            if expired > 0 {
                let rest = pending.records.split_off(expired);
                self.discard(&pending, Condition::RecordAgeExceeded)?;
                if rest.is_empty() {
                    continue;
                }
                pending.records = rest;
            }
            self.record_iterator_age(&pending.records);
            let failure = match self.function.invoke(&pending.records).await {
                Outcome::Throttled => {
                    tokio::time::sleep(self.settings().retry_backoff).await;
                    work.push_front(pending);
                    continue;
                }
                Outcome::Failed(error) => error,
                Outcome::Answered(response) => match failed_at(&pending.records, &response) {
                    Ok(None) => {
                        self.status.note_error(None);
                        self.advance(sequence_of(pending.records.last().expect("never empty")))?;
                        continue;
                    }
                    Ok(Some(0)) => {
                        "the function reported its batch's first record as failed".into()
                    }
                    Ok(Some(at)) => {
                        // Done up to the first failure; only the rest is tried again.
                        self.advance(sequence_of(&pending.records[at - 1]))?;
                        pending.records.drain(..at);
                        pending.invocations += 1;
                        self.retry_or_discard(
                            pending,
                            &mut work,
                            "the function reported a failure".into(),
                        )
                        .await?;
                        continue;
                    }
                    Err(invalid) => invalid,
                },
            };
            pending.invocations += 1;
            if self.settings().bisect_batch_on_function_error && pending.records.len() > 1 {
                let half = pending.records.len() / 2;
                let second = Pending {
                    records: pending.records.split_off(half),
                    attempts: pending.attempts,
                    invocations: 0,
                    last_error: None,
                };
                pending.last_error = Some(failure.clone());
                self.status.note_error(Some(failure));
                work.push_front(second);
                work.push_front(pending);
                tokio::time::sleep(self.settings().retry_backoff).await;
            } else {
                self.retry_or_discard(pending, &mut work, failure).await?;
            }
        }
        Ok(())
    }

    async fn retry_or_discard(
        &self,
        mut pending: Pending,
        work: &mut VecDeque<Pending>,
        failure: String,
    ) -> Result<(), String> {
        tracing::warn!(error = %failure, records = pending.records.len(), "the stream batch failed");
        self.status.note_error(Some(failure.clone()));
        pending.last_error = Some(failure);
        pending.attempts += 1;
        let limit = self.settings().maximum_retry_attempts;
        if limit >= 0 && pending.attempts > limit {
            return self.discard(&pending, Condition::RetryAttemptsExhausted);
        }
        tokio::time::sleep(self.settings().retry_backoff).await;
        work.push_front(pending);
        Ok(())
    }

    /// How many records at the start of `records` are past `MaximumRecordAgeInSeconds`.
    fn expired(&self, records: &[StreamRecord]) -> usize {
        let max_age = self.settings().maximum_record_age_seconds;
        if max_age < 0 {
            return 0;
        }
        let horizon = real_ms() - max_age * 1000;
        records
            .iter()
            .take_while(|r| created_ms(r) < horizon)
            .count()
    }

    /// Sends `pending`'s batch to the on-failure destination and moves past it.
    fn discard(&self, pending: &Pending, condition: Condition) -> Result<(), String> {
        let reader = &self.status.reader;
        let (shard_id, stream_arn) = (reader.shard_id(), reader.stream_arn());
        let source = on_failure::Source {
            function_arn: &self.function.arn,
            shard_id: &shard_id,
            stream_arn: &stream_arn,
        };
        let message = on_failure::message(
            &source,
            &pending.records,
            condition,
            pending.invocations,
            pending.last_error.as_deref(),
            real_ms(),
        );
        tracing::error!(
            condition = ?condition,
            start = sequence_of(&pending.records[0]),
            records = pending.records.len(),
            "the event source mapping discards a batch to its on-failure destination"
        );
        self.dlq.send(message.to_string())?;
        self.advance(sequence_of(pending.records.last().expect("never empty")))
    }

    /// `IteratorAge`: how old the batch's last record is, on the twin's CloudWatch clock: moving
    /// the clock on ages the records written before, as time passing would.
    fn record_iterator_age(&self, records: &[StreamRecord]) {
        let Some(last) = records.last() else { return };
        let clock = &self.function.cloudwatch.clock;
        let age = (clock.now_ms() - clock.then_ms(written_ms(last))).max(0);
        self.function
            .cloudwatch
            .record_iterator_age(&self.function.name, age as f64);
    }
}

/// Where the function says the batch failed: `None` for a complete success, the index of the
/// lowest reported record, or why the response counts as a complete failure.
fn failed_at(
    records: &[StreamRecord],
    response: &DynamoDbEventResponse,
) -> Result<Option<usize>, String> {
    let mut lowest: Option<usize> = None;
    for failure in &response.batch_item_failures {
        let id = failure.item_identifier.as_deref().unwrap_or_default();
        let at = records
            .iter()
            .position(|r| !id.is_empty() && sequence_of(r) == id)
            .ok_or_else(|| {
                format!("the function reported an itemIdentifier {id:?} that is not in the batch")
            })?;
        lowest = Some(lowest.map_or(at, |l| l.min(at)));
    }
    Ok(lowest)
}
