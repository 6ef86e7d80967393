//! Every custom metric the API emits, in one list: dashboards and alarms name only these.
//!
//! Record them through the `metrics` facade inside a request, e.g.
//! `metrics::counter!(telemetry::metric_names::ITEMS_CREATED).increment(1)`; the unit and
//! resolution written to EMF come from [`ALL`], so call sites never repeat them.

use metrics::Unit;

/// What a metric's values mean when aggregated: counters are summed (`Sum` statistic),
/// histograms are read as percentiles, gauges as the last or maximum value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// CloudWatch storage resolution: `High` writes `StorageResolution: 1` (per-second data,
/// billed higher); `Standard` is one-minute data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    Standard,
    High,
}

/// Which part of the code records a metric, so that a reader knows where to look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emitter {
    /// [`crate::RequestLayer`], for every invocation, whatever the handler does.
    Telemetry,
    /// The `functions` crate: handlers and adapters.
    Functions,
    /// The `item-events` function (`functions::item_events`), the table stream's consumer.
    ItemEvents,
}

/// One custom metric: its CloudWatch name, unit, kind, resolution and who emits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricSpec {
    pub name: &'static str,
    pub unit: Unit,
    pub kind: Kind,
    pub resolution: Resolution,
    pub emitted_by: Emitter,
    pub description: &'static str,
}

/// 1 on the first invocation of a process, in its own EMF document with the dimensions
/// `function_name` and `service` (as Powertools writes it).
pub const COLD_START: &str = "ColdStart";
/// 1 per invocation that reached the handler.
pub const REQUESTS: &str = "Requests";
/// Handler latency in milliseconds, from the layer's start to the response.
pub const REQUEST_LATENCY: &str = "RequestLatency";
/// 1 when the response status is 4xx, else 0: its average is the 4xx rate.
pub const RESPONSES_4XX: &str = "Responses4xx";
/// 1 when the response is 5xx, the handler returned an error, panicked or was cancelled;
/// else 0: its average is the 5xx rate.
pub const RESPONSES_5XX: &str = "Responses5xx";
/// Items stored by `POST /items`.
pub const ITEMS_CREATED: &str = "ItemsCreated";
/// `ItemCreated` events accepted by the bus, by the `item-events` function.
pub const ITEM_EVENTS_PUBLISHED: &str = "ItemEventsPublished";
/// `ItemCreated` events still rejected after the retries.
pub const ITEM_EVENT_PUBLISH_FAILURES: &str = "ItemEventPublishFailures";
/// Entries sent again after a partial `PutEvents` failure.
pub const ITEM_EVENT_PUBLISH_RETRIES: &str = "ItemEventPublishRetries";
/// Stream records in one batch handed to the `item-events` function.
pub const ITEM_EVENTS_BATCH_SIZE: &str = "ItemEventsBatchSize";
/// Milliseconds from a stream record's `ApproximateCreationDateTime` to its event's publication.
pub const ITEM_EVENT_LAG: &str = "ItemEventLag";
/// Store requests throttled (DynamoDB `ProvisionedThroughputExceeded`, `ThrottlingException`).
pub const STORE_THROTTLES: &str = "StoreThrottles";
/// Configuration or secret reads that failed.
pub const CONFIG_LOAD_FAILURES: &str = "ConfigLoadFailures";

const fn spec(
    name: &'static str,
    unit: Unit,
    kind: Kind,
    emitted_by: Emitter,
    description: &'static str,
) -> MetricSpec {
    MetricSpec {
        name,
        unit,
        kind,
        resolution: Resolution::Standard,
        emitted_by,
        description,
    }
}

/// The list. A metric missing here is still written, without a unit.
pub const ALL: &[MetricSpec] = &[
    spec(
        COLD_START,
        Unit::Count,
        Kind::Counter,
        Emitter::Telemetry,
        "first invocation of a process",
    ),
    spec(
        REQUESTS,
        Unit::Count,
        Kind::Counter,
        Emitter::Telemetry,
        "invocations handled",
    ),
    spec(
        REQUEST_LATENCY,
        Unit::Milliseconds,
        Kind::Histogram,
        Emitter::Telemetry,
        "handler latency",
    ),
    spec(
        RESPONSES_4XX,
        Unit::Count,
        Kind::Counter,
        Emitter::Telemetry,
        "responses with a 4xx status (0 or 1 per invocation)",
    ),
    spec(
        RESPONSES_5XX,
        Unit::Count,
        Kind::Counter,
        Emitter::Telemetry,
        "5xx responses, handler errors, panics and cancellations (0 or 1 per invocation)",
    ),
    spec(
        ITEMS_CREATED,
        Unit::Count,
        Kind::Counter,
        Emitter::Functions,
        "items stored",
    ),
    spec(
        ITEM_EVENTS_PUBLISHED,
        Unit::Count,
        Kind::Counter,
        Emitter::ItemEvents,
        "ItemCreated events accepted by the bus",
    ),
    spec(
        ITEM_EVENT_PUBLISH_FAILURES,
        Unit::Count,
        Kind::Counter,
        Emitter::ItemEvents,
        "ItemCreated events not published after retries",
    ),
    spec(
        ITEM_EVENT_PUBLISH_RETRIES,
        Unit::Count,
        Kind::Counter,
        Emitter::ItemEvents,
        "PutEvents entries retried",
    ),
    spec(
        ITEM_EVENTS_BATCH_SIZE,
        Unit::Count,
        Kind::Histogram,
        Emitter::ItemEvents,
        "stream records per item-events batch",
    ),
    spec(
        ITEM_EVENT_LAG,
        Unit::Milliseconds,
        Kind::Histogram,
        Emitter::ItemEvents,
        "stream record creation to event publication",
    ),
    spec(
        STORE_THROTTLES,
        Unit::Count,
        Kind::Counter,
        Emitter::Functions,
        "store requests throttled",
    ),
    spec(
        CONFIG_LOAD_FAILURES,
        Unit::Count,
        Kind::Counter,
        Emitter::Functions,
        "configuration or secret reads that failed",
    ),
];

/// The spec of `name`, if it is in [`ALL`].
pub fn find(name: &str) -> Option<&'static MetricSpec> {
    ALL.iter().find(|spec| spec.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_valid_cloudwatch_names() {
        for (i, spec) in ALL.iter().enumerate() {
            assert!(
                ALL[i + 1..].iter().all(|other| other.name != spec.name),
                "{} twice",
                spec.name
            );
            assert!((1..=255).contains(&spec.name.len()), "{}", spec.name);
            assert!(
                spec.name.bytes().all(|b| b.is_ascii_alphanumeric()),
                "{}",
                spec.name
            );
            assert_eq!(find(spec.name), Some(spec));
        }
        assert_eq!(find("NotAMetric"), None);
    }
}
