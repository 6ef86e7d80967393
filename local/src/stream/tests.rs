//! The mapping's rules, on the embedded stream with a scripted consumer.

use std::sync::Mutex;

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use functions::adapters::embedded::store::RedbItemStore;
use functions::domain::{Item, NewItem};
use functions::ports::ItemStore;
use lambda_runtime::Context;

use super::checkpoint::Checkpoint;
use super::consumer::{ConsumerFunction, StreamConsumer};
use super::filter::Filter;
use super::mapping::{Mapping, MappingStatus, Settings};
use super::reader::{EmbeddedShard, ShardReader};
use super::*;
use crate::cloudwatch::CloudWatch;
use crate::faults::Faults;
use crate::sqs::Queue;

/// How the scripted consumer treats a record named `poison`.
#[derive(Clone, Copy)]
enum Poison {
    /// Reports it, the first failure, in `batchItemFailures`.
    Reported,
    /// Fails the whole invocation.
    Errors,
    /// Reports an identifier that is not in the batch.
    BadIdentifier,
}

/// Records each batch it gets (item names), handles them as `poison` says.
struct Scripted {
    poison: Poison,
    batches: Mutex<Vec<Vec<String>>>,
    /// Each record's `ApproximateCreationDateTime` as the function got it, epoch seconds.
    created: Mutex<Vec<i64>>,
}

impl Scripted {
    fn handled(&self) -> Vec<String> {
        // The names of the batches that succeeded up to their first failure.
        self.batches
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .cloned()
            .collect()
    }
}

#[async_trait]
impl StreamConsumer for Scripted {
    async fn handle(&self, event: Event, _: Context) -> Result<DynamoDbEventResponse, String> {
        let names: Vec<(String, String)> = event
            .records
            .iter()
            .map(|r| {
                let image = serde_json::to_value(&r.change.new_image).unwrap();
                let name = image["name"]["S"].as_str().unwrap_or("?").to_owned();
                (name, r.change.sequence_number.clone().unwrap_or_default())
            })
            .collect();
        self.created.lock().unwrap().extend(
            event
                .records
                .iter()
                .map(|r| r.change.approximate_creation_date_time.timestamp()),
        );
        let poison = names.iter().position(|(n, _)| n == "poison");
        let mut response = DynamoDbEventResponse::default();
        let good_until = match (poison, self.poison) {
            (None, _) => names.len(),
            (Some(_), Poison::Errors) => return Err("cannot handle it".into()),
            (Some(at), Poison::Reported) => {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(names[at].1.clone());
                response.batch_item_failures.push(failure);
                at
            }
            (Some(at), Poison::BadIdentifier) => {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some("1".into());
                response.batch_item_failures.push(failure);
                at
            }
        };
        let done = names[..good_until].iter().map(|(n, _)| n.clone()).collect();
        self.batches.lock().unwrap().push(done);
        Ok(response)
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    store: Arc<RedbItemStore>,
    consumer: Arc<Scripted>,
    mapping: Mapping,
    dlq: Queue,
    cloudwatch: Arc<CloudWatch>,
}

fn settings(batch_size: usize, retries: i64) -> Settings {
    Settings {
        batch_size,
        batching_window: Duration::ZERO,
        maximum_retry_attempts: retries,
        maximum_record_age_seconds: -1,
        bisect_batch_on_function_error: true,
        poll_interval: Duration::from_millis(1),
        retry_backoff: Duration::from_millis(1),
    }
}

fn rig(poison: Poison, settings: Settings) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RedbItemStore::open(&dir.path().join("items.redb")).unwrap());
    rig_in(dir, store, poison, settings)
}

