//! X-Ray traces: `tracing` spans become subsegments of the Lambda's trace.
//!
//! tracing-opentelemetry turns spans into OpenTelemetry spans; opentelemetry-aws's
//! `XrayExporter` turns those into segment documents and its `XrayDaemonClient` sends each
//! over UDP (`{"format": "json", "version": 1}` then the document) when its span ends. The
//! sampler is parent-based and off for roots: a span is exported only inside an invocation
//! whose trace header says `Sampled=1`, so an unsampled invocation sends nothing and spans
//! outside invocations (the runtime's own, a local gateway's) cost no UDP packet.
//!
//! Spans are exported one by one as they end, by the SDK's simple processor, not batched:
//! Lambda freezes the process when the invocation returns, which would strand a batch, and
//! one non-blocking UDP send per span costs less than a batch thread and its flush per
//! invocation.
//!
//! Most invocations are not sampled (X-Ray's default rule: one a second and 5 % of the
//! rest). Their spans never reach the trace layer: the request layer reads `Sampled=` from
//! the header and sets a thread-local around each poll, as it does for the metrics
//! recorder, and the layer's filter lets spans through only while it is set. An unsampled
//! invocation thus pays for no OpenTelemetry span at all.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{SpanContext, Status, TraceContextExt, TracerProvider as _};
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_aws::trace::xray_propagator::span_context_from_str;
use opentelemetry_aws::xray_exporter::daemon_client::XrayDaemonClient;
use opentelemetry_aws::xray_exporter::{SegmentTranslator, XrayExporter};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Span, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::DynFilterFn;
use tracing_subscriber::registry::LookupSpan;

/// Set once a trace layer exists: the request layer skips all trace work until then.
static ENABLED: AtomicBool = AtomicBool::new(false);

pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

thread_local! {
    /// Set while a sampled invocation's code runs on this thread.
    static SAMPLED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the code running now belongs to a sampled invocation.
fn sampled_now() -> bool {
    SAMPLED.get()
}

/// Runs `f` as part of a sampled invocation when `sampled`.
pub(crate) fn in_scope<T>(sampled: bool, f: impl FnOnce() -> T) -> T {
    if !sampled {
        return f();
    }
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SAMPLED.set(self.0);
        }
    }
    let _restore = Restore(SAMPLED.replace(true));
    f()
}

/// Span fields that become X-Ray annotations (searchable in the console, and how a trace
/// is found by request id: API Gateway's, or Lambda's for invocations that are not requests).
const ANNOTATED: [&str; 4] = [
    "request_id",
    "function_request_id",
    "cold_start",
    "aws.resource",
];

/// Where to send segments, from the environment: `AWS_XRAY_DAEMON_ADDRESS` (`host:port`, or
/// the SDKs' `tcp:… udp:…` form), else the default daemon address on Lambda, else nowhere:
/// off the platform and without a daemon, tracing costs nothing.
pub fn daemon_from_env() -> Option<SocketAddr> {
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    daemon_address(
        std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok().as_deref(),
        on_lambda,
    )
}

fn daemon_address(setting: Option<&str>, on_lambda: bool) -> Option<SocketAddr> {
    let setting = setting.map(str::trim).filter(|s| !s.is_empty());
    let Some(setting) = setting else {
        return on_lambda.then_some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2000));
    };
    let udp = setting
        .split_whitespace()
        .find_map(|part| part.strip_prefix("udp:"))
        .unwrap_or(setting);
    udp.to_socket_addrs().ok()?.next()
}

/// The trace layer alone, sending segments to the daemon at `daemon`, for composing a
/// subscriber (as [`crate::init`] does) or in tests.
///
/// Spans at INFO or above become subsegments (the AWS SDK's own spans are at DEBUG and
/// TRACE), except lambda_runtime's; ERROR events mark their span as failed.
pub fn xray_layer<S>(daemon: SocketAddr) -> std::io::Result<impl Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
{
    let translator = SegmentTranslator::new().with_indexed_attrs(ANNOTATED.map(String::from));
    let exporter = XrayExporter::new(XrayDaemonClient::new(daemon)?).with_translator(translator);
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)))
        .with_id_generator(XrayIdGenerator::default())
        .build();
    let tracer = provider.tracer("telemetry");
    ENABLED.store(true, Ordering::Relaxed);
    Ok(tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // Attributes X-Ray would not show anyway, and per-span bookkeeping nobody reads.
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        // Parents come from the tracing span tree; no OpenTelemetry context to attach on
        // every enter.
        .with_context_activation(false)
        .with_filter(
            DynFilterFn::new(|meta, _| sampled_now() && (meta.is_span() || is_error(meta)))
                .with_callsite_filter(|meta| {
                    if traceable(meta) {
                        Interest::sometimes()
                    } else {
                        Interest::never()
                    }
                })
                .with_max_level_hint(LevelFilter::INFO),
        ))
}

