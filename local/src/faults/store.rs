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

    async fn replace_record(
        &self,
        expected_version: u64,
        record: &IdempotencyRecord,
    ) -> Result<bool, StoreError> {
        self.check("PutItem")?;
        self.inner.replace_record(expected_version, record).await
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
