//! The DynamoDB stand-in: a redb database (ACID, copy-on-write B-trees, fsync on commit), keyed
//! like the table: `(owner, item id)`, so a page is one range scan inside one owner's items.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::domain::{Item, ItemId};
use crate::ports::{ItemStore, Page, PageRequest, StoreError};

/// `(owner sub, item id as u128)` → the item as JSON. A UUIDv7's u128 order is its time order.
const ITEMS: TableDefinition<(&str, u128), &[u8]> = TableDefinition::new("items");

#[derive(Clone)]
pub struct RedbItemStore {
    db: Arc<Database>,
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

impl RedbItemStore {
    /// Opens (or creates) the database file; a file left by a crash is recovered by redb.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(internal)?;
        // Create the table up front so that reads of an empty store are not errors.
        let txn = db.begin_write().map_err(internal)?;
        txn.open_table(ITEMS).map_err(internal)?;
        txn.commit().map_err(internal)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Runs blocking redb work off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(internal)?
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

#[async_trait]
impl ItemStore for RedbItemStore {
    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        let item = item.clone();
        self.blocking(move |db| {
            let value = serde_json::to_vec(&item).map_err(internal)?;
            let txn = db.begin_write().map_err(internal)?;
            {
                let mut table = txn.open_table(ITEMS).map_err(internal)?;
                let key = (item.owner.as_str(), item.id.as_u128());
                // DynamoDB's `attribute_not_exists` condition: never overwrite.
                if table.get(key).map_err(internal)?.is_some() {
                    return Err(StoreError::AlreadyExists);
                }
                table.insert(key, value.as_slice()).map_err(internal)?;
            }
            // Durability::Immediate (the default): `Ok` only once the commit is on disk.
            txn.commit().map_err(internal)
        })
        .await
    }

    async fn get(&self, owner: &str, id: ItemId) -> Result<Option<Item>, StoreError> {
        let owner = owner.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(internal)?;
            let table = txn.open_table(ITEMS).map_err(internal)?;
            let found = table
                .get((owner.as_str(), id.as_u128()))
                .map_err(internal)?;
            found.map(|v| decode(v.value())).transpose()
        })
        .await
    }

    async fn list(&self, owner: &str, page: PageRequest) -> Result<Page, StoreError> {
        let owner = owner.to_owned();
        self.blocking(move |db| {
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
