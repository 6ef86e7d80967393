//! The `metrics` facade's recorder: one buffer per invocation, flushed as EMF once.
//!
//! Why a local recorder set around every poll of the handler's future (rather than one
//! global buffer): a process serving several invocations at once (a server, the tests)
//! would mix their values and the request ids they are written with in a global buffer.
//! `metrics::with_local_recorder` sets a thread-local only for the duration of a call; as
//! [`crate::RequestLayer`]'s future sets it for each poll, it follows the invocation across
//! awaits and worker threads, costs one thread-local write per poll, and needs no tokio
//! task-local. What it does not follow: a task the handler spawns (it records into the
//! process-wide buffer below, flushed at the end of the next invocation or by
//! [`crate::flush_metrics`]), and a metric handle kept from one invocation to the next (it
//! keeps writing into the finished invocation's buffer): call the macro each time.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use metrics::{
    Counter, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Label, Metadata, Recorder,
    SharedString, Unit,
};

use crate::emf::{self, Metric, Value};
use crate::emf_rules;
use crate::format::HeldLine;
use crate::metric_names::{self, Resolution};

/// A label with this key and the value `"1"` asks for `StorageResolution: 1` for the metric
/// it is on; it is not written as a dimension. Metrics of [`metric_names::ALL`] take their
/// resolution from there instead.
pub const STORAGE_RESOLUTION_LABEL: &str = "storage_resolution";

/// The `service` dimension when [`crate::init`] was not called (Powertools' default).
const UNDEFINED_SERVICE: &str = "service_undefined";
const DEFAULT_NAMESPACE: &str = "ItemsApi";

/// The service given to [`crate::init`].
pub(crate) static SERVICE: OnceLock<Box<str>> = OnceLock::new();

/// Where EMF documents go.
#[derive(Clone)]
pub(crate) enum Output {
    Stdout,
    Custom(Arc<dyn Fn(&str) + Send + Sync>),
}

impl Output {
    fn write(&self, documents: &str) {
        match self {
            // One write under the lock: documents never interleave with log lines.
            Output::Stdout => {
                let _ = std::io::stdout().lock().write_all(documents.as_bytes());
            }
            Output::Custom(f) => f(documents),
        }
    }
}

/// Namespace, service and output of one [`crate::RequestLayer`].
#[derive(Clone)]
pub(crate) struct Config {
    pub namespace: Box<str>,
    /// `None`: the service given to [`crate::init`].
    pub service: Option<Box<str>>,
    pub output: Output,
}

impl Config {
    pub fn from_env() -> Self {
        let namespace = ["POWERTOOLS_METRICS_NAMESPACE", "METRICS_NAMESPACE"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
            .map(|v| v.trim().to_owned())
            .filter(|ns| match emf_rules::namespace(ns) {
                Ok(()) => true,
                Err(rule) => {
                    emf_rules::warn_once(ns, None, rule);
                    false
                }
            })
            .map_or_else(|| DEFAULT_NAMESPACE.into(), Into::into);
        Self {
            namespace,
            service: None,
            output: Output::Stdout,
        }
    }

    /// The `service` dimension's value; a service CloudWatch would refuse as a dimension value
    /// is written as [`UNDEFINED_SERVICE`].
    fn service(&self) -> &str {
        let service = self
            .service
            .as_deref()
            .or_else(|| SERVICE.get().map(|s| &**s))
            .unwrap_or(UNDEFINED_SERVICE);
        match emf_rules::dimension_value(service) {
            Ok(()) => service,
            Err(rule) => {
                emf_rules::warn_once(emf::SERVICE, Some(service), rule);
                UNDEFINED_SERVICE
            }
        }
    }
}

/// A value of metric `name`, if CloudWatch takes it; else refused with a warning.
fn accepted(name: &KeyName, value: f64) -> bool {
    match emf_rules::value(value) {
        Ok(()) => true,
        Err(rule) => {
            emf_rules::warn_once(name.as_str(), None, rule);
            false
        }
    }
}

/// A histogram's values until the flush.
struct Values {
    name: KeyName,
    values: Mutex<Vec<f64>>,
}

impl HistogramFn for Values {
    fn record(&self, value: f64) {
        if accepted(&self.name, value) {
            self.values
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(value);
        }
    }

