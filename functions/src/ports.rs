//! The ports: what the API needs from the outside world. Adapters live in [`crate::adapters`].

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::{Item, ItemId};

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

/// Items, partitioned by owner and sorted by id: a page costs the same at any table size, and no
/// call can cross owners.
#[async_trait]
pub trait ItemStore: Send + Sync {
    /// Writes a new item; fails with [`StoreError::AlreadyExists`] if its key is taken.
    /// Returning `Ok` means the write is durable.
    async fn put(&self, item: &Item) -> Result<(), StoreError>;
    async fn get(&self, owner: &str, id: ItemId) -> Result<Option<Item>, StoreError>;
    async fn list(&self, owner: &str, page: PageRequest) -> Result<Page, StoreError>;
}

/// One event to publish, as an EventBridge `PutEvents` entry carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    pub source: String,
    pub detail_type: String,
    /// The `Detail` object (a JSON object, not a string).
    pub detail: serde_json::Value,
    pub time: time::OffsetDateTime,
    pub resources: Vec<String>,
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