fn rig_in(
    dir: tempfile::TempDir,
    store: Arc<RedbItemStore>,
    poison: Poison,
    settings: Settings,
) -> Rig {
    let cloudwatch =
        Arc::new(CloudWatch::load(&crate::cloudwatch::default_repo_dir(), 10).unwrap());
    let consumer = Arc::new(Scripted {
        poison,
        batches: Mutex::new(Vec::new()),
        created: Mutex::new(Vec::new()),
    });
    let reader: Arc<dyn ShardReader> = Arc::new(EmbeddedShard {
        store: Arc::clone(&store),
    });
    let dlq = Queue::open(&dir.path().join("sqs.redb"), crate::sqs::DLQ_NAME).unwrap();
    let function = ConsumerFunction::new(
        FUNCTION_NAME,
        "arn:aws:lambda:us-east-1:000000000000:function:items-api-item-events".into(),
        Duration::from_secs(5),
        Arc::clone(&consumer) as _,
        Arc::new(Faults::default()),
        Arc::clone(&cloudwatch),
    );
    let mapping = Mapping {
        status: Arc::new(MappingStatus::new(reader, FUNCTION_NAME, settings)),
        filter: Filter::parse(super::filter::tests::ITEMS_ONLY).unwrap(),
        function,
        checkpoint: Checkpoint::open(&dir.path().join("esm.redb"), FUNCTION_NAME).unwrap(),
        dlq: dlq.clone(),
    };
    Rig {
        _dir: dir,
        store,
        consumer,
        mapping,
        dlq,
        cloudwatch,
    }
}

async fn create(store: &RedbItemStore, names: &[&str]) {
    for name in names {
        let item = Item::create(
            "alice",
            NewItem {
                name: (*name).into(),
                description: None,
            },
        );
        store.put(&item).await.unwrap();
    }
}

/// Steps the mapping until it has nothing left to do.
async fn drain(mapping: &Mapping) {
    let mut gathering = None;
    while mapping.step(&mut gathering).await.unwrap() {}
}

fn metric_sum(cloudwatch: &CloudWatch, name: &str) -> f64 {
    cloudwatch
        .store
        .list()
        .into_iter()
        .filter(|(id, _)| id.namespace == "AWS/Lambda" && id.name == name)
        .filter_map(|(id, _)| {
            cloudwatch
                .store
                .aggregates(&id, 0, i64::MAX, i64::MAX)
                .into_values()
                .map(|a| a.statistic(crate::cloudwatch::store::Statistic::Sum))
                .sum::<Option<f64>>()
        })
        .sum()
}

/// A record written before the twin's clock moves on reaches the function that much older,
/// as `IteratorAge` counts it: the function's own measure of lag (`ItemEventLag`, now minus
/// `ApproximateCreationDateTime`) reads the twin's time too.
#[tokio::test]
async fn records_reach_the_function_dated_on_the_twins_clock() {
    let rig = rig(Poison::Reported, settings(10, 10));
    create(&rig.store, &["before"]).await;
    rig.cloudwatch.clock.advance_ms(90_000);
    create(&rig.store, &["after"]).await;
    drain(&rig.mapping).await;
    let now = crate::cloudwatch::clock::real_ms().div_euclid(1000);
    let ages: Vec<i64> = rig
        .consumer
        .created
        .lock()
        .unwrap()
        .iter()
        .map(|c| now - c)
        .collect();
    assert_eq!(ages.len(), 2);
    assert!((90..95).contains(&ages[0]), "aged by the move: {ages:?}");
    assert!((0..5).contains(&ages[1]), "written after it: {ages:?}");
    let age = rig
        .cloudwatch
        .store
        .list()
        .into_iter()
        .find(|(id, _)| id.namespace == "AWS/Lambda" && id.name == "IteratorAge");
    assert!(age.is_some(), "IteratorAge published");
}

#[tokio::test]
async fn batches_come_in_order_and_idempotency_records_are_filtered_out() {
    let rig = rig(Poison::Reported, settings(2, 10));
    create(&rig.store, &["a", "b", "c"]).await;
    drain(&rig.mapping).await;
    assert_eq!(
        *rig.consumer.batches.lock().unwrap(),
        [vec!["a".to_owned(), "b".to_owned()], vec!["c".to_owned()]]
    );
    let view = rig.mapping.status.view().await;
    assert_eq!(view["caughtUp"], true, "{view}");
    assert_eq!(view["checkpoint"], view["latestSequenceNumber"]);
    assert_eq!(metric_sum(&rig.cloudwatch, "Invocations"), 2.0);
    assert_eq!(rig.dlq.depth().unwrap(), 0);
}