    fn record_many(&self, value: f64, count: usize) {
        if accepted(&self.name, value) {
            let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
            values.extend(std::iter::repeat_n(value, count));
        }
    }
}

/// A gauge: `f64` bits, as `metrics` keeps them, and a value CloudWatch would refuse is never
/// kept (the gauge keeps its last accepted value).
struct GaugeCell {
    name: KeyName,
    bits: AtomicU64,
}

impl GaugeCell {
    fn update(&self, f: impl Fn(f64) -> f64) {
        let _ = self
            .bits
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |bits| {
                let next = f(f64::from_bits(bits));
                accepted(&self.name, next).then(|| next.to_bits())
            });
    }
}

impl GaugeFn for GaugeCell {
    fn increment(&self, value: f64) {
        self.update(|v| v + value);
    }

    fn decrement(&self, value: f64) {
        self.update(|v| v - value);
    }

    fn set(&self, value: f64) {
        self.update(|_| value);
    }
}

enum Cell {
    Counter(Arc<AtomicU64>),
    Gauge(Arc<GaugeCell>),
    Histogram(Arc<Values>),
}

struct Slot {
    key: Key,
    cell: Cell,
    /// The key's labels that are dimensions: those CloudWatch accepts, in the key's order.
    dimensions: Vec<Label>,
    high_resolution: bool,
}

/// What the rules leave of a key: `None` when its name is refused.
struct Checked {
    dimensions: Vec<Label>,
    high_resolution: bool,
}

/// Holds `key` to CloudWatch's rules ([`emf_rules`]): its name, then each label, refused
/// (with a warning) past the rules or past [`emf::MAX_DIMENSIONS`] with `service`.
fn check(key: &Key) -> Option<Checked> {
    let name = key.name();
    if let Err(rule) = emf_rules::metric_name(name) {
        emf_rules::warn_once(name, None, rule);
        return None;
    }
    let mut high_resolution =
        metric_names::find(name).is_some_and(|s| s.resolution == Resolution::High);
    let mut dimensions: Vec<Label> = Vec::new();
    for label in key.labels() {
        if label.key() == STORAGE_RESOLUTION_LABEL {
            high_resolution |= label.value() == "1";
            continue;
        }
        let verdict = emf_rules::label(name, label.key(), label.value()).and_then(|()| {
            if dimensions.iter().any(|d| d.key() == label.key()) {
                Err("a label is given once")
            } else if dimensions.len() + 1 >= emf::MAX_DIMENSIONS {
                Err("at most 30 dimensions, service included")
            } else {
                Ok(())
            }
        });
        match verdict {
            Ok(()) => dimensions.push(label.clone()),
            Err(rule) => emf_rules::warn_once(name, Some(label.key()), rule),
        }
    }
    Some(Checked {
        dimensions,
        high_resolution,
    })
}

/// The metrics one invocation recorded. A `Recorder`: handles point into it.
#[derive(Default)]
pub(crate) struct Invocation {
    slots: Mutex<Vec<Slot>>,
}

