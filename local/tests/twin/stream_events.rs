//! `ItemCreated` from the table's stream, end to end: the twin killed (`kill -9`) in the middle
//! of a load of creates loses no event once restarted (at least once: duplicates are counted,
//! never a missing one); a record the consumer cannot read goes to the dead-letter queue after
//! its retries while the rest of its batch is published; and each alarm of the consumer is
//! rehearsed with its runbook's fault on the twin's clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use functions::adapters::embedded::store::RedbItemStore;
use functions::domain::{Item, NewItem, Origin};
use functions::ports::ItemStore;
use http::Method;
use serde_json::{Value, json};

use crate::alarms::{Call, Rehearsal, alarm, alarm_file, check_runbook_names, number};
use crate::common::TwinProcess;

const FAST: [&str; 4] = ["--throttle-rate", "10000", "--throttle-burst", "10000"];
const USERS: [&str; 3] = ["gail", "hank", "ivy"];

/// `item_id` → how many `ItemCreated` events the archive holds for it.
async fn events_per_item(twin: &TwinProcess) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for event in twin.archive().await {
        if event["detail-type"] == "ItemCreated" {
            let id = event["detail"]["item_id"].as_str().unwrap().to_owned();
            *out.entry(id).or_default() += 1;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_stored_item_has_its_event_after_kill_9_mid_load() {
    let dir = tempfile::tempdir().unwrap();
    // Small batches, no window: the mapping is publishing and checkpointing all along, so the
    // kill lands in the middle of its work.
    let mut args = FAST.to_vec();
    args.extend([
        "--item-events-batch-size",
        "10",
        "--item-events-batching-window-seconds",
        "0",
    ]);
    let twin = Arc::new(TwinProcess::start_in(dir.path(), &args));
    let acked = Arc::new(Mutex::new(0usize));
    let mut writers = Vec::new();
    for user in USERS {
        let bearer = format!("Bearer {}", twin.token(user).await);
        let (twin, acked) = (Arc::clone(&twin), Arc::clone(&acked));
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let body = json!({ "name": format!("load {n}") });
                let auth = [("authorization", bearer.as_str())];
                match twin.client.post_json("/items", &auth, &body).await {
                    Ok(r) if r.status == 201 => *acked.lock().unwrap() += 1,
                    Ok(r) => panic!("unexpected {}: {}", r.status, r.text()),
                    Err(_) => return, // the twin is gone
                }
            }
        }));
    }
    // Killed while creates pour in and the mapping is publishing behind them.
    let started = std::time::Instant::now();
    while *acked.lock().unwrap() < 300 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before_kill = twin.stream().await;
    twin.sigkill();
    println!(
        "killed with the mapping at {} of {}",
        before_kill["checkpoint"], before_kill["latestSequenceNumber"]
    );
    for writer in writers {
        writer.await.unwrap();
    }
    drop(twin);

    let twin = TwinProcess::start_in(dir.path(), &args);
    assert!(
        twin.caught_up_within(Duration::from_secs(120)).await,
        "{}",
        twin.stream().await
    );
    let mut stored = Vec::new();
    for user in USERS {
        let token = twin.token(user).await;
        stored.extend(
            twin.all_items(&token)
                .await
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
    }
    let events = events_per_item(&twin).await;
    let missing: Vec<&String> = stored
        .iter()
        .filter(|id| !events.contains_key(*id))
        .collect();
    let unknown: Vec<&String> = events.keys().filter(|id| !stored.contains(id)).collect();
    let duplicates: usize = events.values().map(|n| n - 1).sum();
    println!(
        "{} items stored ({} acknowledged before the kill), {} events, {duplicates} duplicates",
        stored.len(),
        acked.lock().unwrap(),
        events.values().sum::<usize>()
    );
    assert!(stored.len() >= 300, "the load ran: {}", stored.len());
    assert!(missing.is_empty(), "items without their event: {missing:?}");
    assert!(
        unknown.is_empty(),
        "events of items never stored: {unknown:?}"
    );
}