async fn poisoned(poison: Poison) -> Rig {
    let rig = rig(poison, settings(10, 2));
    create(&rig.store, &["a", "b", "poison", "c", "d"]).await;
    drain(&rig.mapping).await;
    let handled = rig.consumer.handled();
    // A failed batch is retried whole: what came before the failure may come again.
    let mut unique: Vec<String> = Vec::new();
    for name in &handled {
        if !unique.contains(name) {
            unique.push(name.clone());
        }
    }
    assert_eq!(
        unique,
        ["a", "b", "c", "d"],
        "everything but the poison, in order: {handled:?}"
    );
    let messages = rig.dlq.list().unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message: serde_json::Value = serde_json::from_str(&messages[0].body).unwrap();
    let info = &message["DDBStreamBatchInfo"];
    assert_eq!(info["batchSize"], 1, "{message}");
    assert_eq!(info["startSequenceNumber"], info["endSequenceNumber"]);
    assert_eq!(
        message["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    let invocations = message["requestContext"]["approximateInvokeCount"]
        .as_u64()
        .unwrap();
    assert!(
        invocations >= 3,
        "at least its last invocation and 2 retries: {message}"
    );
    let record = rig.store.stream_after(0, 100).await.unwrap();
    let poison_record: serde_json::Value = serde_json::from_slice(&record[2].record).unwrap();
    assert_eq!(
        info["startSequenceNumber"],
        poison_record["dynamodb"]["SequenceNumber"]
    );
    assert_eq!(rig.mapping.status.view().await["caughtUp"], true);
    rig
}

#[tokio::test]
async fn a_reported_poison_record_goes_to_the_dlq_and_the_rest_is_delivered() {
    let rig = poisoned(Poison::Reported).await;
    assert!(
        metric_sum(&rig.cloudwatch, "Errors") == 0.0,
        "a partial response is no error"
    );
}

#[tokio::test]
async fn a_failing_batch_is_bisected_down_to_the_poison_record() {
    let rig = poisoned(Poison::Errors).await;
    assert!(metric_sum(&rig.cloudwatch, "Errors") >= 3.0);
}

#[tokio::test]
async fn an_identifier_not_in_the_batch_fails_the_batch() {
    poisoned(Poison::BadIdentifier).await;
}

#[tokio::test]
async fn records_past_the_maximum_age_are_not_sent() {
    let mut s = settings(10, 10);
    s.maximum_record_age_seconds = 0;
    let rig = rig(Poison::Reported, s);
    create(&rig.store, &["a", "b"]).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    drain(&rig.mapping).await;
    assert!(rig.consumer.handled().is_empty());
    let messages = rig.dlq.list().unwrap();
    let message: serde_json::Value = serde_json::from_str(&messages[0].body).unwrap();
    assert_eq!(message["requestContext"]["condition"], "RecordAgeExceeded");
    assert_eq!(message["DDBStreamBatchInfo"]["batchSize"], 2);
}

#[tokio::test]
async fn the_checkpoint_outlives_the_mapping() {
    let rig = rig(Poison::Reported, settings(10, 10));
    create(&rig.store, &["a", "b"]).await;
    drain(&rig.mapping).await;
    let Rig {
        _dir: dir,
        store,
        mapping,
        dlq,
        consumer,
        cloudwatch,
    } = rig;
    let at = mapping.status.checkpoint();
    drop((mapping, dlq, consumer, cloudwatch));
    create(&store, &["c"]).await;
    let again = rig_in(dir, store, Poison::Reported, settings(10, 10));
    assert_eq!(again.mapping.checkpoint.get().unwrap(), at, "on disk");
    // `run` reads on from the stored checkpoint: only the new record comes.
    let consumer = Arc::clone(&again.consumer);
    tokio::spawn(again.mapping.run());
    tokio::time::timeout(Duration::from_secs(5), async {
        while consumer.handled().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(consumer.handled(), ["c"]);
}

#[tokio::test]
async fn a_throttled_invocation_is_retried_without_counting() {
    let rig = rig(Poison::Reported, settings(10, 0));
    rig.mapping
        .function
        .faults
        .set("item-events=throttle".parse().unwrap());
    create(&rig.store, &["a"]).await;
    let mut gathering = None;
    let stepping = rig.mapping.step(&mut gathering);
    let cleared = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        rig.mapping.function.faults.clear(None);
    };
    let (stepped, ()) = tokio::join!(stepping, cleared);
    assert!(stepped.unwrap());
    assert_eq!(
        rig.consumer.handled(),
        ["a"],
        "retried past a zero retry limit"
    );
    assert!(rig.dlq.list().unwrap().is_empty());
    let throttles = rig
        .cloudwatch
        .store
        .list()
        .into_iter()
        .any(|(id, _)| id.name == "Throttles");
    assert!(throttles);
}
