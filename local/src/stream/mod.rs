//! Lambda's event source mapping for the items table's stream: it reads the stream's shard in
//! order and invokes the `item-events` function with batches of records, with Terraform's
//! settings (`terraform/variables.tf`, copied by the `--item-events-*` flags), its filter
//! (`events/item-events.filter.json`), retries, bisection, partial batch responses, a record
//! age limit and the dead-letter queue as on-failure destination.
//!
//! Reading order: [`mapping`] (the loop and its rules), [`reader`] (the shard: the embedded
//! stream or DynamoDB Streams, [`aws_reader`]), [`filter`], [`consumer`] (the function as
//! Lambda runs it), [`checkpoint`], [`on_failure`] (the dead-letter message).

pub mod aws_reader;
pub mod checkpoint;
pub mod consumer;
pub mod filter;
pub mod mapping;
pub mod on_failure;
pub mod reader;

use std::sync::Arc;
use std::time::Duration;

use functions::adapters::embedded::store::RedbItemStore;

/// The consumer's Lambda function name (`${var.name}-item-events`).
pub const FUNCTION_NAME: &str = "items-api-item-events";

/// How often the mapping reads the shard when idle: Lambda polls a stream's shards 4 times a
/// second.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Drops the embedded stream's records past its 24-hour retention, every minute.
pub fn spawn_trim(store: Arc<RedbItemStore>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            if let Err(e) = store.trim_stream(now).await {
                tracing::warn!(error = %e, "cannot trim the table's stream");
            }
        }
    });
}

/// The mapping, started: what the twin's routes show.
pub struct Started {
    pub status: Arc<mapping::MappingStatus>,
    pub dlq: crate::sqs::Queue,
}

/// What the mapping needs from the twin.
pub struct Wiring<'a> {
    pub data_dir: &'a std::path::Path,
    /// The repository: where `events/item-events.filter.json` is.
    pub repo_dir: &'a std::path::Path,
    pub args: &'a crate::settings::ItemEventsArgs,
    pub reader: Arc<dyn reader::ShardReader>,
    pub handler: Arc<dyn consumer::StreamConsumer>,
    pub faults: Arc<crate::faults::Faults>,
    pub cloudwatch: Arc<crate::cloudwatch::CloudWatch>,
    pub timeout: Duration,
    /// X-Ray sampling of the invocations (`--xray-reservoir`, `--xray-fixed-rate`).
    pub xray: crate::gateway::xray_sampling::XraySampler,
}

/// The mapping's settings from the flags (Terraform's variables), with Terraform's fixed
/// arguments (`bisect_batch_on_function_error = true`).
pub fn settings(args: &crate::settings::ItemEventsArgs) -> mapping::Settings {
    mapping::Settings {
        batch_size: args.item_events_batch_size as usize,
        batching_window: Duration::from_secs(u64::from(args.item_events_batching_window_seconds)),
        maximum_retry_attempts: args.item_events_maximum_retry_attempts,
        maximum_record_age_seconds: args.item_events_maximum_record_age_seconds,
        bisect_batch_on_function_error: true,
        poll_interval: POLL_INTERVAL,
        retry_backoff: Duration::from_millis(500),
    }
}

/// Opens the checkpoint and the dead-letter queue in the data folder, publishes the queue's
/// depth (`AWS/SQS` `ApproximateNumberOfMessagesVisible`) and starts the mapping.
pub fn start(wiring: Wiring<'_>) -> Result<Started, String> {
    let dlq = crate::sqs::Queue::open(&wiring.data_dir.join("sqs.redb"), crate::sqs::DLQ_NAME)?;
    let checkpoint = checkpoint::Checkpoint::open(
        &wiring.data_dir.join("event-source-mapping.redb"),
        FUNCTION_NAME,
    )?;
    let filter = filter::Filter::load(wiring.repo_dir)?;
    let function_arn = format!(
        "arn:aws:lambda:{}:{}:function:{FUNCTION_NAME}",
        crate::names::REGION,
        crate::names::ACCOUNT_ID
    );
    let mut function = consumer::ConsumerFunction::new(
        FUNCTION_NAME,
        function_arn,
        wiring.timeout,
        wiring.handler,
        wiring.faults,
        Arc::clone(&wiring.cloudwatch),
    );
    function.sampler = wiring.xray;
    let depth = dlq.clone();
    wiring.cloudwatch.watch_gauge(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        &[("QueueName", crate::sqs::DLQ_NAME)],
        Arc::new(move || depth.depth().ok().map(|n| n as f64)),
    );
    let status = Arc::new(mapping::MappingStatus::new(
        wiring.reader,
        FUNCTION_NAME,
        settings(wiring.args),
    ));
    let mapping = mapping::Mapping {
        status: Arc::clone(&status),
        filter,
        function,
        checkpoint,
        dlq: dlq.clone(),
    };
    tokio::spawn(mapping.run());
    Ok(Started { status, dlq })
}

#[cfg(test)]
mod tests;
