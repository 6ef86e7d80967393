//! Idempotent creates through the router (API Gateway payload 2.0 requests, as Lambda and the
//! twin hand them over), on the embedded store and on DynamoDB (moto), and the DynamoDB
//! adapter's reading of cancelled transactions (SDK mocks). Creates publish nothing (the item's
//! event comes from the table's stream): the bus here only proves it is never called.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_smithy_mocks::{mock, mock_client};
use functions::AppState;
use functions::adapters::aws::DynamoDbItemStore;
use functions::adapters::aws::dynamodb::attr;
use functions::adapters::embedded::config::FileConfig;
use functions::adapters::embedded::store::RedbItemStore;
use functions::domain::{Item, NewItem, Origin};
use functions::idempotency::{Fingerprint, IdempotencyKey, IdempotencyRecord};
use functions::ports::{BusError, BusEvent, Claim, EventBus, ItemStore, PageRequest, StoreError};
use serde_json::{Value, json};
use support::{counter, with_counters};
use telemetry::metric_names as names;
use tower::ServiceExt;

/// A bus that refuses its first `failures` publishes, then keeps what it is given.
#[derive(Default)]
struct FlakyBus {
    failures: AtomicUsize,
    published: Mutex<Vec<BusEvent>>,
}

impl FlakyBus {
    fn failing_first(failures: usize) -> Self {
        Self {
            failures: AtomicUsize::new(failures),
            published: Mutex::default(),
        }
    }

    fn item_ids(&self) -> Vec<String> {
        self.published
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.detail["item_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[async_trait]
impl EventBus for FlakyBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), BusError> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(BusError::Unavailable("injected failure".into()));
        }
        self.published.lock().unwrap().extend_from_slice(events);
        Ok(())
    }
}

struct Api {
    store: Arc<dyn ItemStore>,
    bus: Arc<FlakyBus>,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

impl Api {
    fn with_store(store: Arc<dyn ItemStore>, bus: FlakyBus) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bus = Arc::new(bus);
        let state = AppState {
            store: Arc::clone(&store),
            bus: Arc::clone(&bus) as Arc<dyn EventBus>,
            config: Arc::new(FileConfig::load_or_create(&dir.path().join("secret.json")).unwrap()),
        };
        Self {
            store,
            bus,
            router: functions::router(state),
            _dir: dir,
        }
    }

    /// The embedded store (redb), as the twin runs it.
    fn embedded(bus: FlakyBus) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbItemStore::open(&dir.path().join("items.redb")).unwrap();
        let mut api = Self::with_store(Arc::new(store), bus);
        api._dir = dir;
        api
    }

    async fn post(&self, sub: &str, key: Option<&str>, body: &str) -> Reply {
        let mut headers = json!({
            "content-type": "application/json",
            "host": "api.example.com",
            "x-amzn-trace-id": TRACE_HEADER,
        });
        if let Some(key) = key {
            headers["idempotency-key"] = json!(key);
        }
        let event = json!({
            "version": "2.0", "routeKey": "POST /items", "rawPath": "/items", "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                "http": {"method": "POST", "path": "/items", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
                "requestId": "JKJaXmPLvHcESHA=", "routeKey": "POST /items", "stage": "$default",
                "time": "21/Nov/2026:22:42:17 +0000", "timeEpoch": 1795300937000i64,
                "authorizer": {"jwt": {"claims": {"sub": sub}, "scopes": null}}
            },
            "body": body, "isBase64Encoded": false
        });
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        }
    }

    async fn items(&self, sub: &str) -> Vec<Item> {
        self.store
            .list(
                sub,
                PageRequest {
                    limit: 100,
                    before: None,
                },
            )
            .await
            .unwrap()
            .items
    }

    async fn record(&self, sub: &str, key: &str) -> IdempotencyRecord {
        self.store
            .record(sub, &IdempotencyKey::parse(key.as_bytes()).unwrap(), now())
            .await
            .unwrap()
            .expect("a live record")
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

const BODY: &str = r#"{"name": "once only", "description": "retried"}"#;
const TRACE_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

/// The ids of the requests `Api::post` sends.
fn origin() -> Option<Origin> {
    Some(Origin {
        request_id: "JKJaXmPLvHcESHA=".into(),
        trace_header: Some(TRACE_HEADER.into()),
    })
}

fn assert_problem(reply: &Reply, status: u16, slug: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(reply.body["type"], format!("/problems/{slug}"));
    assert_eq!(reply.body["status"], status);
    assert_eq!(reply.body["request_id"], "JKJaXmPLvHcESHA=");
}

#[test]
fn the_same_key_and_body_replay_the_first_response_and_create_nothing() {
    // A bus that would fail: nothing here depends on it.
    let api = Api::embedded(FlakyBus::failing_first(10));
    let ((first, second, items, record), counters) = with_counters(async {
        let first = api.post("alice", Some("key-1"), BODY).await;
        let second = api.post("alice", Some("key-1"), BODY).await;
        let record = api.record("alice", "key-1").await;
        (first, second, api.items("alice").await, record)
    });
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(second.status, 201, "{:?}", second.body);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.header("location"), first.header("location"));
    assert_eq!(second.body, first.body);
    assert_eq!(items.len(), 1, "one item");
    assert_eq!(items[0].id.to_string(), first.body["id"]);
    assert_eq!(record.item_id, items[0].id);
    // Stored with the ids of the request that made it, for its event.
    assert_eq!(items[0].origin, origin());
    assert!(api.bus.item_ids().is_empty(), "events come from the stream");
    assert_eq!(counter(&counters, names::ITEMS_CREATED), 1);
    assert_eq!(counter(&counters, names::ITEM_EVENTS_PUBLISHED), 0);
    assert_eq!(counter(&counters, names::ITEM_EVENT_PUBLISH_FAILURES), 0);
}

