//! The ports: what the API needs from the outside world. Adapters live in [`crate::adapters`].

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::{Item, ItemId};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};

/// A page request: newest first, strictly older than `before` when given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub before: Option<ItemId>,
}

/// One page of an owner's items, newest first. `more` is true when older items remain.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub more: bool,
}

/// Both stores check this before writing an item with its idempotency record.
pub fn check_record_about(record: &IdempotencyRecord, item: &Item) -> Result<(), StoreError> {
    if record.is_about(item) {
        Ok(())
    } else {
        Err(StoreError::Internal(
            "an idempotency record must be about the item written with it".into(),
        ))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key already exists (a conditional put failed); nothing was written.
    #[error("an item with this id already exists")]
    AlreadyExists,
    /// The store is throttling or unavailable; the caller may retry after the hint.
    #[error("item store unavailable: {reason}")]
    Unavailable {
        reason: String,
        retry_after: Duration,
    },
    #[error("item store failed: {0}")]
    Internal(String),
}

/// What [`ItemStore::put_with_record`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The item and its idempotency record were written together.
    Created,
    /// A live record already holds the key; nothing was written.
    Existing(IdempotencyRecord),
    /// Other requests kept writing the same key at the same moment (DynamoDB's
    /// `TransactionConflict`); nothing was written. Another request holds the key: retry later.
    Contended,
}

/// Items, partitioned by owner and sorted by id: a page costs the same at any table size, and no
/// call can cross owners.
///
/// Idempotency records live in the same store, so that a record and its item are written in one
/// transaction, but never in an owner's items: `get` and `list` do not see them.
#[async_trait]
pub trait ItemStore: Send + Sync {
    /// Writes a new item; fails with [`StoreError::AlreadyExists`] if its key is taken.
    /// Returning `Ok` means the write is durable.
    async fn put(&self, item: &Item) -> Result<(), StoreError>;
    async fn get(&self, owner: &str, id: ItemId) -> Result<Option<Item>, StoreError>;
    async fn list(&self, owner: &str, page: PageRequest) -> Result<Page, StoreError>;

    /// Writes a new item and the record of the key that made it, atomically: both or neither.
    /// A record of the same `(owner, key)` that is live at `now` (epoch seconds) wins: nothing is
    /// written and it is returned. An expired one counts as absent and is replaced. Fails with
    /// [`StoreError::AlreadyExists`] if the item's key is taken (and writes no record).
    /// `record` must be about `item` (same owner and item id).
    async fn put_with_record(
        &self,
        item: &Item,
        record: &IdempotencyRecord,
        now: i64,
    ) -> Result<Claim, StoreError>;

    /// The record of `(owner, key)` if one is live at `now`.
    async fn record(
        &self,
        owner: &str,
        key: &IdempotencyKey,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Items of every owner created in `window`, for operator sweeps (re-emitting events), never
    /// for callers of the API. Reads at most `rows` rows of the store, in the store's own order
    /// (not time order), starting after `after`; `next` is where to go on, `None` once the whole
    /// store was read. A call can return no item and still a `next`. Idempotency records are
    /// never returned. This reads the whole store, window or not: see the adapters for its cost.
    async fn created_between(
        &self,
        window: &CreatedWindow,
        after: Option<&SweepPosition>,
        rows: usize,
    ) -> Result<Sweep, StoreError>;
}

/// A creation-time window `[from, to)`. Item ids are UUIDv7s (48 bits of milliseconds first),
/// so the window is also a range of ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreatedWindow {
    pub from: time::OffsetDateTime,
    pub to: time::OffsetDateTime,
}

impl CreatedWindow {
    /// The ids created in the window, as numbers: `[first id of from's millisecond, first id of
    /// to's)`, with a part-millisecond bound rounded up (an id's time is a whole millisecond).
    pub fn id_range(&self) -> std::ops::Range<u128> {
        fn floor_id(t: time::OffsetDateTime) -> u128 {
            let nanos = t.unix_timestamp_nanos().max(0) as u128;
            let millis = nanos.div_ceil(1_000_000).min((1 << 48) - 1);
            millis << 80
        }
        floor_id(self.from)..floor_id(self.to)
    }

    pub fn contains(&self, id: ItemId) -> bool {
        self.id_range().contains(&id.as_u128())
    }
}

/// Where a sweep stopped: the key of the last row read, as the store spells it (`id` may be an
/// idempotency key on DynamoDB, whose records share the table).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SweepPosition {
    pub owner: String,
    pub id: String,
}

/// One stretch of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub items: Vec<Item>,
    pub next: Option<SweepPosition>,
}

/// EventBridge takes at most this many entries per `PutEvents`: the most one
/// [`EventBus::publish`] call should carry.
pub const PUT_EVENTS_MAX_ENTRIES: usize = 10;

/// One event to publish, as an EventBridge `PutEvents` entry carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    pub source: String,
    pub detail_type: String,
    /// The `Detail` object (a JSON object, not a string).
    pub detail: serde_json::Value,
    pub time: time::OffsetDateTime,
    pub resources: Vec<String>,
    /// The X-Ray trace header the event continues (`TraceHeader`): the creating request's.
    pub trace_header: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Some entries were not accepted (EventBridge's `FailedEntryCount`); indexes into the batch.
    #[error("{} of the events were not accepted: {reason}", failed.len())]
    EntriesFailed { failed: Vec<usize>, reason: String },
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes a batch; `Ok` means every entry was accepted.
    async fn publish(&self, events: &[BusEvent]) -> Result<(), BusError>;
}

/// A key that signs page cursors; `id` names it inside each cursor so that a rotated key can
/// still verify the cursors it signed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub id: String,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    // Never print the secret, whatever logs a value of this type.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The cursor keys: the current one signs, every one verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorKeys {
    pub current: SigningKey,
    pub previous: Vec<SigningKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration unavailable: {0}")]
    Unavailable(String),
    #[error("configuration invalid: {0}")]
    Invalid(String),
}

/// Settings that are secret or change at run time (Secrets Manager on AWS, a file in the twin).
#[async_trait]
pub trait Config: Send + Sync {
    async fn cursor_keys(&self) -> Result<CursorKeys, ConfigError>;
}
