//! The console's data API, read by `ops.js`:
//! - `GET /_ops/api/dashboards/{name}?{variable}=…`: every widget's data (metric series,
//!   alarm states, Logs Insights answers with the dashboard's variables filled in);
//! - `GET /_ops/api/alarms`: every alarm's state, reason and runbook;
//! - `GET /_ops/api/requests/{id}`: one request's access-log line, function log lines and
//!   archived events (its X-Ray trace is at `/_twin/traces/{id}`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use functions::adapters::embedded::eventbridge::archive::LogArchive;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::insights::Record;
use super::widgets::{self, WINDOW_SECS};
use super::{Ops, logs};
use crate::cloudwatch::{ACCESS_LOG_GROUP, CloudWatch};
use crate::names;

fn problem(status: StatusCode, detail: String) -> Response {
    (status, Json(json!({ "message": detail }))).into_response()
}

/// When a kept line was written: its own `timestamp` (function lines), EMF's `_aws.Timestamp`,
/// or the access log's `requestTime`.
fn line_time_ms(line: &Value) -> Option<i64> {
    if let Some(t) = line["timestamp"].as_str() {
        let t = OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
        return Some((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    if let Some(ms) = line["_aws"]["Timestamp"].as_i64() {
        return Some(ms);
    }
    let clf = line["requestTime"].as_str()?;
    let format = time::format_description::parse_borrowed::<1>(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]",
    )
    .ok()?;
    let t = OffsetDateTime::parse(clf, &format).ok()?;
    Some(t.unix_timestamp() * 1000)
}

/// The archived events of the archive log group, as Logs Insights records.
fn archive_records(archive: Option<&LogArchive>) -> Vec<Record> {
    let Some(archive) = archive else {
        return Vec::new();
    };
    archive
        .read(names::ARCHIVE_LOG_GROUP)
        .unwrap_or_default()
        .into_iter()
        .map(|e| Record {
            group: names::ARCHIVE_LOG_GROUP.to_owned(),
            timestamp_ms: e.timestamp,
            line: serde_json::from_str(&e.message).unwrap_or(Value::String(e.message)),
        })
        .collect()
}

/// Every log event of the last [`WINDOW_SECS`]: the kept lines and the archive.
fn records(cw: &CloudWatch, archive: Option<&LogArchive>, now: i64) -> Vec<Record> {
    let since = (now - WINDOW_SECS) * 1000;
    let now_ms = now * 1000;
    logs::all_lines(cw)
        .into_iter()
        .map(|(group, line)| Record {
            timestamp_ms: line_time_ms(&line).unwrap_or(now_ms),
            group,
            line,
        })
        .chain(archive_records(archive))
        .filter(|r| r.timestamp_ms >= since)
        .collect()
}

/// `text` with each dashboard variable's pattern replaced by its value, as CloudWatch does.
fn fill_variables(text: &str, body: &Value, values: &HashMap<String, String>) -> String {
    let mut text = text.to_owned();
    for v in body["variables"].as_array().into_iter().flatten() {
        let (Some(id), Some(pattern)) = (v["id"].as_str(), v["pattern"].as_str()) else {
            continue;
        };
        let value = values
            .get(id)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .or_else(|| v["defaultValue"].as_str())
            .unwrap_or(pattern);
        text = text.replace(pattern, value);
    }
    text
}

/// A variable's value goes inside a query's quotes: refuse what could close them.
fn check_variables(values: &HashMap<String, String>) -> Result<(), String> {
    for (id, value) in values {
        if value.len() > 256
            || value
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\'')
        {
            return Err(format!(
                "`{id}`: at most 256 characters, no quotes or control characters"
            ));
        }
    }
    Ok(())
}

fn dashboard_data(ops: &Ops, name: &str, values: &HashMap<String, String>) -> Option<Value> {
    let cw = &ops.cloudwatch;
    let (_, body) = cw.dashboards.iter().find(|(stem, _)| stem == name)?;
    // The twin's CloudWatch clock: rehearsals move it on (`/_twin/clock`).
    let now = cw.clock.now_secs();
    let has_logs = body["widgets"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|w| w["type"] == "log");
    let records = if has_logs {
        records(cw, ops.archive.as_deref(), now)
    } else {
        Vec::new()
    };
    let widgets: Vec<Value> = body["widgets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            let props = &w["properties"];
            let data = match w["type"].as_str().unwrap_or_default() {
                "metric" => widgets::metric_data(cw, props, now),
                "alarm" => Ok(json!({
                    "alarms": widgets::alarm_statuses(cw, props)
                        .iter()
                        .map(widgets::alarm_json)
                        .collect::<Vec<_>>()
                })),
                "log" => {
                    let query =
                        fill_variables(props["query"].as_str().unwrap_or_default(), body, values);
                    widgets::log_data(&query, &records).map(|mut d| {
                        d["query"] = Value::String(query);
                        d
                    })
                }
                _ => Ok(json!({})),
            };
            let mut data = data.unwrap_or_else(|e| json!({ "error": e }));
            data["type"] = w["type"].clone();
            data
        })
        .collect();
    Some(json!({ "name": name, "now": now, "widgets": widgets }))
}

