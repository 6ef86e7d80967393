//! Routes of the twin itself, under `/_twin/` (never part of the API): health, and the archive
//! log group, to see what the API produced.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use functions::adapters::embedded::archive::LogArchive;
use serde::Deserialize;

use crate::settings::names;

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

/// `log_archive` is `None` when the twin runs on AWS services.
pub fn routes(log_archive: Option<Arc<LogArchive>>) -> Router {
    Router::new()
        .route("/_twin/health", get(health))
        .route("/_twin/openapi.json", get(openapi))
        .route("/_twin/archive", get(archive))
        .with_state(log_archive)
}
