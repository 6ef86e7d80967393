//! The embedded item store with DynamoDB's own metrics around it: `SuccessfulRequestLatency`,
//! `ThrottledRequests` and `SystemErrors` by `TableName` and `Operation`, and
//! `ReadThrottleEvents` / `WriteThrottleEvents` by `TableName`, named after the DynamoDB
//! operation each call is on AWS.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use functions::domain::{Item, ItemId};
use functions::idempotency::{IdempotencyKey, IdempotencyRecord};
use functions::ports::{
    Claim, CreatedWindow, ItemStore, Page, PageRequest, StoreError, Sweep, SweepPosition,
};

use super::CloudWatch;

pub struct MeteredStore {
    pub inner: Arc<dyn ItemStore>,
    pub cloudwatch: Arc<CloudWatch>,
    pub table: String,
}

impl MeteredStore {
    fn record<T>(
        &self,
        operation: &str,
        write: bool,
        started: Instant,
        result: &Result<T, StoreError>,
    ) {
        self.cloudwatch
            .record_table_call(&self.table, operation, write, started.elapsed(), result);
    }
}

#[async_trait]
impl ItemStore for MeteredStore {
    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.put(item).await;
        self.record("PutItem", true, started, &result);
        result
    }

    async fn get(&self, owner: &str, id: ItemId) -> Result<Option<Item>, StoreError> {
        let started = Instant::now();
        let result = self.inner.get(owner, id).await;
        self.record("GetItem", false, started, &result);
        result
    }

    async fn list(&self, owner: &str, page: PageRequest) -> Result<Page, StoreError> {
        let started = Instant::now();
        let result = self.inner.list(owner, page).await;
        self.record("Query", false, started, &result);
        result
    }

    async fn put_with_record(
        &self,
        item: &Item,
        record: &IdempotencyRecord,
        now: i64,
    ) -> Result<Claim, StoreError> {
        let started = Instant::now();
        let result = self.inner.put_with_record(item, record, now).await;
        self.record("TransactWriteItems", true, started, &result);
        result
    }

    async fn record(
        &self,
        owner: &str,
        key: &IdempotencyKey,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let started = Instant::now();
        let result = self.inner.record(owner, key, now).await;
        self.record("GetItem", false, started, &result);
        result
    }

    async fn created_between(
        &self,
        window: &CreatedWindow,
        after: Option<&SweepPosition>,
        rows: usize,
    ) -> Result<Sweep, StoreError> {
        let started = Instant::now();
        let result = self.inner.created_between(window, after, rows).await;
        self.record("Scan", false, started, &result);
        result
    }
}