pub async fn dashboard(
    State(ops): State<Arc<Ops>>,
    Path(name): Path<String>,
    Query(values): Query<HashMap<String, String>>,
) -> Response {
    if let Err(e) = check_variables(&values) {
        return problem(StatusCode::BAD_REQUEST, e);
    }
    let found = tokio::task::spawn_blocking(move || dashboard_data(&ops, &name, &values)).await;
    match found {
        Ok(Some(data)) => Json(data).into_response(),
        Ok(None) => problem(StatusCode::NOT_FOUND, "no such dashboard".into()),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub async fn alarms(State(ops): State<Arc<Ops>>) -> Json<Value> {
    let alarms: Vec<Value> = ops
        .cloudwatch
        .alarms
        .statuses()
        .iter()
        .map(widgets::alarm_json)
        .collect();
    Json(json!({ "now": ops.cloudwatch.clock.now_secs(), "alarms": alarms }))
}

/// API Gateway's request ids are short base64 strings; anything else is a typing mistake.
fn valid_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=-_".contains(&b))
}

pub async fn request(State(ops): State<Arc<Ops>>, Path(id): Path<String>) -> Response {
    let id = id.trim().to_owned();
    if !valid_request_id(&id) {
        return problem(
            StatusCode::BAD_REQUEST,
            "a request id is the apigw-requestid header of a response: 1 to 64 letters, digits or + / = - _".into(),
        );
    }
    let found = tokio::task::spawn_blocking(move || {
        let lines = logs::lines_of_request(&ops.cloudwatch, &id);
        let (access, function): (Vec<_>, Vec<_>) = lines
            .into_iter()
            .partition(|(group, _)| group == ACCESS_LOG_GROUP);
        let events: Vec<Value> = archive_records(ops.archive.as_deref())
            .into_iter()
            .filter(|r| r.line["detail"]["request_id"] == id.as_str())
            .map(|r| r.line)
            .collect();
        json!({
            "request_id": id,
            "access_log": access.into_iter().map(|(_, line)| line).collect::<Vec<_>>(),
            "function_logs": function
                .into_iter()
                .map(|(group, line)| json!({ "log_group": group, "line": line }))
                .collect::<Vec<_>>(),
            "events": events,
            "trace_url": format!("/_twin/traces/{}", crate::ops::urlencode(&id)),
        })
    })
    .await;
    match found {
        Ok(data) => Json(data).into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_times_from_each_kind_of_line() {
        let function = json!({"timestamp": "2026-11-22T01:02:03.456Z"});
        assert_eq!(line_time_ms(&function), Some(1_795_309_323_456));
        assert_eq!(line_time_ms(&json!({"_aws": {"Timestamp": 7}})), Some(7));
        let access = json!({"requestTime": "22/Nov/2026:01:02:03 +0000"});
        assert_eq!(line_time_ms(&access), Some(1_795_309_323_000));
        assert_eq!(line_time_ms(&json!({})), None);
    }

    #[test]
    fn variables_fill_the_pattern_and_refuse_quotes() {
        let body = json!({"variables": [{"id": "request_id", "pattern": "REQUEST_ID", "defaultValue": "REQUEST_ID"}]});
        let values = HashMap::from([("request_id".to_owned(), " abc= ".to_owned())]);
        assert_eq!(
            fill_variables("x = \"REQUEST_ID\"", &body, &values),
            "x = \"abc=\""
        );
        assert_eq!(
            fill_variables("x = \"REQUEST_ID\"", &body, &HashMap::new()),
            "x = \"REQUEST_ID\""
        );
        let quote = HashMap::from([("request_id".to_owned(), "a\" or 1".to_owned())]);
        assert!(check_variables(&quote).is_err());
        assert!(valid_request_id("JKJaXmPLvHcESHA="));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id(""));
    }
}
