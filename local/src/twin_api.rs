//! Routes of the twin itself, under `/_twin/` (never part of the API): health, the OpenAPI
//! document, the archive log group, to see what the API produced, the rehearsal controls (the
//! faults in force, [`faults`]) and the twin's CloudWatch as JSON (its clock, metrics, alarms
//! and a request's log lines, [`cloudwatch`]). Two stand-ins keep their own endpoints
//! under `/_twin/`: the issuer (`/_twin/issuer`, [`crate::auth`]) and the X-Ray daemon
//! (`/_twin/traces/{id}`, [`crate::xray_daemon`]).

mod cloudwatch;
mod faults;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use functions::adapters::embedded::eventbridge::archive::LogArchive;
use serde::Deserialize;
use serde_json::json;

use crate::cloudwatch::CloudWatch;
use crate::faults::Faults;
use crate::names;

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

/// Every `/_twin/` route of the twin itself.
pub fn routes(state: TwinState) -> Router {
    Router::new()
        .route("/_twin/health", get(health))
        .route("/_twin/openapi.json", get(openapi))
        .route("/_twin/archive", get(archive))
        .route(
            "/_twin/faults",
            get(faults::list_faults)
                .post(faults::add_faults)
                .put(faults::replace_faults)
                .delete(faults::clear_faults),
        )
        .route(
            "/_twin/faults/{target}",
            axum::routing::delete(faults::clear_target),
        )
        .route(
            "/_twin/clock",
            get(cloudwatch::clock).post(cloudwatch::advance_clock),
        )
        .route(
            "/_twin/metrics",
            get(cloudwatch::metrics).post(cloudwatch::put_metric_data),
        )
        .route("/_twin/alarms", get(cloudwatch::alarms))
        .route("/_twin/alarms/evaluate", post(cloudwatch::evaluate))
        .route("/_twin/logs", get(cloudwatch::logs))
        .with_state(state)
}
