//! The log line: one flat JSON object per event.
//!
//! tracing-subscriber's own JSON formatter nests span fields under `span` and `spans`.
//! The log contract wants them at the top level: CloudWatch Logs Insights discovers
//! top-level keys only, so `request_id` nested in `spans[0]` could not be filtered on.
//! Hence [`SpanFieldsLayer`] keeps each span's fields already encoded as JSON, and
//! [`JsonLines`] copies them next to the event's own fields, with no parsing per line.

use std::cell::{Cell, RefCell};
use std::fmt::{self, Write};
use std::ops::Range;
use std::sync::Arc;

use time::OffsetDateTime;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::json::{self, Fields, Sink};
use crate::trace_header::trace_root;

/// Names already written on a line, so that a name appears once: JSON readers disagree
/// on duplicate keys. A line has a few dozen names at most: a list is enough.
#[derive(Default)]
struct Seen(Vec<&'static str>);

impl Seen {
    /// True when `name` was not written yet (and now counts as written).
    fn insert(&mut self, name: &'static str) -> bool {
        let new = !self.0.contains(&name);
        if new {
            self.0.push(name);
        }
        new
    }
}

/// Keys every line starts with; an event or span field of the same name is left out
/// rather than written twice.
const FIXED_KEYS: &[&str] = &["timestamp", "level", "service", "target"];

/// lambda_runtime opens a span per invocation with camelCase names. Renamed to the
/// contract's names, lines the runtime writes outside our request span (its own error
/// reports) still carry the ids; inside it, [`crate::RequestLayer`]'s span wins.
const RUNTIME_TARGET: &str = "lambda_runtime";
const RUNTIME_FIELDS: &[(&str, &str)] = &[
    ("requestId", "function_request_id"),
    ("xrayTraceId", "xray_trace_id"),
    ("tenantId", "tenant_id"),
];

/// Formats events as the contract's JSON lines.
#[derive(Debug)]
pub(crate) struct JsonLines {
    /// `,"service":"…"`, encoded once.
    service: Box<str>,
}

impl JsonLines {
    pub(crate) fn new(service: &str) -> Self {
        let mut encoded = String::with_capacity(service.len() + 16);
        let _ =
            json::key(&mut encoded, "service").and_then(|()| json::string(&mut encoded, service));
        Self {
            service: encoded.into_boxed_str(),
        }
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut out: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // Put together in a `String` and handed over in one write: `Writer` reaches its
        // buffer through a `dyn fmt::Write`, a call per piece.
        let mut line = String::with_capacity(512);
        if HOLD.with(|hold| hold.replace(false)) {
            // The invocation's summary: kept for its EMF document, written with it.
            let (seen, service) = self.write_line(ctx, &mut line, event, true)?;
            let held = HeldLine {
                text: line,
                keys: seen.0,
                service,
            };
            HELD.with(|cell| {
                if let Ok(mut cell) = cell.try_borrow_mut() {
                    *cell = Some(held);
                }
            });
            return Ok(());
        }
        self.write_line(ctx, &mut line, event, false)?;
        line.push_str("}\n");
        out.write_str(&line)
    }
}

/// The summary line of an invocation, held back from the log writer and written as the
/// start of the invocation's EMF document: one line a request rather than two, its ids and
/// `service` written once ([`crate::recorder::flush`]).
pub(crate) struct HeldLine {
    /// The line without its closing `}` and newline.
    pub text: String,
    /// The names on the line.
    pub keys: Vec<&'static str>,
    /// Where `,"service":"…"` is in `text`.
    service: Range<usize>,
}

impl HeldLine {
    /// The `service` member as written on the line (`,"service":"…"`).
    pub fn service(&self) -> &str {
        &self.text[self.service.clone()]
    }

    pub fn has(&self, key: &str) -> bool {
        self.keys.contains(&key)
    }
}

thread_local! {
    /// Set while the summary line is written: the next line this thread formats is held.
    static HOLD: Cell<bool> = const { Cell::new(false) };
    static HELD: RefCell<Option<HeldLine>> = const { RefCell::new(None) };
}

/// Runs `f`, which writes the invocation's summary line, and returns that line held back
/// from the log writer; `None` when no line was written (filtered out by the log level, or
/// the subscriber is not this crate's).
pub(crate) fn hold_line<T>(f: impl FnOnce() -> T) -> (T, Option<HeldLine>) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            HOLD.with(|hold| hold.set(false));
        }
    }
    HOLD.with(|hold| hold.set(true));
    let reset = Reset;
    let out = f();
    drop(reset);
    let held = HELD.with(|cell| cell.try_borrow_mut().ok().and_then(|mut c| c.take()));
    (out, held)
}