#[test]
fn the_same_key_with_another_body_is_a_422_and_creates_nothing() {
    let api = Api::embedded(FlakyBus::default());
    let ((first, other, items), _) = with_counters(async {
        let first = api.post("alice", Some("key-1"), BODY).await;
        let other = api
            .post("alice", Some("key-1"), r#"{"name": "something else"}"#)
            .await;
        // The same JSON spelled with other bytes is another body too.
        let respelled = api
            .post(
                "alice",
                Some("key-1"),
                r#"{"description": "retried", "name": "once only"}"#,
            )
            .await;
        assert_problem(&respelled, 422, "idempotency-key-reused");
        (first, other, api.items("alice").await)
    });
    assert_eq!(first.status, 201);
    assert_problem(&other, 422, "idempotency-key-reused");
    assert_eq!(items.len(), 1);
}

#[test]
fn keys_belong_to_one_caller() {
    let api = Api::embedded(FlakyBus::default());
    let ((alice, bob), _) = with_counters(async {
        (
            api.post("alice", Some("shared"), BODY).await,
            api.post("bob", Some("shared"), BODY).await,
        )
    });
    assert_eq!((alice.status, bob.status), (201, 201));
    assert_eq!(bob.header("idempotent-replayed"), None);
    assert_ne!(alice.body["id"], bob.body["id"]);
}

#[test]
fn invalid_keys_are_400_problems_and_create_nothing() {
    let api = Api::embedded(FlakyBus::default());
    let long = "k".repeat(256);
    let (replies, _) = with_counters(async {
        let mut replies = Vec::new();
        for key in ["", "   ", long.as_str(), "clé", "tab\there"] {
            replies.push((key.to_owned(), api.post("alice", Some(key), BODY).await));
        }
        replies
    });
    for (key, reply) in &replies {
        assert_problem(reply, 400, "invalid-idempotency-key");
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key"),
            "{key:?}: {}",
            reply.body
        );
    }
    let (items, _) = with_counters(api.items("alice"));
    assert!(items.is_empty());
    assert!(api.bus.item_ids().is_empty());
}

#[test]
fn a_refused_body_leaves_its_key_unused() {
    let api = Api::embedded(FlakyBus::default());
    let ((refused, created), _) = with_counters(async {
        let refused = api.post("alice", Some("key-1"), r#"{"name": ""}"#).await;
        let created = api.post("alice", Some("key-1"), BODY).await;
        (refused, created)
    });
    assert_problem(&refused, 422, "validation-failed");
    assert_eq!(created.status, 201);
    assert_eq!(created.header("idempotent-replayed"), None);
}

#[test]
fn concurrent_requests_with_one_key_make_one_item_and_one_event() {
    let api = Arc::new(Api::embedded(FlakyBus::default()));
    let (statuses, counters) = with_counters(async {
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let api = Arc::clone(&api);
                tokio::spawn(async move { api.post("alice", Some("burst"), BODY).await })
            })
            .collect();
        let mut replies = Vec::new();
        for task in tasks {
            replies.push(task.await.unwrap());
        }
        replies
    });
    let ids: std::collections::HashSet<String> = statuses
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.body["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "every 201 is the same item");
    for reply in &statuses {
        assert!(
            matches!(reply.status, 201 | 409),
            "{} {:?}",
            reply.status,
            reply.body
        );
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|r| r.status == 201 && r.header("idempotent-replayed").is_none())
            .count(),
        1,
        "one first response"
    );
    assert!(api.bus.item_ids().is_empty());
    assert_eq!(counter(&counters, names::ITEMS_CREATED), 1);
}

