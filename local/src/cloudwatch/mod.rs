//! The twin as a small CloudWatch: a metric store fed by the functions' EMF documents and by
//! the metrics the stand-ins publish under AWS's names, the alarms of `alarms/*.json`
//! evaluated against it, and the dashboards of `dashboards/*.json` read from the same files
//! (rendered by [`crate::ops`]).
//!
//! Reading order: [`store`] (values and statistics), [`emf`] (documents in), [`math`] and
//! [`query`] (metric math and data queries), [`alarms`] (evaluation and state changes),
//! [`get_metric_data`] with [`query_protocol`] (CloudWatch's API for SDK clients).

pub mod alarms;
pub mod clock;
pub mod composite;
pub mod emf;
pub mod get_metric_data;
mod kept_lines;
pub use slo::math;
pub mod query;
pub mod query_protocol;
pub mod slos;
pub mod store;
pub mod table;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::names;
use alarms::{AlarmDef, Alarms, StateChange};
use clock::TwinClock;
pub use kept_lines::KEPT_LOG_LINES;
use kept_lines::KeptLines;
use store::{MetricHandle, MetricStore};

/// The twin's API stage: API Gateway's default.
pub const STAGE: &str = "$default";
/// The namespace of the functions' EMF metrics (Terraform's `metrics_namespace`).
pub const METRICS_NAMESPACE: &str = "ItemsApi";
/// The access log's group, as the stage writes it on AWS.
pub const ACCESS_LOG_GROUP: &str = "/aws/apigateway/items-api";
/// What Terraform puts before each alarm's and dashboard's name.
pub const NAME_PREFIX: &str = "items-api";

/// The value of every `${placeholder}` of the dashboards and alarms on the twin: the same
/// names Terraform gives the stack by default.
pub fn placeholders(function_timeout_secs: u64) -> Vec<(&'static str, String)> {
    vec![
        ("region", names::REGION.to_owned()),
        ("account_id", names::ACCOUNT_ID.to_owned()),
        ("api_id", names::API_ID.to_owned()),
        ("stage", STAGE.to_owned()),
        ("metrics_namespace", METRICS_NAMESPACE.to_owned()),
        ("items_function", format!("{NAME_PREFIX}-items")),
        ("public_function", format!("{NAME_PREFIX}-public")),
        ("item_events_function", format!("{NAME_PREFIX}-item-events")),
        ("item_events_dlq", format!("{NAME_PREFIX}-item-events-dlq")),
        (
            "item_events_log_group",
            format!("/aws/lambda/{NAME_PREFIX}-item-events"),
        ),
        ("table", names::ITEMS_TABLE.to_owned()),
        ("event_bus", names::EVENT_BUS.to_owned()),
        ("item_created_rule", names::ITEM_CREATED_RULE.to_owned()),
        ("archive_log_group", names::ARCHIVE_LOG_GROUP.to_owned()),
        (
            "items_log_group",
            format!("/aws/lambda/{NAME_PREFIX}-items"),
        ),
        (
            "public_log_group",
            format!("/aws/lambda/{NAME_PREFIX}-public"),
        ),
        ("access_log_group", format!("/aws/apigateway/{NAME_PREFIX}")),
        (
            "items_timeout_ms",
            (function_timeout_secs * 1000).to_string(),
        ),
        // The console serves the runbooks itself, so links work offline.
        ("runbook_base_url", "/_ops/files".to_owned()),
        ("alarm_prefix", NAME_PREFIX.to_owned()),
    ]
}

pub use slo::placeholders::substitute;

/// Where `alarms/`, `dashboards/` and `runbooks/` are: the repository the twin was built from.
pub fn default_repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The `.json` files of `dir`, by name, read and filled: `(file stem, document)`.
pub fn read_json_dir(
    dir: &Path,
    values: &[(&str, String)],
) -> Result<Vec<(String, Value)>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let filled =
                substitute(&text, values).map_err(|e| format!("{}: {e}", path.display()))?;
            let doc =
                serde_json::from_str(&filled).map_err(|e| format!("{}: {e}", path.display()))?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            Ok((stem, doc))
        })
        .collect()
}