impl Invocation {
    pub const fn new() -> Self {
        Self {
            slots: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` with this buffer as the recorder of the current thread.
    pub fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(self, f)
    }

    fn take(&self) -> Vec<Slot> {
        std::mem::take(&mut *self.slots.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The cell of `key`, created by `make` on first use once [`check`] accepts the key;
    /// `None` when the key is refused, or was registered as another kind (EMF could not hold
    /// both under one name).
    fn cell<T>(
        &self,
        key: &Key,
        pick: impl Fn(&Cell) -> Option<T>,
        make: impl FnOnce() -> (Cell, T),
    ) -> Option<T> {
        if let Some(slot) = self.lock().iter().find(|s| s.key == *key) {
            return pick(&slot.cell);
        }
        // Checked outside the lock: a refusal writes its warning line.
        let checked = check(key)?;
        let mut slots = self.lock();
        if let Some(slot) = slots.iter().find(|s| s.key == *key) {
            return pick(&slot.cell);
        }
        if slots.capacity() == 0 {
            slots.reserve(8);
        }
        let (cell, handle) = make();
        slots.push(Slot {
            key: key.clone(),
            cell,
            dimensions: checked.dimensions,
            high_resolution: checked.high_resolution,
        });
        Some(handle)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Recorder for Invocation {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        describe(key, unit);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        describe(key, unit);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        describe(key, unit);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.cell(
            key,
            |c| match c {
                Cell::Counter(a) => Some(Counter::from_arc(a.clone())),
                _ => None,
            },
            || {
                let a = Arc::new(AtomicU64::new(0));
                (Cell::Counter(a.clone()), Counter::from_arc(a))
            },
        )
        .unwrap_or_else(Counter::noop)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.cell(
            key,
            |c| match c {
                Cell::Gauge(a) => Some(Gauge::from_arc(a.clone())),
                _ => None,
            },
            || {
                let a = Arc::new(GaugeCell {
                    name: key.name_shared(),
                    bits: AtomicU64::new(0),
                });
                (Cell::Gauge(a.clone()), Gauge::from_arc(a))
            },
        )
        .unwrap_or_else(Gauge::noop)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.cell(
            key,
            |c| match c {
                Cell::Histogram(a) => Some(Histogram::from_arc(a.clone())),
                _ => None,
            },
            || {
                let a = Arc::new(Values {
                    name: key.name_shared(),
                    values: Mutex::default(),
                });
                (Cell::Histogram(a.clone()), Histogram::from_arc(a))
            },
        )
        .unwrap_or_else(Histogram::noop)
    }
}

/// Units given with `describe_*!` for names outside [`metric_names::ALL`].
static DESCRIBED: Mutex<Vec<(KeyName, Unit)>> = Mutex::new(Vec::new());
static ANY_DESCRIBED: AtomicBool = AtomicBool::new(false);

fn describe(key: KeyName, unit: Option<Unit>) {
    let Some(unit) = unit else { return };
    let mut described = DESCRIBED.lock().unwrap_or_else(|e| e.into_inner());
    match described.iter_mut().find(|(k, _)| *k == key) {
        Some((_, u)) => *u = unit,
        None => described.push((key, unit)),
    }
    ANY_DESCRIBED.store(true, Ordering::Relaxed);
}

fn unit_of(name: &str) -> Option<Unit> {
    if let Some(spec) = metric_names::find(name) {
        return Some(spec.unit);
    }
    if !ANY_DESCRIBED.load(Ordering::Relaxed) {
        return None;
    }
    let described = DESCRIBED.lock().unwrap_or_else(|e| e.into_inner());
    described
        .iter()
        .find(|(k, _)| k.as_str() == name)
        .map(|(_, u)| *u)
}

/// One of the layer's own metrics (from [`metric_names::ALL`]), ready for [`Flush`].
pub(crate) fn standard(name: &'static str, value: Value) -> Metric<'static> {
    Metric {
        name,
        unit: unit_of(name).and_then(emf::unit_name),
        high_resolution: false,
        value,
    }
}

/// Metrics recorded outside any invocation (start-up, spawned tasks).
static OUTSIDE: Invocation = Invocation::new();

/// The global recorder: forwards to [`OUTSIDE`].
struct Outside;

impl Recorder for Outside {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, d: SharedString) {
        OUTSIDE.describe_counter(key, unit, d);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, d: SharedString) {
        OUTSIDE.describe_gauge(key, unit, d);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, d: SharedString) {
        OUTSIDE.describe_histogram(key, unit, d);
    }

    fn register_counter(&self, key: &Key, m: &Metadata<'_>) -> Counter {
        OUTSIDE.register_counter(key, m)
    }

    fn register_gauge(&self, key: &Key, m: &Metadata<'_>) -> Gauge {
        OUTSIDE.register_gauge(key, m)
    }

    fn register_histogram(&self, key: &Key, m: &Metadata<'_>) -> Histogram {
        OUTSIDE.register_histogram(key, m)
    }
}

/// Installs the process-wide recorder for metrics recorded outside invocations, unless
/// another recorder was installed first.
pub(crate) fn install_global() {
    let _ = metrics::set_global_recorder(Outside);
}

/// What an invocation's documents carry besides the metrics the handler recorded.
pub(crate) struct Flush<'a> {
    /// `,"request_id":"…",…`, already encoded.
    pub properties: &'a str,
    /// `Some(function name)` on the cold start: a `ColdStart` document is added.
    pub cold_start: Option<&'a str>,
    /// The layer's own metrics, with the `service` dimension alone. Written as values,
    /// not through the recorder: no handle, no allocation.
    pub standard: &'a [Metric<'static>],
    /// The invocation's summary line, held back from the log writer: the document with the
    /// `service` dimension alone goes on from it (one line), or it is written before them.
    pub line: Option<&'a HeldLine>,
}

/// A summary line longer than this (a long error message, say) is written on its own rather
/// than as the start of the document: the line and the document each stay as long as they
/// were, well under CloudWatch Logs' largest event (256 KB in the `PutLogEvents` reference,
/// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html),
/// beyond which an event is cut and its EMF lost.
const MAX_MERGED_LINE: usize = 16 * 1024;

thread_local! {
    /// Reused between flushes on a thread: no allocation per invocation once warm.
    static BUFFER: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// Writes `invocation`'s metrics, and those recorded outside invocations since the last
/// flush, as EMF documents in one write.
pub(crate) fn flush(config: &Config, invocation: &Invocation, flush: &Flush<'_>) {
    let mut out = BUFFER.take();
    out.clear();
    let timestamp_ms = now_ms();
    let service = config.service();
    let cx = emf::Context {
        namespace: &config.namespace,
        timestamp_ms,
        properties: flush.properties,
    };
    if let Some(function_name) = flush.cold_start {
        // Outside Lambda there is no function name: the service alone, as then.
        let named = !function_name.is_empty()
            && emf_rules::dimension_value(function_name)
                .inspect_err(|rule| {
                    emf_rules::warn_once(metric_names::COLD_START, Some(emf::FUNCTION_NAME), rule)
                })
                .is_ok();
        let dimensions: &[(&str, &str)] = if named {
            &[(emf::FUNCTION_NAME, function_name), (emf::SERVICE, service)]
        } else {
            &[(emf::SERVICE, service)]
        };
        let cold = [Metric {
            name: metric_names::COLD_START,
            unit: Some("Count"),
            high_resolution: false,
            value: Value::Count(1),
        }];
        let _ = emf::write_documents(&mut out, &cx, dimensions, &cold);
    }
    write_slots(
        &mut out,
        &cx,
        service,
        &invocation.take(),
        flush.standard,
        flush.line,
    );
    let outside = OUTSIDE.take();
    if !outside.is_empty() {
        let cx = emf::Context {
            properties: "",
            ..cx
        };
        write_slots(&mut out, &cx, service, &outside, &[], None);
    }
    if !out.is_empty() {
        config.output.write(&out);
    }
    BUFFER.set(out);
}

/// Flushes what was recorded outside invocations, with no request ids.
pub(crate) fn flush_outside(config: &Config) {
    let outside = OUTSIDE.take();
    if outside.is_empty() {
        return;
    }
    let mut out = String::new();
    let cx = emf::Context {
        namespace: &config.namespace,
        timestamp_ms: now_ms(),
        properties: "",
    };
    write_slots(&mut out, &cx, config.service(), &outside, &[], None);
    config.output.write(&out);
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One metric ready for EMF, with its dimensions.
struct Entry<'a> {
    labels: &'a [Label],
    metric: Metric<'a>,
}

/// Writes `standard` and the metrics of `slots`: those without labels in one group with
/// the `service` dimension (the usual case: one document, going on from the summary `line`),
/// the others grouped by labels.
fn write_slots(
    out: &mut String,
    cx: &emf::Context<'_>,
    service: &str,
    slots: &[Slot],
    standard: &[Metric<'static>],
    line: Option<&HeldLine>,
) {
    let mut plain: Vec<Metric<'_>> = Vec::with_capacity(standard.len() + slots.len());
    plain.extend(standard.iter().cloned());
    let mut labelled: Vec<Entry<'_>> = Vec::new();
    for slot in slots {
        let entry = entry(slot);
        if !entry.labels.is_empty() {
            labelled.push(entry);
        } else if standard.iter().any(|m| m.name == entry.metric.name) {
            // A handler's metric named like a standard one would be a second member of
            // that name in the document: the layer's wins.
            emf_rules::warn_once(
                entry.metric.name,
                None,
                "a metric without labels is not named like one the layer writes",
            );
        } else {
            push_once(&mut plain, entry.metric);
        }
    }
    let head = line.filter(|line| merges(out, line, cx, service, &plain));
    if let Some(line) = line.filter(|_| head.is_none()) {
        out.push_str(&line.text);
        out.push_str("}\n");
    }
    let head = head.map(|line| line.text.as_str());
    let _ = emf::write_documents_onto(out, cx, head, &[(emf::SERVICE, service)], &plain);
    if labelled.is_empty() {
        return;
    }
    labelled.sort_by(|a, b| a.labels.cmp(b.labels));
    let mut dimensions: Vec<(&str, &str)> = Vec::with_capacity(4);
    let mut metrics: Vec<Metric<'_>> = Vec::with_capacity(labelled.len());
    let mut entries = labelled.into_iter().peekable();
    while let Some(first) = entries.next() {
        dimensions.clear();
        dimensions.push((emf::SERVICE, service));
        dimensions.extend(first.labels.iter().map(|l| (l.key(), l.value())));
        let labels = first.labels;
        metrics.clear();
        metrics.push(first.metric);
        while let Some(next) = entries.next_if(|e| e.labels == labels) {
            push_once(&mut metrics, next.metric);
        }
        let _ = emf::write_documents(out, cx, &dimensions, &metrics);
    }
}

/// Whether the summary `line` can begin the document of `plain` (dimension `service`): there
/// is a document, the line is not too long, it holds the `service` member with the
/// document's value and the request's id property, and none of its names is a metric's
/// (a JSON object has one member of a name). `scratch` is where the service is encoded for
/// the comparison, and left as it was.
fn merges(
    scratch: &mut String,
    line: &HeldLine,
    cx: &emf::Context<'_>,
    service: &str,
    plain: &[Metric<'_>],
) -> bool {
    if plain.is_empty() || line.text.len() > MAX_MERGED_LINE {
        return false;
    }
    // `,"name":…`: the property's name.
    let property = cx.properties.get(2..).and_then(|p| p.split('"').next());
    if property.is_some_and(|name| !line.has(name)) {
        return false;
    }
    let start = scratch.len();
    let _ = crate::json::key(scratch, emf::SERVICE)
        .and_then(|()| crate::json::string(scratch, service));
    let same_service = scratch[start..] == *line.service();
    scratch.truncate(start);
    same_service && plain.iter().all(|m| !line.has(m.name))
}

/// Adds `metric` to a document's metrics unless one of that name is there: keys that differ
/// only in refused labels or `storage_resolution` share a name and dimensions, and a second
/// member of one name would make CloudWatch drop the document. The first recorded is kept.
fn push_once<'a>(metrics: &mut Vec<Metric<'a>>, metric: Metric<'a>) {
    if metrics.iter().any(|m| m.name == metric.name) {
        emf_rules::warn_once(
            metric.name,
            None,
            "a metric is written once per set of dimensions",
        );
    } else {
        metrics.push(metric);
    }
}

fn entry(slot: &Slot) -> Entry<'_> {
    let name = slot.key.name();
    let value = match &slot.cell {
        Cell::Counter(a) => Value::Count(a.load(Ordering::Relaxed)),
        Cell::Gauge(g) => Value::Number(f64::from_bits(g.bits.load(Ordering::Relaxed))),
        Cell::Histogram(v) => {
            let values = std::mem::take(&mut *v.values.lock().unwrap_or_else(|e| e.into_inner()));
            match values[..] {
                [one] => Value::Number(one),
                _ => Value::Distribution(emf::distribution(values)),
            }
        }
    };
    Entry {
        labels: &slot.dimensions,
        metric: Metric {
            name,
            unit: unit_of(name).and_then(emf::unit_name),
            high_resolution: slot.high_resolution,
            value,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_of_one_key_share_a_cell_and_kinds_do_not_mix() {
        let inv = Invocation::new();
        inv.in_scope(|| {
            metrics::counter!("A").increment(2);
            metrics::counter!("A").increment(3);
            metrics::histogram!("A").record(1.0); // another kind under the same name: ignored
            metrics::gauge!("G", "table" => "t").set(1.5);
            metrics::histogram!("H").record_many(2.0, 3);
        });
        let slots = inv.take();
        assert_eq!(slots.len(), 3);
        let values: Vec<_> = slots.iter().map(|s| entry(s).metric.value).collect();
        assert_eq!(
            values,
            [
                Value::Count(5),
                Value::Number(1.5),
                Value::Distribution(vec![(2.0, 3)])
            ]
        );
        assert!(inv.take().is_empty());
    }

    #[test]
    fn units_come_from_the_list_then_from_describe() {
        assert_eq!(
            unit_of(metric_names::REQUEST_LATENCY),
            Some(Unit::Milliseconds)
        );
        assert_eq!(unit_of("Undescribed"), None);
        Invocation::new().in_scope(|| metrics::describe_histogram!("Sizes", Unit::Bytes, "x"));
        assert_eq!(unit_of("Sizes"), Some(Unit::Bytes));
    }
}
