//! The `item-events` function: the items table's stream consumer. Each item the API stores
//! becomes one `ItemCreated` on the bus, made from the stored item (`NewImage`) and so carrying
//! the ids of the request that created it.
//!
//! Lambda's event source mapping hands it batches of stream records in order, filtered to the
//! INSERTs of items (`events/item-events.filter.json`); it checks again and ignores the rest.
//! It publishes in record order and stops at the first record it could not publish or read,
//! reporting that record alone in `batchItemFailures`: Lambda then retries from it, so the
//! records before it are not published twice by this function (a `PutEvents` that failed
//! part-way may have published some after it: consumers de-duplicate by item id).

pub mod image;
mod publish;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::LambdaEvent;

use crate::domain::Origin;
use crate::events::ItemCreated;
use crate::ports::EventBus;
use crate::table::attr;
use publish::{Pending, Publisher};
use telemetry::metric_names as names;

/// The function's `service` (logs and metrics); on Lambda, `items-api-item-events`.
pub const SERVICE: &str = "item-events";

/// The function as Lambda runs it: the handler behind [`telemetry::InvocationLayer`].
pub type ItemEventsService = telemetry::InvocationService<ItemEventsHandler>;

/// The function, publishing to `bus`, with its telemetry (service [`SERVICE`], EMF on stdout).
pub fn service(bus: Arc<dyn EventBus>) -> ItemEventsService {
    service_with(bus, telemetry::InvocationLayer::new())
}

/// [`service`] behind `layer` (one whose EMF goes elsewhere, say), named [`SERVICE`].
pub fn service_with(
    bus: Arc<dyn EventBus>,
    layer: telemetry::InvocationLayer,
) -> ItemEventsService {
    tower::Layer::layer(&layer.with_service(SERVICE), ItemEventsHandler { bus })
}

/// The handler alone; see [`service`].
#[derive(Clone)]
pub struct ItemEventsHandler {
    bus: Arc<dyn EventBus>,
}

impl tower::Service<LambdaEvent<Event>> for ItemEventsHandler {
    type Response = DynamoDbEventResponse;
    type Error = lambda_runtime::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<DynamoDbEventResponse, lambda_runtime::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: LambdaEvent<Event>) -> Self::Future {
        let bus = Arc::clone(&self.bus);
        Box::pin(async move { handle(&*bus, event).await })
    }
}

/// What one stream record is to this function.
// One at a time, on the stack, moved once into the publisher: boxing would cost more.
#[expect(clippy::large_enum_variant)]
enum Record {
    /// Not an item's INSERT: nothing to publish.
    Ignored,
    Item(Pending, crate::ports::BusEvent),
    /// An item's INSERT whose image cannot be read: it would fail every time.
    Poison(image::InvalidImage),
}

async fn handle(
    bus: &dyn EventBus,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, lambda_runtime::Error> {
    let (event, context) = event.into_parts();
    metrics::histogram!(names::ITEM_EVENTS_BATCH_SIZE).record(event.records.len() as f64);
    // For items stored before their request's ids were: this invocation published them.
    let fallback = Origin {
        request_id: context.request_id,
        trace_header: context.xray_trace_id,
    };
    let mut publisher = Publisher::new(bus);
    let mut failed = None;
    for record in &event.records {
        let sequence_number = record
            .change
            .sequence_number
            .as_deref()
            .ok_or("a stream record without a SequenceNumber")?;
        match read(record, sequence_number, &fallback) {
            Record::Ignored => {}
            Record::Item(pending, event) => {
                if let Err(first) = publisher.push(pending, event).await {
                    failed = Some(first);
                    break;
                }
            }
            Record::Poison(error) => {
                let image = &record.change.new_image;
                tracing::error!(
                    request_id = image::text(image, attr::REQUEST_ID),
                    item_id = image::text(image, attr::ID),
                    sequence_number,
                    error = %error,
                    "stream record cannot be read; the batch stops at it"
                );
                // The records before it first: Lambda goes on from the one reported.
                failed = Some(match publisher.flush().await {
                    Ok(()) => sequence_number.to_owned(),
                    Err(first) => first,
                });
                break;
            }
        }
    }
    if failed.is_none() {
        failed = publisher.flush().await.err();
    }
    let mut response = DynamoDbEventResponse::default();
    if let Some(sequence_number) = failed {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(sequence_number);
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

fn read(record: &EventRecord, sequence_number: &str, fallback: &Origin) -> Record {
    let image = &record.change.new_image;
    if record.event_name != "INSERT" || image::is_record(image) {
        return Record::Ignored;
    }
    let item = match image::item_from_image(image) {
        Ok(item) => item,
        Err(error) => return Record::Poison(error),
    };
    let created_ms = record
        .change
        .approximate_creation_date_time
        .timestamp_millis();
    let event = ItemCreated::bus_event(&item, fallback);
    let pending = Pending {
        sequence_number: sequence_number.to_owned(),
        request_id: item
            .origin
            .map_or_else(|| fallback.request_id.clone(), |origin| origin.request_id),
        item_id: item.id.to_string(),
        owner: item.owner.clone(),
        // A record without the time deserializes as the epoch: no lag to tell.
        created_ms: (created_ms > 0).then_some(created_ms),
    };
    Record::Item(pending, event)
}

#[cfg(test)]
mod tests;
