//! The DynamoDB stand-in: a redb database (ACID, copy-on-write B-trees, fsync on commit), keyed
//! like the table: `(owner, item id)`, so a page is one range scan inside one owner's items.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde_json::{Value, json};

use super::group_commit::{Applied, GroupCommit};
use crate::domain::{Item, ItemId};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};
use crate::ports::{
    Claim, CreatedWindow, ItemStore, Page, PageRequest, StoreError, Sweep, SweepPosition,
};
use crate::table::{attr, record_attr};

mod stream;

use stream::{Change, STREAM, STREAM_HEAD};
pub use stream::{RETENTION_SECS, StreamSource, parse_sequence_number, sequence_number};

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
    /// What the stream records name as their origin.
    source: Arc<StreamSource>,
}

/// A stored stream record: its position and the record as Lambda receives it (JSON).
#[derive(Debug, Clone)]
pub struct StreamEntry {
    pub position: u64,
    pub record: Vec<u8>,
}

/// The stream's extent: its oldest record kept and the last sequence number given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamBounds {
    pub first: Option<u64>,
    pub last: u64,
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// An item's keys and new image, as its stream record carries them: the attributes the items
/// table holds ([`crate::item_events::image::item_image`]).
fn item_change(item: &Item) -> (Value, Value) {
    let keys = json!({
        attr::OWNER: { "S": item.owner },
        attr::ID: { "S": item.id.to_string() },
    });
    let image =
        serde_json::to_value(crate::item_events::image::item_image(item)).unwrap_or_default();
    (keys, image)
}

