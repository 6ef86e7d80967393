//! The ops console at `/_ops`: the dashboards of `dashboards/*.json` rendered from the twin's
//! metric store (server-side HTML and inline SVG, so there is nothing to build and nothing to
//! fetch), the alarms with their state, reason and runbook, and JSON routes for tools and
//! tests: `/_twin/metrics` and `/_twin/alarms`.
//!
//! Widgets: `metric` as a line chart of its visible series (metric math included) with the
//! latest values; `text` as Markdown (headings, links, code, bold); `alarm` as the listed
//! alarms' states; `log` as its Logs Insights query, which only CloudWatch Logs runs.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::cloudwatch::alarms::{AlarmStatus, State as AlarmState};
use crate::cloudwatch::query::{self, Query, QueryKind};
use crate::cloudwatch::store::{MetricId, Statistic};
use crate::cloudwatch::{CloudWatch, NAME_PREFIX, math};

/// How far back the console looks: the dashboards' `start` (`-PT3H`).
const WINDOW_SECS: i64 = 3 * 3600;
/// Seconds between reloads of the page.
const REFRESH_SECS: u32 = 15;

pub fn routes(cloudwatch: Arc<CloudWatch>) -> Router {
    Router::new()
        .route("/_ops", get(console))
        .route("/_ops/files/runbooks/{file}", get(runbook))
        .route("/_twin/metrics", get(metrics).post(put_metric_data))
        .route("/_twin/alarms", get(alarms))
        .route("/_twin/alarms/evaluate", post(evaluate))
        .route("/_twin/logs", get(logs))
        .with_state(cloudwatch)
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Every metric with its per-minute statistics over the last hour.
async fn metrics(State(cw): State<Arc<CloudWatch>>) -> Json<Value> {
    let end = now() - now().rem_euclid(60) + 60;
    let start = end - 3600;
    let metrics: Vec<Value> = cw
        .store
        .list()
        .into_iter()
        .map(|(id, info)| {
            let datapoints: Vec<Value> = cw
                .store
                .aggregates(&id, start, end, 60)
                .into_iter()
                .map(|(t, a)| {
                    json!({
                        "Timestamp": rfc3339(t),
                        "SampleCount": a.statistic(Statistic::SampleCount),
                        "Sum": a.statistic(Statistic::Sum),
                        "Average": a.statistic(Statistic::Average),
                        "Minimum": a.statistic(Statistic::Minimum),
                        "Maximum": a.statistic(Statistic::Maximum),
                        "p99": a.statistic(Statistic::Percentile(99.0)),
                    })
                })
                .collect();
            let mut v = serde_json::to_value(info).unwrap_or_default();
            v["Datapoints"] = Value::Array(datapoints);
            v
        })
        .collect();
    Json(json!({ "metrics": metrics }))
}

async fn alarms(State(cw): State<Arc<CloudWatch>>) -> Json<Value> {
    Json(json!({
        "alarms": cw.alarms.statuses(),
        "history": cw.alarms.history(),
    }))
}

/// A time as CloudWatch's JSON protocol writes it (seconds since the epoch) or RFC 3339.
fn timestamp_ms(v: &Value) -> Result<i64, String> {
    match v {
        Value::Null => Ok(OffsetDateTime::now_utc().unix_timestamp() * 1000),
        Value::Number(n) => n
            .as_f64()
            .map(|s| (s * 1000.0) as i64)
            .ok_or_else(|| "a bad `Timestamp`".to_owned()),
        Value::String(s) => {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .map_err(|e| format!("`Timestamp` {s}: {e}"))
        }
        _ => Err("a bad `Timestamp`".into()),
    }
}

/// `PutMetricData` in its JSON shape: `{"Namespace", "MetricData": [{"MetricName",
/// "Dimensions": [{"Name", "Value"}], "Timestamp", "Value" | "Values" + "Counts", "Unit",
/// "StorageResolution"}]}`. For rehearsals and tests: datapoints in past minutes make an
/// alarm's state change at its next evaluation.
async fn put_metric_data(State(cw): State<Arc<CloudWatch>>, Json(body): Json<Value>) -> Response {
    let bad = |m: String| (StatusCode::BAD_REQUEST, Json(json!({ "message": m }))).into_response();
    let Some(namespace) = body["Namespace"].as_str() else {
        return bad("`Namespace` missing".into());
    };
    let mut put = 0;
    for datum in body["MetricData"].as_array().into_iter().flatten() {
        let Some(name) = datum["MetricName"].as_str() else {
            return bad("a datum without `MetricName`".into());
        };
        let dims: Vec<(&str, &str)> = datum["Dimensions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| Some((d["Name"].as_str()?, d["Value"].as_str()?)))
            .collect();
        let at = match timestamp_ms(&datum["Timestamp"]) {
            Ok(t) => t,
            Err(e) => return bad(e),
        };
        let values: Vec<(f64, u64)> = if let Some(v) = datum["Value"].as_f64() {
            vec![(v, 1)]
        } else {
            let values = datum["Values"].as_array().cloned().unwrap_or_default();
            let counts = datum["Counts"].as_array().cloned().unwrap_or_default();
            values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let n = counts.get(i).and_then(Value::as_f64).unwrap_or(1.0);
                    Some((v.as_f64()?, n as u64))
                })
                .collect()
        };
        if values.is_empty() {
            return bad(format!("datum {name}: neither `Value` nor `Values`"));
        }
        cw.store.put(
            MetricId::new(namespace, name, &dims),
            at,
            &values,
            datum["Unit"].as_str(),
            datum["StorageResolution"].as_i64() == Some(1),
        );
        put += 1;
    }
    Json(json!({ "put": put })).into_response()
}

