//! The function the mapping invokes, as Lambda runs it: [`StreamConsumer`] is the handler
//! (the `item-events` service, or a test's), [`ConsumerFunction`] the Lambda around it: its
//! faults (`item-events=fail|slow|panic|throttle`), its timeout, a panic failing the
//! invocation rather than the twin, and its `AWS/Lambda` metrics (`Invocations`, `Errors`,
//! `Duration`, `ConcurrentExecutions`, `Throttles`).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use futures_util::FutureExt;
use lambda_runtime::{Context, LambdaEvent};
use tower::ServiceExt;

use super::reader::{StreamRecord, written_ms};
use crate::cloudwatch::clock::{TwinClock, real_ms};
use crate::cloudwatch::{CloudWatch, FunctionMetrics};
use crate::faults::{Faults, Kind, Target, injected};
use crate::gateway::payload::new_trace_header;
use crate::gateway::xray_sampling::{DEFAULT_FIXED_RATE, DEFAULT_RESERVOIR, Upstream, XraySampler};

/// A handler of stream batches: the response (`batchItemFailures`) or its error.
#[async_trait]
pub trait StreamConsumer: Send + Sync {
    async fn handle(&self, event: Event, context: Context)
    -> Result<DynamoDbEventResponse, String>;
}

/// Any Lambda service of stream batches (what `lambda_runtime::run` would run) as a consumer.
pub struct ServiceConsumer<S>(pub S);

#[async_trait]
impl<S> StreamConsumer for ServiceConsumer<S>
where
    S: tower::Service<
            LambdaEvent<Event>,
            Response = DynamoDbEventResponse,
            Error = lambda_runtime::Error,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
{
    async fn handle(
        &self,
        event: Event,
        context: Context,
    ) -> Result<DynamoDbEventResponse, String> {
        self.0
            .clone()
            .oneshot(LambdaEvent::new(event, context))
            .await
            .map_err(|e| e.to_string())
    }
}

/// What one invocation came to.
#[derive(Debug)]
pub enum Outcome {
    /// The function answered (its `batchItemFailures` still to be read).
    Answered(DynamoDbEventResponse),
    /// It failed: an error, a panic, a timeout, an event it could not read.
    Failed(String),
    /// Lambda refused it (concurrency used up): the batch never reached the function.
    Throttled,
}

/// The consumer as a Lambda function.
pub struct ConsumerFunction {
    pub name: String,
    pub arn: String,
    pub timeout: Duration,
    pub handler: Arc<dyn StreamConsumer>,
    pub faults: Arc<Faults>,
    pub cloudwatch: Arc<CloudWatch>,
    pub metrics: FunctionMetrics,
    /// Lambda's active tracing: each invocation gets a trace header, sampled by X-Ray's
    /// default rule (the gateway's sampler; the twin gives it the flags' settings).
    pub sampler: XraySampler,
}

impl ConsumerFunction {
    pub fn new(
        name: &str,
        arn: String,
        timeout: Duration,
        handler: Arc<dyn StreamConsumer>,
        faults: Arc<Faults>,
        cloudwatch: Arc<CloudWatch>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            arn,
            timeout,
            metrics: cloudwatch.function_metrics(name),
            sampler: XraySampler::new(DEFAULT_RESERVOIR, DEFAULT_FIXED_RATE),
            handler,
            faults,
            cloudwatch,
        }
    }

    /// Invokes the function with `records` as one DynamoDB event.
    pub async fn invoke(&self, records: &[StreamRecord]) -> Outcome {
        if self.faults.fires(Target::ItemEvents, Kind::Throttle) {
            self.cloudwatch.invocation_throttled(&self.name);
            return Outcome::Throttled;
        }
        let started = Instant::now();
        self.cloudwatch.invocation_started(&self.metrics, real_ms());
        let outcome = match self.run(records).catch_unwind().await {
            Ok(Ok(response)) => Outcome::Answered(response),
            Ok(Err(error)) => Outcome::Failed(error),
            Err(panic) => Outcome::Failed(panic_message(&panic)),
        };
        let failed = matches!(outcome, Outcome::Failed(_));
        self.cloudwatch
            .invocation_ended(&self.metrics, started.elapsed(), failed, real_ms());
        outcome
    }

    fn context(&self) -> Context {
        let mut context = Context::default();
        context.request_id = uuid::Uuid::new_v4().to_string();
        context.invoked_function_arn = self.arn.clone();
        let now = time::OffsetDateTime::now_utc();
        let sampled = self.sampler.decide(&Upstream::parse(None), now);
        context.xray_trace_id = Some(new_trace_header(now, None, sampled));
        let deadline = std::time::SystemTime::now() + self.timeout;
        context.deadline = deadline
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        context
    }

    fn run<'a>(
        &'a self,
        records: &'a [StreamRecord],
    ) -> AssertUnwindSafe<impl Future<Output = Result<DynamoDbEventResponse, String>> + 'a> {
        AssertUnwindSafe(async move {
            let records = on_twin_clock(records, &self.cloudwatch.clock);
            let event: Event = serde_json::from_value(serde_json::json!({ "Records": records }))
                .map_err(|e| format!("the runtime could not read the event: {e}"))?;
            let handler = async {
                if let Some(delay) = self.faults.delay(Target::ItemEvents) {
                    tokio::time::sleep(delay).await;
                }
                if self.faults.fires(Target::ItemEvents, Kind::Panic) {
                    panic!("{}", injected(Target::ItemEvents, Kind::Panic));
                }
                if self.faults.fires(Target::ItemEvents, Kind::Fail) {
                    return Err(injected(Target::ItemEvents, Kind::Fail));
                }
                self.handler.handle(event, self.context()).await
            };
            tokio::time::timeout(self.timeout, handler)
                .await
                .map_err(|_| {
                    format!(
                        "Task timed out after {:.2} seconds",
                        self.timeout.as_secs_f64()
                    )
                })?
        })
    }
}

/// The records as the function receives them, dated on the twin's clock. The clock moves on
/// without real time passing, and a record written before a move is that much older on it
/// (as `IteratorAge` shows); the function tells a record's age (`ItemEventLag`) from its
/// `ApproximateCreationDateTime` and the real time, so that moves back by the clock's moves
/// since the write, in whole seconds as DynamoDB Streams gives it.
fn on_twin_clock(records: &[StreamRecord], clock: &TwinClock) -> Vec<StreamRecord> {
    records
        .iter()
        .map(|record| {
            let written = written_ms(record);
            let moved = clock.moved_since_ms(written);
            let mut record = record.clone();
            if moved > 0 {
                record["dynamodb"]["ApproximateCreationDateTime"] =
                    (written - moved).div_euclid(1000).into();
            }
            record
        })
        .collect()
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "the function panicked".into())
}
