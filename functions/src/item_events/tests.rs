//! The handler on batches in the shape Lambda documents for DynamoDB streams
//! (`fixtures/stream-batch.json`: an item's INSERT, a MODIFY, a REMOVE, an idempotency
//! record's INSERT, another item's INSERT), against a bus that does what each test says.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::ports::{BusError, BusEvent};

const FIXTURE: &str = include_str!("fixtures/stream-batch.json");
const FIRST_REQUEST: &str = "Jd8mXh3fIAMEbXw=";
const FIRST_TRACE: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

/// A bus that records every `publish` and answers each with the next scripted result (`Ok`
/// once the script is done).
#[derive(Default)]
struct ScriptedBus {
    calls: Mutex<Vec<Vec<BusEvent>>>,
    script: Mutex<VecDeque<Result<(), BusError>>>,
}

impl ScriptedBus {
    fn answering(script: impl IntoIterator<Item = Result<(), BusError>>) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(script.into_iter().collect()),
            ..Self::default()
        })
    }

    /// The item ids of each call.
    fn calls(&self) -> Vec<Vec<String>> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|call| {
                call.iter()
                    .map(|e| e.detail["item_id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .collect()
    }
}

#[async_trait]
impl EventBus for ScriptedBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), BusError> {
        assert!(events.len() <= crate::ports::PUT_EVENTS_MAX_ENTRIES);
        self.calls.lock().unwrap().push(events.to_vec());
        self.script.lock().unwrap().pop_front().unwrap_or(Ok(()))
    }
}

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).unwrap()
}

/// The fixture's record `i` as a record of another item (`n` in its id), at `seq`.
fn item_record(fixture: &Value, n: usize, seq: usize) -> Value {
    let mut record = fixture["Records"][0].clone();
    let id = format!("019a8f2e-4f53-7abc-8def-{n:012}");
    record["dynamodb"]["Keys"]["id"]["S"] = json!(id);
    record["dynamodb"]["NewImage"]["id"]["S"] = json!(id);
    record["dynamodb"]["NewImage"]["request_id"]["S"] = json!(format!("request-{n}"));
    record["dynamodb"]["SequenceNumber"] = json!(format!("{seq:021}"));
    record
}

fn id(n: usize) -> String {
    format!("019a8f2e-4f53-7abc-8def-{n:012}")
}

fn batch(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

fn lambda_event(batch: Value) -> LambdaEvent<Event> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = "7f1c6a3e-2b4d-4c3e-9a51-0f0d2b1e6c11".into();
    LambdaEvent::new(serde_json::from_value(batch).unwrap(), context)
}

/// What the metrics recorded: counters summed, histograms' values.
#[derive(Debug, Default)]
struct Recorded {
    counters: Vec<(String, u64)>,
    histograms: Vec<(String, Vec<f64>)>,
}

impl Recorded {
    fn counter(&self, name: &str) -> u64 {
        self.counters
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v)
            .sum()
    }

    fn histogram(&self, name: &str) -> Vec<f64> {
        self.histograms
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.clone())
            .collect()
    }
}

/// Runs the handler on `batch` with `bus`, recording its metrics.
fn run(bus: &Arc<ScriptedBus>, batch: Value) -> (DynamoDbEventResponse, Recorded) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handler = ItemEventsHandler {
        bus: Arc::clone(bus) as Arc<dyn EventBus>,
    };
    let response = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(handler.oneshot(lambda_event(batch)))
    })
    .unwrap();
    let mut recorded = Recorded::default();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let name = key.key().name().to_owned();
        match value {
            DebugValue::Counter(n) => recorded.counters.push((name, n)),
            DebugValue::Histogram(values) => recorded
                .histograms
                .push((name, values.into_iter().map(|v| v.into_inner()).collect())),
            DebugValue::Gauge(_) => {}
        }
    }
    (response, recorded)
}

fn failures(response: &DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect()
}

