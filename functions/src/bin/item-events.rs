//! The `item-events` Lambda: the items table's stream consumer, publishing `ItemCreated` to
//! EventBridge (see `functions::item_events`). Misconfiguration fails the init with a message
//! that names what is wrong.

use std::sync::Arc;

use functions::adapters::aws::{EventBridgeBus, sdk_config};
use functions::item_events::{SERVICE, service};
use functions::settings::ItemEventsSettings;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let settings = ItemEventsSettings::from_env().map_err(|e| format!("{SERVICE}: {e}"))?;
    telemetry::init(SERVICE);
    let sdk = sdk_config(None).await;
    let bus = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), settings.event_bus);
    lambda_runtime::run(service(Arc::new(bus))).await
}
