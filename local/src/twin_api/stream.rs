//! The event source mapping and its dead-letter queue: `GET /_twin/stream` (checkpoint,
//! newest sequence number, caught up or not), `GET /_twin/dlq` (the messages),
//! `DELETE /_twin/dlq/{message_id}` (one, as `DeleteMessage`) and `DELETE /_twin/dlq` (all, as
//! `PurgeQueue`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use crate::sqs::Queue;
use crate::stream::mapping::MappingStatus;

fn not_running(what: &str) -> Response {
    let message = format!("the twin runs no {what}");
    (StatusCode::NOT_FOUND, Json(json!({ "message": message }))).into_response()
}

fn failed(e: impl std::fmt::Display) -> Response {
    let message = e.to_string();
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "message": message })),
    )
        .into_response()
}

pub async fn status(State(status): State<Option<Arc<MappingStatus>>>) -> Response {
    match status {
        Some(status) => Json(status.view().await).into_response(),
        None => not_running("event source mapping"),
    }
}

pub async fn list(State(queue): State<Option<Queue>>) -> Response {
    let Some(queue) = queue else {
        return not_running("dead-letter queue");
    };
    let name = queue.name.clone();
    match tokio::task::spawn_blocking(move || queue.list()).await {
        Ok(Ok(messages)) => {
            Json(json!({ "queueName": name, "messages": messages })).into_response()
        }
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}

pub async fn delete(State(queue): State<Option<Queue>>, Path(id): Path<String>) -> Response {
    let Some(queue) = queue else {
        return not_running("dead-letter queue");
    };
    match tokio::task::spawn_blocking(move || queue.delete(&id)).await {
        Ok(Ok(true)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(false)) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "no such message" })),
        )
            .into_response(),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}

pub async fn purge(State(queue): State<Option<Queue>>) -> Response {
    let Some(queue) = queue else {
        return not_running("dead-letter queue");
    };
    match tokio::task::spawn_blocking(move || queue.purge()).await {
        Ok(Ok(n)) => Json(json!({ "purged": n })).into_response(),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}
