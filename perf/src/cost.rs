//! The cost model of `docs/cost.md`: what a million requests of each route cost on AWS list
//! prices, from the prices (`perf/cost/prices.json`, with their sources and the date they were
//! read), the bytes each route logs as measured on the twin (`perf/cost/measured.json`, written
//! by `scripts/measure-bytes`) and what cannot be measured here, stated
//! (`perf/cost/assumptions.json`). `cargo run -p perf --bin cost-model` prints the tables; a test
//! holds that page to them. `POST /items` only stores: its `ItemCreated` event is published by the
//! `item-events` function from the table's stream, priced per million items by [`StreamCost`],
//! which depends on the rate (batches fill with the rate, up to the batch size).
//!
//! Each log group's bytes are priced by its class (Standard or Infrequent Access, as Terraform
//! makes it); Lambda's own records (START, END, REPORT) are counted only when Lambda writes them;
//! X-Ray only for functions Lambda traces actively. The bytes measured before the telemetry was
//! trimmed are kept (`perf/cost/baseline.json`) so that the page shows before and after.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Price {
    pub usd: f64,
    pub per: f64,
    pub unit: String,
    pub source: String,
    /// When this price was read, if not on the file's `read_on`.
    #[serde(default)]
    pub read_on: Option<String>,
}

impl Price {
    fn of(&self, quantity: f64) -> f64 {
        self.usd * quantity / self.per
    }
}

#[derive(Debug, Deserialize)]
pub struct Prices {
    pub region: String,
    pub read_on: String,
    pub prices: BTreeMap<String, Price>,
}

#[derive(Debug, Deserialize)]
pub struct RouteBytes {
    pub access_log_bytes: u64,
    pub function_log_bytes: u64,
}

#[derive(Debug, Deserialize)]
pub struct Measured {
    pub measured_by: String,
    pub routes: BTreeMap<String, RouteBytes>,
    pub archived_event_bytes: u64,
    pub page_of_20_bytes: u64,
}

/// The bytes each route logged before its telemetry was trimmed (`perf/cost/baseline.json`,
/// written by `scripts/measure-bytes --baseline`), with Lambda's own records as they were then.
#[derive(Debug, Deserialize)]
pub struct Baseline {
    pub measured_on: String,
    pub routes: BTreeMap<String, RouteBytes>,
    pub platform_log_bytes: u64,
    pub platform_log_bytes_source: String,
}

/// A log group's class, as Terraform's `log_group_class` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum LogClass {
    #[serde(rename = "STANDARD")]
    Standard,
    #[serde(rename = "INFREQUENT_ACCESS")]
    InfrequentAccess,
}

/// The class of each log group a request writes to.
#[derive(Debug, Deserialize)]
pub struct LogClasses {
    pub access_log: LogClass,
    pub function: LogClass,
    pub archive: LogClass,
}

/// Lambda's X-Ray mode of a function, as Terraform's `tracing_config` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Tracing {
    /// Lambda samples requests itself (its fixed rule) and records those it samples.
    Active,
    /// Lambda traces only what an upstream service sampled: an HTTP API samples nothing.
    PassThrough,
}

/// Read units of a route: a fixed count, or `"page"` for a page of items (sized from the
/// measured page).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ReadUnits {
    Fixed(u32),
    Sized(String),
}

#[derive(Debug, Deserialize)]
pub struct RouteAssumptions {
    /// The function behind the route (a key of [`Assumptions::tracing`]).
    pub function: String,
    pub dynamodb_calls: u32,
    pub write_units: u32,
    pub read_units: ReadUnits,
    pub events: u32,
}

