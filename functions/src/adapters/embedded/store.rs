//! The DynamoDB stand-in: a redb database (ACID, copy-on-write B-trees, fsync on commit), keyed
//! like the table: `(owner, item id)`, so a page is one range scan inside one owner's items.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::group_commit::{Applied, GroupCommit};
use crate::domain::{Item, ItemId};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};
use crate::ports::{
    Claim, CreatedWindow, ItemStore, Page, PageRequest, StoreError, Sweep, SweepPosition,
};

/// `(owner sub, item id as u128)` → the item as JSON. A UUIDv7's u128 order is its time order.
const ITEMS: TableDefinition<(&str, u128), &[u8]> = TableDefinition::new("items");
/// `(owner sub, idempotency key)` → the key's record as JSON. A table of its own: records never
/// show in an owner's items.
const RECORDS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("idempotency");

#[derive(Clone)]
pub struct RedbItemStore {
    db: Arc<Database>,
    /// Every write goes through here: concurrent writes share one commit (one fsync).
    writes: Arc<GroupCommit>,
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

impl RedbItemStore {
    /// Opens (or creates) the database file; a file left by a crash is recovered by redb.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(internal)?;
        // Create the tables up front so that reads of an empty store are not errors.
        let txn = db.begin_write().map_err(internal)?;
        txn.open_table(ITEMS).map_err(internal)?;
        txn.open_table(RECORDS).map_err(internal)?;
        txn.commit().map_err(internal)?;
        let db = Arc::new(db);
        let store = Self {
            writes: Arc::new(GroupCommit::start(Arc::clone(&db))?),
            db,
        };
        // DynamoDB's TTL deletes expired records in the background; the twin does it at start.
        store.purge_expired_sync(time::OffsetDateTime::now_utc().unix_timestamp())?;
        Ok(store)
    }

    /// Deletes the records expired at `now`. Expired records already count as absent: this
    /// only reclaims their space.
    fn purge_expired_sync(&self, now: i64) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(internal)?;
        {
            let mut table = txn.open_table(RECORDS).map_err(internal)?;
            // A record that does not decode is kept, for someone to look at.
            table
                .retain(|_, value| decode_record(value).map_or(true, |r| r.is_live(now)))
                .map_err(internal)?;
        }
        txn.commit().map_err(internal)
    }

    /// Every idempotency record, live or not; for the twin's tests, not for the API.
    pub async fn count_records(&self) -> Result<usize, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(internal)?;
            let table = txn.open_table(RECORDS).map_err(internal)?;
            Ok(table.len().map_err(internal)? as usize)
        })
        .await
    }

    /// A point read or one page: served from redb's cache and the kernel's page cache in a few
    /// microseconds, so run where the request runs. Handing it to a blocking thread and back
    /// costs two thread switches, more than the read itself.
    fn read<T>(&self, f: impl FnOnce(&Database) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&self.db)
    }

    /// Runs redb work that may take long (scans over every owner) off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(internal)?
    }

    /// Write transactions committed so far: with the writes made, how many writes each fsync
    /// carried. For the twin's own views and benchmarks, not for the API.
    pub fn commits(&self) -> u64 {
        self.writes.commits()
    }

    /// Every item of every owner; for the twin's own views and tests, not for the API.
    pub async fn count_all(&self) -> Result<usize, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(internal)?;
            let table = txn.open_table(ITEMS).map_err(internal)?;
            Ok(table.len().map_err(internal)? as usize)
        })
        .await
    }
}

fn decode(bytes: &[u8]) -> Result<Item, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Internal(format!("corrupt item: {e}")))
}

fn decode_record(bytes: &[u8]) -> Result<IdempotencyRecord, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Internal(format!("corrupt idempotency record: {e}")))
}