/// A stream record whose new image is not an item's (its id is no item id): appended to the
/// embedded stream's tables as the store would, for the consumer to fail on.
fn append_unreadable_record(path: &std::path::Path) -> String {
    use redb::{ReadableTable, TableDefinition};
    const STREAM: TableDefinition<u64, &[u8]> = TableDefinition::new("stream");
    const HEAD: TableDefinition<&str, u64> = TableDefinition::new("stream-head");
    let db = redb::Database::create(path).unwrap();
    let txn = db.begin_write().unwrap();
    let sequence_number;
    {
        let mut head = txn.open_table(HEAD).unwrap();
        let n = head.get("last").unwrap().map_or(0, |v| v.value()) + 1;
        head.insert("last", n).unwrap();
        sequence_number = functions::adapters::embedded::store::sequence_number(n);
        let record = json!({
            "eventID": "00000000000000000000000000000bad",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": local::names::items_stream_arn(),
            "dynamodb": {
                "ApproximateCreationDateTime": time::OffsetDateTime::now_utc().unix_timestamp(),
                "Keys": { "owner": { "S": "alice" }, "id": { "S": "not-an-item-id" } },
                "NewImage": { "owner": { "S": "alice" }, "id": { "S": "not-an-item-id" }, "name": { "S": "poison" } },
                "SequenceNumber": sequence_number,
                "SizeBytes": 80,
                "StreamViewType": "NEW_IMAGE",
            },
        });
        let bytes = serde_json::to_vec(&record).unwrap();
        txn.open_table(STREAM)
            .unwrap()
            .insert(n, bytes.as_slice())
            .unwrap();
    }
    txn.commit().unwrap();
    sequence_number
}

