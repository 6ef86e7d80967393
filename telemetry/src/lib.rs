//! Telemetry for every function: one set-up call and one per-invocation layer.
//!
//! - [`init`] installs the global `tracing` subscriber: one JSON object per line on stdout
//!   (`timestamp`, `level`, `service`, `target`, `message`, the event's fields and the fields
//!   of its enclosing spans, all at the top level), values of [`REDACTED_FIELDS`] hidden; the
//!   X-Ray trace layer when a daemon is there (on Lambda, or `AWS_XRAY_DAEMON_ADDRESS` set);
//!   the `metrics` recorder; a panic hook that writes panics as JSON lines.
//! - [`RequestLayer`] wraps the router: every line of a request carries `request_id`,
//!   `function_request_id`, `xray_trace_id` and `cold_start` (lines written by its future and
//!   what it calls; a task it spawns is not the request's, and its lines carry no ids), and the
//!   request ends with one summary line, `request completed` (`method`, `route`, `path`,
//!   `status`, `latency_ms`; `max_memory_mb`, the process's peak resident set; on the cold start
//!   `init_ms`, from the process's start to its first invocation), or `request failed` (with
//!   `error`) or `request cancelled`. Its metrics, the handler's and the standard ones of
//!   [`metric_names`], are written once as CloudWatch EMF when it ends, even on error, panic or
//!   cancellation: the document with the `service` dimension alone is the summary line itself
//!   (its `_aws` metadata and metric values are members of it), so a request that goes well
//!   writes one line. Warnings and errors it logs are lines of their own; a document with
//!   other dimensions (labels, the cold start's `ColdStart`) too. The summary line goes out
//!   with the metrics (stdout, or the layer's metrics output); where the log level leaves it
//!   out, the document is written alone.
//! - [`InvocationLayer`] is its sibling for functions that are not HTTP (`LambdaEvent<T>`):
//!   the same, with `function_request_id` in place of `request_id` and an
//!   `invocation completed` line.
//! - [`RequestIds`] gives handlers the same ids, read the same way.
//!
//! **Metrics**: record through the `metrics` facade with names from [`metric_names`], e.g.
//! `metrics::counter!(telemetry::metric_names::ITEMS_CREATED).increment(1)`. Labels become
//! dimensions next to `service`; request ids are properties, never dimensions. Record inside
//! the request's future (not in a spawned task, and without keeping handles across requests).
//! A name, label or value that CloudWatch would refuse is refused when recorded, with one
//! warning line, and never written (`src/emf_rules.rs`): the document keeps the rest.
//!
//! **Traces**: wrap every AWS call in [`aws_span`] (`"DynamoDB"`, `"PutItem"`, the table):
//! it becomes an X-Ray subsegment named after the service, in the `aws` namespace, with the
//! operation and resource, under the invocation's subsegment, in the trace of the Lambda's
//! `_X_AMZN_TRACE_ID`. Other spans at INFO or above become subsegments too. Mark a failed call
//! with `tracing::error!` inside its span or [`aws_call_failed`]. Unsampled invocations, and
//! processes with no daemon, send nothing.
//!
//! **Settings**, from the environment: `LOG_LEVEL` (or `RUST_LOG`) and
//! `POWERTOOLS_LOGGER_SAMPLE_RATE` for logs; `POWERTOOLS_METRICS_NAMESPACE` (or
//! `METRICS_NAMESPACE`, default `ItemsApi`) for metrics; `AWS_XRAY_DAEMON_ADDRESS` and, on
//! Lambda, `AWS_LAMBDA_FUNCTION_NAME` and `_X_AMZN_TRACE_ID` for traces.
//!
//! ```no_run
//! # async fn run(router: tower::util::BoxCloneService<lambda_http::Request, lambda_http::Response<lambda_http::Body>, std::convert::Infallible>) {
//! telemetry::init("items");
//! let app = tower::Layer::layer(&telemetry::RequestLayer::new(), router);
//! # let _ = app;
//! # }
//! ```

