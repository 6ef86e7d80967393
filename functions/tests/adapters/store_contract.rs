//! One `ItemStore` contract, run against redb (the twin) and DynamoDB (on moto).

use functions::adapters::aws::DynamoDbItemStore;
use functions::adapters::aws::dynamodb::attr;
use functions::adapters::embedded::store::RedbItemStore;
use functions::domain::{Item, NewItem};
use functions::ports::{ItemStore, Page, PageRequest, StoreError};
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
    // Put, then get exactly what was put, with and without a description.
    let a = item("c1-alice", "name with ünïcode ✓", Some("a description"));
    let b = item("c1-alice", "no description", None);
    store.put(&a).await.unwrap();
    store.put(&b).await.unwrap();
    assert_eq!(store.get("c1-alice", a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get("c1-alice", b.id).await.unwrap(), Some(b.clone()));

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

#[tokio::test]
async fn embedded_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbItemStore::open(&dir.path().join("items.redb")).unwrap();
    contract(&store).await;
}

#[tokio::test]
async fn dynamodb_store_meets_the_contract() {
    let moto = Moto::start();
    let sdk = aws_env::sdk_config(&moto).await;
    aws_env::create_table(&sdk, attr::OWNER, attr::ID).await;
    let store = DynamoDbItemStore::new(aws_sdk_dynamodb::Client::new(&sdk), aws_env::TABLE);
    contract(&store).await;
}
