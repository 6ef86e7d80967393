//! Events on the project's EventBridge bus. `PutEvents` can succeed while some entries fail
//! (`FailedEntryCount`): those entries, and only those, are retried with bounded backoff, so an
//! accepted event is never sent twice by us.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, PutEventsResultEntry};

use super::errors;
use super::trace::traced;
use crate::ports::{BusError, BusEvent, EventBus};

/// Entry error codes worth another try; others (`MalformedDetail`, `InvalidArgument`, ...) are
/// faults of the entry and would fail again.
const RETRYABLE_ENTRY_CODES: &[&str] = &[
    "InternalFailure",
    "ThrottlingException",
    "ServiceUnavailable",
];

/// Backoff before each retry of failed entries: bounded, about 0.75 s in all.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub delays: Vec<Duration>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            delays: [50, 200, 500].map(Duration::from_millis).to_vec(),
        }
    }
}

#[derive(Clone)]
pub struct EventBridgeBus {
    client: Client,
    bus_name: String,
    backoff: Backoff,
}

impl EventBridgeBus {
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
            backoff: Backoff::default(),
        }
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    fn entry(&self, event: &BusEvent) -> PutEventsRequestEntry {
        let nanos = event.time.unix_timestamp_nanos();
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&event.source)
            .detail_type(&event.detail_type)
            .detail(event.detail.to_string())
            .time(
                DateTime::from_nanos(nanos)
                    .unwrap_or_else(|_| DateTime::from_secs(event.time.unix_timestamp())),
            )
            .set_resources(Some(event.resources.clone()))
            .set_trace_header(event.trace_header.clone())
            .build()
    }

    /// One `PutEvents` call; returns the indexes (into `pending`) that failed and why.
    async fn put(
        &self,
        entries: Vec<PutEventsRequestEntry>,
    ) -> Result<Vec<(usize, String, bool)>, BusError> {
        let call = self.client.put_events().set_entries(Some(entries)).send();
        let output = traced("EventBridge", "PutEvents", &self.bus_name, call)
            .await
            .map_err(|e| {
                BusError::Unavailable(format!("EventBridge PutEvents: {}", errors::describe(&e)))
            })?;
        if output.failed_entry_count() == 0 {
            return Ok(Vec::new());
        }
        Ok(output
            .entries()
            .iter()
            .enumerate()
            .filter_map(|(i, e)| failure(e).map(|(why, retry)| (i, why, retry)))
            .collect())
    }
}

/// An entry's failure, if it failed: its reason, and whether a retry may help.
fn failure(entry: &PutEventsResultEntry) -> Option<(String, bool)> {
    let code = entry.error_code()?;
    let why = format!("{code}: {}", entry.error_message().unwrap_or(""));
    Some((why, RETRYABLE_ENTRY_CODES.contains(&code)))
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), BusError> {
        // `pending` holds indexes into `events` still to be accepted.
        let mut pending: Vec<usize> = (0..events.len()).collect();
        let mut delays = self.backoff.delays.iter();
        loop {
            let entries = pending.iter().map(|&i| self.entry(&events[i])).collect();
            let failed = self.put(entries).await?;
            if failed.is_empty() {
                return Ok(());
            }
            let retryable = failed.iter().all(|(_, _, retry)| *retry);
            let reason = failed
                .iter()
                .map(|(_, why, _)| why.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let still: Vec<usize> = failed.iter().map(|(i, _, _)| pending[*i]).collect();
            match delays.next() {
                Some(delay) if retryable => {
                    metrics::counter!(telemetry::metric_names::ITEM_EVENT_PUBLISH_RETRIES)
                        .increment(still.len() as u64);
                    tracing::warn!(failed = still.len(), reason = %reason, "PutEvents entries failed; retrying them");
                    tokio::time::sleep(*delay).await;
                    pending = still;
                }
                _ => {
                    return Err(BusError::EntriesFailed {
                        failed: still,
                        reason,
                    });
                }
            }
        }
    }
}
