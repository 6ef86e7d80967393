//! Concurrent creates from many users: every acknowledged create is stored once and archived once.

use std::collections::HashSet;

use serde_json::json;

use crate::common::TwinProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_creates_from_eight_users() {
    let dir = tempfile::tempdir().unwrap();
    // Above the default burst of 100: this test is about the store and the bus, not throttling.
    let twin = std::sync::Arc::new(TwinProcess::start_in(
        dir.path(),
        &["--throttle-rate", "10000", "--throttle-burst", "10000"],
    ));
    let mut tokens = Vec::new();
    for u in 0..8 {
        tokens.push(twin.token(&format!("user{u}")).await);
    }
    let mut tasks = Vec::new();
    for n in 0..200 {
        let twin = std::sync::Arc::clone(&twin);
        let token = tokens[n % 8].clone();
        tasks.push(tokio::spawn(async move {
            let reply = twin
                .create(&token, &json!({"name": format!("item {n}")}))
                .await;
            assert_eq!(reply.status, 201, "{}", reply.text());
            reply.json()["id"].as_str().unwrap().to_owned()
        }));
    }
    let mut created = HashSet::new();
    for task in tasks {
        assert!(created.insert(task.await.unwrap()), "ids are unique");
    }
    assert_eq!(created.len(), 200);

    let mut stored = HashSet::new();
    for token in &tokens {
        let items = twin.all_items(token).await;
        assert_eq!(items.len(), 25, "each user sees exactly their own 25");
        stored.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(stored, created);

    let archived: Vec<String> = twin
        .archive()
        .await
        .iter()
        .map(|e| e["detail"]["item_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(archived.len(), 200, "exactly one event per item");
    assert_eq!(archived.into_iter().collect::<HashSet<_>>(), created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_answers_429_past_the_burst_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let twin = std::sync::Arc::new(TwinProcess::start_in(
        dir.path(),
        &["--throttle-rate", "2", "--throttle-burst", "10"],
    ));
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let twin = std::sync::Arc::clone(&twin);
        tasks.push(tokio::spawn(async move {
            twin.client.get("/public", &[]).await.unwrap()
        }));
    }
    let mut ok = 0;
    let mut throttled = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status.as_u16() {
            200 => ok += 1,
            429 => {
                assert_eq!(reply.json(), json!({"message": "Too Many Requests"}));
                throttled += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(ok >= 10, "the burst is served: {ok}");
    assert!(throttled >= 20, "past the burst, 429: {throttled} of 40");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let reply = twin.client.get("/public", &[]).await.unwrap();
    assert_eq!(reply.status, 200, "the bucket refills at the rate");
}