/// The alarms of `repo/alarms`.
pub fn load_alarms(repo: &Path, values: &[(&str, String)]) -> Result<Vec<AlarmDef>, String> {
    read_json_dir(&repo.join("alarms"), values)?
        .iter()
        .map(|(_, doc)| AlarmDef::from_json(doc))
        .collect()
}

/// Everything the twin's CloudWatch holds.
pub struct CloudWatch {
    pub store: MetricStore,
    pub alarms: Alarms,
    /// The objectives of `slos/*.json` (their window and composite alarms are in `alarms`).
    pub slos: Vec<crate::slo::Slo>,
    /// The burn-rate policy every objective gets.
    pub slo_policy: crate::slo::Policy,
    /// `(file stem, dashboard body)`, placeholders filled.
    pub dashboards: Vec<(String, Value)>,
    pub repo_dir: PathBuf,
    /// Per function: the invocations running now (for `ConcurrentExecutions`) and the series
    /// Lambda writes on every invocation, found once.
    functions: Mutex<HashMap<String, FunctionMetrics>>,
    /// The series API Gateway writes on every request, found once.
    api: ApiMetrics,
    /// The latest log lines the twin wrote that it can see (access log, EMF documents), by
    /// log group: what the console's request-id search reads.
    logs: KeptLines,
    /// The time every metric is recorded at and every alarm evaluated at.
    pub clock: TwinClock,
    /// The bus's rule counters and their values at the last sample.
    rules: Mutex<Option<RuleSampler>>,
    /// Values a service publishes as they stand, read at each sample (a queue's depth).
    gauges: Mutex<Vec<Gauge>>,
}

/// A metric whose value is read when sampled: `(namespace, name, dimensions, read)`.
struct Gauge {
    namespace: String,
    name: String,
    dimensions: Vec<(String, String)>,
    read: Arc<dyn Fn() -> Option<f64> + Send + Sync>,
}

/// `AWS/ApiGateway` `Count`, `4xx`, `5xx`, `Latency`, `IntegrationLatency` of the stage.
struct ApiMetrics([MetricHandle; 5]);

impl ApiMetrics {
    fn new(store: &MetricStore) -> Self {
        let dims = [("ApiId", names::API_ID), ("Stage", STAGE)];
        let handle = |name| store.handle("AWS/ApiGateway", name, &dims);
        Self(["Count", "4xx", "5xx", "Latency", "IntegrationLatency"].map(handle))
    }
}

/// `AWS/Lambda` `ConcurrentExecutions`, `Invocations`, `Errors`, `Duration` of a function,
/// and the invocations running now: found once, held by whoever invokes the function.
#[derive(Clone)]
pub struct FunctionMetrics(Arc<FunctionSeries>);

struct FunctionSeries {
    in_flight: AtomicI64,
    series: [MetricHandle; 4],
}

impl FunctionMetrics {
    fn new(store: &MetricStore, function: &str) -> Self {
        let dims = [("FunctionName", function)];
        let handle = |name| store.handle("AWS/Lambda", name, &dims);
        Self(Arc::new(FunctionSeries {
            in_flight: AtomicI64::new(0),
            series: ["ConcurrentExecutions", "Invocations", "Errors", "Duration"].map(handle),
        }))
    }
}

struct RuleSampler {
    stats: RuleStatsFn,
    last: HashMap<String, (u64, u64, u64)>,
}