mod emf;
mod emf_rules;
mod filter;
mod format;
mod invocation;
mod json;
mod lifecycle;
pub mod metric_names;
mod process;
mod recorder;
mod redaction;
mod request;
mod sampling;
mod trace_header;
mod xray;

use std::net::SocketAddr;
use std::sync::Once;

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use format::{JsonLines, NoFields, SpanFieldsLayer};
pub use invocation::{InvocationFuture, InvocationLayer, InvocationService};
pub use json::string as json_string;
pub use recorder::STORAGE_RESOLUTION_LABEL;
pub use redaction::{REDACTED, REDACTED_FIELDS, is_redacted};
pub use request::{RequestIds, RequestLayer, RequestService, ResponseFuture};
pub use trace_header::trace_root;
pub use xray::{aws_call_failed, aws_span, daemon_from_env, xray_layer};

/// Sets up telemetry for `service`: JSON lines on stdout, the metrics recorder, and X-Ray
/// traces when [`daemon_from_env`] finds a daemon.
///
/// The level comes from `LOG_LEVEL` (DEBUG, INFO, WARN, ERROR, any case), else `RUST_LOG`
/// (`EnvFilter` syntax), else INFO; it filters log lines only, never trace spans.
/// `POWERTOOLS_LOGGER_SAMPLE_RATE` (0 to 1) makes that share of invocations, picked when
/// each starts, log at DEBUG too. Only the first call in a process does anything.
pub fn init(service: &str) {
    init_with(service, std::io::stdout, daemon_from_env());
}

/// [`init`], writing lines to `make_writer` instead of stdout (tests capture them this way).
pub fn init_with_writer<W>(service: &str, make_writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    init_with(service, make_writer, daemon_from_env());
}

/// [`init`], sending trace segments to the X-Ray daemon at `daemon` (a local stand-in, say)
/// whatever the environment says.
pub fn init_with_xray_daemon(service: &str, daemon: SocketAddr) {
    init_with(service, std::io::stdout, Some(daemon));
}

/// [`init_with_xray_daemon`], writing lines to `make_writer` (to stdout and a log store,
/// say).
pub fn init_with_writer_and_xray_daemon<W>(service: &str, make_writer: W, daemon: SocketAddr)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    init_with(service, make_writer, Some(daemon));
}

fn init_with<W>(service: &str, make_writer: W, daemon: Option<SocketAddr>)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer as _;
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = recorder::SERVICE.set(service.into());
        recorder::install_global();
        let (filter, mut problems) = filter::from_env();
        match sampling::rate_from_env() {
            Ok(rate) => sampling::set_rate(rate),
            Err(problem) => problems.push(problem),
        }
        let mut daemon_problem = None;
        let traces = daemon.and_then(|addr| {
            xray_layer(addr)
                .map_err(|e| daemon_problem = Some(format!("X-Ray daemon {addr}: {e}")))
                .ok()
        });
        // The level filters the log lines only: a span must reach the trace layer
        // whatever LOG_LEVEL says.
        let installed = tracing_subscriber::registry()
            .with(layer(service, make_writer).with_filter(sampling::Sampled(filter)))
            .with(traces)
            .try_init();
        // Err when another subscriber was installed first: then that one stays in charge.
        if installed.is_ok() {
            install_panic_hook();
        }
        for problem in problems {
            tracing::warn!(problem, "log level setting ignored");
        }
        if let Some(problem) = daemon_problem {
            tracing::warn!(problem, "traces off");
        }
    });
}

/// Writes a panic as an ERROR line (message, location) instead of the default text on
/// stderr: inside a request it carries the request's ids like every other line. When
/// ERROR lines are filtered out, the default report is kept so that no panic goes unseen.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !tracing::enabled!(tracing::Level::ERROR) {
            return default(info);
        }
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a non-string payload");
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        tracing::error!(panic = message, location, "panicked");
    }));
}

/// Writes, as EMF, the metrics recorded outside any request since the last request ended
/// (at start-up, in spawned tasks), e.g. before a process exits. Requests flush their own.
pub fn flush_metrics() {
    recorder::flush_outside(&recorder::Config::from_env());
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
