//! The dashboards (`dashboards/*.json`), alarms (`alarms/*.json`) and runbooks (`runbooks/*.md`)
//! held to the code and to CloudWatch:
//!
//! - every file is a template of known `${placeholders}` (what Terraform's `templatefile` and the
//!   twin fill), JSON before and after they are filled;
//! - the alarms keep the shape that `terraform/modules/observability` reads, with values from
//!   CloudWatch's allowed sets, and each has its runbook with every section;
//! - custom metrics are named as in `telemetry::metric_names::ALL`, both ways; AWS metrics and
//!   their dimensions as CloudWatch publishes them;
//! - the dashboards keep CloudWatch's dashboard-body schema, link the runbooks, show the alarms,
//!   and one of them finds a request by id;
//! - every Logs Insights query, in the dashboards and in the runbooks, names only fields that the
//!   log contract has (function lines, the access log, the archived events);
//! - the SLOs (`slos/*.json`) and their burn-rate policy keep their shape, name only metrics
//!   the code or AWS publishes, and the window alarms `local::slo` makes of them are valid
//!   CloudWatch alarms; each SLO has a runbook with a section per alert.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use telemetry::metric_names::{self, Emitter};

// ---------------------------------------------------------------------------------------------
// Placeholders

/// Every placeholder a dashboard or alarm may use, with the value the twin gives it (the
/// twin's names are the ones Terraform gives the stack by default). Terraform fills the same
/// names from its `placeholders` map; the twin from its settings.
fn placeholders() -> Vec<(&'static str, String)> {
    use local::settings::names;
    let twin = local::settings::ServeArgs::default();
    vec![
        ("region", names::REGION.to_owned()),
        ("account_id", names::ACCOUNT_ID.to_owned()),
        ("api_id", names::API_ID.to_owned()),
        // API Gateway's default stage, the only one the API has.
        ("stage", "$default".to_owned()),
        ("metrics_namespace", "ItemsApi".to_owned()),
        ("items_function", "items-api-items".to_owned()),
        ("public_function", "items-api-public".to_owned()),
        ("item_events_function", "items-api-item-events".to_owned()),
        ("item_events_dlq", "items-api-item-events-dlq".to_owned()),
        (
            "item_events_log_group",
            "/aws/lambda/items-api-item-events".to_owned(),
        ),
        ("table", names::ITEMS_TABLE.to_owned()),
        ("event_bus", names::EVENT_BUS.to_owned()),
        ("item_created_rule", names::ITEM_CREATED_RULE.to_owned()),
        ("archive_log_group", names::ARCHIVE_LOG_GROUP.to_owned()),
        ("items_log_group", "/aws/lambda/items-api-items".to_owned()),
        (
            "public_log_group",
            "/aws/lambda/items-api-public".to_owned(),
        ),
        ("access_log_group", "/aws/apigateway/items-api".to_owned()),
        // A plain number of milliseconds: it is used inside metric math expressions.
        (
            "items_timeout_ms",
            (twin.function_timeout * 1000).to_string(),
        ),
        // No trailing slash: links are `${runbook_base_url}/runbooks/<file>.md`.
        (
            "runbook_base_url",
            "https://github.com/example/items-api/blob/main".to_owned(),
        ),
        // What Terraform puts before each alarm's `name` (its `name` variable).
        ("alarm_prefix", "items-api".to_owned()),
    ]
}

/// `text` with every `${name}` replaced by its sample value, as the twin substitutes them. Fails
/// on an unknown name, an unclosed `${`, and on `%{` (a `templatefile` directive: none of these
/// files needs one).
fn substitute(text: &str) -> Result<String, String> {
    if let Some(at) = text.find("%{") {
        return Err(format!("a templatefile directive `%{{` at byte {at}"));
    }
    local::cloudwatch::substitute(text, &placeholders())
}

// ---------------------------------------------------------------------------------------------
// Files

struct JsonFile {
    stem: String,
    path: PathBuf,
    /// Parsed as it is in the repository (placeholders inside strings).
    raw: Value,
    /// Parsed after the placeholders are filled.
    filled: Value,
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files_in(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = conformance::repo_root().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a readable folder entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .expect("a UTF-8 file name")
        .to_owned()
}

fn json_files(dir: &str) -> Vec<JsonFile> {
    files_in(dir, "json")
        .into_iter()
        .map(|path| {
            let text = read(&path);
            let raw = serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!(
                    "{}: not JSON as it is (keep placeholders inside strings): {e}",
                    path.display()
                )
            });
            let filled_text =
                substitute(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let filled = serde_json::from_str(&filled_text)
                .unwrap_or_else(|e| panic!("{}: not JSON once filled: {e}", path.display()));
            JsonFile {
                stem: stem(&path),
                path,
                raw,
                filled,
            }
        })
        .collect()
}

fn dashboards() -> Vec<JsonFile> {
    json_files("dashboards")
}

fn alarms() -> Vec<JsonFile> {
    json_files("alarms")
}

/// The objectives of `slos/`, without the burn-rate policy.
fn slo_files() -> Vec<JsonFile> {
    json_files("slos")
        .into_iter()
        .filter(|f| {
            f.path
                .file_name()
                .is_some_and(|n| n != local::slo::POLICY_FILE)
        })
        .collect()
}

fn slo_policy() -> local::slo::Policy {
    let path = conformance::repo_root()
        .join("slos")
        .join(local::slo::POLICY_FILE);
    serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Each objective parsed as the twin and the tests read it (unknown keys refused).
fn slos() -> Vec<(JsonFile, local::slo::Slo)> {
    slo_files()
        .into_iter()
        .map(|file| {
            let slo = serde_json::from_value(file.raw.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", file.path.display()));
            (file, slo)
        })
        .collect()
}

fn alarm_names() -> BTreeSet<String> {
    alarms().into_iter().map(|a| a.stem).collect()
}

fn widgets(dashboard: &Value) -> &Vec<Value> {
    dashboard["widgets"]
        .as_array()
        .expect("widgets is an array")
}

fn str_of<'a>(value: &'a Value, key: &str, whose: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{whose}: `{key}` is not a string"))
}

// ---------------------------------------------------------------------------------------------
// CloudWatch's allowed values

const COMPARISONS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];
const MISSING_DATA: &[&str] = &["breaching", "notBreaching", "ignore", "missing"];
const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

/// A percentile CloudWatch accepts as an extended statistic: `p0`..`p100`, with up to two
/// decimals (`p99.9`), or the trimmed and winsorized forms `tm99`, `wm99`, `tc99`, `ts99`, and
/// `IQM`.
fn is_extended_statistic(stat: &str) -> bool {
    if stat == "IQM" {
        return true;
    }
    let number = ["p", "tm", "wm", "tc", "ts"]
        .iter()
        .find_map(|prefix| stat.strip_prefix(prefix));
    let Some(number) = number else {
        return false;
    };
    let (whole, decimals) = number.split_once('.').unwrap_or((number, ""));
    !whole.is_empty()
        && whole.len() <= 3
        && whole.bytes().all(|b| b.is_ascii_digit())
        && decimals.len() <= 2
        && decimals.bytes().all(|b| b.is_ascii_digit())
        && number
            .parse::<f64>()
            .is_ok_and(|v| (0.0..=100.0).contains(&v))
}

/// The bounded forms CloudWatch accepts in a `Stat`: `TC(:300)`, `PR(100:2000)`,
/// `TM(10%:90%)` (a missing bound is open; bounds are numbers or percentages).
fn is_bounded_statistic(stat: &str) -> bool {
    let Some((kind, rest)) = stat.split_once('(') else {
        return false;
    };
    let Some(bounds) = rest.strip_suffix(')') else {
        return false;
    };
    let Some((low, high)) = bounds.split_once(':') else {
        return false;
    };
    let bound = |b: &str| {
        let number = b.strip_suffix('%').unwrap_or(b);
        b.is_empty() || number.parse::<f64>().is_ok_and(|v| v >= 0.0)
    };
    ["TM", "WM", "TC", "TS", "PR"].contains(&kind)
        && (!low.is_empty() || !high.is_empty())
        && bound(low)
        && bound(high)
}

fn is_statistic(stat: &str) -> bool {
    STATISTICS.contains(&stat) || is_extended_statistic(stat) || is_bounded_statistic(stat)
}

/// An alarm or metric period: 10, 20 or 30 seconds (high resolution) or whole minutes.
fn is_period(period: u64) -> bool {
    matches!(period, 10 | 20 | 30) || (period > 0 && period.is_multiple_of(60))
}

