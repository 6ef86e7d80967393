//! The event bus, rejecting entries on request: `PutEvents` succeeds but its entries fail with
//! `InternalFailure` (`FailedEntryCount` > 0).
//!
//! On AWS the EventBridge adapter retries such entries after its backoff, counting
//! `ItemEventPublishRetries`, before the handler gives up (`ItemEventPublishFailures`, an ERROR
//! line). The embedded bus is called in process and never fails that way, so this decorator
//! plays both the failing bus and the adapter's retries, on the adapter's own schedule: the
//! twin then shows what AWS shows, including a retry that gets through at a rate below 1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use functions::adapters::aws::eventbridge::Backoff;
use functions::ports::{BusError, BusEvent, EventBus};

use super::{Faults, Kind, Target, injected};

pub struct FaultyBus {
    inner: Arc<dyn EventBus>,
    faults: Arc<Faults>,
    retry_delays: Vec<Duration>,
}

impl FaultyBus {
    pub fn new(inner: Arc<dyn EventBus>, faults: Arc<Faults>) -> Self {
        Self {
            inner,
            faults,
            retry_delays: Backoff::default().delays,
        }
    }
}

#[async_trait]
impl EventBus for FaultyBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), BusError> {
        let mut delays = self.retry_delays.iter();
        loop {
            if !self.faults.fires(Target::Bus, Kind::Reject) {
                return self.inner.publish(events).await;
            }
            let reason = format!(
                "InternalFailure: the entries were not accepted ({})",
                injected(Target::Bus, Kind::Reject)
            );
            match delays.next() {
                Some(delay) => {
                    metrics::counter!(telemetry::metric_names::ITEM_EVENT_PUBLISH_RETRIES)
                        .increment(events.len() as u64);
                    tracing::warn!(failed = events.len(), reason = %reason, "PutEvents entries failed; retrying them");
                    tokio::time::sleep(*delay).await;
                }
                None => {
                    return Err(BusError::EntriesFailed {
                        failed: (0..events.len()).collect(),
                        reason,
                    });
                }
            }
        }
    }
}