/// The stream's consumer: the event source mapping's batching (Terraform's defaults) and what
/// one invocation of `item-events` does and writes.
#[derive(Debug, Deserialize)]
pub struct StreamAssumptions {
    /// `item_events_batch_size`: most records per invocation.
    pub batch_size: u32,
    /// `item_events_batching_window_seconds`: how long Lambda gathers records before invoking.
    pub batching_window_seconds: f64,
    /// Shards of the table's stream that the writes spread over.
    pub shards: u32,
    /// GetRecords calls Lambda makes on each shard every second, whether or not there are records.
    pub polls_per_second_per_shard: f64,
    pub cpu_ms_per_invocation: f64,
    pub cpu_ms_per_record: f64,
    /// The invocation's own lines (Lambda's records are [`Assumptions::platform_log_bytes`]).
    pub log_bytes_per_invocation: u64,
    /// Entries per PutEvents call: EventBridge takes at most 10.
    pub put_events_entries: u32,
    /// The write rates (items a second) the table shows.
    pub rates_per_second: Vec<f64>,
}

#[derive(Debug, Deserialize)]
pub struct Assumptions {
    pub memory_mb: u32,
    pub handler_cpu_ms: f64,
    pub dynamodb_call_ms: f64,
    pub eventbridge_call_ms: f64,
    /// Lambda's own records per invocation, as Terraform's system log level has them written.
    pub platform_log_bytes: u64,
    /// What an actively traced function's requests Lambda samples.
    pub xray_sampled_fraction: f64,
    /// Each function's X-Ray mode (Terraform's, a test ties them).
    pub tracing: BTreeMap<String, Tracing>,
    pub log_classes: LogClasses,
    pub item_attribute_overhead: f64,
    pub routes: BTreeMap<String, RouteAssumptions>,
    pub item_events: StreamAssumptions,
}

pub struct Model {
    pub prices: Prices,
    pub measured: Measured,
    pub baseline: Baseline,
    pub assumptions: Assumptions,
}

/// The cost of a million requests of one route, in dollars, by service.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteCost {
    pub route: String,
    pub billed_ms: u32,
    /// Every byte the request logs: access log, function lines, Lambda's records, archive.
    pub log_bytes: u64,
    /// [`RouteCost::log_bytes`] as they were before the telemetry was trimmed.
    pub log_bytes_before: u64,
    pub http_api: f64,
    pub lambda: f64,
    pub dynamodb: f64,
    pub eventbridge: f64,
    pub logs: f64,
    pub xray: f64,
}

impl RouteCost {
    pub fn total(&self) -> f64 {
        self.http_api + self.lambda + self.dynamodb + self.eventbridge + self.logs + self.xray
    }

    /// What logs and traces take of the request's cost.
    pub fn observability_share(&self) -> f64 {
        (self.logs + self.xray) / self.total()
    }
}

/// Publishing the `ItemCreated` events of a million items from the table's stream, at one write
/// rate: the consumer's invocations, their duration, the PutEvents calls, the stream reads.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamCost {
    pub items_per_second: f64,
    /// Records in an average invocation: the window's worth at this rate, from 1 to the batch size.
    pub records_per_invocation: f64,
    pub invocations: f64,
    pub billed_ms: u32,
    pub put_events_calls: f64,
    /// GetRecords calls of the event source mapping while the million items are written.
    pub stream_reads: f64,
    pub lambda: f64,
    pub eventbridge: f64,
    pub stream: f64,
    pub logs: f64,
    pub xray: f64,
}

impl StreamCost {
    pub fn total(&self) -> f64 {
        self.lambda + self.eventbridge + self.stream + self.logs + self.xray
    }

    pub fn observability_share(&self) -> f64 {
        (self.logs + self.xray) / self.total()
    }
}

