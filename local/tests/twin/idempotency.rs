//! `Idempotency-Key` on `POST /items`, over HTTP through the twin's gateway: a retried create
//! makes one item and one archived event, whatever the timing of the retries.

use std::sync::Arc;

use local::client::Reply;
use serde_json::{Value, json};

use crate::common::TwinProcess;

const FAST: [&str; 4] = ["--throttle-rate", "10000", "--throttle-burst", "10000"];

async fn post(twin: &TwinProcess, token: &str, key: &str, body: &Value) -> Reply {
    let bearer = format!("Bearer {token}");
    twin.client
        .post_json(
            "/items",
            &[("authorization", &bearer), ("idempotency-key", key)],
            body,
        )
        .await
        .unwrap()
}

fn archived_ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["detail"]["item_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_same_key_and_body_twice_make_one_item_and_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let alice = twin.token("alice").await;
    let body = json!({"name": "paid once", "description": "the network dropped the answer"});

    let first = post(&twin, &alice, "order-7f3a", &body).await;
    let second = post(&twin, &alice, "order-7f3a", &body).await;
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(second.status, 201, "{}", second.text());
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.header("location"), first.header("location"));
    assert_eq!(second.header("content-type"), first.header("content-type"));
    assert_eq!(second.body, first.body, "byte for byte the first response");

    let items = twin.all_items(&alice).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0], first.json());
    assert_eq!(
        archived_ids(&twin.archive().await),
        vec![first.json()["id"].as_str().unwrap().to_owned()],
        "one archived event"
    );
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_422_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let alice = twin.token("alice").await;

    let first = post(&twin, &alice, "k-1", &json!({"name": "first"})).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let other = post(&twin, &alice, "k-1", &json!({"name": "second"})).await;
    assert_eq!(other.status, 422, "{}", other.text());
    assert_eq!(
        other.header("content-type"),
        Some("application/problem+json")
    );
    let problem = other.json();
    assert_eq!(problem["type"], "/problems/idempotency-key-reused");
    assert_eq!(
        problem["request_id"],
        other.header("apigw-requestid").unwrap()
    );

    assert_eq!(twin.all_items(&alice).await, vec![first.json()]);
    assert_eq!(twin.archive().await.len(), 1);

    // Another user's same key is theirs.
    let bob = twin.token("bob").await;
    let bobs = post(&twin, &bob, "k-1", &json!({"name": "second"})).await;
    assert_eq!(bobs.status, 201, "{}", bobs.text());
    assert_eq!(bobs.header("idempotent-replayed"), None);

    let bad = post(&twin, &alice, &"k".repeat(256), &json!({"name": "x"})).await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(bad.json()["type"], "/problems/invalid-idempotency-key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_requests_with_one_key_make_one_item_and_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let twin = Arc::new(TwinProcess::start_in(dir.path(), &FAST));
    let alice = twin.token("alice").await;
    let body = json!({"name": "double-clicked"});

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (twin, alice, body) = (Arc::clone(&twin), alice.clone(), body.clone());
            tokio::spawn(async move { post(&twin, &alice, "click-1", &body).await })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }

    let mut firsts = 0;
    let mut replays = 0;
    let mut in_progress = 0;
    let mut bodies = std::collections::HashSet::new();
    for reply in &replies {
        match reply.status.as_u16() {
            201 => {
                bodies.insert(reply.body.clone());
                if reply.header("idempotent-replayed") == Some("true") {
                    replays += 1;
                } else {
                    firsts += 1;
                }
            }
            409 => {
                assert_eq!(
                    reply.json()["type"],
                    "/problems/idempotency-key-in-progress"
                );
                let after: u64 = reply.header("retry-after").unwrap().parse().unwrap();
                assert!((1..=10).contains(&after), "{after}");
                in_progress += 1;
            }
            other => panic!("unexpected {other}: {}", reply.text()),
        }
    }
    assert_eq!(firsts, 1, "one request created the item");
    assert_eq!(firsts + replays + in_progress, 20);
    assert_eq!(bodies.len(), 1, "every 201 carries the same item");

    let items = twin.all_items(&alice).await;
    assert_eq!(items.len(), 1);
    let archived = archived_ids(&twin.archive().await);
    assert_eq!(
        archived,
        vec![items[0]["id"].as_str().unwrap().to_owned()],
        "one archived event"
    );
    eprintln!("20 concurrent: {firsts} created, {replays} replayed, {in_progress} in progress");
}
