//! X-Ray traces: `tracing` spans become subsegments of the Lambda's trace.
//!
//! tracing-opentelemetry turns spans into OpenTelemetry spans; opentelemetry-aws's
//! `XrayExporter` turns those into segment documents and its `XrayDaemonClient` sends each
//! over UDP (`{"format": "json", "version": 1}` then the document). The sampler is
//! parent-based and off for roots: a span is exported only inside an invocation whose trace
//! header says `Sampled=1`, so an unsampled invocation sends nothing and spans outside
//! invocations (the runtime's own, a twin's gateway) cost no UDP packet.
//!
//! An invocation's spans go out as one document, as the X-Ray SDKs send a segment: the
//! invocation's subsegment with the spans inside it nested in it, sent when it ends, which
//! is before the invocation returns (Lambda freezes the process then: nothing may wait for
//! later). Its spans end before it and wait for it, by trace (a span the handler leaves
//! running keeps the invocation's open, as `tracing` keeps a parent while a child lives; both
//! go out when it ends); a span of the trace ending after the invocation's (one given
//! another parent) goes out on its own, as an independent subsegment. One datagram an
//! invocation rather than one a span: a send costs the kernel more than the document costs
//! to write, and the daemon reads one packet instead of several.
//!
//! The SDK's simple processor exports behind one lock held for the whole export:
//! invocations ending spans on two threads at once queue on it (a futex sleep and wake-up
//! each). [`PerInvocation`] holds its lock only to set spans aside or take them back; the
//! exporter sends through `&self`.
//!
//! Most invocations are not sampled (X-Ray's default rule: one a second and 5 % of the
//! rest). Their spans never reach the trace layer: the request layer reads `Sampled=` from
//! the header and sets a thread-local around each poll, as it does for the metrics
//! recorder, and the layer's filter lets spans through only while it is set. An unsampled
//! invocation thus pays for no OpenTelemetry span at all.

use std::cell::Cell;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{
    SpanContext, SpanId, Status, TraceContextExt, TraceId, TracerProvider as _,
};
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_aws::trace::xray_propagator::span_context_from_str;
use opentelemetry_aws::xray_exporter::daemon_client::XrayDaemonClient;
use opentelemetry_aws::xray_exporter::{SegmentTranslator, XrayExporter};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter, SpanProcessor};
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

/// Span fields that become X-Ray annotations (searchable in the console, and how the
/// twin finds a trace by request id).
const ANNOTATED: [&str; 3] = ["request_id", "cold_start", "aws.resource"];

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
    let translator = SegmentTranslator::new()
        .with_indexed_attrs(ANNOTATED.map(String::from))
        .always_nest_subsegments();
    let exporter = XrayExporter::new(XrayDaemonClient::new(daemon)?).with_translator(translator);
    let provider = SdkTracerProvider::builder()
        .with_span_processor(PerInvocation::new(exporter))
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

/// Exports each sampled invocation's spans when its own span (its local root: the span
/// whose parent is Lambda's, from the trace header) ends, on the thread that ends it, in one
/// batch that the translator nests into one document (see the module's notes).
#[derive(Debug)]
pub(crate) struct PerInvocation<E> {
    exporter: E,
    shut_down: AtomicBool,
    set_aside: Mutex<SetAside>,
}

/// How many traces' spans may wait at once: more would be spans whose invocation's span
/// never ends here; the oldest then go out on their own.
const WAITING_TRACES: usize = 1_024;
/// How many ended invocations are remembered, so that a span ending after its invocation
/// goes out at once rather than waiting for nothing.
const ENDED_TRACES: usize = 1_024;

#[derive(Debug, Default)]
struct SetAside {
    /// Ended spans by trace, oldest trace first.
    waiting: VecDeque<(TraceId, Vec<SpanData>)>,
    /// Traces whose invocation span ended, latest last.
    ended: VecDeque<TraceId>,
}

impl<E> PerInvocation<E> {
    pub(crate) fn new(exporter: E) -> Self {
        Self {
            exporter,
            shut_down: AtomicBool::new(false),
            set_aside: Mutex::default(),
        }
    }