impl CloudWatch {
    /// Reads the alarms, objectives and dashboards of `repo_dir`.
    pub fn load(repo_dir: &Path, function_timeout_secs: u64) -> Result<Self, String> {
        let values = placeholders(function_timeout_secs);
        let store = MetricStore::new();
        let (slos, slo_policy) = slos::load(repo_dir, &values)?;
        let (mut windows, composites) = slos::alarms(&slos, &slo_policy)?;
        let mut defs = load_alarms(repo_dir, &values)?;
        defs.append(&mut windows);
        Ok(Self {
            api: ApiMetrics::new(&store),
            store,
            alarms: Alarms::with_composites(defs, composites),
            slos,
            slo_policy,
            dashboards: read_json_dir(&repo_dir.join("dashboards"), &values)?,
            repo_dir: repo_dir.to_owned(),
            functions: Mutex::new(HashMap::new()),
            logs: KeptLines::default(),
            clock: TwinClock::default(),
            rules: Mutex::new(None),
            gauges: Mutex::new(Vec::new()),
        })
    }

    /// Takes one flush of a function's EMF documents, written to `log_group`.
    pub fn ingest_emf(&self, log_group: &str, documents: &str) {
        // The functions stamp their documents with real time: move them onto the twin's clock.
        let shift_ms = self.clock.offset_ms();
        for line in documents.lines().filter(|l| !l.trim().is_empty()) {
            emf::ingest_line_logged(&self.store, line, shift_ms);
            self.keep_log_line(log_group, line);
        }
    }

    /// Keeps a log line for the request-id search.
    pub fn keep_log_line(&self, log_group: &str, line: &str) {
        self.logs.keep(log_group, line);
    }

    /// Every kept line `(log group, line)`, oldest first: what Logs Insights widgets query.
    pub fn kept_lines(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.logs
            .visit(|group, line| out.push((group.to_owned(), line.to_owned())));
        out
    }

