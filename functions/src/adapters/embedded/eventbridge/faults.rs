//! The event bus, rejecting entries on request: `PutEvents` succeeds but its entries fail with
//! `InternalFailure` (`FailedEntryCount` > 0).
//!
//! On AWS the EventBridge adapter retries such entries after its backoff, counting
//! `ItemEventPublishRetries`, before the handler gives up (`ItemEventPublishFailures`, an ERROR
//! line). The embedded bus is called in process and never fails that way, so this decorator
//! plays both the failing bus and the adapter's retries, on the adapter's own schedule: local
//! runs then show what AWS shows, including a retry that gets through at a rate below 1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::adapters::aws::eventbridge::Backoff;
use crate::ports::{BusError, BusEvent, EventBus};

/// Says, for one attempt, why its entries fail (`Some(cause)`), if they do: asked before the
/// first try and before each retry. Local runs answer it from their fault settings.
pub type EntryFault = Arc<dyn Fn() -> Option<String> + Send + Sync>;

pub struct FaultyBus {
    inner: Arc<dyn EventBus>,
    fault: EntryFault,
    retry_delays: Vec<Duration>,
}

impl FaultyBus {
    pub fn new(inner: Arc<dyn EventBus>, fault: EntryFault) -> Self {
        Self {
            inner,
            fault,
            retry_delays: Backoff::default().delays,
        }
    }
}

#[async_trait]
impl EventBus for FaultyBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), BusError> {
        let mut delays = self.retry_delays.iter();
        loop {
            let Some(cause) = (self.fault)() else {
                return self.inner.publish(events).await;
            };
            let reason = format!("InternalFailure: the entries were not accepted ({cause})");
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
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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
            trace_header: None,
        }
    }

    #[tokio::test]
    async fn rejected_entries_are_retried_then_failed_and_never_reach_the_bus() {
        let inner = Arc::new(Counting::default());
        let rejecting = Arc::new(AtomicBool::new(true));
        let asked = Arc::new(AtomicUsize::new(0));
        let fault: EntryFault = {
            let (rejecting, asked) = (Arc::clone(&rejecting), Arc::clone(&asked));
            Arc::new(move || {
                asked.fetch_add(1, Ordering::Relaxed);
                rejecting
                    .load(Ordering::Relaxed)
                    .then(|| "the cause".to_owned())
            })
        };
        let mut bus = FaultyBus::new(Arc::clone(&inner) as _, fault);
        // The adapter's schedule has three retries; shortened here, not changed in number.
        assert_eq!(bus.retry_delays.len(), 3);
        bus.retry_delays = vec![Duration::ZERO; 3];

        match bus.publish(&[event(), event()]).await {
            Err(BusError::EntriesFailed { failed, reason }) => {
                assert_eq!(failed, [0, 1]);
                assert_eq!(
                    reason,
                    "InternalFailure: the entries were not accepted (the cause)"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            asked.load(Ordering::Relaxed),
            4,
            "the first try and three retries"
        );
        assert_eq!(inner.0.load(Ordering::Relaxed), 0);

        rejecting.store(false, Ordering::Relaxed);
        bus.publish(&[event()]).await.unwrap();
        assert_eq!(inner.0.load(Ordering::Relaxed), 1);
    }
}