#[test]
fn inserts_of_items_are_published_with_their_request_and_trace() {
    let bus = ScriptedBus::answering([]);
    let (response, recorded) = run(&bus, fixture());

    assert!(failures(&response).is_empty());
    // MODIFY, REMOVE and the idempotency record's INSERT are ignored; one call for the two.
    assert_eq!(bus.calls(), [vec![id(1), id(3)]]);
    let calls = bus.calls.lock().unwrap();
    let (first, second) = (&calls[0][0], &calls[0][1]);
    assert_eq!(first.source, crate::events::SOURCE);
    assert_eq!(first.detail_type, crate::events::ITEM_CREATED);
    assert_eq!(
        first.detail,
        json!({
            "item_id": id(1),
            "owner": "alice",
            "created_at": crate::domain::rfc3339_millis(first.time),
            "request_id": FIRST_REQUEST,
            "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
        })
    );
    assert_eq!(first.trace_header.as_deref(), Some(FIRST_TRACE));
    assert_eq!(second.detail["request_id"], "Ke9nYi4gJBNFcYx=");
    assert_eq!(second.detail["trace_id"], Value::Null);
    assert_eq!(second.trace_header, None);

    assert_eq!(recorded.histogram(names::ITEM_EVENTS_BATCH_SIZE), [5.0]);
    assert_eq!(recorded.counter(names::ITEM_EVENTS_PUBLISHED), 2);
    assert_eq!(recorded.counter(names::ITEM_EVENT_PUBLISH_FAILURES), 0);
    assert_eq!(recorded.histogram(names::ITEM_EVENT_LAG).len(), 2);
}

#[test]
fn the_lag_runs_from_the_records_creation_to_publication() {
    let bus = ScriptedBus::answering([]);
    let mut record = item_record(&fixture(), 1, 1);
    let two_seconds_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 2;
    record["dynamodb"]["ApproximateCreationDateTime"] = json!(two_seconds_ago);
    let (_, recorded) = run(&bus, batch(vec![record]));
    let lag = recorded.histogram(names::ITEM_EVENT_LAG);
    assert_eq!(lag.len(), 1);
    assert!((2_000.0..60_000.0).contains(&lag[0]), "{lag:?}");
}

#[test]
fn batches_are_published_ten_entries_a_call_in_record_order() {
    let bus = ScriptedBus::answering([]);
    let records = (1..=23).map(|n| item_record(&fixture(), n, n)).collect();
    let (response, recorded) = run(&bus, batch(records));
    assert!(failures(&response).is_empty());
    let calls = bus.calls();
    assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 3]);
    assert_eq!(calls.concat(), (1..=23).map(id).collect::<Vec<_>>());
    assert_eq!(recorded.counter(names::ITEM_EVENTS_PUBLISHED), 23);
    assert_eq!(recorded.histogram(names::ITEM_EVENTS_BATCH_SIZE), [23.0]);
}