fn item(name: &str) -> Item {
    Item::create(
        "alice",
        NewItem {
            name: name.into(),
            description: None,
        },
    )
    .with_origin(Origin {
        request_id: format!("request-of-{name}"),
        trace_header: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_record_goes_to_the_dlq_after_its_retries_and_the_rest_is_published() {
    let dir = tempfile::tempdir().unwrap();
    // The table's records are written before the twin starts on the same data folder.
    let path = dir.path().join("items.redb");
    let (before, after) = (item("before"), item("after"));
    {
        let store = RedbItemStore::open(&path).unwrap();
        store.put(&before).await.unwrap();
    }
    let poison = append_unreadable_record(&path);
    {
        let store = RedbItemStore::open(&path).unwrap();
        store.put(&after).await.unwrap();
    }

    let mut args = FAST.to_vec();
    args.extend(["--item-events-maximum-retry-attempts", "2"]);
    let twin = TwinProcess::start_in(dir.path(), &args);
    assert!(
        twin.caught_up_within(Duration::from_secs(60)).await,
        "{}",
        twin.stream().await
    );
    let events = events_per_item(&twin).await;
    for published in [&before, &after] {
        assert_eq!(
            events.get(&published.id.to_string()),
            Some(&1),
            "{events:?}"
        );
    }

    let reply = twin.client.get("/_twin/dlq", &[]).await.unwrap();
    let listed = reply.json();
    let messages = listed["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{listed:#}");
    let body: Value = serde_json::from_str(messages[0]["Body"].as_str().unwrap()).unwrap();
    let info = &body["DDBStreamBatchInfo"];
    assert_eq!(info["startSequenceNumber"], poison.as_str(), "{body:#}");
    assert_eq!(info["endSequenceNumber"], poison.as_str());
    assert_eq!(info["batchSize"], 1);
    assert_eq!(info["streamArn"], local::names::items_stream_arn());
    assert_eq!(
        body["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(
        body["requestContext"]["functionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:items-api-item-events"
    );

    // The ops console shows the message and the batch it describes.
    let id = messages[0]["MessageId"].as_str().unwrap();
    let console = twin.client.get("/_ops", &[]).await.unwrap().text();
    assert!(console.contains("<section id=\"stream\">"), "{console}");
    assert!(console.contains(&format!("<code>{id}</code>")));
    assert!(console.contains(&format!("<code>{poison}</code>")));

    // An operator deletes the message once the record is dealt with.
    let reply = twin
        .client
        .send(
            Method::DELETE,
            &format!("/_twin/dlq/{id}"),
            &[("content-type", "application/json")],
            String::new(),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 204);
    let reply = twin.client.get("/_twin/dlq", &[]).await.unwrap();
    assert_eq!(reply.json()["messages"], json!([]));
}

// Rehearsals of the consumer's alarms (see `alarms.rs` for the API's): the runbook's fault,
// items created through the API, the twin's clock moved a minute at a time.

async fn wait_caught_up(r: &Rehearsal) {
    assert!(r.twin.caught_up_within(Duration::from_secs(60)).await);
}

/// Moves on minute by minute (up to `minutes`) until `name` is in `state`; the minutes taken.
async fn minutes_until(
    r: &Rehearsal,
    name: &str,
    state: &str,
    minutes: u64,
    each_minute: Duration,
) -> u64 {
    for minute in 1..=minutes {
        tokio::time::sleep(each_minute).await;
        let view = r.next_minute().await;
        if alarm(&view, name)["state"] == state {
            return minute;
        }
    }
    panic!("{name} not {state} after {minutes} minutes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_events_dlq_depth_fires_when_a_batch_is_given_up() {
    let stem = "item-events-dlq-depth";
    check_runbook_names(stem, "item-events=fail");
    let file = alarm_file(stem);
    let name = file["name"].as_str().unwrap();
    // No retries: the failing batch is given up on its first failure.
    let r = Rehearsal::start(&["--item-events-maximum-retry-attempts", "0"]).await;
    r.drive(&[Call::Create], |_| 201).await;
    wait_caught_up(&r).await;
    let view = r.next_minute().await;
    assert_eq!(alarm(&view, name)["state"], "OK", "{view:#}");

    r.inject("item-events=fail").await;
    r.drive(&[Call::Create], |_| 201).await;
    wait_caught_up(&r).await;
    let taken = minutes_until(&r, name, "ALARM", 1, Duration::ZERO).await;
    assert_eq!(taken, number(&file, "datapoints_to_alarm"));

    // The message dealt with (the queue purged), the alarm returns to OK.
    r.clear().await;
    r.send(Method::DELETE, "/_twin/dlq", None).await;
    minutes_until(
        &r,
        name,
        "OK",
        number(&file, "evaluation_periods"),
        Duration::ZERO,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_events_function_errors_fires_when_the_consumer_panics() {
    let stem = "item-events-function-errors";
    check_runbook_names(stem, "item-events=panic");
    let file = alarm_file(stem);
    let name = file["name"].as_str().unwrap();
    let (m, n) = (
        number(&file, "datapoints_to_alarm"),
        number(&file, "evaluation_periods"),
    );
    // Retries without end: the batch keeps failing, minute after minute, while the fault lasts.
    let r = Rehearsal::start(&["--item-events-maximum-retry-attempts", "-1"]).await;
    r.drive(&[Call::Create], |_| 201).await;
    wait_caught_up(&r).await;
    assert_eq!(alarm(&r.next_minute().await, name)["state"], "OK");

    r.inject("item-events=panic").await;
    r.drive(&[Call::Create], |_| 201).await;
    // Each minute holds the invocations (and retries) of its second and a half.
    let taken = minutes_until(&r, name, "ALARM", n, Duration::from_millis(1500)).await;
    assert_eq!(taken, m, "ALARM on the {m}th breaching minute");

    r.clear().await;
    wait_caught_up(&r).await;
    let events = events_per_item(&r.twin).await;
    assert_eq!(
        events.len(),
        2,
        "the held event is published once the fault is gone"
    );
    minutes_until(&r, name, "OK", n, Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_events_iterator_age_fires_when_the_consumer_falls_behind() {
    let stem = "item-events-iterator-age";
    check_runbook_names(stem, "item-events=slow:2s");
    let file = alarm_file(stem);
    let name = file["name"].as_str().unwrap();
    let n = number(&file, "evaluation_periods");
    // One record a batch: the slowed consumer takes 2 s for each.
    let r = Rehearsal::start(&["--item-events-batch-size", "1"]).await;
    r.drive(&[Call::Create], |_| 201).await;
    wait_caught_up(&r).await;
    assert_eq!(alarm(&r.next_minute().await, name)["state"], "OK");

    r.inject("item-events=slow:2s").await;
    r.drive(&[Call::Create; 40], |_| 201).await;
    // The backlog waits while the clock moves on: its records grow older than a minute.
    let taken = minutes_until(&r, name, "ALARM", n + 1, Duration::from_millis(2500)).await;
    assert!(
        taken >= number(&file, "datapoints_to_alarm"),
        "not before M breaching minutes: {taken}"
    );

    r.clear().await;
    wait_caught_up(&r).await;
    minutes_until(&r, name, "OK", n + 1, Duration::ZERO).await;
}