/// AWS metrics as CloudWatch publishes them: namespace, metric, and the dimension sets each
/// may be read with (docs: API Gateway HTTP API, Lambda, DynamoDB, EventBridge, CloudWatch Logs,
/// SQS metrics; the anchors list of the project's notes). Lambda's stream metrics: `IteratorAge`
/// (event source mappings that read a stream) and `DestinationDeliveryFailures` (the on-failure
/// destination could not be sent to) are by function, like its invocation metrics; the event
/// source mapping's own `…EventCount` metrics (by `EventSourceMappingUUID`) are not enabled.
/// (namespace, metric names, dimension sets).
type AwsMetrics = (
    &'static str,
    &'static [&'static str],
    &'static [&'static [&'static str]],
);

const AWS_METRICS: &[AwsMetrics] = &[
    (
        "AWS/ApiGateway",
        &[
            "Count",
            "4xx",
            "5xx",
            "Latency",
            "IntegrationLatency",
            "DataProcessed",
        ],
        &[
            &["ApiId", "Stage"],
            &["ApiId", "Method", "Resource", "Stage"],
        ],
    ),
    (
        "AWS/Lambda",
        &[
            "Invocations",
            "Errors",
            "Throttles",
            "Duration",
            "ConcurrentExecutions",
            "IteratorAge",
            "DestinationDeliveryFailures",
        ],
        &[&["FunctionName"]],
    ),
    (
        "AWS/SQS",
        &[
            "ApproximateNumberOfMessagesVisible",
            "ApproximateAgeOfOldestMessage",
            "NumberOfMessagesSent",
            "NumberOfMessagesDeleted",
        ],
        &[&["QueueName"]],
    ),
    (
        "AWS/DynamoDB",
        &["ReadThrottleEvents", "WriteThrottleEvents"],
        &[&["TableName"]],
    ),
    (
        "AWS/DynamoDB",
        &[
            "ThrottledRequests",
            "SystemErrors",
            "SuccessfulRequestLatency",
        ],
        &[&["Operation", "TableName"]],
    ),
    (
        "AWS/Events",
        &[
            "MatchedEvents",
            "Invocations",
            "FailedInvocations",
            "DeadLetterInvocations",
        ],
        // The project's bus is a custom bus: its rules' metrics carry both.
        &[&["EventBusName", "RuleName"]],
    ),
    ("AWS/Logs", &["IncomingLogEvents"], &[&["LogGroupName"]]),
];

/// The operations the DynamoDB adapter calls (functions/src/adapters/aws/dynamodb.rs).
const TABLE_OPERATIONS: &[&str] = &["PutItem", "GetItem", "Query"];

/// What each dimension's value must be: the placeholder of this stack's resource.
fn dimension_value_allowed(dimension: &str, value: &str) -> bool {
    let allowed: &[&str] = match dimension {
        "ApiId" => &["${api_id}"],
        "Stage" => &["${stage}"],
        "FunctionName" => &[
            "${items_function}",
            "${public_function}",
            "${item_events_function}",
        ],
        "QueueName" => &["${item_events_dlq}"],
        "TableName" => &["${table}"],
        "Operation" => TABLE_OPERATIONS,
        "RuleName" => &["${item_created_rule}"],
        "EventBusName" => &["${event_bus}"],
        "LogGroupName" => &[
            "${archive_log_group}",
            "${items_log_group}",
            "${public_log_group}",
            "${item_events_log_group}",
            "${access_log_group}",
        ],
        _ => return false,
    };
    allowed.contains(&value)
}

const CUSTOM_NAMESPACE: &str = "${metrics_namespace}";
const SERVICES: &[(&str, &str)] = &[
    ("items", "${items_function}"),
    ("public", "${public_function}"),
    ("item-events", "${item_events_function}"),
];

/// The stream consumer's metrics the items function counts too, for the operator re-emit route
/// (`POST /internal/events/replay`).
const REEMIT_METRICS: &[&str] = &[
    metric_names::ITEM_EVENTS_PUBLISHED,
    metric_names::ITEM_EVENT_PUBLISH_FAILURES,
    metric_names::ITEM_EVENT_PUBLISH_RETRIES,
];

// ---------------------------------------------------------------------------------------------
// Metric references, from alarms and dashboards

#[derive(Debug)]
struct MetricRef {
    whose: String,
    namespace: String,
    name: String,
    dimensions: BTreeMap<String, String>,
}

fn alarm_metric_refs(alarm: &JsonFile) -> Vec<MetricRef> {
    let whose = alarm.path.display().to_string();
    let raw = &alarm.raw;
    let mut out = Vec::new();
    if let Some(metric) = raw.get("metric") {
        let dimensions = metric["dimensions"]
            .as_object()
            .unwrap_or_else(|| panic!("{whose}: metric.dimensions is not an object"))
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str()
                        .unwrap_or_else(|| panic!("{whose}: {k}"))
                        .to_owned(),
                )
            })
            .collect();
        out.push(MetricRef {
            whose: whose.clone(),
            namespace: str_of(metric, "namespace", &whose).to_owned(),
            name: str_of(metric, "name", &whose).to_owned(),
            dimensions,
        });
    }
    for query in raw
        .get("metrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(stat) = query.get("MetricStat") else {
            continue;
        };
        let metric = &stat["Metric"];
        let dimensions = metric["Dimensions"]
            .as_array()
            .unwrap_or_else(|| panic!("{whose}: Metric.Dimensions is not an array"))
            .iter()
            .map(|d| {
                (
                    str_of(d, "Name", &whose).to_owned(),
                    str_of(d, "Value", &whose).to_owned(),
                )
            })
            .collect();
        out.push(MetricRef {
            whose: whose.clone(),
            namespace: str_of(metric, "Namespace", &whose).to_owned(),
            name: str_of(metric, "MetricName", &whose).to_owned(),
            dimensions,
        });
    }
    out
}

/// One row of a metric widget's `metrics`: an expression, or a metric with its options.
enum Row<'a> {
    Expression(&'a Map<String, Value>),
    Metric {
        namespace: &'a str,
        name: &'a str,
        dimensions: Vec<(&'a str, &'a str)>,
        options: Option<&'a Map<String, Value>>,
    },
}

fn parse_row<'a>(row: &'a Value, whose: &str) -> Row<'a> {
    let items = row
        .as_array()
        .unwrap_or_else(|| panic!("{whose}: a metrics row is not an array"));
    if let [Value::Object(expression)] = items.as_slice() {
        return Row::Expression(expression);
    }
    let (options, strings) = match items.last() {
        Some(Value::Object(options)) => (Some(options), &items[..items.len() - 1]),
        _ => (None, &items[..]),
    };
    let strings: Vec<&str> = strings
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{whose}: {row}: only the last element may be an object"))
        })
        .collect();
    assert!(
        strings.len() >= 2 && strings.len().is_multiple_of(2),
        "{whose}: {row}: a row is namespace, metric name, then dimension name and value pairs"
    );
    assert!(
        !strings.contains(&"."),
        "{whose}: {row}: write every row out in full (no \".\" shorthand), so that it can be checked"
    );
    Row::Metric {
        namespace: strings[0],
        name: strings[1],
        dimensions: strings[2..].chunks(2).map(|p| (p[0], p[1])).collect(),
        options,
    }
}

fn dashboard_metric_refs(dashboard: &JsonFile) -> Vec<MetricRef> {
    let mut out = Vec::new();
    for (i, widget) in widgets(&dashboard.raw).iter().enumerate() {
        if widget["type"] != "metric" {
            continue;
        }
        let whose = format!("{} widget {i}", dashboard.path.display());
        for row in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Row::Metric {
                namespace,
                name,
                dimensions,
                ..
            } = parse_row(row, &whose)
            {
                out.push(MetricRef {
                    whose: whose.clone(),
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    dimensions: dimensions
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                });
            }
        }
    }
    out
}

/// An SLO's metrics, read as an alarm's `metrics`.
fn slo_metric_refs(slo: &JsonFile) -> Vec<MetricRef> {
    let as_alarm = JsonFile {
        stem: slo.stem.clone(),
        path: slo.path.clone(),
        raw: serde_json::json!({ "metrics": slo.raw["sli"]["metrics"] }),
        filled: Value::Null,
    };
    alarm_metric_refs(&as_alarm)
}

fn all_metric_refs() -> Vec<MetricRef> {
    let mut out: Vec<MetricRef> = alarms().iter().flat_map(alarm_metric_refs).collect();
    out.extend(slo_files().iter().flat_map(slo_metric_refs));
    out.extend(dashboards().iter().flat_map(dashboard_metric_refs));
    out
}

