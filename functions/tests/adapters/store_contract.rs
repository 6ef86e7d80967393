//! One `ItemStore` contract, run against redb (the twin) and DynamoDB (on moto).

use functions::adapters::aws::DynamoDbItemStore;
use functions::adapters::aws::dynamodb::attr;
use functions::adapters::embedded::store::RedbItemStore;
use functions::domain::{Item, NewItem, Origin, limits};
use functions::idempotency::{Fingerprint, IdempotencyKey, IdempotencyRecord};
use functions::ports::{Claim, ItemStore, Page, PageRequest, StoreError};
use testkit::Moto;

use testkit::aws as aws_env;

fn item(owner: &str, name: &str, description: Option<&str>) -> Item {
    Item::create(
        owner,
        NewItem {
            name: name.into(),
            description: description.map(str::to_owned),
        },
    )
}

async fn all_pages(store: &dyn ItemStore, owner: &str, limit: usize) -> Vec<Item> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list(owner, PageRequest { limit, before })
            .await
            .unwrap();
        assert!(page.items.len() <= limit);
        before = page.items.last().map(|i| i.id);
        out.extend(page.items);
        if !page.more {
            return out;
        }
    }
}

/// Every case of the contract; owners are unique per case so the cases share one store.
async fn contract(store: &dyn ItemStore) {
    // Put, then get exactly what was put, with and without a description, with the ids of the
    // request that made it (with and without a trace) and without any (older items).
    let a = item("c1-alice", "name with ünïcode ✓", Some("a description")).with_origin(Origin {
        request_id: "JKJaXmPLvHcESHA=".into(),
        trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into()),
    });
    let b = item("c1-alice", "no description", None);
    let c = item("c1-alice", "untraced", None).with_origin(Origin {
        request_id: "KLKaXmPLvHcESHB=".into(),
        trace_header: None,
    });
    store.put(&a).await.unwrap();
    store.put(&b).await.unwrap();
    store.put(&c).await.unwrap();
    assert_eq!(store.get("c1-alice", a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get("c1-alice", b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(store.get("c1-alice", c.id).await.unwrap(), Some(c.clone()));

    // The owner is part of the key: another owner gets nothing.
    assert_eq!(store.get("c1-bob", a.id).await.unwrap(), None);
    assert_eq!(
        store
            .get("c1-alice", item("x", "y", None).id)
            .await
            .unwrap(),
        None
    );

    // A second put of the same key fails and leaves the first as it was.
    let mut clash = a.clone();
    clash.name = "overwritten?".into();
    assert!(matches!(
        store.put(&clash).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get("c1-alice", a.id).await.unwrap(), Some(a.clone()));

    // Newest first, every page bounded, the pages joined give every item once.
    let mut made = Vec::new();
    for n in 0..12 {
        let it = item("c2-carol", &format!("n{n}"), None);
        store.put(&it).await.unwrap();
        made.push(it);
        store
            .put(&item("c2-dave", &format!("d{n}"), None))
            .await
            .unwrap();
    }
    made.reverse();
    for limit in [1, 5, 12, 100] {
        assert_eq!(
            all_pages(store, "c2-carol", limit).await,
            made,
            "limit {limit}"
        );
    }
    // `more` is exact: a page that ends with the last item says so.
    let page = store
        .list(
            "c2-carol",
            PageRequest {
                limit: 12,
                before: None,
            },
        )
        .await
        .unwrap();
    assert!(!page.more);
    let page = store
        .list(
            "c2-carol",
            PageRequest {
                limit: 11,
                before: None,
            },
        )
        .await
        .unwrap();
    assert!(page.more);
    // `before` is exclusive.
    let page = store
        .list(
            "c2-carol",
            PageRequest {
                limit: 3,
                before: Some(made[4].id),
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items, made[5..8].to_vec());
    let page = store
        .list(
            "c2-carol",
            PageRequest {
                limit: 3,
                before: Some(made[11].id),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page,
        Page {
            items: vec![],
            more: false
        }
    );
    // No owner's list holds another's item.
    assert!(
        all_pages(store, "c2-dave", 100)
            .await
            .iter()
            .all(|i| i.owner == "c2-dave")
    );
    assert_eq!(
        store
            .list(
                "c3-nobody",
                PageRequest {
                    limit: 10,
                    before: None
                }
            )
            .await
            .unwrap(),
        Page {
            items: vec![],
            more: false
        }
    );
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse(k.as_bytes()).unwrap()
}

/// The record a request with `key` and `body` writes with `item` at `now`.
fn record(item: &Item, k: &str, body: &[u8], now: i64) -> IdempotencyRecord {
    IdempotencyRecord::begin(
        &item.owner,
        key(k),
        Fingerprint::of(&item.owner, body),
        item.id,
        now,
    )
}

/// The idempotency records: written with their item or not at all, per owner, out of the
/// owner's items, absent once expired, changed only over the version they were read at.
async fn idempotency_contract(store: &dyn ItemStore) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // A first create writes the item (with its origin) and the record together.
    let a = item("i1-alice", "first", None).with_origin(Origin {
        request_id: "JKJaXmPLvHcESHA=".into(),
        trace_header: None,
    });
    let ra = record(&a, "key-1", b"body a", now);
    assert_eq!(
        store.put_with_record(&a, &ra, now).await.unwrap(),
        Claim::Created
    );
    assert_eq!(store.get("i1-alice", a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(
        store.record("i1-alice", &key("key-1"), now).await.unwrap(),
        Some(ra.clone())
    );

    // A replay gets the stored record back, and its item is not written.
    let retry = item("i1-alice", "first", None);
    let r_retry = record(&retry, "key-1", b"body a", now + 1);
    assert_eq!(
        store
            .put_with_record(&retry, &r_retry, now + 1)
            .await
            .unwrap(),
        Claim::Existing(ra.clone())
    );
    assert_eq!(store.get("i1-alice", retry.id).await.unwrap(), None);

    // Another body under the same key: the stored record, with the first fingerprint, tells.
    let other = item("i1-alice", "other", None);
    let r_other = record(&other, "key-1", b"body b", now + 1);
    match store
        .put_with_record(&other, &r_other, now + 1)
        .await
        .unwrap()
    {
        Claim::Existing(found) => {
            assert_eq!(found, ra);
            assert_ne!(found.fingerprint, r_other.fingerprint);
        }
        claim => panic!("expected the existing record, got {claim:?}"),
    }
    assert_eq!(store.get("i1-alice", other.id).await.unwrap(), None);

    // Keys are per owner: bob's `key-1` is his own.
    let b = item("i1-bob", "bob's", None);
    let rb = record(&b, "key-1", b"body a", now);
    assert_eq!(
        store.put_with_record(&b, &rb, now).await.unwrap(),
        Claim::Created
    );

    // Records never show as items.
    assert_eq!(all_pages(store, "i1-alice", 100).await, vec![a.clone()]);
    assert_eq!(all_pages(store, "i1-bob", 100).await, vec![b.clone()]);

    // If the item cannot be written (its key is taken), no record is written either.
    let taken = record(&a, "key-2", b"body c", now);
    assert!(matches!(
        store.put_with_record(&a, &taken, now).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(
        store.record("i1-alice", &key("key-2"), now).await.unwrap(),
        None
    );
    // A record about another item is refused before anything is written.
    let stray = item("i1-alice", "stray", None);
    assert!(matches!(
        store.put_with_record(&stray, &ra, now).await,
        Err(StoreError::Internal(_))
    ));
    assert_eq!(store.get("i1-alice", stray.id).await.unwrap(), None);

    // An expired record counts as absent, before anything deletes it: the key makes a new item.
    let later = now + limits::IDEMPOTENCY_TTL_SECS;
    assert_eq!(
        store
            .record("i1-alice", &key("key-1"), later)
            .await
            .unwrap(),
        None
    );
    let c = item("i1-alice", "a day later", None);
    let rc = record(&c, "key-1", b"body b", later);
    assert_eq!(
        store.put_with_record(&c, &rc, later).await.unwrap(),
        Claim::Created
    );
    assert_eq!(
        store
            .record("i1-alice", &key("key-1"), later)
            .await
            .unwrap(),
        Some(rc)
    );
    // Items never expire.
    assert_eq!(all_pages(store, "i1-alice", 100).await, vec![c, a]);
}

#[tokio::test]
async fn embedded_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbItemStore::open(&dir.path().join("items.redb")).unwrap();
    contract(&store).await;
    idempotency_contract(&store).await;
}

#[tokio::test]
async fn embedded_store_drops_expired_records_when_it_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("items.redb");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    {
        let store = RedbItemStore::open(&path).unwrap();
        let old = item("alice", "old", None);
        let expired = record(&old, "old", b"", now - limits::IDEMPOTENCY_TTL_SECS - 1);
        store.put_with_record(&old, &expired, now).await.unwrap();
        let fresh = item("alice", "fresh", None);
        store
            .put_with_record(&fresh, &record(&fresh, "fresh", b"", now), now)
            .await
            .unwrap();
        assert_eq!(store.count_records().await.unwrap(), 2);
    }
    let store = RedbItemStore::open(&path).unwrap();
    assert_eq!(store.count_records().await.unwrap(), 1);
    assert!(
        store
            .record("alice", &key("fresh"), now)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.count_all().await.unwrap(), 2, "items stay");
}

#[tokio::test]
async fn dynamodb_store_meets_the_contract() {
    let moto = Moto::start();
    let sdk = aws_env::sdk_config(&moto).await;
    aws_env::create_table(&sdk, attr::OWNER, attr::ID).await;
    let store = DynamoDbItemStore::new(aws_sdk_dynamodb::Client::new(&sdk), aws_env::TABLE);
    contract(&store).await;
    idempotency_contract(&store).await;
}
