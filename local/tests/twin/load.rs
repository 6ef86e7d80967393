//! Bounded load on loopback: many signed-in clients for a fixed time, first under the stage's
//! throttle, then far over it. Every acknowledged create is stored exactly once, with exactly one
//! archived `ItemCreated`; nothing refused is stored or archived; no `5xx` at any load; over the
//! limit the answer is API Gateway's `429`. Creates with an `Idempotency-Key` are retried after a
//! `429` and sent again after their `201` (a response lost on the way), and never create twice.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use local::client::Reply;
use serde_json::{Value, json};

use crate::common::{TwinProcess, urlencode};

/// The stage throttle of `docs/api.md` (and of the twin's defaults), given explicitly because the
/// first phase's pacing is computed from it.
const RATE: u32 = 50;
const BURST: u32 = 100;
const USERS: usize = 16;
/// Concurrent clients of each user in the phase over the limit.
const CLIENTS_OVER: usize = 4;
const PHASE: Duration = Duration::from_secs(3);
/// A phase over the limit that has not been throttled by then never will be.
const GIVE_UP: Duration = Duration::from_secs(60);

/// What one client did.
#[derive(Default)]
struct Report {
    sent: usize,
    throttled: usize,
    retries: usize,
    replays: usize,
    /// Acknowledged creates: (user, item id, name).
    acked: Vec<(usize, String, String)>,
    /// Creates without a key answered `429`: never acknowledged, so never to be stored.
    refused: Vec<String>,
}

impl Report {
    fn merge(&mut self, other: Report) {
        self.sent += other.sent;
        self.throttled += other.throttled;
        self.retries += other.retries;
        self.replays += other.replays;
        self.acked.extend(other.acked);
        self.refused.extend(other.refused);
    }
}

struct Client {
    twin: Arc<TwinProcess>,
    user: usize,
    bearer: String,
    report: Report,
    /// `429`s seen by all clients of the phase.
    throttled: Arc<AtomicUsize>,
}

impl Client {
    async fn send(&mut self, key: Option<&str>, body: &Value) -> Reply {
        let mut headers = vec![("authorization", self.bearer.as_str())];
        if let Some(key) = key {
            headers.push(("idempotency-key", key));
        }
        self.report.sent += 1;
        let reply = self
            .twin
            .client
            .post_json("/items", &headers, body)
            .await
            .unwrap_or_else(|e| panic!("loopback request failed: {e}"));
        check_status(&reply);
        reply
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.report.sent += 1;
        let reply = self
            .twin
            .client
            .get(path, &[("authorization", &self.bearer)])
            .await
            .unwrap_or_else(|e| panic!("loopback request failed: {e}"));
        check_status(&reply);
        reply
    }

    fn count_throttled(&mut self, reply: &Reply) {
        assert_throttled(reply);
        self.report.throttled += 1;
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    fn ack(&mut self, reply: &Reply, name: &str) -> String {
        assert_eq!(reply.status, 201, "{}", reply.text());
        let id = reply.json()["id"].as_str().unwrap().to_owned();
        self.report
            .acked
            .push((self.user, id.clone(), name.to_owned()));
        id
    }

    /// A keyed create, retried after every `429` until it is acknowledged.
    async fn create_keyed(&mut self, key: &str, body: &Value) -> Reply {
        for attempt in 0..10_000u64 {
            let reply = self.send(Some(key), body).await;
            if reply.status == 201 {
                return reply;
            }
            self.count_throttled(&reply);
            self.report.retries += 1;
            // A little spread, so that retries do not arrive in lockstep.
            tokio::time::sleep(Duration::from_millis(20 + attempt % 7)).await;
        }
        panic!("a keyed create was never acknowledged");
    }
}

/// Never a `5xx`, at any load.
fn check_status(reply: &Reply) {
    assert!(
        reply.status.as_u16() < 500,
        "server error under load: {} {}",
        reply.status,
        reply.text()
    );
}

/// API Gateway's throttling answer, exactly.
fn assert_throttled(reply: &Reply) {
    assert_eq!(reply.status, 429, "{}", reply.text());
    assert_eq!(reply.json(), json!({"message": "Too Many Requests"}));
}

/// Under the limit: one client per user, one request in flight each, paced so that all of
/// them together send at most 80% of the rate. Then any window of T seconds sees at most
/// `USERS * (T / pace + 2)` requests reach the bucket, below its `BURST + RATE * T` tokens, so
/// no request may be throttled, however the machine schedules them.
async fn under_the_limit(mut client: Client, pace: Duration) -> Report {
    let mut tick = tokio::time::interval(pace);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = Instant::now() + PHASE;
    let mut last_id: Option<String> = None;
    for n in 0.. {
        tick.tick().await;
        if Instant::now() >= end {
            break;
        }
        let u = client.user;
        if n % 5 == 4 {
            let path = match &last_id {
                Some(id) if n % 10 == 9 => format!("/items/{id}"),
                _ => "/items?limit=5".to_owned(),
            };
            let reply = client.get(&path).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.text());
            continue;
        }
        let name = format!("under u{u} n{n}");
        let body = json!({ "name": name });
        let reply = if n % 3 == 0 {
            client.send(Some(&format!("under-u{u}-n{n}")), &body).await
        } else {
            client.send(None, &body).await
        };
        last_id = Some(client.ack(&reply, &name));
    }
    client.report
}