#[test]
fn without_a_key_every_request_creates() {
    let api = Api::embedded(FlakyBus::default());
    let ((a, b), _) = with_counters(async {
        (
            api.post("alice", None, BODY).await,
            api.post("alice", None, BODY).await,
        )
    });
    assert_eq!((a.status, b.status), (201, 201));
    assert_ne!(a.body["id"], b.body["id"]);
    assert_eq!(a.header("idempotent-replayed"), None);
    let (items, _) = with_counters(api.items("alice"));
    assert!(
        items.iter().all(|item| item.origin == origin()),
        "{items:?}"
    );
    assert!(api.bus.item_ids().is_empty());
}

#[tokio::test]
async fn on_dynamodb_the_item_and_its_origin_are_stored_once_and_replayed() {
    let moto = testkit::Moto::start();
    let sdk = testkit::aws::sdk_config(&moto).await;
    testkit::aws::create_table(&sdk, attr::OWNER, attr::ID).await;
    let store = DynamoDbItemStore::new(aws_sdk_dynamodb::Client::new(&sdk), testkit::aws::TABLE);
    let api = Api::with_store(Arc::new(store), FlakyBus::failing_first(10));
    let first = api.post("alice", Some("key-1"), BODY).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let second = api.post("alice", Some("key-1"), BODY).await;
    assert_eq!(second.status, 201);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.body, first.body);
    let without_key = api.post("alice", None, BODY).await;
    assert_eq!(without_key.status, 201);
    let other = api
        .post("alice", Some("key-1"), r#"{"name": "other"}"#)
        .await;
    assert_problem(&other, 422, "idempotency-key-reused");
    assert!(api.bus.item_ids().is_empty(), "events come from the stream");
    let items = api.items("alice").await;
    assert_eq!(
        items.len(),
        2,
        "the record is not among the items: {items:?}"
    );
    assert!(
        items.iter().all(|item| item.origin == origin()),
        "{items:?}"
    );
}

// --- The DynamoDB adapter's reading of a cancelled transaction, through the SDK's mocks. ---

fn wire_error(code: &str) -> aws_sdk_dynamodb::error::ErrorMetadata {
    aws_sdk_dynamodb::error::ErrorMetadata::builder()
        .code(code)
        .build()
}

fn cancelled(codes: [&str; 2], old_record: Option<&IdempotencyRecord>) -> TransactWriteItemsError {
    let mut e = TransactionCanceledException::builder()
        .message("Transaction cancelled")
        .meta(wire_error("TransactionCanceledException"));
    for (i, code) in codes.into_iter().enumerate() {
        let mut reason = CancellationReason::builder().code(code);
        if let (1, Some(old)) = (i, old_record) {
            reason = reason.set_item(Some(record_attributes(old)));
        }
        e = e.cancellation_reasons(reason.build());
    }
    TransactWriteItemsError::TransactionCanceledException(e.build())
}

/// A record as the table holds it, spelled out here so that these tests also pin the attribute
/// names and forms (`idem#<owner>`, the key as the sort key, epoch seconds as numbers).
fn record_attributes(
    record: &IdempotencyRecord,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue::{N, S};
    std::collections::HashMap::from([
        ("owner".to_owned(), S(format!("idem#{}", record.owner))),
        ("id".to_owned(), S(record.key.to_string())),
        (
            "fingerprint".to_owned(),
            S(record.fingerprint.as_str().to_owned()),
        ),
        ("item_id".to_owned(), S(record.item_id.to_string())),
        ("expires_at".to_owned(), N(record.expires_at.to_string())),
    ])
}