impl JsonLines {
    /// Writes the line without its closing `}`; returns the names written and where the
    /// `service` member is. A `summary` line has no `target`: it is always this crate's.
    fn write_line<S, N>(
        &self,
        ctx: &FmtContext<'_, S, N>,
        out: &mut String,
        event: &Event<'_>,
        summary: bool,
    ) -> Result<(Seen, Range<usize>), fmt::Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        let meta = event.metadata();
        out.write_str("{\"timestamp\":\"")?;
        timestamp(out, OffsetDateTime::now_utc())?;
        write!(out, "\",\"level\":\"{}\"", meta.level().as_str())?;
        with_request(|request| {
            let service = request.and_then(|r| r.service.as_deref());
            let service_start = out.len();
            out.write_str(service.unwrap_or(&self.service))?;
            let service = service_start..out.len();
            if !summary {
                json::key(out, "target")?;
                json::string(out, meta.target())?;
            }

            let mut seen = Seen(Vec::with_capacity(32));
            seen.0.extend_from_slice(FIXED_KEYS);
            let mut fields = Fields::new(LineSink {
                out: &mut *out,
                seen: &mut seen,
            });
            event.record(&mut fields);
            fields.result?;
            if seen.insert("message") {
                out.write_str(",\"message\":\"\"")?;
            }
            // The request's ids before any span's: they shadow the runtime span's.
            if let Some(request) = request {
                write_fields(out, &mut seen, &request.fields)?;
            }
            Self::write_spans(ctx, out, &mut seen)?;
            Ok((seen, service))
        })
    }

    fn write_spans<S, N>(
        ctx: &FmtContext<'_, S, N>,
        out: &mut impl Write,
        seen: &mut Seen,
    ) -> fmt::Result
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        // Innermost span first, so that an inner value shadows an outer one.
        if let Some(scope) = ctx.event_scope() {
            for span in scope {
                let extensions = span.extensions();
                if let Some(stored) = extensions.get::<SpanFields>() {
                    write_fields(out, seen, stored)?;
                }
            }
        }
        Ok(())
    }
}

/// Each of `stored`'s fields not written yet.
fn write_fields(out: &mut impl Write, seen: &mut Seen, stored: &SpanFields) -> fmt::Result {
    for (name, value) in stored.iter() {
        if seen.insert(name) {
            json::key(out, name)?;
            out.write_str(value)?;
        }
    }
    Ok(())
}

/// What the lines written while a request runs carry: its ids, and the function's service
/// where its layer names one (a process may serve several functions under one subscriber).
/// Held for the thread while the request's code runs, as the metrics recorder is, rather
/// than in a span: a span per request costs its creation, its closing and a lookup per line,
/// and is made only for a request whose trace is sampled (it is the trace's subsegment).
#[derive(Debug, Default)]
pub(crate) struct RequestFields {
    /// `,"service":"…"` (from [`encoded_service`]), when the layer names one.
    service: Option<Arc<str>>,
    fields: SpanFields,
    /// Where `fields`' values hold a field written with its key (`,"name":"…"`), for the
    /// EMF document's properties: encoded once for both.
    property: Range<usize>,
}

/// `,"service":"…"`, as a line carries it: encoded once per layer, copied into each request's
/// fields.
pub(crate) fn encoded_service(service: &str) -> Arc<str> {
    Arc::from(JsonLines::new(service).service)
}

impl RequestFields {
    /// Room for `fields` fields and `bytes` bytes of values, made once.
    pub(crate) fn new(service: Option<Arc<str>>, fields: usize, bytes: usize) -> Self {
        Self {
            service,
            fields: SpanFields {
                values: String::with_capacity(bytes),
                fields: Vec::with_capacity(fields),
            },
            property: 0..0,
        }
    }

    /// Adds a field, as [`RequestFields::push`] does, that is also the EMF property.
    pub(crate) fn push_property(
        &mut self,
        name: &'static str,
        value: impl FnOnce(&mut String) -> fmt::Result,
    ) -> fmt::Result {
        let start = self.fields.values.len();
        json::key(&mut self.fields.values, name)?;
        self.push(name, value)?;
        self.property = start..self.fields.values.len();
        Ok(())
    }

    /// The EMF property (`,"name":"…"`), empty when none was pushed.
    pub(crate) fn property(&self) -> &str {
        &self.fields.values[self.property.clone()]
    }

    /// Adds a field, its value written as JSON by `value`.
    pub(crate) fn push(
        &mut self,
        name: &'static str,
        value: impl FnOnce(&mut String) -> fmt::Result,
    ) -> fmt::Result {
        let start = self.fields.values.len();
        value(&mut self.fields.values)?;
        let range = start..self.fields.values.len();
        self.fields.fields.push((name, range));
        Ok(())
    }
}

thread_local! {
    /// The fields of the request whose code runs on this thread now.
    static REQUEST: RefCell<Option<Arc<RequestFields>>> = const { RefCell::new(None) };
}