/// Over the limit: every client sends as fast as answers come. Creates without a key take
/// their `429`; keyed ones are retried until acknowledged, and every other one is sent again
/// after its `201`, which must replay the same item.
async fn over_the_limit(mut client: Client, task: usize) -> Report {
    let end = Instant::now() + PHASE;
    let u = client.user;
    let mut n = 0;
    // Past the fixed time, each client goes on until it has done one round of each kind (a
    // create without a key, a keyed create, a replay) and the stage has throttled someone: a
    // slow machine takes longer, and the checks stay the same.
    let more = |n: usize, client: &Client| {
        Instant::now() < end || n < 4 || client.throttled.load(Ordering::Relaxed) == 0
    };
    while more(n, &client) && Instant::now() < end + GIVE_UP {
        n += 1;
        let name = format!("over u{u} t{task} n{n}");
        let body = json!({ "name": name });
        if n % 2 == 1 {
            let reply = client.send(None, &body).await;
            if reply.status == 429 {
                client.count_throttled(&reply);
                client.report.refused.push(name);
            } else {
                client.ack(&reply, &name);
            }
            continue;
        }
        let key = format!("over-u{u}-t{task}-n{n}");
        let first = client.create_keyed(&key, &body).await;
        assert_eq!(
            first.header("idempotent-replayed"),
            None,
            "the throttled attempts never reached the function"
        );
        let id = client.ack(&first, &name);
        if n % 4 == 0 {
            let again = client.create_keyed(&key, &body).await;
            client.report.replays += 1;
            assert_eq!(again.header("idempotent-replayed"), Some("true"));
            assert_eq!(again.json()["id"], json!(id), "the same item");
        }
    }
    client.report
}

/// `GET` that waits out the throttle: the checks run after the bucket was drained.
async fn get_patiently(twin: &TwinProcess, bearer: &str, path: &str) -> Value {
    for _ in 0..1_000 {
        let reply = twin
            .client
            .get(path, &[("authorization", bearer)])
            .await
            .unwrap();
        if reply.status == 429 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        return reply.json();
    }
    panic!("{path} stayed throttled");
}