/// Identifiers an expression refers to (not the functions it calls, not numbers).
fn expression_ids(expression: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expression.chars().collect();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if chars.get(j) != Some(&'(') {
                out.insert(word);
            }
        } else if c == '"' || c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            i += 1;
        } else {
            i += 1;
        }
    }
    out
}

fn is_metric_id(id: &str) -> bool {
    id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// ---------------------------------------------------------------------------------------------
// The log contract

/// Fields of the functions' log lines (telemetry crate): every line, the request's summary line
/// (`request completed`, `request failed`; `init_ms` and `max_memory_mb` stand for Lambda's
/// `REPORT` line, which is not written), and `ItemCreated was not published` / `item created`.
const FUNCTION_LOG_FIELDS: &[&str] = &[
    "timestamp",
    "level",
    "message",
    "service",
    "target",
    "request_id",
    "function_request_id",
    "xray_trace_id",
    "cold_start",
    "method",
    "route",
    "path",
    "status",
    "latency_ms",
    "init_ms",
    "max_memory_mb",
    "item_id",
    "owner",
    "error",
    // The item-events function's line about a stream record it cannot read (a poison record).
    "sequence_number",
];

/// Fields Logs Insights discovers itself: on every log group, and `@requestId` on the lines
/// Lambda writes about an invocation that failed (a timeout, a crash). Not the `REPORT` line's
/// (`@type`, `@duration`, `@billedDuration`, `@memorySize`, `@maxMemoryUsed`,
/// `@initDuration`): the functions' system log level (WARN) leaves that line out, and the
/// summary line's `latency_ms`, `init_ms` and `max_memory_mb` take its place.
const SYSTEM_FIELDS: &[&str] = &[
    "@timestamp",
    "@message",
    "@logStream",
    "@log",
    "@ingestionTime",
    "@requestId",
];

/// The function log groups also hold the EMF documents: the metric names of
/// `metric_names::ALL`, their dimensions (`service`, `function_name`) and the request ids.
fn function_log_fields() -> BTreeSet<String> {
    let mut out: BTreeSet<String> = FUNCTION_LOG_FIELDS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    out.extend(metric_names::ALL.iter().map(|m| m.name.to_owned()));
    out.insert("function_name".to_owned());
    out
}

/// The access log's keys, as the twin's gateway writes them (and the Terraform stage's format
/// repeats; a Terraform conformance test holds the two together).
fn access_log_fields() -> BTreeSet<String> {
    local::gateway::access_log::AccessLog::field_names()
        .into_iter()
        .collect()
}

/// The archive's events: EventBridge's envelope, with the `ItemCreated` detail's keys under
/// `detail.` (functions::events).
fn archive_fields() -> BTreeSet<String> {
    let detail = functions::events::ItemCreated {
        item_id: String::new(),
        owner: String::new(),
        created_at: String::new(),
        request_id: String::new(),
        trace_id: None,
    };
    let mut out: BTreeSet<String> = [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let detail = serde_json::to_value(detail).expect("the detail serializes");
    out.extend(keys(&detail).into_iter().map(|k| format!("detail.{k}")));
    out
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum LogKind {
    Function,
    Access,
    Archive,
}

fn fields_of(kind: LogKind) -> BTreeSet<String> {
    match kind {
        LogKind::Function => function_log_fields(),
        LogKind::Access => access_log_fields(),
        LogKind::Archive => archive_fields(),
    }
}

/// The log group placeholder a dashboard query reads (`SOURCE '…'`), as a kind of log.
fn kind_of_source(source: &str) -> Option<LogKind> {
    match source {
        "${items_log_group}" | "${public_log_group}" | "${item_events_log_group}" => {
            Some(LogKind::Function)
        }
        "${access_log_group}" => Some(LogKind::Access),
        "${archive_log_group}" => Some(LogKind::Archive),
        _ => None,
    }
}

/// The kind a runbook names after ```` ```logs-insights ````.
fn kind_of_fence(word: &str) -> Option<LogKind> {
    match word {
        "function-log" => Some(LogKind::Function),
        "access-log" => Some(LogKind::Access),
        "archive" => Some(LogKind::Archive),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Logs Insights queries

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Number(String),
    Regex,
    Punct(char),
}

fn tokenize(query: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = query.chars().collect();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    let take_until = |i: &mut usize, end: char| -> Result<String, String> {
        let start = *i;
        while *i < chars.len() && chars[*i] != end {
            if chars[*i] == '\\' {
                *i += 1;
            }
            *i += 1;
        }
        if *i >= chars.len() {
            return Err(format!("unclosed {end}"));
        }
        let s: String = chars[start..*i].iter().collect();
        *i += 1;
        Ok(s)
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            i += 1;
            out.push(Token::Str(take_until(&mut i, c)?));
        } else if c == '`' {
            i += 1;
            out.push(Token::Ident(take_until(&mut i, '`')?));
        } else if c == '/'
            && (matches!(out.last(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case("like"))
                || out.last() == Some(&Token::Punct('~')))
        {
            // A regular expression: after `like` or `=~`.
            i += 1;
            take_until(&mut i, '/')?;
            out.push(Token::Regex);
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Number(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' || c == '@' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '@'))
            {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    Ok(out)
}

const QUERY_KEYWORDS: &[&str] = &[
    "and", "or", "not", "like", "in", "as", "by", "asc", "desc", "is", "null", "true", "false",
];
const QUERY_COMMANDS: &[&str] = &[
    "fields", "filter", "stats", "sort", "limit", "display", "dedup",
];

/// A query's log groups (`SOURCE '…'` commands, as dashboards write them) and the field names
/// it uses that `allowed` (for its kinds of log) does not have.
struct Checked {
    sources: Vec<String>,
    unknown: Vec<String>,
}

fn check_query(
    query: &str,
    allowed: impl Fn(&[String]) -> BTreeSet<String>,
) -> Result<Checked, String> {
    let tokens = tokenize(query)?;
    let commands: Vec<&[Token]> = tokens.split(|t| *t == Token::Punct('|')).collect();
    let mut sources = Vec::new();
    let mut aliases: BTreeSet<String> = BTreeSet::new();
    let mut used: Vec<String> = Vec::new();
    for command in &commands {
        let Some(Token::Ident(name)) = command.first() else {
            return Err(format!(
                "a command that does not start with its name: {command:?}"
            ));
        };
        if name == "SOURCE" {
            match command.get(1) {
                Some(Token::Str(group)) if command.len() == 2 => sources.push(group.clone()),
                _ => return Err("SOURCE takes one quoted log group".to_owned()),
            }
            continue;
        }
        if !QUERY_COMMANDS.contains(&name.as_str()) {
            return Err(format!("unexpected command `{name}`"));
        }
        let mut i = 1;
        while i < command.len() {
            if let Token::Ident(word) = &command[i] {
                let lower = word.to_ascii_lowercase();
                if command.get(i + 1) == Some(&Token::Punct('(')) {
                    // A function: its arguments are checked as they come.
                } else if lower == "as" {
                    match command.get(i + 1) {
                        Some(Token::Ident(alias)) => {
                            aliases.insert(alias.clone());
                            i += 1;
                        }
                        _ => return Err("`as` without a name".to_owned()),
                    }
                } else if !QUERY_KEYWORDS.contains(&lower.as_str()) {
                    used.push(word.clone());
                }
            }
            i += 1;
        }
    }
    let allowed = allowed(&sources);
    let unknown = used
        .into_iter()
        .filter(|f| {
            if f.starts_with('@') {
                !SYSTEM_FIELDS.contains(&f.as_str())
            } else {
                !allowed.contains(f) && !aliases.contains(f)
            }
        })
        .collect();
    Ok(Checked { sources, unknown })
}

/// The ```` ```logs-insights KIND… ```` blocks of a markdown file: (kinds, query).
fn runbook_queries(path: &Path) -> Vec<(Vec<String>, String)> {
    let text = read(path);
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.trim().strip_prefix("```logs-insights") else {
            continue;
        };
        let kinds: Vec<String> = info.split_whitespace().map(str::to_owned).collect();
        let mut query = String::new();
        for line in lines.by_ref() {
            if line.trim() == "```" {
                break;
            }
            query.push_str(line.trim());
            query.push('\n');
        }
        out.push((kinds, query));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Tests: the files as templates

#[test]
fn every_file_is_json_with_known_placeholders_before_and_after_they_are_filled() {
    // json_files panics on any file that breaks this.
    let dashboards = dashboards();
    let alarms = alarms();
    let names: BTreeSet<&str> = dashboards.iter().map(|d| d.stem.as_str()).collect();
    for needed in ["api-overview", "items-and-events", "functions"] {
        assert!(
            names.contains(needed),
            "dashboards/{needed}.json is missing"
        );
    }
    let names: BTreeSet<&str> = alarms.iter().map(|a| a.stem.as_str()).collect();
    for needed in [
        "api-5xx-rate",
        "api-latency-p99",
        "items-function-errors",
        "function-throttles",
        "items-duration-near-timeout",
        "table-throttles",
        "item-events-iterator-age",
        "item-events-dlq-depth",
        "item-events-function-errors",
        "rule-failed-invocations",
    ] {
        assert!(names.contains(needed), "alarms/{needed}.json is missing");
    }
    // Placeholders are the only `$` of a template that matter: a stray `${` is caught above.
    assert_eq!(substitute("a ${stage} b").unwrap(), "a $default b");
    assert!(substitute("${nope}").is_err());
    assert!(substitute("${stage").is_err());
    assert!(substitute("%{ if x }").is_err());
}

// ---------------------------------------------------------------------------------------------
// Tests: alarms

#[test]
fn alarms_keep_the_shape_terraform_reads_with_cloudwatch_values() {
    let known_keys = [
        "name",
        "description",
        "runbook",
        "notify",
        "metric",
        "metrics",
        "period",
        "evaluation_periods",
        "datapoints_to_alarm",
        "threshold",
        "comparison",
        "treat_missing_data",
    ];
    for alarm in alarms() {
        let whose = alarm.path.display().to_string();
        let a = alarm
            .filled
            .as_object()
            .unwrap_or_else(|| panic!("{whose}: not an object"));
        for key in a.keys() {
            assert!(
                known_keys.contains(&key.as_str()),
                "{whose}: unknown key {key}"
            );
        }
        for key in known_keys.iter().filter(|k| !k.starts_with("metric")) {
            assert!(a.contains_key(*key), "{whose}: no {key}");
        }
        assert!(
            a.contains_key("metric") != a.contains_key("metrics"),
            "{whose}: give either metric or metrics"
        );

        let name = str_of(&alarm.filled, "name", &whose);
        assert_eq!(name, alarm.stem, "{whose}: name is the file's name");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{whose}: {name}"
        );
        let description = str_of(&alarm.filled, "description", &whose);
        // CloudWatch keeps 1024 characters; Terraform appends " Runbook: <url>".
        assert!(
            !description.is_empty() && description.len() <= 700,
            "{whose}: description of 1 to 700 characters"
        );
        assert_eq!(
            str_of(&alarm.filled, "runbook", &whose),
            format!("runbooks/{name}.md"),
            "{whose}: the runbook is runbooks/<alarm>.md"
        );

        // Whom it notifies (runbooks/README.md says why): the pager, a ticket, or nobody (a
        // cause the SLO alarms page for).
        let notify = str_of(&alarm.filled, "notify", &whose);
        assert!(
            ["page", "ticket", "none"].contains(&notify),
            "{whose}: notify {notify}"
        );

        let period = a["period"]
            .as_u64()
            .unwrap_or_else(|| panic!("{whose}: period"));
        assert!(is_period(period), "{whose}: period {period}");
        let evaluation = a["evaluation_periods"]
            .as_u64()
            .unwrap_or_else(|| panic!("{whose}: evaluation_periods"));
        let datapoints = a["datapoints_to_alarm"]
            .as_u64()
            .unwrap_or_else(|| panic!("{whose}: datapoints_to_alarm"));
        assert!(
            (1..=evaluation).contains(&datapoints),
            "{whose}: datapoints_to_alarm {datapoints} of {evaluation}"
        );
        assert!(
            evaluation * period <= 86_400,
            "{whose}: evaluates more than a day"
        );
        assert!(a["threshold"].is_number(), "{whose}: threshold is a number");
        let comparison = str_of(&alarm.filled, "comparison", &whose);
        assert!(
            COMPARISONS.contains(&comparison),
            "{whose}: comparison {comparison}"
        );
        let missing = str_of(&alarm.filled, "treat_missing_data", &whose);
        assert!(
            MISSING_DATA.contains(&missing),
            "{whose}: treat_missing_data {missing}"
        );

        if let Some(metric) = a.get("metric") {
            check_single_metric(metric, &whose);
        } else {
            check_metric_math(&a["metrics"], &whose);
        }
    }
}

fn check_single_metric(metric: &Value, whose: &str) {
    let m = metric
        .as_object()
        .unwrap_or_else(|| panic!("{whose}: metric"));
    for key in m.keys() {
        assert!(
            ["namespace", "name", "dimensions", "stat", "extended_stat"].contains(&key.as_str()),
            "{whose}: metric.{key} is not read by Terraform"
        );
    }
    assert!(
        m["dimensions"].is_object(),
        "{whose}: metric.dimensions is an object"
    );
    match (m.get("stat"), m.get("extended_stat")) {
        (Some(stat), None) => {
            let stat = stat.as_str().unwrap_or_default();
            assert!(
                STATISTICS.contains(&stat),
                "{whose}: stat {stat} (percentiles go in extended_stat)"
            );
        }
        (None, Some(stat)) => {
            let stat = stat.as_str().unwrap_or_default();
            assert!(is_extended_statistic(stat), "{whose}: extended_stat {stat}");
        }
        _ => panic!("{whose}: metric has stat or extended_stat, one of them"),
    }
}

/// `metrics` as PutMetricAlarm's `Metrics` (MetricDataQuery), which the Terraform module reads
/// into `metric_query` blocks.
fn check_metric_math(metrics: &Value, whose: &str) {
    let queries = metrics
        .as_array()
        .unwrap_or_else(|| panic!("{whose}: metrics is an array"));
    assert!(!queries.is_empty(), "{whose}: metrics is empty");
    let mut ids = BTreeSet::new();
    let mut referenced = BTreeSet::new();
    let mut returned = Vec::new();
    let mut metric_ids = Vec::new();
    for query in queries {
        let q = query
            .as_object()
            .unwrap_or_else(|| panic!("{whose}: a query is an object"));
        for key in q.keys() {
            assert!(
                [
                    "Id",
                    "Expression",
                    "MetricStat",
                    "Label",
                    "ReturnData",
                    "Period",
                    "AccountId"
                ]
                .contains(&key.as_str()),
                "{whose}: {key} is not a MetricDataQuery member"
            );
        }
        let id = str_of(query, "Id", whose);
        assert!(
            is_metric_id(id),
            "{whose}: Id {id} starts with a lowercase letter"
        );
        assert!(ids.insert(id.to_owned()), "{whose}: Id {id} twice");
        let returns = q
            .get("ReturnData")
            .and_then(Value::as_bool)
            .unwrap_or_else(|| panic!("{whose}: {id}: say ReturnData, true or false"));
        if returns {
            returned.push(id.to_owned());
        }
        match (q.get("Expression"), q.get("MetricStat")) {
            (Some(expression), None) => {
                let expression = expression
                    .as_str()
                    .unwrap_or_else(|| panic!("{whose}: {id}"));
                referenced.extend(expression_ids(expression));
            }
            (None, Some(stat)) => {
                metric_ids.push(id.to_owned());
                let s = stat
                    .as_object()
                    .unwrap_or_else(|| panic!("{whose}: {id}: MetricStat"));
                for key in s.keys() {
                    assert!(
                        ["Metric", "Period", "Stat", "Unit"].contains(&key.as_str()),
                        "{whose}: {id}: MetricStat.{key}"
                    );
                }
                let period = s["Period"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{whose}: {id}: Period"));
                assert!(is_period(period), "{whose}: {id}: Period {period}");
                let st = str_of(stat, "Stat", whose);
                assert!(is_statistic(st), "{whose}: {id}: Stat {st}");
                let metric = s["Metric"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{whose}: {id}: Metric"));
                for key in metric.keys() {
                    assert!(
                        ["Namespace", "MetricName", "Dimensions"].contains(&key.as_str()),
                        "{whose}: {id}: Metric.{key}"
                    );
                }
                for d in metric["Dimensions"].as_array().into_iter().flatten() {
                    let d = d
                        .as_object()
                        .unwrap_or_else(|| panic!("{whose}: {id}: a dimension"));
                    assert_eq!(
                        d.keys().map(String::as_str).collect::<Vec<_>>(),
                        ["Name", "Value"],
                        "{whose}: {id}: a dimension is {{Name, Value}}"
                    );
                }
            }
            _ => panic!("{whose}: {id}: Expression or MetricStat, one of them"),
        }
    }
    assert_eq!(
        returned.len(),
        1,
        "{whose}: exactly one query returns data: {returned:?}"
    );
    for id in &referenced {
        assert!(
            ids.contains(id),
            "{whose}: an expression uses {id}, which no query defines"
        );
    }
    for id in &metric_ids {
        assert!(
            referenced.contains(id) || returned.contains(id),
            "{whose}: {id} is fetched and never used"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tests: metric names, both ways

#[test]
fn metrics_are_named_as_the_code_and_cloudwatch_publish_them() {
    let refs = all_metric_refs();
    assert!(!refs.is_empty());
    for r in &refs {
        let whose = &r.whose;
        let dimension_names: Vec<&str> = r.dimensions.keys().map(String::as_str).collect();
        if r.namespace == CUSTOM_NAMESPACE {
            let spec = metric_names::find(&r.name).unwrap_or_else(|| {
                panic!("{whose}: {} is not in telemetry::metric_names::ALL", r.name)
            });
            // The telemetry layer writes every metric with `service`, ColdStart also with
            // `function_name` (telemetry/src/recorder.rs); no handler metric has labels.
            let expected: &[&str] = if spec.name == metric_names::COLD_START {
                &["function_name", "service"]
            } else {
                &["service"]
            };
            assert_eq!(dimension_names, expected, "{whose}: {} dimensions", r.name);
            let service = r.dimensions["service"].as_str();
            let function = SERVICES
                .iter()
                .find(|(s, _)| *s == service)
                .map(|(_, f)| *f)
                .unwrap_or_else(|| {
                    panic!("{whose}: service {service} is items, public or item-events")
                });
            if let Some(name) = r.dimensions.get("function_name") {
                assert_eq!(
                    name, function,
                    "{whose}: function_name of service {service}"
                );
            }
            // Handler and adapter metrics come from the item routes: only `items` has them.
            if spec.emitted_by == Emitter::Functions {
                assert_eq!(
                    service, "items",
                    "{whose}: {} is the items function's",
                    r.name
                );
            }
            // The consumer's metrics are item-events'; the items function counts the re-emit
            // route's publications, retries and failures only.
            if spec.emitted_by == Emitter::ItemEvents {
                assert!(
                    service == "item-events"
                        || (service == "items" && REEMIT_METRICS.contains(&spec.name)),
                    "{whose}: {} is the item-events function's, not {service}'s",
                    r.name
                );
            }
        } else if r.namespace.starts_with("AWS/") {
            let sets: Vec<&[&str]> = AWS_METRICS
                .iter()
                .filter(|(ns, names, _)| *ns == r.namespace && names.contains(&r.name.as_str()))
                .flat_map(|(_, _, sets)| sets.iter().copied())
                .collect();
            assert!(
                !sets.is_empty(),
                "{whose}: {} {} is not a CloudWatch metric",
                r.namespace,
                r.name
            );
            assert!(
                sets.contains(&dimension_names.as_slice()),
                "{whose}: {} {} by {dimension_names:?}; CloudWatch publishes it by {sets:?}",
                r.namespace,
                r.name
            );
            for (dimension, value) in &r.dimensions {
                assert!(
                    dimension_value_allowed(dimension, value),
                    "{whose}: {dimension} = {value:?} is not this stack's"
                );
            }
        } else {
            panic!(
                "{whose}: namespace {} (use ${{metrics_namespace}} or an AWS/ one)",
                r.namespace
            );
        }
    }
}

#[test]
fn the_consumer_s_metrics_are_shown_under_item_events_and_the_re_emit_route_s_under_items() {
    let shown: BTreeSet<(String, String)> = dashboards()
        .iter()
        .flat_map(dashboard_metric_refs)
        .filter(|r| r.namespace == CUSTOM_NAMESPACE)
        .map(|r| (r.name, r.dimensions["service"].clone()))
        .collect();
    let consumer: Vec<&str> = metric_names::ALL
        .iter()
        .filter(|m| m.emitted_by == Emitter::ItemEvents)
        .map(|m| m.name)
        .collect();
    assert!(consumer.len() >= 5, "the consumer's metrics: {consumer:?}");
    for name in &consumer {
        assert!(
            shown.contains(&(name.to_string(), "item-events".to_owned())),
            "{name} (service item-events) is on no dashboard"
        );
    }
    for name in REEMIT_METRICS {
        assert!(consumer.contains(name), "{name} is the consumer's too");
        assert!(
            shown.contains(&(name.to_string(), "items".to_owned())),
            "{name} of the re-emit route (service items) is on no dashboard"
        );
    }
    // The consumer's lag and throughput, and the mapping's state, as the design asks.
    let aws: BTreeSet<(String, String)> = dashboards()
        .iter()
        .filter(|d| d.stem == "items-and-events")
        .flat_map(dashboard_metric_refs)
        .map(|r| (r.namespace, r.name))
        .collect();
    for (namespace, name) in [
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/Lambda", "Errors"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        (CUSTOM_NAMESPACE, metric_names::ITEM_EVENT_LAG),
        (CUSTOM_NAMESPACE, metric_names::ITEMS_CREATED),
        (CUSTOM_NAMESPACE, metric_names::ITEM_EVENTS_PUBLISHED),
    ] {
        assert!(
            aws.contains(&(namespace.to_owned(), name.to_owned())),
            "items-and-events shows {namespace} {name}"
        );
    }
}

#[test]
fn every_custom_metric_the_code_emits_is_on_a_dashboard() {
    let shown: BTreeSet<String> = dashboards()
        .iter()
        .flat_map(dashboard_metric_refs)
        .filter(|r| r.namespace == CUSTOM_NAMESPACE)
        .map(|r| r.name)
        .collect();
    for spec in metric_names::ALL {
        assert!(
            shown.contains(spec.name),
            "{} is on no dashboard",
            spec.name
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tests: dashboards

#[test]
fn dashboards_keep_cloudwatch_dashboard_body_schema() {
    let alarm_names = alarm_names();
    for dashboard in dashboards() {
        let file = dashboard.path.display().to_string();
        let body = dashboard
            .filled
            .as_object()
            .unwrap_or_else(|| panic!("{file}: not an object"));
        for key in body.keys() {
            assert!(
                ["widgets", "start", "end", "periodOverride", "variables"].contains(&key.as_str()),
                "{file}: {key} is not a dashboard body member"
            );
        }
        let all = widgets(&dashboard.filled);
        assert!((1..=500).contains(&all.len()), "{file}: 1 to 500 widgets");
        let mut boxes: Vec<(u64, u64, u64, u64)> = Vec::new();
        for (i, widget) in all.iter().enumerate() {
            let whose = format!("{file} widget {i}");
            let raw = &widgets(&dashboard.raw)[i];
            let at = |key: &str| {
                widget[key]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{whose}: {key} is a whole number"))
            };
            let (x, y, w, h) = (at("x"), at("y"), at("width"), at("height"));
            assert!(
                (1..=24).contains(&w) && x + w <= 24,
                "{whose}: inside the 24-column grid"
            );
            assert!((1..=1000).contains(&h), "{whose}: height");
            for (j, other) in boxes.iter().enumerate() {
                let apart = x + w <= other.0
                    || other.0 + other.2 <= x
                    || y + h <= other.1
                    || other.1 + other.3 <= y;
                assert!(apart, "{whose} overlaps widget {j}");
            }
            boxes.push((x, y, w, h));
            let properties = &widget["properties"];
            assert!(properties.is_object(), "{whose}: properties");
            match str_of(widget, "type", &whose) {
                "metric" => {
                    assert_eq!(raw["properties"]["region"], "${region}", "{whose}: region");
                    check_metric_widget(properties, &whose);
                }
                "text" => {
                    assert!(
                        properties["markdown"]
                            .as_str()
                            .is_some_and(|m| !m.is_empty()),
                        "{whose}: markdown"
                    );
                }
                "log" => {
                    let view = str_of(properties, "view", &whose);
                    assert!(
                        ["table", "timeSeries", "bar", "pie"].contains(&view),
                        "{whose}: view {view}"
                    );
                    assert_eq!(raw["properties"]["region"], "${region}", "{whose}: region");
                    assert!(
                        str_of(properties, "query", &whose).starts_with("SOURCE '"),
                        "{whose}: query"
                    );
                    assert!(properties["title"].is_string(), "{whose}: title");
                }
                "alarm" => {
                    let list = raw["properties"]["alarms"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{whose}: alarms"));
                    assert!(
                        !list.is_empty() && list.len() <= 100,
                        "{whose}: 1 to 100 alarms"
                    );
                    for arn in list {
                        let arn = arn
                            .as_str()
                            .unwrap_or_else(|| panic!("{whose}: an alarm ARN"));
                        let name = arn
                            .strip_prefix(
                                "arn:aws:cloudwatch:${region}:${account_id}:alarm:${alarm_prefix}-",
                            )
                            .unwrap_or_else(|| {
                                panic!("{whose}: {arn} is not one of this stack's alarm ARNs")
                            });
                        assert!(alarm_names.contains(name), "{whose}: no alarms/{name}.json");
                    }
                }
                other => panic!("{whose}: widget type {other}"),
            }
        }
        for variable in body
            .get("variables")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let whose = format!("{file} variable {variable}");
            let kind = str_of(variable, "type", &whose);
            assert!(["pattern", "property"].contains(&kind), "{whose}: type");
            let input = str_of(variable, "inputType", &whose);
            assert!(
                ["input", "radio", "select"].contains(&input),
                "{whose}: inputType"
            );
            assert!(
                variable["id"].is_string() && variable["label"].is_string(),
                "{whose}: id, label"
            );
            let target = str_of(variable, kind, &whose);
            // A pattern replaces text across the body: it must be there, and only in queries.
            let mut text = dashboard.filled.clone();
            text["variables"] = Value::Null;
            let queries: String = all
                .iter()
                .filter(|w| w["type"] == "log")
                .map(|w| w["properties"]["query"].as_str().unwrap_or_default())
                .collect();
            let everywhere = text.to_string().matches(target).count();
            assert!(everywhere > 0, "{whose}: {target} is in no widget");
            assert_eq!(
                queries.matches(target).count(),
                everywhere,
                "{whose}: {target} outside queries"
            );
        }
    }
}

fn check_metric_widget(properties: &Value, whose: &str) {
    let view = str_of(properties, "view", whose);
    assert!(
        ["timeSeries", "singleValue", "gauge", "bar", "pie", "table"].contains(&view),
        "{whose}: view {view}"
    );
    assert!(properties["title"].is_string(), "{whose}: title");
    assert!(properties["region"].is_string(), "{whose}: region");
    if let Some(period) = properties.get("period") {
        let period = period.as_u64().unwrap_or_else(|| panic!("{whose}: period"));
        assert!(
            matches!(period, 1 | 5 | 10 | 30) || period.is_multiple_of(60),
            "{whose}: period {period}"
        );
    }
    if let Some(stat) = properties.get("stat") {
        let stat = stat.as_str().unwrap_or_default();
        assert!(is_statistic(stat), "{whose}: stat {stat}");
    }
    for line in properties["annotations"]["horizontal"]
        .as_array()
        .into_iter()
        .flatten()
    {
        assert!(
            line["value"].is_number(),
            "{whose}: an annotation's value is a number"
        );
    }
    let rows = properties["metrics"]
        .as_array()
        .unwrap_or_else(|| panic!("{whose}: metrics is an array"));
    assert!(!rows.is_empty(), "{whose}: metrics is empty");
    let mut ids = BTreeSet::new();
    let mut hidden = BTreeSet::new();
    let mut referenced = BTreeSet::new();
    for row in rows {
        match parse_row(row, whose) {
            Row::Expression(e) => {
                for key in e.keys() {
                    assert!(
                        [
                            "expression",
                            "id",
                            "label",
                            "visible",
                            "color",
                            "yAxis",
                            "period",
                            "region"
                        ]
                        .contains(&key.as_str()),
                        "{whose}: expression option {key}"
                    );
                }
                let id = e
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{whose}: an expression's id"));
                assert!(
                    is_metric_id(id) && ids.insert(id.to_owned()),
                    "{whose}: id {id}"
                );
                let expression = e["expression"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{whose}: {id}: expression"));
                referenced.extend(expression_ids(expression));
            }
            Row::Metric { options, .. } => {
                let Some(options) = options else { continue };
                for key in options.keys() {
                    assert!(
                        [
                            "id",
                            "label",
                            "stat",
                            "period",
                            "visible",
                            "color",
                            "yAxis",
                            "region",
                            "accountId"
                        ]
                        .contains(&key.as_str()),
                        "{whose}: rendering option {key}"
                    );
                }
                if let Some(stat) = options.get("stat") {
                    let stat = stat.as_str().unwrap_or_default();
                    assert!(is_statistic(stat), "{whose}: stat {stat}");
                }
                if let Some(id) = options.get("id") {
                    let id = id.as_str().unwrap_or_default();
                    assert!(
                        is_metric_id(id) && ids.insert(id.to_owned()),
                        "{whose}: id {id}"
                    );
                    if options.get("visible") == Some(&Value::Bool(false)) {
                        hidden.insert(id.to_owned());
                    }
                }
            }
        }
    }
    for id in &referenced {
        assert!(
            ids.contains(id),
            "{whose}: an expression uses {id}, which no row defines"
        );
    }
    for id in &hidden {
        assert!(
            referenced.contains(id),
            "{whose}: {id} is hidden and used by no expression"
        );
    }
}

/// `(…/runbooks/FILE.md)` links of a text widget's markdown, by file name.
fn runbook_links(markdown: &str) -> BTreeSet<String> {
    markdown
        .split("(${runbook_base_url}/runbooks/")
        .skip(1)
        .map(|rest| {
            let end = rest.find(')').expect("a closed link");
            rest[..end].to_owned()
        })
        .collect()
}

#[test]
fn dashboards_show_every_alarm_link_its_runbook_and_find_a_request_by_id() {
    let root = conformance::repo_root();
    let mut shown: BTreeMap<String, String> = BTreeMap::new();
    let mut search = false;
    for dashboard in dashboards() {
        let file = dashboard.path.display().to_string();
        let all = widgets(&dashboard.raw);
        let links: BTreeSet<String> = all
            .iter()
            .filter(|w| w["type"] == "text")
            .flat_map(|w| runbook_links(w["properties"]["markdown"].as_str().unwrap_or_default()))
            .collect();
        assert!(
            links.contains("README.md"),
            "{file}: links the on-call guide"
        );
        for link in &links {
            assert!(
                root.join("runbooks").join(link).is_file(),
                "{file}: runbooks/{link} does not exist"
            );
        }
        for widget in all.iter().filter(|w| w["type"] == "alarm") {
            for arn in widget["properties"]["alarms"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let name = arn
                    .as_str()
                    .unwrap_or_default()
                    .rsplit("${alarm_prefix}-")
                    .next()
                    .unwrap_or_default();
                assert!(
                    links.contains(&format!("{name}.md")),
                    "{file}: shows {name} but does not link its runbook"
                );
                shown.insert(name.to_owned(), dashboard.stem.clone());
            }
        }
        // The request search: an input variable whose pattern a query filters both ids on.
        for variable in dashboard.raw["variables"].as_array().into_iter().flatten() {
            if variable["inputType"] != "input" {
                continue;
            }
            let pattern = variable["pattern"].as_str().unwrap_or_default();
            search |= all.iter().filter(|w| w["type"] == "log").any(|w| {
                let query = w["properties"]["query"].as_str().unwrap_or_default();
                [
                    format!("requestId = \"{pattern}\""),
                    format!("request_id = \"{pattern}\""),
                    format!("detail.request_id = \"{pattern}\""),
                ]
                .iter()
                .all(|f| query.contains(f.as_str()))
            });
        }
    }
    assert!(
        search,
        "no dashboard finds a request by id (access log, function logs, event)"
    );
    for name in alarm_names() {
        assert!(
            shown.contains_key(&name),
            "alarm {name} is on no dashboard's alarm widget"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tests: runbooks

const SECTIONS: &[&str] = &[
    "Meaning",
    "Impact",
    "Diagnosis",
    "Mitigation",
    "Escalation",
    "Rehearse",
];

#[test]
fn every_alarm_has_a_runbook_with_every_section_and_every_runbook_an_alarm() {
    let root = conformance::repo_root();
    let dashboard_names: BTreeSet<String> = dashboards().into_iter().map(|d| d.stem).collect();
    let alarms = alarms();
    for alarm in &alarms {
        let runbook = root.join(str_of(&alarm.raw, "runbook", &alarm.stem));
        assert!(
            runbook.is_file(),
            "{}: {} does not exist",
            alarm.stem,
            runbook.display()
        );
        let text = read(&runbook);
        let whose = runbook.display().to_string();
        let headings: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("## ")).collect();
        let mut at = 0;
        for section in SECTIONS {
            let found = headings[at..].iter().position(|h| h.starts_with(section));
            let found = found.unwrap_or_else(|| {
                panic!("{whose}: no `## {section}` section (in this order: {SECTIONS:?})")
            });
            at += found + 1;
        }
        assert!(
            text.contains(&format!("alarms/{}.json", alarm.stem)),
            "{whose}: names its alarm, alarms/{}.json",
            alarm.stem
        );
        let dashboards_named: Vec<&String> = dashboard_names
            .iter()
            .filter(|d| text.contains(&format!("dashboards/{d}.json")))
            .collect();
        assert!(
            !dashboards_named.is_empty(),
            "{whose}: names the dashboard to open"
        );
        assert!(
            !runbook_queries(&runbook).is_empty(),
            "{whose}: has Logs Insights queries"
        );
        assert!(
            text.contains("X-Ray"),
            "{whose}: says what to look at in X-Ray"
        );
        assert!(
            text.contains("cargo run --release"),
            "{whose}: says how to run the twin"
        );
        assert!(
            text.contains("OK") && text.contains("ALARM"),
            "{whose}: its rehearsal says which alarm state to expect"
        );
    }
    let guide = read(&root.join("runbooks/README.md"));
    for path in files_in("runbooks", "md") {
        let name = stem(&path);
        if name == "README" {
            continue;
        }
        let owners = alarms
            .iter()
            .map(|a| &a.raw)
            .chain(slo_files().iter().map(|s| &s.raw))
            .filter(|a| a["runbook"] == format!("runbooks/{name}.md"))
            .count();
        assert_eq!(
            owners,
            1,
            "{}: the runbook of exactly one alarm or SLO",
            path.display()
        );
        assert!(
            guide.contains(&format!("]({name}.md)")),
            "runbooks/README.md does not link {name}.md"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tests: Logs Insights queries

#[test]
fn logs_insights_queries_name_only_fields_of_the_log_contract() {
    let mut checked = 0;
    for dashboard in dashboards() {
        for (i, widget) in widgets(&dashboard.raw).iter().enumerate() {
            if widget["type"] != "log" {
                continue;
            }
            let whose = format!("{} widget {i}", dashboard.path.display());
            let query = str_of(&widget["properties"], "query", &whose);
            let result = check_query(query, |sources| {
                let mut kinds = BTreeSet::new();
                for source in sources {
                    kinds.insert(
                        kind_of_source(source)
                            .unwrap_or_else(|| panic!("{whose}: SOURCE {source}")),
                    );
                }
                assert!(!kinds.is_empty(), "{whose}: a query names its log groups");
                kinds.into_iter().flat_map(fields_of).collect()
            })
            .unwrap_or_else(|e| panic!("{whose}: {e}"));
            assert!(
                result.unknown.is_empty(),
                "{whose}: not in the log contract: {:?}",
                result.unknown
            );
            checked += 1;
        }
    }
    for path in files_in("runbooks", "md") {
        for (kinds, query) in runbook_queries(&path) {
            let whose = format!("{}: query {query:?}", path.display());
            assert!(
                !kinds.is_empty(),
                "{whose}: say which logs after ```logs-insights"
            );
            let kinds: Vec<LogKind> = kinds
                .iter()
                .map(|k| kind_of_fence(k).unwrap_or_else(|| panic!("{whose}: unknown kind {k}")))
                .collect();
            let result = check_query(&query, |_| {
                kinds.iter().copied().flat_map(fields_of).collect()
            })
            .unwrap_or_else(|e| panic!("{whose}: {e}"));
            assert!(
                result.sources.is_empty(),
                "{whose}: select log groups in the console, no SOURCE"
            );
            assert!(
                result.unknown.is_empty(),
                "{whose}: not in the log contract: {:?}",
                result.unknown
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// What a query may compare `integrationStatus` with. For a Lambda proxy integration it is
/// "the status code returned from AWS Lambda, not from the backend Lambda function"
/// (docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html):
/// Invoke's `200` whenever Lambda ran the function (its answer and its failures alike), `429`
/// when Lambda throttled it, and `-` when no integration ran. A response's class (`4xx`, `5xx`,
/// a function's `404`) is in `status`; a query that looked for it in `integrationStatus` would
/// find it on the twin of old and never on AWS.
const INVOKE_STATUSES: &[&str] = &["200", "429", "-"];

/// The ways `query`'s `filter` commands read `integrationStatus` other than `=` or `!=` one of
/// [`INVOKE_STATUSES`].
fn misread_integration_status(query: &str) -> Result<Vec<String>, String> {
    let tokens = tokenize(query)?;
    let mut misread = Vec::new();
    for command in tokens.split(|t| *t == Token::Punct('|')) {
        if command.first() != Some(&Token::Ident("filter".to_owned())) {
            continue;
        }
        for (i, token) in command.iter().enumerate() {
            if *token != Token::Ident("integrationStatus".to_owned()) {
                continue;
            }
            let rest = &command[i + 1..];
            let value = match rest {
                [Token::Punct('='), value, ..] if rest.get(1) != Some(&Token::Punct('~')) => value,
                [Token::Punct('!'), Token::Punct('='), value, ..] => value,
                _ => {
                    misread.push(format!("integrationStatus {:?}", rest.first()));
                    continue;
                }
            };
            match value {
                Token::Str(v) | Token::Number(v) if INVOKE_STATUSES.contains(&v.as_str()) => {}
                other => misread.push(format!("integrationStatus compared with {other:?}")),
            }
        }
    }
    Ok(misread)
}

#[test]
fn queries_read_integration_status_as_lambda_s_invoke_status() {
    let mut queries: Vec<(String, String)> = Vec::new();
    for dashboard in dashboards() {
        for (i, widget) in widgets(&dashboard.raw).iter().enumerate() {
            if widget["type"] == "log" {
                let whose = format!("{} widget {i}", dashboard.path.display());
                let query = str_of(&widget["properties"], "query", &whose).to_owned();
                queries.push((whose, query));
            }
        }
    }
    for path in files_in("runbooks", "md") {
        for (_, query) in runbook_queries(&path) {
            queries.push((path.display().to_string(), query));
        }
    }
    assert!(queries.iter().any(|(_, q)| q.contains("integrationStatus")));
    for (whose, query) in &queries {
        let misread = misread_integration_status(query).unwrap_or_else(|e| panic!("{whose}: {e}"));
        assert!(
            misread.is_empty(),
            "{whose}: {misread:?} in {query:?}: integrationStatus is Lambda's Invoke status \
             ({INVOKE_STATUSES:?}); filter the response's class on `status`"
        );
    }
}

#[test]
fn the_integration_status_check_catches_what_it_should() {
    for fine in [
        "filter status like /^5/ | stats count(*) by integrationStatus",
        "filter integrationStatus != \"200\" and integrationStatus != \"-\"",
        "filter integrationStatus = 429",
        "fields integrationStatus | filter integrationErrorMessage != \"-\"",
    ] {
        assert_eq!(
            misread_integration_status(fine).unwrap(),
            Vec::<String>::new(),
            "{fine}"
        );
    }
    for misread in [
        "filter integrationStatus like /^5/",
        "filter integrationStatus = \"404\"",
        "filter integrationStatus >= 500",
        "filter status = 200 or integrationStatus =~ /5../",
    ] {
        assert_eq!(
            misread_integration_status(misread).unwrap().len(),
            1,
            "{misread}"
        );
    }
}

#[test]
fn the_query_check_catches_what_it_should() {
    let function = |_: &[String]| fields_of(LogKind::Function);
    let ok = check_query(
        "fields @timestamp, request_id | filter message like /a|b/ and status >= 500 | stats count(*) as n by bin(1m), route | sort n desc | limit 5",
        function,
    )
    .unwrap();
    assert!(ok.unknown.is_empty(), "{:?}", ok.unknown);
    let bad = check_query(
        "fields requestId, @nope | filter request_ID = \"x\"",
        function,
    )
    .unwrap();
    assert_eq!(bad.unknown, ["requestId", "@nope", "request_ID"]);
    let sourced = check_query(
        "SOURCE '${access_log_group}' | filter status = \"429\"",
        |_| fields_of(LogKind::Access),
    )
    .unwrap();
    assert_eq!(sourced.sources, ["${access_log_group}"]);
    assert!(sourced.unknown.is_empty());
    assert!(check_query("parse @message \"*\" as x", function).is_err());
    assert!(fields_of(LogKind::Archive).contains("detail.item_id"));
    assert!(fields_of(LogKind::Access).contains("integrationErrorMessage"));
    assert_eq!(
        expression_ids("100 * FILL(errors, 0) / requests"),
        ["errors", "requests"].map(String::from).into()
    );
    assert!(
        is_extended_statistic("p99")
            && is_extended_statistic("p99.9")
            && !is_extended_statistic("p101")
    );
    assert!(!is_statistic("P99") && is_statistic("Sum"));
}

// ---------------------------------------------------------------------------------------------
// Tests: SLOs

/// CloudWatch: an alarm evaluates at most 7 days (`Period x EvaluationPeriods`), at most 1 day
/// when its period is under an hour.
fn evaluation_fits(period: u64, evaluation_periods: u64) -> bool {
    let limit = if period < 3_600 { 86_400 } else { 604_800 };
    period * evaluation_periods <= limit
}

#[test]
fn slos_keep_their_shape_and_count_only_what_the_code_and_aws_publish() {
    let root = conformance::repo_root();
    let slos = slos();
    let names: BTreeSet<&str> = slos.iter().map(|(f, _)| f.stem.as_str()).collect();
    for needed in ["api-availability", "api-latency", "item-event-freshness"] {
        assert!(names.contains(needed), "slos/{needed}.json is missing");
    }
    for (file, slo) in &slos {
        let whose = file.path.display().to_string();
        assert_eq!(slo.name, file.stem, "{whose}: name is the file's name");
        assert!(
            slo.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{whose}: {}",
            slo.name
        );
        for (field, value) in [
            ("title", &slo.title),
            ("description", &slo.description),
            ("owner", &slo.owner),
        ] {
            assert!(!value.trim().is_empty(), "{whose}: {field} is empty");
        }
        assert!(
            slo.objective_percent > 0.0 && slo.objective_percent < 100.0,
            "{whose}: objective_percent {} is not in (0, 100)",
            slo.objective_percent
        );
        assert_eq!(slo.window_days, local::slo::WINDOW_DAYS, "{whose}");
        assert_eq!(
            slo.runbook,
            format!("runbooks/slo-{}.md", slo.name),
            "{whose}: the runbook is runbooks/slo-<slo>.md"
        );
        assert!(
            root.join(&slo.runbook).is_file(),
            "{whose}: no {}",
            slo.runbook
        );

        // The SLI: metrics only (per minute, not returned), then good and total over them.
        let mut ids = BTreeSet::new();
        for query in &slo.sli.metrics {
            let id = str_of(query, "Id", &whose);
            assert!(is_metric_id(id), "{whose}: Id {id}");
            assert!(
                !local::slo::RESERVED_IDS.contains(&id),
                "{whose}: Id {id} is the window alarm's own"
            );
            assert!(ids.insert(id.to_owned()), "{whose}: Id {id} twice");
            assert!(
                query.get("MetricStat").is_some(),
                "{whose}: {id}: a MetricStat"
            );
            assert_eq!(
                query["MetricStat"]["Period"], 60,
                "{whose}: {id}: Period 60"
            );
            assert_eq!(
                query["ReturnData"], false,
                "{whose}: {id}: ReturnData false"
            );
        }
        let mut used = BTreeSet::new();
        for (what, expression) in [("good", &slo.sli.good), ("total", &slo.sli.total)] {
            let refs = expression_ids(expression);
            assert!(!refs.is_empty(), "{whose}: {what} uses no metric");
            for id in &refs {
                assert!(
                    ids.contains(id),
                    "{whose}: {what} uses {id}, which no metric defines"
                );
            }
            used.extend(refs);
        }
        assert_eq!(used, ids, "{whose}: every metric is used by good or total");
    }
    // The metrics themselves are held, with the alarms' and dashboards', by
    // metrics_are_named_as_the_code_and_cloudwatch_publish_them.
    let refs: Vec<MetricRef> = slo_files().iter().flat_map(slo_metric_refs).collect();
    for r in &refs {
        if r.namespace == CUSTOM_NAMESPACE {
            assert!(
                metric_names::find(&r.name).is_some(),
                "{}: {} is not a metric the code emits",
                r.whose,
                r.name
            );
        } else {
            let published = AWS_METRICS
                .iter()
                .any(|(ns, names, _)| *ns == r.namespace && names.contains(&r.name.as_str()));
            assert!(published, "{}: {} {}", r.whose, r.namespace, r.name);
        }
    }
}

#[test]
fn the_burn_rate_policy_is_multi_window_within_cloudwatch_s_limits() {
    let policy = slo_policy();
    assert!(!policy.alerts.is_empty());
    let mut names = BTreeSet::new();
    for alert in &policy.alerts {
        let whose = format!("slos/burn-rates.json: {}", alert.name);
        assert!(
            !alert.name.is_empty() && alert.name.bytes().all(|b| b.is_ascii_lowercase()),
            "{whose}: name is lowercase letters"
        );
        assert!(names.insert(alert.name.clone()), "{whose}: twice");
        assert!(alert.burn_rate > 0.0, "{whose}: burn_rate");
        assert!(
            alert.short_window_minutes < alert.long_window_minutes,
            "{whose}: the short window is shorter"
        );
        for window in local::slo::Window::BOTH {
            let period = u64::from(alert.window_minutes(window)) * 60;
            assert!(is_period(period), "{whose}: {period} s");
            assert!(
                evaluation_fits(period, 1),
                "{whose}: a {period}-second window is longer than CloudWatch evaluates"
            );
        }
    }
    assert!(
        policy
            .alerts
            .iter()
            .any(|a| a.severity == local::slo::Severity::Page),
        "some alert pages"
    );
}

#[test]
fn the_window_alarms_local_slo_makes_are_valid_alarms_over_their_windows() {
    let policy = slo_policy();
    for (_, slo) in slos() {
        for alert in &policy.alerts {
            for window in local::slo::Window::BOTH {
                let alarm = slo.window_alarm(alert, window);
                let name = alarm["name"].as_str().unwrap();
                let whose = format!("window alarm {name}");
                check_metric_math(&alarm["metrics"], &whose);
                let period = alarm["period"].as_u64().unwrap();
                assert_eq!(period, u64::from(alert.window_minutes(window)) * 60);
                assert!(evaluation_fits(
                    period,
                    alarm["evaluation_periods"].as_u64().unwrap()
                ));
                // Its placeholders are the SLI's, all known.
                substitute(&alarm.to_string()).unwrap_or_else(|e| panic!("{whose}: {e}"));
            }
        }
    }
}

#[test]
fn every_slo_alert_has_its_section_in_the_slo_s_runbook() {
    let root = conformance::repo_root();
    let policy = slo_policy();
    let dashboard_names: BTreeSet<String> = dashboards().into_iter().map(|d| d.stem).collect();
    let guide = read(&root.join("runbooks/README.md"));
    for (_, slo) in slos() {
        let path = root.join(&slo.runbook);
        let whose = path.display().to_string();
        let text = read(&path);
        assert!(
            text.contains(&format!("slos/{}.json", slo.name)),
            "{whose}: names its SLO, slos/{}.json",
            slo.name
        );
        let headings: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("## ")).collect();
        for alert in &policy.alerts {
            let composite = local::slo::composite_alarm_name(&slo.name, &alert.name);
            assert!(
                headings.iter().any(|h| h.starts_with(&composite)),
                "{whose}: no `## {composite}` section"
            );
        }
        for section in ["Meaning", "Budget", "Diagnosis", "Deploys", "Rehearse"] {
            assert!(
                headings.iter().any(|h| h.starts_with(section)),
                "{whose}: no `## {section}` section"
            );
        }
        assert!(
            dashboard_names
                .iter()
                .any(|d| text.contains(&format!("dashboards/{d}.json"))),
            "{whose}: names the dashboard to open"
        );
        assert!(
            !runbook_queries(&path).is_empty(),
            "{whose}: has Logs Insights queries"
        );
        assert!(
            text.contains("cargo run --release"),
            "{whose}: says how to run the twin"
        );
        assert!(
            guide.contains(&format!("](slo-{}.md)", slo.name)),
            "runbooks/README.md does not link slo-{}.md",
            slo.name
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Terraform's side

/// What Terraform's `templatefile` does, done by hcl-rs's template engine: the same text as
/// [`substitute`] gives (so the twin's plain substitution and Terraform agree).
#[test]
fn files_render_the_same_as_terraform_templates() {
    use hcl::eval::{Context, Evaluate};
    let mut context = Context::new();
    for (name, value) in placeholders() {
        context.declare_var(name, value);
    }
    for path in files_in("dashboards", "json")
        .into_iter()
        .chain(files_in("alarms", "json"))
        .chain(files_in("slos", "json"))
    {
        let text = read(&path);
        let template: hcl::Template = text
            .parse()
            .unwrap_or_else(|e| panic!("{}: not a template: {e}", path.display()));
        let rendered = template
            .evaluate(&context)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(rendered, substitute(&text).unwrap(), "{}", path.display());
    }
}
