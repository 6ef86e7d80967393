//! `/_twin/traces/{id}`: a trace the X-Ray daemon stand-in kept, read back by trace id
//! (`1-…-…`) or by API Gateway request id.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use crate::xray_daemon::XrayDaemon;

/// `{"trace_id": …, "segments": [documents by start time]}`, or 404.
pub(super) async fn trace(State(daemon): State<XrayDaemon>, Path(id): Path<String>) -> Response {
    match daemon.trace(&id) {
        Some((trace_id, segments)) => {
            Json(json!({ "trace_id": trace_id, "segments": segments })).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": format!("no trace for {id}") })),
        )
            .into_response(),
    }
}