const MILLION: f64 = 1_000_000.0;
const GB: f64 = 1_000_000_000.0;
/// The function that publishes the stream's events.
const STREAM_FUNCTION: &str = "item-events";
/// The most of a request's cost that its logs and traces should take.
pub const OBSERVABILITY_BUDGET: f64 = 0.20;
/// DynamoDB reads strongly consistent data in units of 4 KB.
const READ_UNIT_BYTES: f64 = 4096.0;

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl Model {
    /// Reads the four files from `dir` (`perf/cost`).
    pub fn load(dir: &Path) -> Result<Self, String> {
        Ok(Self {
            prices: read_json(&dir.join("prices.json"))?,
            measured: read_json(&dir.join("measured.json"))?,
            baseline: read_json(&dir.join("baseline.json"))?,
            assumptions: read_json(&dir.join("assumptions.json"))?,
        })
    }

    /// The price of a GB ingested into a group of `class`; `lambda` for a function's group,
    /// whose logs Lambda sends (vended logs, priced in volume tiers: the first applies here).
    fn ingestion(&self, class: LogClass, lambda: bool) -> Result<&Price, String> {
        self.price(match (class, lambda) {
            (LogClass::Standard, true) => "lambda_logs_ingested_gb",
            (LogClass::Standard, false) => "logs_ingested_gb",
            (LogClass::InfrequentAccess, _) => "logs_ingested_gb_infrequent_access",
        })
    }

    /// The dollars of `bytes` ingested into a group of `class`.
    fn log_cost(&self, bytes: f64, class: LogClass, lambda: bool) -> Result<f64, String> {
        Ok(self.ingestion(class, lambda)?.of(bytes / GB))
    }

    /// The fraction of a function's invocations X-Ray records.
    fn traced_fraction(&self, function: &str) -> Result<f64, String> {
        match self.assumptions.tracing.get(function) {
            Some(Tracing::Active) => Ok(self.assumptions.xray_sampled_fraction),
            Some(Tracing::PassThrough) => Ok(0.0),
            None => Err(format!("assumptions.json has no tracing for `{function}`")),
        }
    }

    fn price(&self, name: &str) -> Result<&Price, String> {
        self.prices
            .prices
            .get(name)
            .ok_or_else(|| format!("prices.json has no `{name}`"))
    }

    fn read_units(&self, units: &ReadUnits) -> Result<f64, String> {
        match units {
            ReadUnits::Fixed(n) => Ok(f64::from(*n)),
            ReadUnits::Sized(s) if s == "page" => {
                // A page of 20 is read as 21 items (one more tells whether there is a next page).
                let bytes = self.measured.page_of_20_bytes as f64 * 21.0 / 20.0
                    * self.assumptions.item_attribute_overhead;
                Ok((bytes / READ_UNIT_BYTES).ceil())
            }
            ReadUnits::Sized(other) => Err(format!("unknown read_units `{other}`")),
        }
    }

    /// Every route the measurements and the assumptions both describe, in the assumptions' order.
    pub fn costs(&self) -> Result<Vec<RouteCost>, String> {
        let a = &self.assumptions;
        let gb_seconds_per_ms = f64::from(a.memory_mb) / 1024.0 / 1000.0;
        a.routes
            .iter()
            .map(|(route, r)| {
                let bytes = self
                    .measured
                    .routes
                    .get(route)
                    .ok_or_else(|| format!("measured.json has no route `{route}`"))?;
                // Lambda bills whole milliseconds, rounded up.
                let wait = f64::from(r.dynamodb_calls) * a.dynamodb_call_ms
                    + f64::from(r.events.min(1)) * a.eventbridge_call_ms;
                let billed_ms = (a.handler_cpu_ms + wait).ceil() as u32;
                let archived = u64::from(r.events) * self.measured.archived_event_bytes;
                let function_bytes = bytes.function_log_bytes + a.platform_log_bytes;
                let log_bytes = bytes.access_log_bytes + function_bytes + archived;
                let before = self
                    .baseline
                    .routes
                    .get(route)
                    .ok_or_else(|| format!("baseline.json has no route `{route}`"))?;
                let log_bytes_before = before.access_log_bytes
                    + before.function_log_bytes
                    + self.baseline.platform_log_bytes
                    + archived;
                let classes = &a.log_classes;
                let logs =
                    self.log_cost(
                        MILLION * bytes.access_log_bytes as f64,
                        classes.access_log,
                        false,
                    )? + self.log_cost(MILLION * function_bytes as f64, classes.function, true)?
                        + self.log_cost(MILLION * archived as f64, classes.archive, false)?;
                let lambda_seconds = MILLION * f64::from(billed_ms) * gb_seconds_per_ms;
                Ok(RouteCost {
                    route: route.clone(),
                    billed_ms,
                    log_bytes,
                    log_bytes_before,
                    http_api: self.price("http_api_request")?.of(MILLION),
                    lambda: self.price("lambda_request")?.of(MILLION)
                        + self.price("lambda_arm64_gb_second")?.of(lambda_seconds),
                    dynamodb: self
                        .price("dynamodb_write_request_unit")?
                        .of(MILLION * f64::from(r.write_units))
                        + self
                            .price("dynamodb_read_request_unit")?
                            .of(MILLION * self.read_units(&r.read_units)?),
                    eventbridge: self
                        .price("eventbridge_custom_event")?
                        .of(MILLION * f64::from(r.events)),
                    logs,
                    xray: self
                        .price("xray_trace_recorded")?
                        .of(MILLION * self.traced_fraction(&r.function)?),
                })
            })
            .collect()
    }

    /// The ItemCreated events of a million items, at each rate of the assumptions.
    pub fn stream_costs(&self) -> Result<Vec<StreamCost>, String> {
        let a = &self.assumptions;
        let s = &a.item_events;
        let gb_seconds_per_ms = f64::from(a.memory_mb) / 1024.0 / 1000.0;
        if s.batch_size == 0 || s.put_events_entries == 0 || s.shards == 0 {
            return Err(
                "item_events: batch_size, put_events_entries and shards are 1 or more".into(),
            );
        }
        s.rates_per_second
            .iter()
            .map(|&rate| {
                if rate <= 0.0 {
                    return Err(format!("item_events: rate {rate} is not above 0"));
                }
                // Each shard's records gather for the window, or until the batch is full; a
                // lone record still makes an invocation of its own.
                let per_shard = rate / f64::from(s.shards);
                let records =
                    (per_shard * s.batching_window_seconds).clamp(1.0, f64::from(s.batch_size));
                let invocations = MILLION / records;
                // In record order, so one PutEvents call after the other.
                let calls = (records / f64::from(s.put_events_entries)).ceil();
                let billed_ms = (s.cpu_ms_per_invocation
                    + records * s.cpu_ms_per_record
                    + calls * a.eventbridge_call_ms)
                    .ceil() as u32;
                let seconds = MILLION / rate;
                let stream_reads = seconds * s.polls_per_second_per_shard * f64::from(s.shards);
                let function_bytes =
                    invocations * (s.log_bytes_per_invocation + a.platform_log_bytes) as f64;
                let archived_bytes = MILLION * self.measured.archived_event_bytes as f64;
                Ok(StreamCost {
                    items_per_second: rate,
                    records_per_invocation: records,
                    invocations,
                    billed_ms,
                    put_events_calls: invocations * calls,
                    stream_reads,
                    lambda: self.price("lambda_request")?.of(invocations)
                        + self
                            .price("lambda_arm64_gb_second")?
                            .of(invocations * f64::from(billed_ms) * gb_seconds_per_ms),
                    // Billed per event put (each up to 64 KB), not per call.
                    eventbridge: self.price("eventbridge_custom_event")?.of(MILLION),
                    stream: self
                        .price("dynamodb_streams_read_by_lambda")?
                        .of(stream_reads),
                    logs: self.log_cost(function_bytes, a.log_classes.function, true)?
                        + self.log_cost(archived_bytes, a.log_classes.archive, false)?,
                    xray: self
                        .price("xray_trace_recorded")?
                        .of(invocations * self.traced_fraction(STREAM_FUNCTION)?),
                })
            })
            .collect()
    }

    /// The stream's table of `docs/cost.md`.
    fn stream_markdown(&self) -> Result<String, String> {
        let s = &self.assumptions.item_events;
        let mut out = format!(
            "ItemCreated for a million items, published from the stream (batch size {}, window {} s, shards {}):\n\n\
             | items a second | records an invocation | invocations | billed ms | PutEvents calls | GetRecords | Lambda | EventBridge | stream reads | Logs | X-Ray | total | observability share |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
            s.batch_size, s.batching_window_seconds, s.shards
        );
        for c in self.stream_costs()? {
            out.push_str(&format!(
                "| {} | {} | {:.0} | {} | {:.0} | {:.0} | ${:.3} | ${:.2} | ${:.2} | ${:.3} | ${:.3} | **${:.2}** | {:.0} % |\n",
                c.items_per_second,
                c.records_per_invocation,
                c.invocations,
                c.billed_ms,
                c.put_events_calls,
                c.stream_reads,
                c.lambda,
                c.eventbridge,
                c.stream,
                c.logs,
                c.xray,
                c.total(),
                100.0 * c.observability_share(),
            ));
        }
        Ok(out)
    }

    /// The routes' table of `docs/cost.md`.
    fn routes_markdown(&self, costs: &[RouteCost]) -> String {
        let mut out = String::from(
            "| a million of | billed ms | log bytes | HTTP API | Lambda | DynamoDB | EventBridge | Logs | X-Ray | total | logs share | observability share |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        );
        for c in costs {
            out.push_str(&format!(
                "| {} | {} | {} | ${:.2} | ${:.3} | ${:.3} | ${:.2} | ${:.3} | ${:.2} | **${:.2}** | {:.0} % | {:.0} % |\n",
                c.route,
                c.billed_ms,
                c.log_bytes,
                c.http_api,
                c.lambda,
                c.dynamodb,
                c.eventbridge,
                c.logs,
                c.xray,
                c.total(),
                100.0 * c.logs / c.total(),
                100.0 * c.observability_share(),
            ));
        }
        out
    }

    /// Each route's log bytes before the telemetry was trimmed and now.
    fn bytes_markdown(&self, costs: &[RouteCost]) -> String {
        let mut out = format!(
            "Log bytes a request writes, before (measured {}) and now:\n\n\
             | route | before | now | saved |\n\
             | --- | --- | --- | --- |\n",
            self.baseline.measured_on
        );
        for c in costs {
            out.push_str(&format!(
                "| {} | {} | {} | {:.0} % |\n",
                c.route,
                c.log_bytes_before,
                c.log_bytes,
                100.0 * (1.0 - c.log_bytes as f64 / c.log_bytes_before as f64),
            ));
        }
        out
    }

    /// The routes above [`OBSERVABILITY_BUDGET`], with what their share would be without X-Ray.
    fn budget_markdown(&self, costs: &[RouteCost]) -> String {
        let over: Vec<String> = costs
            .iter()
            .filter(|c| c.observability_share() > OBSERVABILITY_BUDGET)
            .map(|c| {
                format!(
                    "{} {:.0} % ({:.0} % without X-Ray)",
                    c.route,
                    100.0 * c.observability_share(),
                    100.0 * c.logs / (c.total() - c.xray),
                )
            })
            .collect();
        if over.is_empty() {
            format!(
                "Every route's logs and traces are within {:.0} % of its cost.\n",
                100.0 * OBSERVABILITY_BUDGET
            )
        } else {
            format!(
                "Above {:.0} %: {}.\n",
                100.0 * OBSERVABILITY_BUDGET,
                over.join("; ")
            )
        }
    }

    /// Where each price was read and when.
    fn prices_markdown(&self) -> String {
        let mut by_date: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
        for p in self.prices.prices.values() {
            by_date
                .entry(p.read_on.as_deref().unwrap_or(&self.prices.read_on))
                .or_default()
                .insert(p.source.as_str());
        }
        let read: Vec<String> = by_date
            .iter()
            .map(|(date, sources)| {
                format!(
                    "on {date} ({})",
                    sources.iter().copied().collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        format!(
            "Prices: {} list prices, read {}. Log bytes measured by `{}`.\n",
            self.prices.region,
            read.join(" and "),
            self.measured.measured_by,
        )
    }

    /// The tables of `docs/cost.md`, with the prices' region, dates and sources under them.
    pub fn markdown(&self) -> Result<String, String> {
        let costs = self.costs()?;
        let mut out = self.routes_markdown(&costs);
        out.push('\n');
        out.push_str(&self.budget_markdown(&costs));
        out.push('\n');
        out.push_str(&self.bytes_markdown(&costs));
        out.push('\n');
        out.push_str(&self.stream_markdown()?);
        out.push('\n');
        out.push_str(&self.prices_markdown());
        Ok(out)
    }

    /// The README's short table: each route's cost and what observability takes of it.
    pub fn readme_markdown(&self) -> Result<String, String> {
        let mut out = String::from(
            "| a million of | total | logs and traces | observability share |\n\
             | --- | --- | --- | --- |\n",
        );
        for c in self.costs()? {
            out.push_str(&format!(
                "| {} | ${:.2} | ${:.2} | {:.0} % |\n",
                c.route,
                c.total(),
                c.logs + c.xray,
                100.0 * c.observability_share(),
            ));
        }
        Ok(out)
    }
}

/// `perf/cost` in the repository.
pub fn default_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(page_bytes: u64) -> Model {
        let price = |usd: f64, per: f64| Price {
            usd,
            per,
            unit: String::new(),
            source: "https://example.test/".into(),
            read_on: None,
        };
        let prices = [
            ("lambda_request", price(0.20, MILLION)),
            ("lambda_arm64_gb_second", price(0.0000133334, 1.0)),
            ("http_api_request", price(1.00, MILLION)),
            ("dynamodb_write_request_unit", price(0.625, MILLION)),
            ("dynamodb_read_request_unit", price(0.125, MILLION)),
            ("eventbridge_custom_event", price(1.00, MILLION)),
            ("logs_ingested_gb", price(0.50, 1.0)),
            ("lambda_logs_ingested_gb", price(0.50, 1.0)),
            ("logs_ingested_gb_infrequent_access", price(0.25, 1.0)),
            ("xray_trace_recorded", price(5.00, MILLION)),
            ("dynamodb_streams_read_by_lambda", price(0.0, 1.0)),
        ];
        Model {
            prices: Prices {
                region: "us-east-1".into(),
                read_on: "2026-11-22".into(),
                prices: prices.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            },
            measured: Measured {
                measured_by: "test".into(),
                routes: [(
                    "POST /items".to_owned(),
                    RouteBytes {
                        access_log_bytes: 400,
                        function_log_bytes: 800,
                    },
                )]
                .into_iter()
                .collect(),
                archived_event_bytes: 500,
                page_of_20_bytes: page_bytes,
            },
            baseline: Baseline {
                measured_on: "2026-11-22".into(),
                routes: [(
                    "POST /items".to_owned(),
                    RouteBytes {
                        access_log_bytes: 450,
                        function_log_bytes: 1250,
                    },
                )]
                .into_iter()
                .collect(),
                platform_log_bytes: 300,
                platform_log_bytes_source: "assumed".into(),
            },
            assumptions: Assumptions {
                memory_mb: 256,
                handler_cpu_ms: 0.3,
                dynamodb_call_ms: 5.0,
                eventbridge_call_ms: 10.0,
                platform_log_bytes: 300,
                xray_sampled_fraction: 0.05,
                tracing: [
                    ("items".to_owned(), Tracing::Active),
                    ("public".to_owned(), Tracing::PassThrough),
                    ("item-events".to_owned(), Tracing::Active),
                ]
                .into_iter()
                .collect(),
                log_classes: LogClasses {
                    access_log: LogClass::Standard,
                    function: LogClass::Standard,
                    archive: LogClass::Standard,
                },
                item_attribute_overhead: 1.0,
                routes: [(
                    "POST /items".to_owned(),
                    RouteAssumptions {
                        function: "items".into(),
                        dynamodb_calls: 1,
                        write_units: 1,
                        read_units: ReadUnits::Sized("page".into()),
                        events: 1,
                    },
                )]
                .into_iter()
                .collect(),
                item_events: StreamAssumptions {
                    batch_size: 100,
                    batching_window_seconds: 1.0,
                    shards: 1,
                    polls_per_second_per_shard: 4.0,
                    cpu_ms_per_invocation: 0.3,
                    cpu_ms_per_record: 0.02,
                    log_bytes_per_invocation: 700,
                    put_events_entries: 10,
                    rates_per_second: vec![0.5, 25.0, 1000.0],
                },
            },
        }
    }

    #[test]
    fn a_million_creates_priced_service_by_service() {
        let costs = model(0).costs().unwrap();
        let c = &costs[0];
        // 0.3 ms of CPU + 5 ms DynamoDB + 10 ms EventBridge, rounded up.
        assert_eq!(c.billed_ms, 16);
        assert_eq!(c.log_bytes, 400 + 800 + 300 + 500);
        assert_eq!(c.log_bytes_before, 450 + 1250 + 300 + 500);
        assert!((c.http_api - 1.00).abs() < 1e-9);
        // $0.20 of requests + 1e6 × 16 ms × 0.25 GB = 4000 GB-s × $0.0000133334.
        assert!((c.lambda - (0.20 + 4000.0 * 0.0000133334)).abs() < 1e-9);
        assert!((c.dynamodb - 0.625).abs() < 1e-9);
        assert!((c.eventbridge - 1.00).abs() < 1e-9);
        // 2 GB ingested.
        assert!((c.logs - 1.00).abs() < 1e-9);
        assert!((c.xray - 0.25).abs() < 1e-9);
        assert!((c.observability_share() - 1.25 / c.total()).abs() < 1e-12);
    }

    #[test]
    fn each_group_s_bytes_are_priced_by_its_class() {
        let mut m = model(0);
        m.assumptions.log_classes.access_log = LogClass::InfrequentAccess;
        m.assumptions.log_classes.archive = LogClass::InfrequentAccess;
        let c = &m.costs().unwrap()[0];
        // 0.4 GB and 0.5 GB at $0.25, 1.1 GB (function lines and Lambda's records) at $0.50.
        assert!((c.logs - (0.9 * 0.25 + 1.1 * 0.50)).abs() < 1e-9);
    }

    #[test]
    fn lambda_s_records_count_only_when_written() {
        let mut m = model(0);
        m.assumptions.platform_log_bytes = 0;
        let c = &m.costs().unwrap()[0];
        assert_eq!(c.log_bytes, 400 + 800 + 500);
        // The baseline keeps the records it was measured with.
        assert_eq!(c.log_bytes_before, 450 + 1250 + 300 + 500);
    }

    #[test]
    fn a_function_traced_only_by_upstream_costs_no_trace() {
        let mut m = model(0);
        m.assumptions
            .routes
            .get_mut("POST /items")
            .unwrap()
            .function = "public".into();
        assert_eq!(m.costs().unwrap()[0].xray, 0.0);
        m.assumptions
            .routes
            .get_mut("POST /items")
            .unwrap()
            .function = "nobody".into();
        assert!(m.costs().unwrap_err().contains("nobody"));
    }

    #[test]
    fn the_page_says_which_routes_are_over_the_budget_and_without_x_ray() {
        let m = model(0);
        let page = m.markdown().unwrap();
        let c = &m.costs().unwrap()[0];
        assert!(c.observability_share() > OBSERVABILITY_BUDGET);
        let without = 100.0 * c.logs / (c.total() - c.xray);
        assert!(
            page.contains(&format!(
                "Above 20 %: POST /items {:.0} % ({without:.0} % without X-Ray).",
                100.0 * c.observability_share()
            )),
            "{page}"
        );
        assert!(
            page.contains("| POST /items | 2500 | 2000 | 20 % |"),
            "{page}"
        );
    }

    #[test]
    fn a_page_is_read_in_units_of_4_kb() {
        let m = model(8000);
        // 8000 × 21 / 20 = 8400 bytes: 3 units.
        assert_eq!(m.read_units(&ReadUnits::Sized("page".into())).unwrap(), 3.0);
        assert!(m.read_units(&ReadUnits::Sized("pages".into())).is_err());
    }

    #[test]
    fn a_million_items_published_from_the_stream_at_each_rate() {
        let costs = model(0).stream_costs().unwrap();
        let [slow, steady, busy] = &costs[..] else {
            panic!("three rates: {costs:?}")
        };
        // Under one record a window: every record is an invocation of its own.
        assert_eq!(slow.records_per_invocation, 1.0);
        assert_eq!(slow.invocations, MILLION);
        // 0.3 ms + 0.02 ms + one PutEvents call of 10 ms, rounded up.
        assert_eq!(slow.billed_ms, 11);
        assert_eq!(slow.put_events_calls, MILLION);
        // 25 a second in a 1 s window: batches of 25, three PutEvents calls each (10, 10, 5).
        assert_eq!(steady.records_per_invocation, 25.0);
        assert_eq!(steady.invocations, 40_000.0);
        assert_eq!(steady.put_events_calls, 120_000.0);
        assert_eq!(
            steady.billed_ms,
            (0.3f64 + 25.0 * 0.02 + 30.0).ceil() as u32
        );
        // Past the batch size the batch is full before the window ends.
        assert_eq!(busy.records_per_invocation, 100.0);
        assert_eq!(busy.invocations, 10_000.0);
        assert_eq!(busy.billed_ms, 103);
        // $0.20 a million invocations + 1e6 × 11 ms × 0.25 GB = 2750 GB-s.
        assert!((slow.lambda - (0.20 + 2750.0 * 0.0000133334)).abs() < 1e-9);
        for c in &costs {
            // A custom event is billed per entry, however the entries are grouped into calls.
            assert!((c.eventbridge - 1.00).abs() < 1e-9);
            // Lambda polls 4 times a second while the million is written; a trigger's reads are
            // free.
            assert_eq!(c.stream_reads, MILLION / c.items_per_second * 4.0);
            assert_eq!(c.stream, 0.0);
            // 5 % of the invocations traced.
            assert!((c.xray - 5.0 * c.invocations * 0.05 / MILLION).abs() < 1e-9);
        }
        // Logs: (700 + 300) bytes an invocation and a 500-byte archived event an item.
        assert!((slow.logs - 0.5 * (MILLION * 1000.0 + MILLION * 500.0) / GB).abs() < 1e-9);
        assert!(busy.total() < steady.total() && steady.total() < slow.total());
    }

    #[test]
    fn a_stream_rate_or_batch_that_cannot_be_is_an_error() {
        let mut m = model(0);
        m.assumptions.item_events.rates_per_second = vec![0.0];
        assert!(m.stream_costs().unwrap_err().contains("rate 0"));
        let mut m = model(0);
        m.assumptions.item_events.batch_size = 0;
        assert!(m.stream_costs().is_err());
    }

    #[test]
    fn a_route_without_measurements_is_an_error() {
        let mut m = model(0);
        m.measured.routes.clear();
        assert!(m.costs().unwrap_err().contains("POST /items"));
    }
}
