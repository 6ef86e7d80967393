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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A bus that accepts everything and counts the calls that reach it.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    #[async_trait]
    impl EventBus for Counting {
        async fn publish(&self, _: &[BusEvent]) -> Result<(), BusError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    fn event() -> BusEvent {
        BusEvent {
            source: "items.api".into(),
            detail_type: "ItemCreated".into(),
            detail: serde_json::json!({ "item_id": "i-1" }),
            time: time::OffsetDateTime::now_utc(),
            resources: Vec::new(),
        }
    }

    #[tokio::test]
    async fn rejected_entries_are_retried_then_failed_and_never_reach_the_bus() {
        let inner = Arc::new(Counting::default());
        let faults = Arc::new(Faults::new(["bus=reject".parse().unwrap()]));
        let mut bus = FaultyBus::new(Arc::clone(&inner) as _, Arc::clone(&faults));
        // The adapter's schedule has three retries; shortened here, not changed in number.
        assert_eq!(bus.retry_delays.len(), 3);
        bus.retry_delays = vec![Duration::ZERO; 3];

        match bus.publish(&[event(), event()]).await {
            Err(BusError::EntriesFailed { failed, reason }) => {
                assert_eq!(failed, [0, 1]);
                assert!(reason.starts_with("InternalFailure"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(inner.0.load(Ordering::Relaxed), 0);

        faults.clear(None);
        bus.publish(&[event()]).await.unwrap();
        assert_eq!(inner.0.load(Ordering::Relaxed), 1);
    }
}
