//! `kill -9` during a stream of acknowledged creates: after a restart every acknowledged item
//! is there, and the store and the archive open cleanly. SIGTERM during requests: they are
//! answered, and the twin exits cleanly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::common::TwinProcess;

const FAST: [&str; 4] = ["--throttle-rate", "10000", "--throttle-burst", "10000"];
const USERS: [&str; 3] = ["dora", "eve", "finn"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_creates_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged: Vec<(usize, String)> = Vec::new();
    // Each round kills the twin at another moment of the write stream: after a few
    // acknowledgements, then a little later, whatever the machine's speed.
    for (round, (acks_first, then_ms)) in [(1usize, 0u64), (5, 7), (20, 31)].into_iter().enumerate()
    {
        let twin = Arc::new(TwinProcess::start_in(dir.path(), &FAST));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let mut writers = Vec::new();
        for (u, user) in USERS.iter().enumerate() {
            let bearer = format!("Bearer {}", twin.token(user).await);
            let (twin, acked) = (Arc::clone(&twin), Arc::clone(&acked));
            writers.push(tokio::spawn(async move {
                for n in 0.. {
                    let body = json!({"name": format!("round {round} write {n}")});
                    match twin
                        .client
                        .post_json("/items", &[("authorization", &bearer)], &body)
                        .await
                    {
                        Ok(r) if r.status == 201 => acked
                            .lock()
                            .unwrap()
                            .push((u, r.json()["id"].as_str().unwrap().to_owned())),
                        Ok(r) => panic!("unexpected {}: {}", r.status, r.text()),
                        Err(_) => return, // the twin is gone
                    }
                }
            }));
        }
        let waited = std::time::Instant::now();
        while acked.lock().unwrap().len() < acks_first && waited.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(then_ms)).await;
        twin.sigkill();
        for writer in writers {
            writer.await.unwrap();
        }
        acknowledged.extend(acked.lock().unwrap().drain(..));
        drop(twin);

        let restarted = TwinProcess::start_in(dir.path(), &FAST);
        check(&restarted, &acknowledged).await;
    }
    assert!(
        acknowledged.len() >= 26,
        "writes were acknowledged before the kills: {}",
        acknowledged.len()
    );
}

async fn check(twin: &TwinProcess, acknowledged: &[(usize, String)]) {
    for (u, user) in USERS.iter().enumerate() {
        let token = twin.token(user).await;
        let stored: Vec<String> = twin
            .all_items(&token)
            .await
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        for (_, id) in acknowledged.iter().filter(|(owner, _)| *owner == u) {
            assert!(
                stored.contains(id),
                "acknowledged item {id} of {user} was lost"
            );
        }
    }
    // The archive reads cleanly after the crash: a torn last line is skipped, nothing else.
    twin.archive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_in_flight_at_sigterm_are_answered_before_the_twin_exits() {
    let dir = tempfile::tempdir().unwrap();
    // Each `GET /public` takes 600 ms: SIGTERM comes while several are in flight, on
    // whichever serving threads took their connections.
    let mut args = FAST.to_vec();
    args.extend(["--fault", "public=slow:600ms"]);
    let mut twin = TwinProcess::start_in(dir.path(), &args);
    let client = twin.client.clone();
    let in_flight: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get("/public", &[]).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    twin.sigterm();
    for request in in_flight {
        let reply = request
            .await
            .unwrap()
            .expect("an answer, not a dropped connection");
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let status = tokio::task::spawn_blocking(move || twin.exit_status(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(status.success(), "{status}");
}
