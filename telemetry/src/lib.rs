//! Telemetry for every function: one set-up call and one per-invocation layer.
//!
//! - [`init`] installs the global `tracing` subscriber: one JSON object per line on stdout
//!   (`timestamp`, `level`, `service`, `target`, `message`, the event's fields and the fields
//!   of its enclosing spans, all at the top level), values of [`REDACTED_FIELDS`] hidden.
//! - [`RequestLayer`] wraps the router: every line of a request carries `request_id`,
//!   `function_request_id`, `xray_trace_id` and `cold_start`, and the request ends with one
//!   `request completed` line (method, route, path, status, latency_ms).
//! - [`RequestIds`] gives handlers the same ids, read the same way.
//!
//! ```no_run
//! # async fn run(router: tower::util::BoxCloneService<lambda_http::Request, lambda_http::Response<lambda_http::Body>, std::convert::Infallible>) {
//! telemetry::init("items");
//! let app = tower::Layer::layer(&telemetry::RequestLayer::new(), router);
//! # let _ = app;
//! # }
//! ```

mod filter;
mod format;
mod json;
mod request;

use std::sync::Once;

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use format::{JsonLines, NoFields, SpanFieldsLayer};
pub use json::{REDACTED, REDACTED_FIELDS, is_redacted};
pub use request::{RequestIds, RequestLayer, RequestService, ResponseFuture};

/// Installs the global subscriber writing JSON lines to stdout for `service`.
///
/// The level comes from `LOG_LEVEL` (DEBUG, INFO, WARN, ERROR, any case), else `RUST_LOG`
/// (`EnvFilter` syntax), else INFO. Only the first call in a process does anything.
pub fn init(service: &str) {
    init_with_writer(service, std::io::stdout);
}

/// [`init`], writing lines to `make_writer` instead of stdout (tests capture them this way).
pub fn init_with_writer<W>(service: &str, make_writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let (filter, problems) = filter::from_env();
        // Err when another subscriber was installed first: then that one stays in charge.
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(layer(service, make_writer))
            .try_init();
        for problem in problems {
            tracing::warn!(problem, "log level setting ignored");
        }
    });
}

/// The JSON-lines layer alone, to stack with other layers (filters, trace exporters), or
/// under `tracing::subscriber::set_default` in tests, with a filter of their choosing.
pub fn layer<S, W>(
    service: &str,
    make_writer: W,
) -> impl tracing_subscriber::Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer as _;
    SpanFieldsLayer.and_then(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .fmt_fields(NoFields)
            .event_format(JsonLines::new(service))
            .with_writer(make_writer),
    )
}
