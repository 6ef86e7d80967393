//! `ItemStore::created_between` (operator sweeps across owners), one contract run against redb
//! and against DynamoDB on moto: the window's items of every owner, each once, in bounded
//! stretches, and never an idempotency record, even one whose key spells an id in the window.

use std::collections::BTreeSet;

use functions::adapters::aws::DynamoDbItemStore;
use functions::adapters::aws::dynamodb::attr;
use functions::adapters::embedded::store::RedbItemStore;
use functions::domain::{Item, ItemId};
use functions::idempotency::{Fingerprint, IdempotencyKey, IdempotencyRecord};
use functions::ports::{CreatedWindow, ItemStore, SweepPosition};
use testkit::Moto;
use testkit::aws as aws_env;
use time::OffsetDateTime;

/// 2026-11-18T07:06:40Z, in milliseconds: the contract's time zero.
const BASE_MS: u64 = 1_795_000_000_000;

/// A valid UUIDv7 made at `BASE_MS + ms` (version 7, RFC 9562 variant), told apart by `n`.
fn id_at(ms: u64, n: u64) -> ItemId {
    let bits = ((BASE_MS + ms) as u128) << 80 | 0x7 << 76 | 0b10 << 62 | n as u128;
    let id = ItemId::from_u128(bits);
    assert_eq!(id.to_string().parse::<ItemId>(), Ok(id), "a valid UUIDv7");
    id
}

fn item_at(owner: &str, ms: u64, n: u64) -> Item {
    Item {
        id: id_at(ms, n),
        owner: owner.to_owned(),
        name: format!("{owner} at {ms}"),
        description: None,
        origin: None,
    }
}

fn at(ms: u64, extra_nanos: i128) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos((BASE_MS + ms) as i128 * 1_000_000 + extra_nanos)
        .unwrap()
}

fn window(from: OffsetDateTime, to: OffsetDateTime) -> CreatedWindow {
    CreatedWindow { from, to }
}

/// Every item of the window, following `next`; checks each stretch stays within `rows`.
async fn sweep_all(store: &dyn ItemStore, window: &CreatedWindow, rows: usize) -> Vec<ItemId> {
    let mut found = Vec::new();
    let mut after: Option<SweepPosition> = None;
    for _ in 0..1000 {
        let sweep = store
            .created_between(window, after.as_ref(), rows)
            .await
            .unwrap();
        assert!(sweep.items.len() <= rows, "{} > {rows}", sweep.items.len());
        assert!(sweep.items.iter().all(|i| window.contains(i.id)));
        found.extend(sweep.items.iter().map(|i| i.id));
        match sweep.next {
            Some(next) => after = Some(next),
            None => return found,
        }
    }
    panic!("the sweep never ended");
}

async fn contract(store: &dyn ItemStore) {
    // An empty store: nothing, and nowhere to go on.
    let all_time = window(at(0, 0), at(1_000, 0));
    let empty = store.created_between(&all_time, None, 10).await.unwrap();
    assert!(empty.items.is_empty() && empty.next.is_none());

    // Three owners, items at milliseconds 0..10 of the contract's time.
    let mut items = Vec::new();
    for (o, owner) in ["s-alice", "s-bob", "s-carol"].iter().enumerate() {
        for ms in 0..10 {
            items.push(item_at(owner, ms, o as u64));
        }
    }
    for item in &items {
        store.put(item).await.unwrap();
    }
    // An idempotency record whose key is the text of an id inside the window: its row shares
    // DynamoDB's table and the id attribute, and must still never come back as an item.
    let made = item_at("s-dave", 4, 9);
    let key_text = id_at(4, 7).to_string();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let record = IdempotencyRecord::begin(
        "s-dave",
        IdempotencyKey::parse(key_text.as_bytes()).unwrap(),
        Fingerprint::of("s-dave", b"{}"),
        made.id,
        now,
    );
    store.put_with_record(&made, &record, now).await.unwrap();
    items.push(made);

    let expect = |w: &CreatedWindow| -> BTreeSet<ItemId> {
        items
            .iter()
            .filter(|i| w.contains(i.id))
            .map(|i| i.id)
            .collect()
    };

    // [2 ms, 5 ms): the items of milliseconds 2, 3 and 4 of every owner, each once.
    let w = window(at(2, 0), at(5, 0));
    let found = sweep_all(store, &w, 1000).await;
    let unique: BTreeSet<ItemId> = found.iter().copied().collect();
    assert_eq!(unique.len(), found.len(), "each item once");
    assert_eq!(unique, expect(&w));
    assert_eq!(unique.len(), 3 * 3 + 1);

    // Small stretches give the same items, however the store orders its rows.
    for rows in [1, 3, 7] {
        let mut found = sweep_all(store, &w, rows).await;
        found.sort();
        assert_eq!(
            found.into_iter().collect::<BTreeSet<_>>(),
            expect(&w),
            "rows {rows}"
        );
    }

    // A bound inside a millisecond: an id's time is the whole millisecond, so from = 2.5 ms
    // starts at 3 ms, and to = 4.5 ms still holds 4 ms.
    let w = window(at(2, 500_000), at(4, 500_000));
    let found: BTreeSet<ItemId> = sweep_all(store, &w, 1000).await.into_iter().collect();
    assert_eq!(found, expect(&w));
    assert!(found.iter().all(|id| {
        let ms = id.created_at();
        ms >= at(3, 0) && ms < at(5, 0)
    }));
    assert_eq!(found.len(), 2 * 3 + 1);

    // A window before every item finds nothing, after reading the whole store.
    let w = window(at(0, 0) - time::Duration::hours(1), at(0, 0));
    assert!(sweep_all(store, &w, 5).await.is_empty());
}

#[tokio::test]
async fn embedded_store_sweeps_windows() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbItemStore::open(&dir.path().join("items.redb")).unwrap();
    contract(&store).await;
}

#[tokio::test]
async fn dynamodb_store_sweeps_windows() {
    let moto = Moto::start();
    let sdk = aws_env::sdk_config(&moto).await;
    aws_env::create_table(&sdk, attr::OWNER, attr::ID).await;
    let store = DynamoDbItemStore::new(aws_sdk_dynamodb::Client::new(&sdk), aws_env::TABLE);
    contract(&store).await;
}
