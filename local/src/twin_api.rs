//! Routes of the twin itself, under `/_twin/` (never part of the API): health, the archive
//! log group, to see what the API produced, and the rehearsal controls: the faults in force
//! (`/_twin/faults`) and the CloudWatch clock (`/_twin/clock`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use functions::adapters::embedded::archive::LogArchive;
use serde::Deserialize;
use serde_json::json;

use crate::cloudwatch::CloudWatch;
use crate::faults::{Fault, Faults, Target};
use crate::settings::names;

/// What the twin's own routes reach.
#[derive(Clone)]
pub struct TwinState {
    /// `None` when the twin runs on AWS services.
    pub archive: Option<Arc<LogArchive>>,
    pub faults: Arc<Faults>,
    pub cloudwatch: Arc<CloudWatch>,
}

impl FromRef<TwinState> for Option<Arc<LogArchive>> {
    fn from_ref(state: &TwinState) -> Self {
        state.archive.clone()
    }
}

impl FromRef<TwinState> for Arc<Faults> {
    fn from_ref(state: &TwinState) -> Self {
        Arc::clone(&state.faults)
    }
}

impl FromRef<TwinState> for Arc<CloudWatch> {
    fn from_ref(state: &TwinState) -> Self {
        Arc::clone(&state.cloudwatch)
    }
}

#[derive(Deserialize)]
struct ArchiveQuery {
    log_group: Option<String>,
}

async fn archive(
    State(archive): State<Option<Arc<LogArchive>>>,
    Query(q): Query<ArchiveQuery>,
) -> impl IntoResponse {
    let group = q
        .log_group
        .unwrap_or_else(|| names::ARCHIVE_LOG_GROUP.to_owned());
    let Some(archive) = archive else {
        let message =
            format!("the twin runs on AWS services: read the log group {group} in CloudWatch Logs");
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "message": message })),
        )
            .into_response();
    };
    let read = {
        let group = group.clone();
        tokio::task::spawn_blocking(move || archive.read(&group)).await
    };
    match read {
        Ok(Ok(events)) => {
            // Each message is the envelope EventBridge wrote; parsed here so it reads as JSON.
            let events: Vec<serde_json::Value> = events
                .into_iter()
                .map(|e| {
                    let message = serde_json::from_str::<serde_json::Value>(&e.message)
                        .unwrap_or(serde_json::Value::String(e.message));
                    serde_json::json!({ "timestamp": e.timestamp, "ingestionTime": e.ingestion_time, "message": message })
                })
                .collect();
            Json(serde_json::json!({ "logGroupName": group, "events": events })).into_response()
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Json(serde_json::json!({ "logGroupName": group, "events": [] })).into_response()
        }
        Ok(Err(e)) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "message": e.to_string() })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "message": e.to_string() })),
        )
            .into_response(),
    }
}

async fn openapi() -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        functions::router::OPENAPI,
    )
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "message": message }))).into_response()
}

fn fault_list(faults: &Faults) -> Json<serde_json::Value> {
    let listed: Vec<serde_json::Value> = faults
        .list()
        .into_iter()
        .map(|f| {
            let mut v = serde_json::to_value(&f).unwrap_or_default();
            v["fault"] = json!(f.to_string());
            v
        })
        .collect();
    Json(json!({ "faults": listed }))
}

/// `{"fault": "store=throttle:0.5"}` (one) or `{"faults": ["…", "…"]}` (several).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsBody {
    fault: Option<String>,
    faults: Option<Vec<String>>,
}

impl FaultsBody {
    fn parse(self) -> Result<Vec<Fault>, String> {
        let texts = match (self.fault, self.faults) {
            (Some(one), None) => vec![one],
            (None, Some(many)) => many,
            _ => return Err("give either `fault` (one) or `faults` (a list)".into()),
        };
        texts.iter().map(|t| t.parse()).collect()
    }
}

/// The body as JSON, whatever its `Content-Type` says: operators send it with plain `curl -d`.
/// The error is the message of a `400`.
fn read_faults(body: &[u8]) -> Result<Vec<Fault>, String> {
    let body: FaultsBody = serde_json::from_slice(body).map_err(|e| {
        format!("{e}: send {{\"fault\": \"store=throttle:0.5\"}} or {{\"faults\": [...]}}")
    })?;
    body.parse()
}

fn log_faults(faults: &Faults) {
    let listed: Vec<String> = faults.list().iter().map(ToString::to_string).collect();
    tracing::info!(faults = ?listed, "faults in force changed");
}

async fn list_faults(State(faults): State<Arc<Faults>>) -> Json<serde_json::Value> {
    fault_list(&faults)
}

/// POST adds the given faults (replacing those of the same target and kind).
async fn add_faults(State(faults): State<Arc<Faults>>, body: Bytes) -> Response {
    match read_faults(&body) {
        Ok(new) => {
            for fault in new {
                faults.set(fault);
            }
            log_faults(&faults);
            fault_list(&faults).into_response()
        }
        Err(message) => bad_request(message),
    }
}

/// PUT makes the given faults the only ones.
async fn replace_faults(State(faults): State<Arc<Faults>>, body: Bytes) -> Response {
    match read_faults(&body) {
        Ok(new) => {
            faults.clear(None);
            for fault in new {
                faults.set(fault);
            }
            log_faults(&faults);
            fault_list(&faults).into_response()
        }
        Err(message) => bad_request(message),
    }
}

async fn clear_faults(State(faults): State<Arc<Faults>>) -> Json<serde_json::Value> {
    faults.clear(None);
    log_faults(&faults);
    fault_list(&faults)
}

async fn clear_target(State(faults): State<Arc<Faults>>, Path(target): Path<String>) -> Response {
    match Target::parse(&target) {
        Ok(target) => {
            faults.clear(Some(target));
            log_faults(&faults);
            fault_list(&faults).into_response()
        }
        Err(e) => bad_request(e),
    }
}

fn clock_view(cloudwatch: &CloudWatch) -> serde_json::Value {
    let now = cloudwatch.clock.now_ms();
    let text = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now) * 1_000_000)
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

async fn clock(State(cloudwatch): State<Arc<CloudWatch>>) -> Json<serde_json::Value> {
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

async fn advance_clock(State(cloudwatch): State<Arc<CloudWatch>>, body: Bytes) -> Response {
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

pub fn routes(state: TwinState) -> Router {
    Router::new()
        .route("/_twin/health", get(health))
        .route("/_twin/openapi.json", get(openapi))
        .route("/_twin/archive", get(archive))
        .route(
            "/_twin/faults",
            get(list_faults)
                .post(add_faults)
                .put(replace_faults)
                .delete(clear_faults),
        )
        .route(
            "/_twin/faults/{target}",
            axum::routing::delete(clear_target),
        )
        .route("/_twin/clock", get(clock).post(advance_clock))
        .with_state(state)
}