/// An idempotency record's keys and new image, in its own partition (`idem#<owner>`) as on
/// DynamoDB. Its `fingerprint` is what the event source mapping's filter drops it by.
fn record_change(record: &IdempotencyRecord) -> (Value, Value) {
    let owner = format!("{}{}", record_attr::PARTITION_PREFIX, record.owner);
    let keys = json!({ attr::OWNER: { "S": owner }, attr::ID: { "S": record.key.as_str() } });
    let mut fields = serde_json::to_value(record).unwrap_or_default();
    if let Some(fields) = fields.as_object_mut() {
        fields.remove("key");
        fields.insert(attr::OWNER.into(), Value::String(owner));
        fields.insert(
            attr::ID.into(),
            Value::String(record.key.as_str().to_owned()),
        );
    }
    let image = fields.as_object().map_or(Value::Null, stream::attributes);
    (keys, image)
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
        txn.open_table(STREAM).map_err(internal)?;
        txn.open_table(STREAM_HEAD).map_err(internal)?;
        txn.commit().map_err(internal)?;
        let db = Arc::new(db);
        let store = Self {
            writes: Arc::new(GroupCommit::start(Arc::clone(&db))?),
            db,
            source: Arc::new(StreamSource::default()),
        };
        // DynamoDB's TTL deletes expired records in the background, and the stream drops
        // records past its retention; the twin does both at start.
        let now = now_secs();
        store.purge_expired_sync(now)?;
        store.trim_stream_sync(now)?;
        Ok(store)
    }

    /// The same store with its stream records naming `source` (region, stream ARN).
    pub fn with_stream_source(mut self, source: StreamSource) -> Self {
        self.source = Arc::new(source);
        self
    }

    pub fn stream_source(&self) -> &StreamSource {
        &self.source
    }

    /// Deletes the records expired at `now`, each with its `REMOVE` stream record, as
    /// DynamoDB's TTL does. Expired records already count as absent: this only reclaims
    /// their space.
    fn purge_expired_sync(&self, now: i64) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(internal)?;
        {
            let mut table = txn.open_table(RECORDS).map_err(internal)?;
            let mut expired = Vec::new();
            for entry in table.iter().map_err(internal)? {
                let (key, value) = entry.map_err(internal)?;
                // A record that does not decode is kept, for someone to look at.
                if let Ok(record) = decode_record(value.value())
                    && !record.is_live(now)
                {
                    let (owner, idem) = key.value();
                    expired.push(((owner.to_owned(), idem.to_owned()), record));
                }
            }
            for ((owner, idem), record) in expired {
                table
                    .remove((owner.as_str(), idem.as_str()))
                    .map_err(internal)?;
                let (keys, _) = record_change(&record);
                stream::append(&txn, &self.source, Change::TtlRemove, keys, None, now)?;
            }
        }
        txn.commit().map_err(internal)
    }

    fn trim_stream_sync(&self, now: i64) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(internal)?;
        let trimmed = stream::trim(&txn, now)?;
        txn.commit().map_err(internal)?;
        Ok(trimmed)
    }

    /// Drops the stream records past the stream's retention at `now` (epoch seconds), as
    /// DynamoDB Streams does; returns how many went.
    pub async fn trim_stream(&self, now: i64) -> Result<usize, StoreError> {
        self.writes
            .write(move |txn| {
                let trimmed = stream::trim(txn, now)?;
                Ok(if trimmed > 0 {
                    Applied::changed(trimmed)
                } else {
                    Applied::unchanged(0)
                })
            })
            .await
    }

    /// Up to `limit` stream records after position `after` (0: from the oldest kept), oldest
    /// first: what `GetRecords` answers on the table's one shard.
    pub async fn stream_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StreamEntry>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(internal)?;
            let table = txn.open_table(STREAM).map_err(internal)?;
            let mut out = Vec::new();
            for entry in table.range(after.saturating_add(1)..).map_err(internal)? {
                if out.len() == limit {
                    break;
                }
                let (n, value) = entry.map_err(internal)?;
                out.push(StreamEntry {
                    position: n.value(),
                    record: value.value().to_vec(),
                });
            }
            Ok(out)
        })
        .await
    }

    /// The oldest record kept and the last sequence number given (0 before any write).
    pub fn stream_bounds(&self) -> Result<StreamBounds, StoreError> {
        self.read(|db| {
            let txn = db.begin_read().map_err(internal)?;
            let stream = txn.open_table(STREAM).map_err(internal)?;
            let first = stream.first().map_err(internal)?.map(|(n, _)| n.value());
            let head = txn.open_table(STREAM_HEAD).map_err(internal)?;
            let last = head
                .get(stream::LAST)
                .map_err(internal)?
                .map_or(0, |v| v.value());
            Ok(StreamBounds { first, last })
        })
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
        let (keys, image) = item_change(item);
        let source = Arc::clone(&self.source);
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
                let (keys, image) = (keys.clone(), image.clone());
                stream::append(txn, &source, Change::Insert, keys, Some(image), now_secs())?;
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
        let item_change = item_change(item);
        let record_change = record_change(record);
        let source = Arc::clone(&self.source);
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
                // One TransactWriteItems on DynamoDB: two stream records, the item's first.
                let at = now_secs();
                for (keys, image) in [&item_change, &record_change] {
                    let image = Some(image.clone());
                    stream::append(txn, &source, Change::Insert, keys.clone(), image, at)?;
                }
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
    async fn stream(store: &RedbItemStore) -> Vec<Value> {
        store
            .stream_after(0, usize::MAX)
            .await
            .unwrap()
            .iter()
            .map(|e| serde_json::from_slice(&e.record).unwrap())
            .collect()
    }

    fn record_for(item: &Item, key: &str) -> IdempotencyRecord {
        use crate::idempotency::Fingerprint;
        IdempotencyRecord {
            owner: item.owner.clone(),
            key: IdempotencyKey::parse(key.as_bytes()).unwrap(),
            fingerprint: Fingerprint::of(&item.owner, b"{}"),
            item_id: item.id,
            expires_at: now_secs() + 3600,
        }
    }

    #[tokio::test]
    async fn every_write_has_its_stream_record_as_lambda_receives_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbItemStore::open(&dir.path().join("items.redb")).unwrap();
        let a = item("alice", "one").with_origin(crate::domain::Origin {
            request_id: "req-1".into(),
            trace_header: Some("Root=1-6b023677-0123456789abcdef01234567".into()),
        });
        store.put(&a).await.unwrap();
        // A refused conditional put writes nothing, so it has no record either.
        assert!(store.put(&a).await.is_err());
        let b = item("alice", "two");
        let record = record_for(&b, "k1");
        assert!(matches!(
            store
                .put_with_record(&b, &record, now_secs())
                .await
                .unwrap(),
            Claim::Created
        ));

        let records = stream(&store).await;
        let names: Vec<&str> = records
            .iter()
            .map(|r| r["eventName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["INSERT", "INSERT", "INSERT"]);
        let first = &records[0];
        assert_eq!(first["eventSource"], "aws:dynamodb");
        assert_eq!(first["awsRegion"], "us-east-1");
        assert!(
            first["eventSourceARN"]
                .as_str()
                .unwrap()
                .contains("/stream/")
        );
        assert_eq!(first["eventID"].as_str().unwrap().len(), 32);
        let change = &first["dynamodb"];
        assert_eq!(
            change["Keys"],
            json!({ "owner": { "S": "alice" }, "id": { "S": a.id.to_string() } })
        );
        assert_eq!(change["NewImage"]["name"], json!({ "S": "one" }));
        assert_eq!(
            change["NewImage"]["created_at"],
            json!({ "S": a.created_at_rfc3339() })
        );
        assert_eq!(change["NewImage"]["request_id"], json!({ "S": "req-1" }));
        assert!(change["NewImage"]["trace_header"]["S"].is_string());
        assert!(change["NewImage"].get("fingerprint").is_none());
        assert_eq!(change["StreamViewType"], "NEW_IMAGE");
        assert!(change["SizeBytes"].as_u64().unwrap() > 0);
        assert!((change["ApproximateCreationDateTime"].as_i64().unwrap() - now_secs()).abs() < 5);
        let numbers: Vec<u64> = records
            .iter()
            .map(|r| {
                parse_sequence_number(r["dynamodb"]["SequenceNumber"].as_str().unwrap()).unwrap()
            })
            .collect();
        assert_eq!(numbers, [1, 2, 3], "in commit order, one after another");
        // The item of a keyed create first, then its record, which carries the fingerprint.
        assert_eq!(
            records[1]["dynamodb"]["NewImage"]["name"],
            json!({ "S": "two" })
        );
        let idem = &records[2]["dynamodb"];
        assert_eq!(idem["Keys"]["owner"], json!({ "S": "idem#alice" }));
        assert!(idem["NewImage"]["fingerprint"]["S"].is_string());
        assert_eq!(
            store.stream_bounds().unwrap(),
            StreamBounds {
                first: Some(1),
                last: 3
            }
        );
        assert_eq!(store.stream_after(2, 1).await.unwrap()[0].position, 3);
    }

    #[tokio::test]
    async fn trimmed_past_retention_and_numbers_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("items.redb");
        let store = RedbItemStore::open(&path).unwrap();
        store.put(&item("alice", "old")).await.unwrap();
        store.put(&item("alice", "old too")).await.unwrap();
        assert_eq!(
            store
                .trim_stream(now_secs() + RETENTION_SECS - 10)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .trim_stream(now_secs() + RETENTION_SECS + 10)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            store.stream_bounds().unwrap(),
            StreamBounds {
                first: None,
                last: 2
            }
        );
        drop(store);
        let store = RedbItemStore::open(&path).unwrap();
        store.put(&item("alice", "new")).await.unwrap();
        let records = stream(&store).await;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["dynamodb"]["SequenceNumber"], sequence_number(3));
    }

    #[tokio::test]
    async fn expired_records_go_with_a_ttl_remove_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("items.redb");
        let a = item("alice", "one");
        {
            let store = RedbItemStore::open(&path).unwrap();
            let mut record = record_for(&a, "k1");
            record.expires_at = now_secs() - 1;
            store
                .put_with_record(&a, &record, now_secs() - 10)
                .await
                .unwrap();
        }
        let store = RedbItemStore::open(&path).unwrap();
        assert_eq!(store.count_records().await.unwrap(), 0);
        let records = stream(&store).await;
        let removal = records.last().unwrap();
        assert_eq!(removal["eventName"], "REMOVE");
        assert_eq!(
            removal["userIdentity"]["principalId"],
            "dynamodb.amazonaws.com"
        );
        assert!(removal["dynamodb"].get("NewImage").is_none());
        assert_eq!(
            removal["dynamodb"]["Keys"]["owner"],
            json!({ "S": "idem#alice" })
        );
    }
}