fn is_error(meta: &Metadata<'_>) -> bool {
    *meta.level() == Level::ERROR
}

/// Call sites whose spans (or, for ERROR events, marks) can reach a trace.
fn traceable(meta: &Metadata<'_>) -> bool {
    if meta.is_span() {
        *meta.level() <= Level::INFO && !meta.target().starts_with("lambda_runtime")
    } else {
        is_error(meta)
    }
}

/// The parent of an invocation's spans, from its trace header (`Root=…;Parent=…;Sampled=…`),
/// else `_X_AMZN_TRACE_ID` (Lambda's, per invocation). `None` when there is none or it is
/// not sampled: then nothing is sent.
pub(crate) fn sampled_parent(header: Option<&str>) -> Option<SpanContext> {
    let from_env;
    let header = match header {
        Some(h) => h,
        None => {
            from_env = std::env::var("_X_AMZN_TRACE_ID").ok()?;
            &from_env
        }
    };
    // Most invocations are not sampled: their header needs no parsing (4.7k instructions
    // an invocation, an eighth of what the telemetry costs one).
    if header.split(';').any(|part| part.trim() == "Sampled=0") {
        return None;
    }
    let parent = span_context_from_str(header)?;
    parent.is_sampled().then_some(parent)
}

/// Makes `span` (the invocation's, created in a sampled scope) a child of `parent`.
pub(crate) fn join(span: &Span, parent: SpanContext) {
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
}

/// Marks the invocation's subsegment with its HTTP status: 4xx as an error, 429 as a
/// throttle, 5xx (and `None`: an error, a panic) as a fault.
pub(crate) fn record_status(span: &Span, status: Option<u16>) {
    if let Some(status) = status {
        if status < 400 {
            return;
        }
        span.set_attribute("http.response.status_code", i64::from(status));
    }
    span.set_status(Status::error(""));
}

/// Opens the span of one AWS call: a subsegment named after the service, in the `aws`
/// namespace, with the operation and the resource (table, bus, secret). Instrument the
/// call's future with it:
///
/// ```no_run
/// # async fn put() {
/// use tracing::Instrument;
/// let table = "items";
/// let result = async { /* client.put_item()…send().await */ }
///     .instrument(telemetry::aws_span("DynamoDB", "PutItem", table))
///     .await;
/// # }
/// ```
///
/// A failed call: log it with `tracing::error!` inside the span, or call
/// [`aws_call_failed`]; either marks the subsegment as failed.
pub fn aws_span(service: &'static str, operation: &'static str, resource: &str) -> Span {
    let span = tracing::info_span!(
        "aws",
        otel.kind = "client",
        aws.service = service,
        aws.operation = operation,
        aws.resource = resource,
    );
    if sampled_now() && service == "DynamoDB" {
        // X-Ray shows `aws.table_name` for DynamoDB; set on the trace only, not on log lines.
        span.set_attribute("aws.table.name", resource.to_owned());
    }
    span
}

/// Marks an AWS call's span as failed: `Some(429)` (or another 4xx) as a throttle or an
/// error, anything else as a fault. The status is the service's HTTP status when known.
pub fn aws_call_failed(span: &Span, http_status: Option<u16>) {
    if sampled_now() {
        record_status(span, http_status.or(Some(500)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_address_setting() {
        let local = |port| Some(SocketAddr::from(([127, 0, 0, 1], port)));
        assert_eq!(daemon_address(None, false), None);
        assert_eq!(daemon_address(Some(" "), false), None);
        assert_eq!(daemon_address(None, true), local(2000));
        assert_eq!(daemon_address(Some("127.0.0.1:3000"), false), local(3000));
        assert_eq!(
            daemon_address(Some("tcp:127.0.0.1:2000 udp:127.0.0.1:2001"), true),
            local(2001)
        );
        assert_eq!(daemon_address(Some("not an address"), true), None);
    }
}