#[derive(serde::Deserialize, Default)]
struct RequestIdQuery {
    request_id: Option<String>,
}

/// The kept log lines of one request (access log, EMF documents), by its API Gateway id.
async fn logs(
    State(cw): State<Arc<CloudWatch>>,
    UrlQuery(q): UrlQuery<RequestIdQuery>,
) -> Json<Value> {
    let id = q.request_id.unwrap_or_default();
    let lines: Vec<Value> = cw
        .lines_of_request(id.trim())
        .into_iter()
        .map(|(group, line)| json!({ "logGroupName": group, "message": line }))
        .collect();
    Json(json!({ "request_id": id, "events": lines }))
}

/// The request-id search's results: each line's group and message, and the X-Ray trace.
fn request_lines(cw: &CloudWatch, request_id: &str) -> String {
    let lines = cw.lines_of_request(request_id);
    if lines.is_empty() {
        return format!(
            "<p class=\"meta\">No kept line carries the request id {}.</p>",
            escape(request_id)
        );
    }
    let mut out =
        String::from("<table class=\"request-lines\"><tr><th>log group</th><th>line</th></tr>");
    let mut traces: Vec<String> = Vec::new();
    for (group, line) in &lines {
        if let Some(trace) = line["xray_trace_id"].as_str()
            && !traces.iter().any(|t| t == trace)
        {
            traces.push(trace.to_owned());
        }
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td></tr>",
            escape(group),
            escape(&line.to_string())
        );
    }
    out.push_str("</table>");
    for trace in traces {
        let _ = write!(
            out,
            "<p>X-Ray trace: <a href=\"/_twin/traces/{t}\">{t}</a></p>",
            t = escape(&trace)
        );
    }
    out
}

#[derive(serde::Deserialize)]
struct EvaluateQuery {
    /// Evaluate as of this time (seconds since the epoch) instead of now: rehearsals can move
    /// past the minutes that breached without waiting for them.
    now: Option<i64>,
}

/// Evaluates every alarm at once; answers the state changes.
async fn evaluate(
    State(cw): State<Arc<CloudWatch>>,
    UrlQuery(q): UrlQuery<EvaluateQuery>,
) -> Json<Value> {
    let changes = cw.alarms.evaluate(&cw.store, q.now.unwrap_or_else(now));
    Json(json!({ "changes": changes, "alarms": cw.alarms.statuses() }))
}

/// A runbook, as text: the links of the dashboards and the alarm list point here.
async fn runbook(State(cw): State<Arc<CloudWatch>>, Path(file): Path<String>) -> Response {
    let safe = file.ends_with(".md")
        && file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !file.contains("..");
    if !safe {
        return (StatusCode::NOT_FOUND, "no such runbook").into_response();
    }
    match std::fs::read_to_string(cw.repo_dir.join("runbooks").join(&file)) {
        Ok(text) => (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            text,
        )
            .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "no such runbook").into_response(),
    }
}

fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A dashboard's title: the first Markdown heading of its text widgets, else its name.
pub fn dashboard_title(stem: &str, body: &Value) -> String {
    body["widgets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["properties"]["markdown"].as_str())
        .flat_map(str::lines)
        .find_map(|l| {
            l.strip_prefix('#')
                .map(|h| h.trim_start_matches('#').trim())
        })
        .map_or_else(|| stem.to_owned(), str::to_owned)
}

/// Inline Markdown: `code`, **bold** and [links](url); everything else escaped.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('`')
            && let Some(end) = after.find('`')
        {
            let _ = write!(out, "<code>{}</code>", escape(&after[..end]));
            rest = &after[end + 1..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("**")
            && let Some(end) = after.find("**")
        {
            let _ = write!(out, "<strong>{}</strong>", inline(&after[..end]));
            rest = &after[end + 2..];
            continue;
        }
        if let Some(after) = rest.strip_prefix('[')
            && let Some(close) = after.find("](")
            && let Some(end) = after[close + 2..].find(')')
        {
            let label = &after[..close];
            let url = &after[close + 2..close + 2 + end];
            let _ = write!(out, "<a href=\"{}\">{}</a>", escape(url), inline(label));
            rest = &after[close + 3 + end..];
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push_str(&escape(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn markdown(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let level = trimmed.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&level) {
            // Headings one level down: the dashboard's own title is the page's h2.
            let h = (level + 1).min(6);
            let _ = write!(out, "<h{h}>{}</h{h}>", inline(trimmed[level..].trim()));
        } else if let Some(item) = trimmed.strip_prefix("- ") {
            let _ = write!(out, "<ul><li>{}</li></ul>", inline(item));
        } else {
            let _ = write!(out, "<p>{}</p>", inline(trimmed));
        }
    }
    out
}

fn state_badge(state: AlarmState) -> String {
    let class = match state {
        AlarmState::Ok => "ok",
        AlarmState::Alarm => "alarm",
        AlarmState::InsufficientData => "insufficient",
    };
    format!("<span class=\"state {class}\">{}</span>", state.as_str())
}

fn runbook_link(runbook: &str) -> String {
    format!(
        "<a href=\"/_ops/files/{}\">{}</a>",
        escape(runbook),
        escape(runbook)
    )
}

fn alarm_rows(statuses: &[&AlarmStatus]) -> String {
    let mut out = String::from(
        "<table class=\"alarms\"><tr><th>alarm</th><th>state</th><th>since</th><th>reason</th><th>runbook</th></tr>",
    );
    for s in statuses {
        let _ = write!(
            out,
            "<tr class=\"alarm-row\" data-alarm=\"{name}\" data-state=\"{state}\"><td>{name}</td><td>{badge}</td><td>{since}</td><td>{reason}</td><td>{runbook}</td></tr>",
            name = escape(&s.name),
            state = s.state.as_str(),
            badge = state_badge(s.state),
            since = escape(&s.updated),
            reason = escape(&s.reason),
            runbook = runbook_link(&s.runbook),
        );
    }
    out.push_str("</table>");
    out
}

/// The queries of a metric widget: CloudWatch's `metrics` array, with the widget's `stat` and
/// `period` as defaults and `"."` repeating the row above.
fn widget_queries(props: &Value) -> Result<(Vec<Query>, i64), String> {
    let period = props["period"].as_i64().unwrap_or(300).max(1);
    let default_stat = props["stat"].as_str().unwrap_or("Average");
    let mut queries = Vec::new();
    let mut previous: Vec<String> = Vec::new();
    for (i, row) in props["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let row = row.as_array().ok_or("a `metrics` row must be an array")?;
        let (options, fields) = match row.last() {
            Some(Value::Object(o)) => (Some(o), &row[..row.len() - 1]),
            _ => (None, &row[..]),
        };
        let option = |k: &str| options.and_then(|o| o.get(k));
        let id = option("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("m{i}"), str::to_owned);
        let label = option("label").and_then(Value::as_str).map(str::to_owned);
        let visible = option("visible").and_then(Value::as_bool).unwrap_or(true);
        let kind = if let Some(expr) = option("expression").and_then(Value::as_str) {
            QueryKind::Expression(math::parse(expr)?)
        } else {
            let fields: Vec<String> = fields
                .iter()
                .enumerate()
                .map(|(j, f)| match f.as_str() {
                    Some(".") => previous.get(j).cloned().unwrap_or_default(),
                    Some(s) => s.to_owned(),
                    None => f.to_string(),
                })
                .collect();
            previous.clone_from(&fields);
            if fields.len() < 2 {
                return Err("a metric row needs a namespace and a name".into());
            }
            let dims: Vec<(&str, &str)> = fields[2..]
                .chunks(2)
                .filter(|c| c.len() == 2)
                .map(|c| (c[0].as_str(), c[1].as_str()))
                .collect();
            let stat = option("stat")
                .and_then(Value::as_str)
                .unwrap_or(default_stat);
            QueryKind::Metric {
                id: MetricId::new(&fields[0], &fields[1], &dims),
                stat: Statistic::parse(stat)?,
            }
        };
        queries.push(Query {
            id,
            kind,
            label,
            return_data: visible,
        });
    }
    Ok((queries, period))
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A metric widget: an SVG line chart of the visible series over the window, and a legend with
/// each series' latest value.
fn metric_widget(cw: &CloudWatch, props: &Value, now: i64) -> String {
    let (queries, period) = match widget_queries(props) {
        Ok(q) => q,
        Err(e) => {
            return format!(
                "<p class=\"error\">cannot read this widget: {}</p>",
                escape(&e)
            );
        }
    };
    // The current period is drawn too, so that the page moves as requests come in.
    let end = now - now.rem_euclid(period) + period;
    let start = end - WINDOW_SECS.max(period);
    let results = match query::run(&cw.store, &queries, start, end, period) {
        Ok(r) => r,
        Err(e) => return format!("<p class=\"error\">{}</p>", escape(&e)),
    };
    let annotations: Vec<(f64, String)> = props["annotations"]["horizontal"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            Some((
                a["value"].as_f64()?,
                a["label"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    let visible: Vec<(&Query, &math::Series)> = queries
        .iter()
        .filter(|q| q.return_data)
        .filter_map(|q| results.get(&q.id).map(|s| (q, s)))
        .collect();
    let max = visible
        .iter()
        .flat_map(|(_, s)| s.values().copied())
        .chain(annotations.iter().map(|(v, _)| *v))
        .fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max * 1.1 } else { 1.0 };
    let (w, h) = (600.0, 160.0);
    let x = |t: i64| (t - start) as f64 / (end - start) as f64 * w;
    let y = |v: f64| h - (v / top * h).clamp(0.0, h);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" preserveAspectRatio=\"none\" role=\"img\"><rect width=\"{w}\" height=\"{h}\" class=\"plot\"/>"
    );
    for (value, label) in &annotations {
        let _ = write!(
            svg,
            "<line x1=\"0\" x2=\"{w}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"annotation\"><title>{}</title></line>",
            escape(label),
            y = y(*value)
        );
    }
    let mut legend = String::from("<ul class=\"legend\">");
    let mut points_total = 0;
    for (i, (q, series)) in visible.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<String> = series
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t + period / 2), y(*v)))
            .collect();
        points_total += points.len();
        if points.len() == 1 {
            let _ = write!(
                svg,
                "<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"{color}\"/>",
                points[0].split(',').next().unwrap_or("0"),
                points[0].split(',').nth(1).unwrap_or("0")
            );
        } else if !points.is_empty() {
            let _ = write!(
                svg,
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
                points.join(" ")
            );
        }
        let label = q.label.clone().unwrap_or_else(|| match &q.kind {
            QueryKind::Metric { id, .. } => id.to_string(),
            QueryKind::Expression(_) => q.id.clone(),
        });
        let latest = series
            .iter()
            .next_back()
            .map_or_else(|| "no data".to_owned(), |(_, v)| number(*v));
        let _ = write!(
            legend,
            "<li><span class=\"swatch\" style=\"background:{color}\"></span>{} <span class=\"latest\" data-points=\"{}\">{}</span></li>",
            escape(&label),
            series.len(),
            latest
        );
    }
    legend.push_str("</ul>");
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"12\" class=\"axis\">{}</text></svg>",
        number(top)
    );
    format!(
        "<div class=\"metric\" data-points=\"{points_total}\">{svg}{legend}<p class=\"meta\">period {period} s; last 3 hours</p></div>"
    )
}

fn alarm_widget(cw: &CloudWatch, props: &Value) -> String {
    let statuses = cw.alarms.statuses();
    let prefix = format!("{NAME_PREFIX}-");
    let listed: Vec<&AlarmStatus> = props["alarms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|arn| arn.rsplit(":alarm:").next())
        .filter_map(|name| {
            let name = name.strip_prefix(&prefix).unwrap_or(name);
            statuses.iter().find(|s| s.name == name)
        })
        .collect();
    alarm_rows(&listed)
}

fn log_widget(cw: &CloudWatch, props: &Value, request_id: Option<&str>) -> String {
    let query = props["query"].as_str().unwrap_or_default();
    // The dashboard's variable: the widget that finds one request by id.
    if query.contains("REQUEST_ID") {
        let form = format!(
            "<form method=\"get\" action=\"/_ops\"><input name=\"request_id\" placeholder=\"apigw-requestid\" value=\"{}\"> <button>Find the request</button></form>",
            escape(request_id.unwrap_or_default())
        );
        let found = request_id
            .filter(|id| !id.trim().is_empty())
            .map(|id| request_lines(cw, id.trim()))
            .unwrap_or_default();
        return format!(
            "{form}{found}<details><summary>Logs Insights query</summary><pre>{}</pre></details>",
            escape(query)
        );
    }
    format!(
        "<p class=\"meta\">A CloudWatch Logs Insights query: on the twin, the same fields are in the access-log and function log lines on its standard output.</p><pre>{}</pre>",
        escape(props["query"].as_str().unwrap_or_default())
    )
}

const STYLE: &str = "body{font-family:sans-serif;margin:1rem;color:#222}h1{font-size:1.4rem}\
section.dashboard{border-top:2px solid #ccc;margin-top:1.5rem}\
.widgets{display:grid;grid-template-columns:repeat(24,1fr);gap:.5rem}\
.widget{border:1px solid #ddd;border-radius:4px;padding:.5rem;overflow:auto}\
.widget h3{font-size:.95rem;margin:.2rem 0}.chart{width:100%;height:160px}\
.plot{fill:#fafafa;stroke:#ddd}.annotation{stroke:#d62728;stroke-dasharray:4 3}\
.axis{font-size:10px;fill:#666}.legend{list-style:none;padding:0;font-size:.8rem}\
.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.3em}\
.state{padding:0 .3em;border-radius:3px;font-size:.8rem}.ok{background:#cfc}\
.alarm{background:#f99}.insufficient{background:#ddd}table{border-collapse:collapse;font-size:.8rem}\
td,th{border:1px solid #ddd;padding:.2rem .4rem;text-align:left;vertical-align:top}\
pre{white-space:pre-wrap;font-size:.75rem;background:#f6f6f6;padding:.4rem}.meta{font-size:.75rem;color:#666}\
.error{color:#b00}";

/// The whole console as one HTML page.
pub fn render(cw: &CloudWatch, now: i64, request_id: Option<&str>) -> String {
    let mut page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\"><title>Ops console: local twin</title><style>{STYLE}</style></head><body><h1>Ops console (local twin)</h1><p class=\"meta\">Rendered {}; reloads every {REFRESH_SECS} s. JSON: <a href=\"/_twin/metrics\">/_twin/metrics</a>, <a href=\"/_twin/alarms\">/_twin/alarms</a>.</p><nav><ul>",
        rfc3339(now)
    );
    for (stem, body) in &cw.dashboards {
        let _ = write!(
            page,
            "<li><a href=\"#{stem}\">{}</a></li>",
            escape(&dashboard_title(stem, body)),
            stem = escape(stem)
        );
    }
    page.push_str("</ul></nav><section id=\"alarms\"><h2>Alarms</h2>");
    let statuses = cw.alarms.statuses();
    page.push_str(&alarm_rows(&statuses.iter().collect::<Vec<_>>()));
    page.push_str("</section>");
    for (stem, body) in &cw.dashboards {
        let _ = write!(
            page,
            "<section class=\"dashboard\" id=\"{stem}\"><h2>{title}</h2><p class=\"meta\">dashboard {prefix}-{stem} (dashboards/{stem}.json)</p><div class=\"widgets\">",
            stem = escape(stem),
            title = escape(&dashboard_title(stem, body)),
            prefix = NAME_PREFIX,
        );
        for widget in body["widgets"].as_array().into_iter().flatten() {
            let props = &widget["properties"];
            let kind = widget["type"].as_str().unwrap_or_default();
            let width = widget["width"].as_u64().unwrap_or(6).clamp(1, 24);
            let title = props["title"]
                .as_str()
                .map(|t| format!("<h3>{}</h3>", escape(t)))
                .unwrap_or_default();
            let content = match kind {
                "metric" => metric_widget(cw, props, now),
                "text" => markdown(props["markdown"].as_str().unwrap_or_default()),
                "alarm" => alarm_widget(cw, props),
                "log" => log_widget(cw, props, request_id),
                other => format!(
                    "<p class=\"meta\">widget type {} not shown</p>",
                    escape(other)
                ),
            };
            let _ = write!(
                page,
                "<div class=\"widget {kind}-widget\" style=\"grid-column:span {width}\">{title}{content}</div>",
                kind = escape(kind),
            );
        }
        page.push_str("</div></section>");
    }
    page.push_str("</body></html>");
    page
}

async fn console(
    State(cw): State<Arc<CloudWatch>>,
    UrlQuery(q): UrlQuery<RequestIdQuery>,
) -> Html<String> {
    Html(render(&cw, now(), q.request_id.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::default_repo_dir;

    fn cw() -> CloudWatch {
        CloudWatch::load(&default_repo_dir(), 10).unwrap()
    }

    #[test]
    fn every_dashboard_is_rendered_with_its_title_and_widgets() {
        let cw = cw();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        cw.record_request(200, std::time::Duration::from_millis(12), None);
        cw.record_request(503, std::time::Duration::from_millis(30), None);
        let html = render(&cw, now, None);
        for title in [
            "Items API: overview",
            "Items API: functions and table",
            "Requests per minute",
            "4xx and 5xx rates (% of requests)",
        ] {
            assert!(html.contains(title), "{title} missing");
        }
        assert!(html.contains("items-and-events"));
        // Every alarm is listed, with a working runbook link.
        assert!(html.matches("class=\"alarm-row\"").count() >= 8);
        assert!(html.contains("href=\"/_ops/files/runbooks/api-5xx-rate.md\""));
        // The requests drew a point: 50% 5xx in the current minute.
        assert!(html.contains("<circle"), "no datapoint drawn");
        assert!(!html.contains("class=\"error\""), "a widget failed");
    }

    #[test]
    fn markdown_links_code_and_escaping() {
        assert_eq!(
            inline("see [the guide](/r/README.md) and `a<b`"),
            "see <a href=\"/r/README.md\">the guide</a> and <code>a&lt;b</code>"
        );
        assert_eq!(
            markdown("## Title\ntext **bold**"),
            "<h3>Title</h3><p>text <strong>bold</strong></p>"
        );
        assert_eq!(inline("[unclosed"), "[unclosed");
    }

    #[test]
    fn widget_rows_with_options_and_expressions() {
        let props = json!({
            "period": 60, "stat": "Sum",
            "metrics": [
                [{"expression": "100 * FILL(e, 0) / r", "id": "rate", "label": "rate"}],
                ["AWS/ApiGateway", "Count", "ApiId", "local", {"id": "r", "visible": false}],
                [".", "5xx", ".", ".", {"id": "e", "visible": false, "stat": "Maximum"}]
            ]
        });
        let (queries, period) = widget_queries(&props).unwrap();
        assert_eq!(period, 60);
        assert_eq!(queries.len(), 3);
        assert!(queries[0].return_data && !queries[1].return_data);
        match &queries[2].kind {
            QueryKind::Metric { id, stat } => {
                assert_eq!(id.name, "5xx");
                assert_eq!(id.namespace, "AWS/ApiGateway");
                assert_eq!(
                    id.dimensions.get("ApiId").map(String::as_str),
                    Some("local")
                );
                assert_eq!(*stat, Statistic::Maximum);
            }
            other => panic!("{other:?}"),
        }
    }
}