    fn set_aside(&self) -> std::sync::MutexGuard<'_, SetAside> {
        self.set_aside.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SetAside {
    /// Takes `trace`'s waiting spans, and remembers that its invocation ended.
    fn take(&mut self, trace: TraceId) -> Vec<SpanData> {
        if self.ended.len() == ENDED_TRACES {
            self.ended.pop_front();
        }
        self.ended.push_back(trace);
        match self.waiting.iter().position(|(t, _)| *t == trace) {
            Some(at) => self
                .waiting
                .remove(at)
                .map(|(_, spans)| spans)
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Sets `span` aside until its invocation's span ends; gives it back when that ended
    /// already, with any trace's spans pushed out of a full list.
    fn keep(&mut self, span: SpanData) -> Vec<SpanData> {
        let trace = span.span_context.trace_id();
        if self.ended.contains(&trace) {
            return vec![span];
        }
        if let Some((_, spans)) = self.waiting.iter_mut().find(|(t, _)| *t == trace) {
            spans.push(span);
            return Vec::new();
        }
        let pushed_out = if self.waiting.len() == WAITING_TRACES {
            self.waiting
                .pop_front()
                .map(|(_, spans)| spans)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        self.waiting.push_back((trace, vec![span]));
        pushed_out
    }
}

impl<E: SpanExporter> SpanProcessor for PerInvocation<E> {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() || self.shut_down.load(Ordering::Relaxed) {
            return;
        }
        let invocation = span.parent_span_is_remote || span.parent_span_id == SpanId::INVALID;
        let batch = if invocation {
            let mut batch = self.set_aside().take(span.span_context.trace_id());
            batch.push(span);
            batch
        } else {
            self.set_aside().keep(span)
        };
        if batch.is_empty() {
            return;
        }
        // As the SDK's processor: a failed export (the daemon gone) costs this batch only.
        let _ = futures_executor::block_on(self.exporter.export(batch));
    }

    fn force_flush(&self) -> OTelSdkResult {
        let waiting: Vec<SpanData> = std::mem::take(&mut self.set_aside().waiting)
            .into_iter()
            .flat_map(|(_, spans)| spans)
            .collect();
        if !waiting.is_empty() {
            let _ = futures_executor::block_on(self.exporter.export(waiting));
        }
        self.exporter.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        let _ = self.force_flush();
        self.shut_down.store(true, Ordering::Relaxed);
        self.exporter.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.exporter.set_resource(resource);
    }
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
/// else `_X_AMZN_TRACE_ID` (Lambda's, per invocation; the twin passes the header in the
/// context instead). `None` when there is none or it is not sampled: then nothing is sent.
pub(crate) fn sampled_parent(header: Option<&str>) -> Option<SpanContext> {
    let from_env;
    let header = match header {
        Some(h) => h,
        None => {
            from_env = std::env::var("_X_AMZN_TRACE_ID").ok()?;
            &from_env
        }
    };
    // Most invocations are not sampled: their ids are never needed, so not parsed. Lambda
    // and API Gateway put the decision last: looked for there first.
    if header.ends_with(";Sampled=0") || header.split(';').any(|part| part.trim() == "Sampled=0") {
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

    use opentelemetry::trace::{SpanKind, TraceFlags, TraceState};

    fn ended(trace: u128, span: u64, parent: u64) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(span),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "span".into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::Unset,
            instrumentation_scope: Default::default(),
        }
    }

    fn ids(spans: &[SpanData]) -> Vec<u64> {
        spans
            .iter()
            .map(|s| u64::from_be_bytes(s.span_context.span_id().to_bytes()))
            .collect()
    }

    #[test]
    fn spans_wait_for_their_invocation_and_no_longer_than_it() {
        let mut set_aside = SetAside::default();
        assert!(set_aside.keep(ended(1, 11, 10)).is_empty());
        assert!(set_aside.keep(ended(2, 21, 20)).is_empty());
        assert!(set_aside.keep(ended(1, 12, 10)).is_empty());
        // Each invocation takes its own trace's spans, in the order they ended.
        assert_eq!(ids(&set_aside.take(TraceId::from(1))), [11, 12]);
        assert_eq!(ids(&set_aside.take(TraceId::from(2))), [21]);
        assert!(set_aside.take(TraceId::from(3)).is_empty());
        // After its invocation ended, a span of its trace waits for nothing.
        assert_eq!(ids(&set_aside.keep(ended(1, 13, 10))), [13]);
        // A full list lets its oldest trace's spans go.
        let mut set_aside = SetAside::default();
        for trace in 0..WAITING_TRACES as u128 {
            assert!(set_aside.keep(ended(100 + trace, 1, 2)).is_empty());
        }
        assert_eq!(ids(&set_aside.keep(ended(99, 5, 6))), [1]);
        assert_eq!(set_aside.waiting.len(), WAITING_TRACES);
        assert!(set_aside.take(TraceId::from(100)).is_empty());
        // Ended invocations are remembered up to a bound.
        for trace in 0..2 * ENDED_TRACES as u128 {
            set_aside.take(TraceId::from(5_000 + trace));
        }
        assert_eq!(set_aside.ended.len(), ENDED_TRACES);
    }

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
