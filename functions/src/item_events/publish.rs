//! Publishing a batch's events in order, [`PUT_EVENTS_MAX_ENTRIES`] to a call, through the
//! [`EventBus`] port (whose adapter retries the entries worth retrying): the first record whose
//! event was not accepted is where the batch stops.

use time::OffsetDateTime;

use crate::ports::{BusError, BusEvent, EventBus, PUT_EVENTS_MAX_ENTRIES};
use telemetry::metric_names as names;

/// A stream record's event, waiting for its `PutEvents`.
pub(super) struct Pending {
    /// The record's `SequenceNumber`: its `itemIdentifier` if it fails.
    pub sequence_number: String,
    /// The creating request's id, for the lines about this record.
    pub request_id: String,
    pub item_id: String,
    /// The item's owner: with the id, the key on-call reads the item by.
    pub owner: String,
    /// The record's `ApproximateCreationDateTime` in epoch milliseconds, if it had one.
    pub created_ms: Option<i64>,
}

/// Events waiting to be published, in record order.
pub(super) struct Publisher<'a> {
    bus: &'a dyn EventBus,
    /// The records of `events`, one for one.
    pending: Vec<Pending>,
    events: Vec<BusEvent>,
}

impl<'a> Publisher<'a> {
    pub fn new(bus: &'a dyn EventBus) -> Self {
        Self {
            bus,
            pending: Vec::with_capacity(PUT_EVENTS_MAX_ENTRIES),
            events: Vec::with_capacity(PUT_EVENTS_MAX_ENTRIES),
        }
    }

    /// Queues a record's event, publishing the queue once it fills a call. `Err` holds the
    /// sequence number of the first record not published: nothing more may be published.
    pub async fn push(&mut self, pending: Pending, event: BusEvent) -> Result<(), String> {
        self.pending.push(pending);
        self.events.push(event);
        if self.pending.len() == PUT_EVENTS_MAX_ENTRIES {
            self.flush().await?;
        }
        Ok(())
    }

    /// Publishes what is queued, as [`Publisher::push`] does.
    pub async fn flush(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let failed: Vec<usize> = match self.bus.publish(&self.events).await {
            Ok(()) => Vec::new(),
            Err(BusError::EntriesFailed { failed, reason }) => {
                for &i in &failed {
                    let p = &self.pending[i];
                    tracing::error!(request_id = %p.request_id, item_id = %p.item_id, owner = %p.owner, error = %reason, "ItemCreated was not published");
                }
                failed
            }
            Err(error @ BusError::Unavailable(_)) => {
                for p in &self.pending {
                    tracing::error!(request_id = %p.request_id, item_id = %p.item_id, owner = %p.owner, error = %error, "ItemCreated was not published");
                }
                (0..self.pending.len()).collect()
            }
        };
        let now_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        for (i, p) in self.pending.iter().enumerate() {
            if failed.contains(&i) {
                continue;
            }
            if let Some(created_ms) = p.created_ms {
                metrics::histogram!(names::ITEM_EVENT_LAG).record((now_ms - created_ms) as f64);
            }
            tracing::info!(request_id = %p.request_id, item_id = %p.item_id, "ItemCreated published");
        }
        metrics::counter!(names::ITEM_EVENTS_PUBLISHED)
            .increment((self.pending.len() - failed.len()) as u64);
        let first_failed = failed.iter().min().map(|&i| {
            metrics::counter!(names::ITEM_EVENT_PUBLISH_FAILURES).increment(failed.len() as u64);
            std::mem::take(&mut self.pending[i].sequence_number)
        });
        self.pending.clear();
        self.events.clear();
        match first_failed {
            Some(sequence_number) => Err(sequence_number),
            None => Ok(()),
        }
    }
}
