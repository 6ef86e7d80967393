//! The twin's CloudWatch as JSON, for tools, tests and rehearsals: `/_twin/clock` (read and
//! moved on), `/_twin/metrics` (list, and `PutMetricData`), `/_twin/alarms` (states and
//! history), `/_twin/alarms/evaluate`, `/_twin/logs?request_id=`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::bad_request;
use crate::cloudwatch::CloudWatch;
use crate::cloudwatch::store::{MetricId, Statistic};
use crate::ops::logs;

fn clock_view(cloudwatch: &CloudWatch) -> Value {
    let now = cloudwatch.clock.now_ms();
    let text = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    json!({
        "now": text,
        "epoch_millis": now,
        "offset_millis": cloudwatch.clock.offset_ms(),
    })
}

pub(super) async fn clock(State(cloudwatch): State<Arc<CloudWatch>>) -> Json<Value> {
    Json(clock_view(&cloudwatch))
}

/// `{"advance_seconds": 60}` or `{"to_next_minute": true}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    advance_seconds: Option<u32>,
    #[serde(default)]
    to_next_minute: bool,
}

/// The longest single step: a day (the metric store keeps three hours anyway).
const MAX_ADVANCE_SECS: u32 = 86_400;

pub(super) async fn advance_clock(
    State(cloudwatch): State<Arc<CloudWatch>>,
    body: Bytes,
) -> Response {
    let usage = "send {\"advance_seconds\": 60} or {\"to_next_minute\": true}";
    let Ok(advance) = serde_json::from_slice::<Advance>(&body) else {
        return bad_request(format!(
            "{usage} (seconds: a whole number from 1 to {MAX_ADVANCE_SECS})"
        ));
    };
    let ms = match (advance.advance_seconds, advance.to_next_minute) {
        (Some(s), false) if (1..=MAX_ADVANCE_SECS).contains(&s) => i64::from(s) * 1000,
        (None, true) => 0,
        (Some(_), false) => {
            return bad_request(format!(
                "`advance_seconds` must be from 1 to {MAX_ADVANCE_SECS}"
            ));
        }
        _ => return bad_request(format!("{usage}: one of the two")),
    };
    let changes = cloudwatch.advance_clock(advance.to_next_minute, ms);
    let mut view = clock_view(&cloudwatch);
    view["changes"] = json!(changes);
    view["alarms"] = json!(cloudwatch.alarms.statuses());
    Json(view).into_response()
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

/// Every metric with its per-minute statistics over the last hour.
pub(super) async fn metrics(State(cw): State<Arc<CloudWatch>>) -> Json<Value> {
    // The twin's CloudWatch clock: rehearsals move it on (`/_twin/clock`).
    let now = cw.clock.now_secs();
    let end = now - now.rem_euclid(60) + 60;
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

pub(super) async fn alarms(State(cw): State<Arc<CloudWatch>>) -> Json<Value> {
    Json(json!({
        "alarms": cw.alarms.statuses(),
        "history": cw.alarms.history(),
    }))
}

/// A time as CloudWatch's JSON protocol writes it (seconds since the epoch) or RFC 3339; none
/// is the twin's CloudWatch now (`now_ms`), as CloudWatch stamps a datum without one.
fn timestamp_ms(v: &Value, now_ms: i64) -> Result<i64, String> {
    match v {
        Value::Null => Ok(now_ms),
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
pub(super) async fn put_metric_data(
    State(cw): State<Arc<CloudWatch>>,
    Json(body): Json<Value>,
) -> Response {
    let Some(namespace) = body["Namespace"].as_str() else {
        return bad_request("`Namespace` missing".into());
    };
    let mut put = 0;
    for datum in body["MetricData"].as_array().into_iter().flatten() {
        let Some(name) = datum["MetricName"].as_str() else {
            return bad_request("a datum without `MetricName`".into());
        };
        let dims: Vec<(&str, &str)> = datum["Dimensions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| Some((d["Name"].as_str()?, d["Value"].as_str()?)))
            .collect();
        let at = match timestamp_ms(&datum["Timestamp"], cw.clock.now_ms()) {
            Ok(t) => t,
            Err(e) => return bad_request(e),
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
            return bad_request(format!("datum {name}: neither `Value` nor `Values`"));
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

#[derive(Deserialize, Default)]
pub(super) struct RequestIdQuery {
    request_id: Option<String>,
}

/// The kept log lines of one request (access log, function lines, EMF documents), by its API
/// Gateway id.
pub(super) async fn logs(
    State(cw): State<Arc<CloudWatch>>,
    Query(q): Query<RequestIdQuery>,
) -> Json<Value> {
    let id = q.request_id.unwrap_or_default();
    let lines: Vec<Value> = logs::lines_of_request(&cw, id.trim())
        .into_iter()
        .map(|(group, line)| json!({ "logGroupName": group, "message": line }))
        .collect();
    Json(json!({ "request_id": id, "events": lines }))
}

#[derive(Deserialize)]
pub(super) struct EvaluateQuery {
    /// Evaluate as of this time (seconds since the epoch) instead of now: rehearsals can move
    /// past the minutes that breached without waiting for them.
    now: Option<i64>,
}

/// Evaluates every alarm at once; answers the state changes.
pub(super) async fn evaluate(
    State(cw): State<Arc<CloudWatch>>,
    Query(q): Query<EvaluateQuery>,
) -> Json<Value> {
    let changes = cw
        .alarms
        .evaluate(&cw.store, q.now.unwrap_or_else(|| cw.clock.now_secs()));
    Json(json!({ "changes": changes, "alarms": cw.alarms.statuses() }))
}
