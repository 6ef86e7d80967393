//! The item store, throttling or failing on request. It sits where the DynamoDB adapter sits on
//! AWS (under the twin's DynamoDB metrics), so a throttle moves what it moves there: the
//! handler's `503` with `Retry-After`, `StoreThrottles` (counted where the adapter counts it)
//! and the table's throttle events.

use std::sync::Arc;

use async_trait::async_trait;
use functions::domain::{Item, ItemId};
use functions::idempotency::{IdempotencyKey, IdempotencyRecord};
use functions::ports::{
    Claim, CreatedWindow, ItemStore, Page, PageRequest, StoreError, Sweep, SweepPosition,
};

use super::{Faults, Kind, Target, injected};

pub struct FaultyStore {
    pub inner: Arc<dyn ItemStore>,
    pub faults: Arc<Faults>,
}

impl FaultyStore {
    /// The error this call fails with, if a store fault hits it.
    fn check(&self, operation: &str) -> Result<(), StoreError> {
        if self.faults.fires(Target::Store, Kind::Throttle) {
            metrics::counter!(telemetry::metric_names::STORE_THROTTLES).increment(1);
            return Err(StoreError::Unavailable {
                reason: format!(
                    "{operation}: ThrottlingException ({})",
                    injected(Target::Store, Kind::Throttle)
                ),
                retry_after: functions::adapters::aws::errors::RETRY_AFTER,
            });
        }
        if self.faults.fires(Target::Store, Kind::Fail) {
            return Err(StoreError::Internal(format!(
                "{operation}: InternalServerError ({})",
                injected(Target::Store, Kind::Fail)
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl ItemStore for FaultyStore {
    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        self.check("PutItem")?;
        self.inner.put(item).await
    }

    async fn get(&self, owner: &str, id: ItemId) -> Result<Option<Item>, StoreError> {
        self.check("GetItem")?;
        self.inner.get(owner, id).await
    }

    async fn list(&self, owner: &str, page: PageRequest) -> Result<Page, StoreError> {
        self.check("Query")?;
        self.inner.list(owner, page).await
    }

    async fn put_with_record(
        &self,
        item: &Item,
        record: &IdempotencyRecord,
        now: i64,
    ) -> Result<Claim, StoreError> {
        self.check("TransactWriteItems")?;
        self.inner.put_with_record(item, record, now).await
    }

    async fn record(
        &self,
        owner: &str,
        key: &IdempotencyKey,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.check("GetItem")?;
        self.inner.record(owner, key, now).await
    }

    async fn created_between(
        &self,
        window: &CreatedWindow,
        after: Option<&SweepPosition>,
        rows: usize,
    ) -> Result<Sweep, StoreError> {
        self.check("Scan")?;
        self.inner.created_between(window, after, rows).await
    }
}

#[cfg(test)]
mod tests {
    use functions::adapters::embedded::store::RedbItemStore;
    use functions::domain::NewItem;

    use super::*;

    fn store(dir: &std::path::Path, faults: &Arc<Faults>) -> FaultyStore {
        FaultyStore {
            inner: Arc::new(RedbItemStore::open(&dir.join("items.redb")).unwrap()),
            faults: Arc::clone(faults),
        }
    }

    fn item() -> Item {
        let new = NewItem {
            name: "faulty".into(),
            description: None,
        };
        Item::create("alice", new)
    }

    #[tokio::test]
    async fn throttles_and_failures_stop_the_call_before_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let faults = Arc::new(Faults::default());
        let store = store(dir.path(), &faults);
        let item = item();

        faults.set("store=throttle".parse().unwrap());
        match store.put(&item).await {
            Err(StoreError::Unavailable {
                reason,
                retry_after,
            }) => {
                assert!(reason.contains("PutItem"), "{reason}");
                assert!(reason.contains("injected fault store=throttle"), "{reason}");
                assert_eq!(retry_after.as_secs(), 1);
            }
            other => panic!("{other:?}"),
        }
        faults.clear(None);
        faults.set("store=fail".parse().unwrap());
        assert!(matches!(
            store.get("alice", item.id).await,
            Err(StoreError::Internal(reason)) if reason.contains("GetItem")
        ));
        // Nothing reached the store while it failed; once cleared, calls go through.
        faults.clear(None);
        assert_eq!(store.get("alice", item.id).await.unwrap(), None);
        store.put(&item).await.unwrap();
        assert_eq!(store.get("alice", item.id).await.unwrap(), Some(item));
    }
}
