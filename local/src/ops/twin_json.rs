//! The twin's CloudWatch as JSON, for tools and tests: `/_twin/metrics` (list, and
//! `PutMetricData` for rehearsals), `/_twin/alarms` (states and history),
//! `/_twin/alarms/evaluate`, `/_twin/logs?request_id=`.

use std::sync::Arc;

use axum::extract::{Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::logs;
use crate::cloudwatch::CloudWatch;
use crate::cloudwatch::store::{MetricId, Statistic};

pub fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Every metric with its per-minute statistics over the last hour.
pub async fn metrics(State(cw): State<Arc<CloudWatch>>) -> Json<Value> {
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

pub async fn alarms(State(cw): State<Arc<CloudWatch>>) -> Json<Value> {
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
pub async fn put_metric_data(
    State(cw): State<Arc<CloudWatch>>,
    Json(body): Json<Value>,
) -> Response {
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
        let at = match timestamp_ms(&datum["Timestamp"], cw.clock.now_ms()) {
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
pub struct RequestIdQuery {
    request_id: Option<String>,
}

/// The kept log lines of one request (access log, function lines, EMF documents), by its API
/// Gateway id.
pub async fn logs(
    State(cw): State<Arc<CloudWatch>>,
    UrlQuery(q): UrlQuery<RequestIdQuery>,
) -> Json<Value> {
    let id = q.request_id.unwrap_or_default();
    let lines: Vec<Value> = logs::lines_of_request(&cw, id.trim())
        .into_iter()
        .map(|(group, line)| json!({ "logGroupName": group, "message": line }))
        .collect();
    Json(json!({ "request_id": id, "events": lines }))
}

#[derive(serde::Deserialize)]
pub struct EvaluateQuery {
    /// Evaluate as of this time (seconds since the epoch) instead of now: rehearsals can move
    /// past the minutes that breached without waiting for them.
    now: Option<i64>,
}

/// Evaluates every alarm at once; answers the state changes.
pub async fn evaluate(
    State(cw): State<Arc<CloudWatch>>,
    UrlQuery(q): UrlQuery<EvaluateQuery>,
) -> Json<Value> {
    let changes = cw
        .alarms
        .evaluate(&cw.store, q.now.unwrap_or_else(|| cw.clock.now_secs()));
    Json(json!({ "changes": changes, "alarms": cw.alarms.statuses() }))
}