#[async_trait]
impl ItemStore for RedbItemStore {
    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        let value = serde_json::to_vec(item).map_err(internal)?;
        let (owner, id) = (item.owner.clone(), item.id.as_u128());
        // Answered once the commit holding it is on disk.
        self.writes
            .write(move |txn| {
                let mut table = txn.open_table(ITEMS).map_err(internal)?;
                let key = (owner.as_str(), id);
                // DynamoDB's `attribute_not_exists` condition: never overwrite.
                if table.get(key).map_err(internal)?.is_some() {
                    return Err(StoreError::AlreadyExists);
                }
                table.insert(key, value.as_slice()).map_err(internal)?;
                Ok(Applied::changed(()))
            })
            .await
    }

    async fn get(&self, owner: &str, id: ItemId) -> Result<Option<Item>, StoreError> {
        let owner = owner.to_owned();
        self.read(move |db| {
            let txn = db.begin_read().map_err(internal)?;
            let table = txn.open_table(ITEMS).map_err(internal)?;
            let found = table
                .get((owner.as_str(), id.as_u128()))
                .map_err(internal)?;
            found.map(|v| decode(v.value())).transpose()
        })
    }

    async fn list(&self, owner: &str, page: PageRequest) -> Result<Page, StoreError> {
        let owner = owner.to_owned();
        self.read(move |db| {
            let txn = db.begin_read().map_err(internal)?;
            let table = txn.open_table(ITEMS).map_err(internal)?;
            let end = page.before.map_or(u128::MAX, ItemId::as_u128);
            let range = table
                .range((owner.as_str(), 0u128)..(owner.as_str(), end))
                .map_err(internal)?;
            let mut items = Vec::with_capacity(page.limit);
            let mut more = false;
            // Newest first: walk the owner's range backwards, one past the page to know if more remain.
            for entry in range.rev() {
                let (_, value) = entry.map_err(internal)?;
                if items.len() == page.limit {
                    more = true;
                    break;
                }
                items.push(decode(value.value())?);
            }
            Ok(Page { items, more })
        })
    }

    async fn put_with_record(
        &self,
        item: &Item,
        record: &IdempotencyRecord,
        now: i64,
    ) -> Result<Claim, StoreError> {
        crate::ports::check_record_about(record, item)?;
        let item_value = serde_json::to_vec(item).map_err(internal)?;
        let record_value = serde_json::to_vec(record).map_err(internal)?;
        let (owner, id, key) = (item.owner.clone(), item.id.as_u128(), record.key.clone());
        // Writes are applied one after another in the writer's transaction, so the check and
        // the writes cannot interleave with another request's.
        self.writes
            .write(move |txn| {
                let mut records = txn.open_table(RECORDS).map_err(internal)?;
                let record_key = (owner.as_str(), key.as_str());
                let existing = records
                    .get(record_key)
                    .map_err(internal)?
                    .map(|v| decode_record(v.value()))
                    .transpose()?;
                if let Some(existing) = existing.filter(|r| r.is_live(now)) {
                    return Ok(Applied::unchanged(Claim::Existing(existing)));
                }
                let mut items = txn.open_table(ITEMS).map_err(internal)?;
                let item_key = (owner.as_str(), id);
                if items.get(item_key).map_err(internal)?.is_some() {
                    return Err(StoreError::AlreadyExists);
                }
                items
                    .insert(item_key, item_value.as_slice())
                    .map_err(internal)?;
                records
                    .insert(record_key, record_value.as_slice())
                    .map_err(internal)?;
                Ok(Applied::changed(Claim::Created))
            })
            .await
    }

    async fn record(
        &self,
        owner: &str,
        key: &IdempotencyKey,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let (owner, key) = (owner.to_owned(), key.clone());
        self.read(move |db| {
            let txn = db.begin_read().map_err(internal)?;
            let table = txn.open_table(RECORDS).map_err(internal)?;
            let found = table
                .get((owner.as_str(), key.as_str()))
                .map_err(internal)?
                .map(|v| decode_record(v.value()))
                .transpose()?;
            Ok(found.filter(|r| r.is_live(now)))
        })
    }

    async fn created_between(
        &self,
        window: &CreatedWindow,
        after: Option<&SweepPosition>,
        rows: usize,
    ) -> Result<Sweep, StoreError> {
        self.sweep(*window, after.cloned(), rows).await
    }
}