#[test]
fn a_poison_record_is_the_failure_after_the_records_before_it_are_published() {
    let bus = ScriptedBus::answering([]);
    let mut records: Vec<Value> = (1..=5).map(|n| item_record(&fixture(), n, n)).collect();
    // The fourth record's item has no name: it would fail on every retry.
    records[3]["dynamodb"]["NewImage"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    let (response, recorded) = run(&bus, batch(records));

    assert_eq!(failures(&response), [format!("{:021}", 4)]);
    // The three before it were published; the one after it was not attempted.
    assert_eq!(bus.calls(), [vec![id(1), id(2), id(3)]]);
    assert_eq!(recorded.counter(names::ITEM_EVENTS_PUBLISHED), 3);
}

#[test]
fn a_poison_record_after_an_unpublished_one_reports_the_unpublished_one() {
    let bus = ScriptedBus::answering([Err(BusError::Unavailable("down".into()))]);
    let mut records: Vec<Value> = (1..=3).map(|n| item_record(&fixture(), n, n)).collect();
    records[2]["dynamodb"]["NewImage"]["id"]["S"] = json!("not-an-id");
    let (response, _) = run(&bus, batch(records));
    assert_eq!(failures(&response), [format!("{:021}", 1)]);
}

#[test]
fn a_bus_failure_mid_batch_reports_the_first_unpublished_record() {
    // The second call (records 11 to 20): entries 4 and 7 (records 15 and 18) still rejected
    // after the adapter's retries.
    let bus = ScriptedBus::answering([
        Ok(()),
        Err(BusError::EntriesFailed {
            failed: vec![7, 4],
            reason: "ThrottlingException".into(),
        }),
    ]);
    let records = (1..=25).map(|n| item_record(&fixture(), n, n)).collect();
    let (response, recorded) = run(&bus, batch(records));

    assert_eq!(failures(&response), [format!("{:021}", 15)]);
    // No call after the failed one.
    assert_eq!(bus.calls().len(), 2);
    assert_eq!(recorded.counter(names::ITEM_EVENTS_PUBLISHED), 18);
    assert_eq!(recorded.counter(names::ITEM_EVENT_PUBLISH_FAILURES), 2);
    assert_eq!(recorded.histogram(names::ITEM_EVENT_LAG).len(), 18);
}

#[test]
fn an_unavailable_bus_fails_the_whole_call_from_its_first_record() {
    let bus = ScriptedBus::answering([Err(BusError::Unavailable("timed out".into()))]);
    let (response, recorded) = run(&bus, fixture());
    assert_eq!(failures(&response), ["100000000000000000001"]);
    assert_eq!(recorded.counter(names::ITEM_EVENTS_PUBLISHED), 0);
    assert_eq!(recorded.counter(names::ITEM_EVENT_PUBLISH_FAILURES), 2);
}

#[test]
fn a_batch_of_nothing_to_publish_calls_no_bus() {
    let bus = ScriptedBus::answering([]);
    let all = fixture();
    let ignored = all["Records"].as_array().unwrap()[1..4].to_vec();
    let (response, recorded) = run(&bus, batch(ignored));
    assert!(failures(&response).is_empty());
    assert!(bus.calls().is_empty());
    assert_eq!(recorded.histogram(names::ITEM_EVENTS_BATCH_SIZE), [3.0]);
}

#[test]
fn items_stored_before_their_origin_was_kept_get_the_invocations() {
    let bus = ScriptedBus::answering([]);
    let mut record = item_record(&fixture(), 1, 1);
    let image = record["dynamodb"]["NewImage"].as_object_mut().unwrap();
    image.remove("request_id");
    image.remove("trace_header");
    run(&bus, batch(vec![record]));
    let calls = bus.calls.lock().unwrap();
    assert_eq!(
        calls[0][0].detail["request_id"],
        "7f1c6a3e-2b4d-4c3e-9a51-0f0d2b1e6c11"
    );
}

#[tokio::test]
async fn the_service_is_the_handler_behind_the_invocation_layer() {
    let docs = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&docs);
    let layer = telemetry::InvocationLayer::new()
        .with_metrics_output(move |d| sink.lock().unwrap().push_str(d));
    let bus = ScriptedBus::answering([]);
    let response = service_with(bus.clone(), layer)
        .oneshot(lambda_event(fixture()))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let docs = docs.lock().unwrap().clone();
    let published: Vec<Value> = docs
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|d| d.get(names::ITEM_EVENTS_PUBLISHED).is_some())
        .collect();
    assert_eq!(published.len(), 1, "{docs}");
    assert_eq!(published[0]["service"], SERVICE);
    assert_eq!(published[0][names::ITEM_EVENTS_PUBLISHED], 2);
    assert_eq!(published[0][names::ITEM_EVENTS_BATCH_SIZE], 5.0);
}