/// Every item of a user, as (id, name), following cursors.
async fn stored_items(twin: &TwinProcess, bearer: &str) -> Vec<(String, String)> {
    let mut items = Vec::new();
    let mut path = "/items?limit=100".to_owned();
    loop {
        let page = get_patiently(twin, bearer, &path).await;
        for item in page["items"].as_array().unwrap() {
            items.push((
                item["id"].as_str().unwrap().to_owned(),
                item["name"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/items?limit=100&cursor={}", urlencode(c)),
            None => return items,
        }
    }
}

async fn run_phase<F, Fut>(
    twin: &Arc<TwinProcess>,
    bearers: &[String],
    tasks: usize,
    f: F,
) -> Report
where
    F: Fn(Client, usize) -> Fut,
    Fut: std::future::Future<Output = Report> + Send + 'static,
{
    let mut handles = Vec::new();
    let throttled = Arc::new(AtomicUsize::new(0));
    for (user, bearer) in bearers.iter().enumerate() {
        for task in 0..tasks {
            let client = Client {
                twin: Arc::clone(twin),
                user,
                bearer: bearer.clone(),
                report: Report::default(),
                throttled: Arc::clone(&throttled),
            };
            handles.push(tokio::spawn(f(client, task)));
        }
    }
    let mut report = Report::default();
    for handle in handles {
        report.merge(handle.await.expect("a client task failed"));
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_creates_are_stored_and_archived_once_at_and_over_the_throttle() {
    let dir = tempfile::tempdir().unwrap();
    let rate = RATE.to_string();
    let burst = BURST.to_string();
    let twin = Arc::new(TwinProcess::start_in(
        dir.path(),
        &["--throttle-rate", &rate, "--throttle-burst", &burst],
    ));
    let mut bearers = Vec::new();
    for u in 0..USERS {
        bearers.push(format!(
            "Bearer {}",
            twin.token(&format!("load-{u:02}")).await
        ));
    }

    let pace = Duration::from_secs_f64(USERS as f64 / (0.8 * f64::from(RATE)));
    let under = run_phase(&twin, &bearers, 1, move |c, _| under_the_limit(c, pace)).await;
    assert_eq!(under.throttled, 0, "nothing is throttled under the limit");
    assert!(!under.acked.is_empty());

    let over = run_phase(&twin, &bearers, CLIENTS_OVER, over_the_limit).await;
    assert!(over.throttled > 0, "over the limit, requests are throttled");
    assert!(over.retries > 0 && over.replays > 0);

    let mut all = Report::default();
    let (under_sent, under_acked) = (under.sent, under.acked.len());
    let (over_sent, over_acked, over_429, retries, replays) = (
        over.sent,
        over.acked.len(),
        over.throttled,
        over.retries,
        over.replays,
    );
    all.merge(under);
    all.merge(over);

    // Stored exactly once: each user's items are exactly the acknowledged creates.
    for (u, bearer) in bearers.iter().enumerate() {
        let stored = stored_items(&twin, bearer).await;
        let stored_ids: Vec<&String> = stored.iter().map(|(id, _)| id).collect();
        let unique: BTreeSet<&String> = stored_ids.iter().copied().collect();
        assert_eq!(
            unique.len(),
            stored_ids.len(),
            "user {u}: an item listed twice"
        );
        let acked: BTreeMap<&String, &String> = all
            .acked
            .iter()
            .filter(|(user, _, _)| *user == u)
            .map(|(_, id, name)| (id, name))
            .collect();
        let stored: BTreeMap<&String, &String> = stored.iter().map(|(id, n)| (id, n)).collect();
        assert_eq!(
            stored, acked,
            "user {u}: stored items = acknowledged creates"
        );
    }
    let refused: BTreeSet<&String> = all.refused.iter().collect();
    assert!(
        all.acked.iter().all(|(_, _, name)| !refused.contains(name)),
        "a refused create was acknowledged"
    );

    // Archived exactly once: one event per acknowledged item, and no other.
    let mut archived: BTreeMap<String, usize> = BTreeMap::new();
    for event in twin.archive().await {
        let id = event["detail"]["item_id"].as_str().unwrap().to_owned();
        *archived.entry(id).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> =
        all.acked.iter().map(|(_, id, _)| (id.clone(), 1)).collect();
    assert_eq!(
        archived, expected,
        "one archived event per acknowledged item"
    );

    // The gateway's own record agrees: throttled requests were logged as 429, none as 5xx.
    let log = twin.access_log();
    assert!(
        log.iter()
            .all(|l| !l["status"].as_str().unwrap().starts_with('5')),
        "a 5xx in the access log"
    );
    let logged_429 = log.iter().filter(|l| l["status"] == "429").count();
    assert!(
        logged_429 >= all.throttled,
        "{logged_429} < {}",
        all.throttled
    );

    // Written past the test harness's capture, so that the figures show in every run.
    let _ = writeln!(
        std::io::stderr(),
        "load: under the limit ({USERS} clients, {} s): {under_sent} requests, {under_acked} creates \
         acknowledged, 0 throttled; over the limit ({} clients, {} s): {over_sent} requests, \
         {over_acked} creates acknowledged, {over_429} answered 429, {retries} keyed retries after \
         429, {replays} replays of acknowledged keys; {} items stored and archived once each",
        PHASE.as_secs(),
        USERS * CLIENTS_OVER,
        PHASE.as_secs(),
        all.acked.len()
    );
}