/// Operator sweeps across owners (`ItemStore::created_between`).
impl RedbItemStore {
    /// Walks the items table in key order (owner, then id) from just after `after`: a full
    /// scan, as on DynamoDB, which is fine for the twin's sizes.
    async fn sweep(
        &self,
        window: CreatedWindow,
        after: Option<SweepPosition>,
        rows: usize,
    ) -> Result<Sweep, StoreError> {
        let start = match &after {
            None => None,
            Some(p) => {
                let id: ItemId = p.id.parse().map_err(|_| {
                    StoreError::Internal(format!("sweep position {:?} is not an item key", p.id))
                })?;
                Some((p.owner.clone(), id.as_u128()))
            }
        };
        let rows = rows.max(1);
        self.blocking(move |db| {
            use std::ops::Bound;
            let txn = db.begin_read().map_err(internal)?;
            let table = txn.open_table(ITEMS).map_err(internal)?;
            let lower = match &start {
                Some((owner, id)) => Bound::Excluded((owner.as_str(), *id)),
                None => Bound::Unbounded,
            };
            let range = table
                .range::<(&str, u128)>((lower, Bound::Unbounded))
                .map_err(internal)?;
            let ids = window.id_range();
            let mut items = Vec::new();
            let mut last = None;
            let mut read = 0;
            for entry in range {
                if read == rows {
                    break;
                }
                let (key, value) = entry.map_err(internal)?;
                let (owner, id) = key.value();
                read += 1;
                if ids.contains(&id) {
                    items.push(decode(value.value())?);
                }
                last = Some(SweepPosition {
                    owner: owner.to_owned(),
                    id: ItemId::from_u128(id).to_string(),
                });
            }
            let next = if read == rows { last } else { None };
            Ok(Sweep { items, next })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewItem;

    fn item(owner: &str, name: &str) -> Item {
        Item::create(
            owner,
            NewItem {
                name: name.into(),
                description: None,
            },
        )
    }

    #[tokio::test]
    async fn put_get_and_conditional_put() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbItemStore::open(&dir.path().join("items.redb")).unwrap();
        let a = item("alice", "one");
        store.put(&a).await.unwrap();
        assert_eq!(store.get("alice", a.id).await.unwrap(), Some(a.clone()));
        assert_eq!(
            store.get("bob", a.id).await.unwrap(),
            None,
            "keys are per owner"
        );
        assert!(matches!(
            store.put(&a).await,
            Err(StoreError::AlreadyExists)
        ));
    }

    #[tokio::test]
    async fn pages_are_newest_first_and_never_cross_owners() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbItemStore::open(&dir.path().join("items.redb")).unwrap();
        let mut mine = Vec::new();
        for i in 0..7 {
            let a = item("alice", &format!("a{i}"));
            store.put(&a).await.unwrap();
            mine.push(a);
            store.put(&item("bob", &format!("b{i}"))).await.unwrap();
        }
        mine.reverse();
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .list("alice", PageRequest { limit: 3, before })
                .await
                .unwrap();
            before = page.items.last().map(|i| i.id);
            seen.extend(page.items);
            if !page.more {
                break;
            }
        }
        assert_eq!(seen, mine);
        let empty = store
            .list(
                "carol",
                PageRequest {
                    limit: 3,
                    before: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            empty,
            Page {
                items: vec![],
                more: false
            }
        );
    }

    #[tokio::test]
    async fn committed_items_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("items.redb");
        let a = item("alice", "kept");
        {
            let store = RedbItemStore::open(&path).unwrap();
            store.put(&a).await.unwrap();
        }
        let store = RedbItemStore::open(&path).unwrap();
        assert_eq!(store.get("alice", a.id).await.unwrap(), Some(a));
        assert_eq!(store.count_all().await.unwrap(), 1);
    }
}