    /// The kept lines that carry `request_id` (as `requestId` or `request_id`), oldest first.
    pub fn lines_of_request(&self, request_id: &str) -> Vec<(String, serde_json::Value)> {
        let mut out = Vec::new();
        if request_id.is_empty() {
            return out;
        }
        self.logs.visit(|group, line| {
            if !line.contains(request_id) {
                return;
            }
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                return;
            };
            if v["requestId"] == request_id || v["request_id"] == request_id {
                out.push((group.to_owned(), v));
            }
        });
        out
    }

    fn put(&self, namespace: &str, name: &str, dims: &[(&str, &str)], value: f64, unit: &str) {
        self.store
            .handle(namespace, name, dims)
            .put_value(self.clock.now_ms(), value, unit);
    }

    /// What API Gateway publishes for one request, answered at `real_ms` (real time, as the
    /// gateway measured the request): `Count`, `4xx` and `5xx` (0 or 1 each, so that
    /// `Average` is a rate), `Latency`, and `IntegrationLatency` when the function ran.
    pub fn record_request(
        &self,
        status: u16,
        latency: Duration,
        integration: Option<Duration>,
        real_ms: i64,
    ) {
        let now = self.clock.at_ms(real_ms);
        let [count, e4xx, e5xx, latency_ms, integration_ms] = &self.api.0;
        count.put_value(now, 1.0, "Count");
        let is_4xx = (400..500).contains(&status);
        e4xx.put_value(now, f64::from(u8::from(is_4xx)), "Count");
        e5xx.put_value(now, f64::from(u8::from(status >= 500)), "Count");
        latency_ms.put_value(now, whole_millis(latency), "Milliseconds");
        if let Some(integration) = integration {
            integration_ms.put_value(now, whole_millis(integration), "Milliseconds");
        }
    }

    /// The function's series and count of running invocations, made when first asked for:
    /// every invoker of `function` shares them.
    pub fn function_metrics(&self, function: &str) -> FunctionMetrics {
        let mut functions = self.functions.lock().unwrap_or_else(|e| e.into_inner());
        functions
            .entry(function.to_owned())
            .or_insert_with(|| FunctionMetrics::new(&self.store, function))
            .clone()
    }

    /// An invocation starts at `real_ms` (real time): `ConcurrentExecutions` is the number
    /// running, as Lambda reports it (its `Maximum` is what the dashboard shows).
    pub fn invocation_started(&self, function: &FunctionMetrics, real_ms: i64) {
        let now = self.clock.at_ms(real_ms);
        let running = function.0.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        function.0.series[0].put_value(now, running as f64, "Count");
    }

    /// An invocation ends at `real_ms` (real time): `Invocations`, `Errors` (0 or 1) and
    /// `Duration`.
    pub fn invocation_ended(
        &self,
        function: &FunctionMetrics,
        duration: Duration,
        failed: bool,
        real_ms: i64,
    ) {
        let now = self.clock.at_ms(real_ms);
        function.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        let [_, invocations, errors, duration_ms] = &function.0.series;
        invocations.put_value(now, 1.0, "Count");
        errors.put_value(now, f64::from(u8::from(failed)), "Count");
        duration_ms.put_value(now, report_millis(duration), "Milliseconds");
    }

    /// Lambda refused an invocation (the function's concurrency is used up): `Throttles`. A
    /// throttled invocation is not an invocation: no `Invocations`, `Errors` or `Duration`.
    pub fn invocation_throttled(&self, function: &str) {
        self.put(
            "AWS/Lambda",
            "Throttles",
            &[("FunctionName", function)],
            1.0,
            "Count",
        );
    }

    /// `IteratorAge` of a stream's event source mapping for `function`: the age, in
    /// milliseconds, of the last record of the batch it invokes the function with.
    pub fn record_iterator_age(&self, function: &str, age_ms: f64) {
        let dims = [("FunctionName", function)];
        self.put("AWS/Lambda", "IteratorAge", &dims, age_ms, "Milliseconds");
    }

    /// Publishes `read()` at every sample from now on, as a service publishes a value it
    /// measures (SQS's queue depths, every minute); `None` skips a sample.
    pub fn watch_gauge(
        &self,
        namespace: &str,
        name: &str,
        dimensions: &[(&str, &str)],
        read: Arc<dyn Fn() -> Option<f64> + Send + Sync>,
    ) {
        self.gauges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Gauge {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                dimensions: dimensions
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                read,
            });
    }

    fn sample_gauges(&self) {
        let gauges = self.gauges.lock().unwrap_or_else(|e| e.into_inner());
        for gauge in gauges.iter() {
            if let Some(value) = (gauge.read)() {
                let dims: Vec<(&str, &str)> = gauge
                    .dimensions
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                self.put(&gauge.namespace, &gauge.name, &dims, value, "Count");
            }
        }
    }

    /// What EventBridge publishes for a rule since the last call (`MatchedEvents`,
    /// `Invocations`, `FailedInvocations`), and CloudWatch Logs' `IncomingLogEvents` of the
    /// archive log group (each delivered event is one log event).
    pub fn record_rule(&self, rule: &str, matched: u64, invocations: u64, failed: u64) {
        let dims = [("RuleName", rule), ("EventBusName", names::EVENT_BUS)];
        for (name, n) in [
            ("MatchedEvents", matched),
            ("Invocations", invocations),
            ("FailedInvocations", failed),
        ] {
            // EventBridge publishes a datapoint only when something happened.
            if n > 0 {
                self.put("AWS/Events", name, &dims, n as f64, "Count");
            }
        }
        let delivered = invocations.saturating_sub(failed);
        if delivered > 0 {
            self.put(
                "AWS/Logs",
                "IncomingLogEvents",
                &[("LogGroupName", names::ARCHIVE_LOG_GROUP)],
                delivered as f64,
                "None",
            );
        }
    }

    /// What DynamoDB publishes for one call of `operation` on `table`: its latency when it
    /// succeeded (a conditional check that failed is a success for this metric, as on AWS),
    /// a throttled request with its read or write throttle event, or a system error.
    pub fn record_table_call<T>(
        &self,
        table: &str,
        operation: &str,
        write: bool,
        latency: Duration,
        result: &Result<T, functions::ports::StoreError>,
    ) {
        use functions::ports::StoreError;
        let by_operation = [("TableName", table), ("Operation", operation)];
        let ns = "AWS/DynamoDB";
        match result {
            Ok(_) | Err(StoreError::AlreadyExists) => self.put(
                ns,
                "SuccessfulRequestLatency",
                &by_operation,
                millis(latency),
                "Milliseconds",
            ),
            Err(StoreError::Unavailable { .. }) => {
                self.put(ns, "ThrottledRequests", &by_operation, 1.0, "Count");
                let events = if write {
                    "WriteThrottleEvents"
                } else {
                    "ReadThrottleEvents"
                };
                self.put(ns, events, &[("TableName", table)], 1.0, "Count");
            }
            Err(StoreError::Internal(_)) => {
                self.put(ns, "SystemErrors", &by_operation, 1.0, "Count");
            }
        }
    }

    /// Evaluates the alarms now, on the twin's clock; returns the state changes.
    pub fn evaluate_alarms(&self) -> Vec<StateChange> {
        self.alarms.evaluate(&self.store, self.clock.now_secs())
    }

    /// Samples the bus's rule counters from now on (the twin on AWS services has none).
    pub fn watch_rules(&self, stats: RuleStatsFn) {
        *self.rules.lock().unwrap_or_else(|e| e.into_inner()) = Some(RuleSampler {
            stats,
            last: HashMap::new(),
        });
    }

    /// Records what the rules counted since the last sample, at the twin's time.
    pub fn sample_rules(&self) {
        self.sample_gauges();
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sampler) = rules.as_mut() else {
            return;
        };
        for (rule, matched, invocations, failed) in (sampler.stats)() {
            let before = sampler
                .last
                .insert(rule.clone(), (matched, invocations, failed));
            let (m0, i0, f0) = before.unwrap_or_default();
            self.record_rule(
                &rule,
                matched.saturating_sub(m0),
                invocations.saturating_sub(i0),
                failed.saturating_sub(f0),
            );
        }
    }

    /// Lets time pass on the twin's clock: what happened so far is recorded in the minute it
    /// happened, the clock moves on, and the alarms are evaluated at the new time, as
    /// CloudWatch would have evaluated them meanwhile. Returns the state changes.
    pub fn advance_clock(&self, to_next_minute: bool, ms: i64) -> Vec<StateChange> {
        self.sample_rules();
        if to_next_minute {
            self.clock.advance_to_next_minute();
        } else {
            self.clock.advance_ms(ms);
        }
        self.evaluate_alarms()
    }
}

// Each service's own resolution, not the clock's nanoseconds: a metric keeps each distinct
// value of a minute, and values to the nanosecond would be one per request.

/// Milliseconds to the microsecond.
fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// API Gateway's latencies: whole milliseconds, as its access log's.
fn whole_millis(d: Duration) -> f64 {
    d.as_millis() as f64
}

/// Lambda's `Duration`: milliseconds to two decimals, as its `REPORT` line gives it.
fn report_millis(d: Duration) -> f64 {
    (d.as_micros() / 10) as f64 / 100.0
}

/// The bus's rule counters: `(rule, matched events, invocations, failed invocations)`, each
/// counted since the twin started.
pub type RuleStatsFn = Arc<dyn Fn() -> Vec<(String, u64, u64, u64)> + Send + Sync>;

/// Samples the bus's rule counters into metrics and evaluates the alarms, every `every`,
/// for the twin's life.
pub fn spawn_background(cloudwatch: Arc<CloudWatch>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            cloudwatch.sample_rules();
            cloudwatch.evaluate_alarms();
        }
    });
}

#[cfg(test)]
mod tests;