/// A record as requests wrote it when they published the event themselves: it still reads.
fn old_record_attributes(
    record: &IdempotencyRecord,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue::{Bool, N, S};
    let mut map = record_attributes(record);
    map.insert("state".into(), S("in_progress".into()));
    map.insert(
        "lease_until".into(),
        N((record.expires_at - 86_390).to_string()),
    );
    map.insert("event_published".into(), Bool(false));
    map.insert("version".into(), N("0".into()));
    map
}

fn new_pair(sub: &str, key: &str) -> (Item, IdempotencyRecord) {
    let item = Item::create(
        sub,
        NewItem {
            name: "n".into(),
            description: None,
        },
    );
    let record = IdempotencyRecord::begin(
        sub,
        IdempotencyKey::parse(key.as_bytes()).unwrap(),
        Fingerprint::of(sub, b"{}"),
        item.id,
        now(),
    );
    (item, record)
}

#[tokio::test]
async fn dynamodb_reads_the_existing_record_from_the_cancellation_reason() {
    let (_, first) = new_pair("alice", "k");
    let (item, record) = new_pair("alice", "k");
    let stored = first.clone();
    let old = stored.clone();
    let transact = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .then_error(move || cancelled(["None", "ConditionalCheckFailed"], Some(&old)));
    let get =
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, [&transact, &get]);
    let store = DynamoDbItemStore::new(client, "items");
    assert_eq!(
        store.put_with_record(&item, &record, now()).await.unwrap(),
        Claim::Existing(stored)
    );
    assert_eq!(get.num_calls(), 0, "no second read");
}

#[tokio::test]
async fn dynamodb_reads_the_existing_record_when_the_reason_has_no_item() {
    let (_, first) = new_pair("alice", "k");
    let (item, record) = new_pair("alice", "k");
    let old = first.clone();
    let transact = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .then_error(|| cancelled(["None", "ConditionalCheckFailed"], None));
    let get = mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || {
        GetItemOutput::builder()
            .set_item(Some(old_record_attributes(&old)))
            .build()
    });
    let client = mock_client!(aws_sdk_dynamodb, [&transact, &get]);
    let store = DynamoDbItemStore::new(client, "items");
    assert_eq!(
        store.put_with_record(&item, &record, now()).await.unwrap(),
        Claim::Existing(first)
    );
    assert_eq!(get.num_calls(), 1);
}

#[tokio::test]
async fn dynamodb_reports_a_taken_item_id_as_already_exists() {
    let (item, record) = new_pair("alice", "k");
    let transact = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .then_error(|| cancelled(["ConditionalCheckFailed", "None"], None));
    let client = mock_client!(aws_sdk_dynamodb, [&transact]);
    let store = DynamoDbItemStore::new(client, "items");
    assert!(matches!(
        store.put_with_record(&item, &record, now()).await,
        Err(StoreError::AlreadyExists)
    ));
}

#[tokio::test]
async fn dynamodb_retries_a_transaction_conflict_then_reports_contention() {
    let (item, record) = new_pair("alice", "k");
    let transact = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .error(|| cancelled(["None", "TransactionConflict"], None))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_dynamodb, [&transact]);
    let store = DynamoDbItemStore::new(client, "items");
    assert_eq!(
        store.put_with_record(&item, &record, now()).await.unwrap(),
        Claim::Contended
    );
    assert_eq!(transact.num_calls(), 4, "one try and three retries");
}

#[tokio::test]
async fn dynamodb_meets_the_winner_s_record_after_a_conflict() {
    let (_, winner) = new_pair("alice", "k");
    let (item, record) = new_pair("alice", "k");
    let old = winner.clone();
    let transact = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .error(|| cancelled(["None", "TransactionConflict"], None))
        .error(move || cancelled(["None", "ConditionalCheckFailed"], Some(&old)))
        .build();
    let client = mock_client!(aws_sdk_dynamodb, [&transact]);
    let store = DynamoDbItemStore::new(client, "items");
    assert_eq!(
        store.put_with_record(&item, &record, now()).await.unwrap(),
        Claim::Existing(winner)
    );
}

#[tokio::test]
async fn dynamodb_throttled_transactions_are_unavailable() {
    let (item, record) = new_pair("alice", "k");
    let transact = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .then_error(|| cancelled(["ThrottlingError", "None"], None));
    let client = mock_client!(aws_sdk_dynamodb, [&transact]);
    let store = DynamoDbItemStore::new(client, "items");
    assert!(matches!(
        store.put_with_record(&item, &record, now()).await,
        Err(StoreError::Unavailable { .. })
    ));
}