/// Runs `f` with `request`'s fields on the lines it writes.
pub(crate) fn in_request<T>(request: &Arc<RequestFields>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<RequestFields>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            REQUEST.with(|r| {
                if let Ok(mut r) = r.try_borrow_mut() {
                    *r = previous;
                }
            });
        }
    }
    // Not replaced while a line is being written on this thread (the code runs inside it).
    let replaced = REQUEST.with(|r| {
        r.try_borrow_mut()
            .ok()
            .map(|mut r| r.replace(Arc::clone(request)))
    });
    let _restore = replaced.map(Restore);
    f()
}

fn with_request<T>(f: impl FnOnce(Option<&RequestFields>) -> T) -> T {
    REQUEST.with(|r| match r.try_borrow() {
        Ok(request) => f(request.as_deref()),
        Err(_) => f(None),
    })
}

/// RFC 3339, UTC, milliseconds: `2026-11-21T09:15:02.123Z`.
fn timestamp(out: &mut impl Write, t: OffsetDateTime) -> fmt::Result {
    write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond(),
    )
}

/// Event fields go straight onto the line, each name once.
struct LineSink<'a, W> {
    out: &'a mut W,
    seen: &'a mut Seen,
}

impl<W: Write> Sink for LineSink<'_, W> {
    type Out = W;

    fn begin(&mut self, name: &'static str) -> Option<&mut W> {
        if !self.seen.insert(name) {
            return None;
        }
        json::key(self.out, name).ok()?;
        Some(self.out)
    }
}

/// A span's fields, values already JSON-encoded, kept in the span's extensions.
/// One buffer for all values: a span costs two allocations, whatever its field count.
#[derive(Debug, Default)]
pub(crate) struct SpanFields {
    values: String,
    fields: Vec<(&'static str, Range<usize>)>,
}

impl SpanFields {
    fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.fields
            .iter()
            .map(|(name, range)| (*name, &self.values[range.clone()]))
    }

    fn record(&mut self, values: &impl RecordFields, runtime: bool) {
        values.record(&mut Fields::new(SpanSink {
            fields: self,
            runtime,
            current: "",
            start: 0,
        }));
    }
}

struct SpanSink<'a> {
    fields: &'a mut SpanFields,
    /// The span is lambda_runtime's: rename its fields.
    runtime: bool,
    current: &'static str,
    start: usize,
}

impl SpanSink<'_> {
    fn name(&self, name: &'static str) -> &'static str {
        if self.runtime
            && let Some((_, renamed)) = RUNTIME_FIELDS.iter().find(|(from, _)| *from == name)
        {
            return renamed;
        }
        name
    }
}

impl Sink for SpanSink<'_> {
    type Out = String;

    fn begin(&mut self, name: &'static str) -> Option<&mut String> {
        self.current = self.name(name);
        self.start = self.fields.values.len();
        Some(&mut self.fields.values)
    }

    fn end(&mut self) {
        // A value recorded again replaces the old one (whose bytes stay unused in the buffer).
        let range = self.start..self.fields.values.len();
        match self
            .fields
            .fields
            .iter_mut()
            .find(|(n, _)| *n == self.current)
        {
            Some((_, old)) => *old = range,
            None => self.fields.fields.push((self.current, range)),
        }
    }

    fn str_value<'v>(&self, name: &'static str, value: &'v str) -> &'v str {
        // The runtime's span holds the whole X-Ray header; the contract logs the trace id.
        if self.name(name) == "xray_trace_id" {
            trace_root(value)
        } else {
            value
        }
    }
}

/// Stores every span's fields as [`SpanFields`] for [`JsonLines`].
#[derive(Debug, Default)]
pub(crate) struct SpanFieldsLayer;

fn is_runtime(target: &str) -> bool {
    target.starts_with(RUNTIME_TARGET)
}

impl<S> tracing_subscriber::Layer<S> for SpanFieldsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = SpanFields::default();
        fields.record(attrs, is_runtime(attrs.metadata().target()));
        if !fields.fields.is_empty() {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let runtime = is_runtime(span.metadata().target());
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            fields.record(values, runtime);
        } else {
            let mut fields = SpanFields::default();
            fields.record(values, runtime);
            extensions.insert(fields);
        }
    }
}

/// Span fields for the fmt layer's own storage: nothing, as [`SpanFieldsLayer`] keeps them
/// in the form the lines need; formatting them twice would cost every span.
#[derive(Debug, Default)]
pub(crate) struct NoFields;

impl<'w> FormatFields<'w> for NoFields {
    fn format_fields<R: RecordFields>(&self, _: Writer<'w>, _: R) -> fmt::Result {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_rfc3339_utc_millis() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_763_716_502_123_456_789).unwrap();
        for (t, expected) in [
            (t, "2025-11-21T09:15:02.123Z"),
            (
                t + time::Duration::milliseconds(900),
                "2025-11-21T09:15:03.023Z",
            ),
        ] {
            let mut out = String::new();
            timestamp(&mut out, t).unwrap();
            assert_eq!(out, expected);
        }
    }
}
