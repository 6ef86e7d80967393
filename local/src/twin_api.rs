//! Routes of the twin itself, under `/_twin/` (never part of the API), every one of them
//! declared here ([`routes`]): health, the OpenAPI document, the archive log group, to see
//! what the API produced, the rehearsal controls (the faults in force, [`faults`]), the
//! twin's CloudWatch as JSON (its clock, metrics, alarms and a request's log lines,
//! [`cloudwatch`]), and two stand-ins' endpoints: the local issuer's JWKS and discovery
//! documents under its URL (`/_twin/issuer/.well-known/*`, [`issuer`]) and the traces the
//! X-Ray daemon kept (`/_twin/traces/{id}`, [`traces`]), and the stream's event source
//! mapping with its dead-letter queue (`/_twin/stream`, `/_twin/dlq`, [`stream`]).

mod cloudwatch;
mod faults;
mod issuer;
mod stream;
mod traces;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use functions::adapters::embedded::eventbridge::archive::LogArchive;
use serde::Deserialize;
use serde_json::json;

use crate::auth::LocalIssuer;
use crate::cloudwatch::CloudWatch;
use crate::faults::Faults;
use crate::names;
use crate::sqs::Queue;
use crate::stream::mapping::MappingStatus;
use crate::xray_daemon::XrayDaemon;

/// What the twin's own routes reach.
#[derive(Clone)]
pub struct TwinState {
    /// `None` when the twin runs on AWS services.
    pub archive: Option<Arc<LogArchive>>,
    pub faults: Arc<Faults>,
    pub cloudwatch: Arc<CloudWatch>,
    pub issuer: Arc<LocalIssuer>,
    pub xray: XrayDaemon,
    /// The stream's event source mapping and its dead-letter queue, when running.
    pub stream: Option<Arc<MappingStatus>>,
    pub dlq: Option<Queue>,
}

impl FromRef<TwinState> for Option<Arc<MappingStatus>> {
    fn from_ref(state: &TwinState) -> Self {
        state.stream.clone()
    }
}

impl FromRef<TwinState> for Option<Queue> {
    fn from_ref(state: &TwinState) -> Self {
        state.dlq.clone()
    }
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

impl FromRef<TwinState> for Arc<LocalIssuer> {
    fn from_ref(state: &TwinState) -> Self {
        Arc::clone(&state.issuer)
    }
}

impl FromRef<TwinState> for XrayDaemon {
    fn from_ref(state: &TwinState) -> Self {
        state.xray.clone()
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

/// Every `/_twin/` route of the twin.
pub fn routes(state: TwinState) -> Router {
    // The issuer's documents are under its URL (`{ISSUER_PATH}` on the twin's address), as
    // Cognito serves a pool's under the pool's URL.
    let issuer_document = |name: &str| format!("{}/.well-known/{name}", names::ISSUER_PATH);
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
        .route("/_twin/traces/{trace_id}", get(traces::trace))
        .route("/_twin/stream", get(stream::status))
        .route("/_twin/dlq", get(stream::list).delete(stream::purge))
        .route(
            "/_twin/dlq/{message_id}",
            axum::routing::delete(stream::delete),
        )
        .route(&issuer_document("jwks.json"), get(issuer::jwks))
        .route(
            &issuer_document("openid-configuration"),
            get(issuer::openid_configuration),
        )
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    /// What the routes reach, with nothing archived, no fault, and an empty daemon.
    async fn state() -> TwinState {
        let cloudwatch = CloudWatch::load(&crate::cloudwatch::default_repo_dir(), 10).unwrap();
        let xray = XrayDaemon::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        TwinState {
            archive: None,
            faults: Arc::new(Faults::new(std::iter::empty())),
            cloudwatch: Arc::new(cloudwatch),
            issuer: crate::auth::test_support::issuer(),
            xray,
            stream: None,
            dlq: None,
        }
    }

    async fn get_json(
        app: &Router,
        path: &str,
    ) -> (StatusCode, http::HeaderMap, serde_json::Value) {
        let request = http::Request::get(path).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[tokio::test]
    async fn serves_the_issuer_s_jwks_and_discovery_under_its_path() {
        let app = routes(state().await);
        let issuer = crate::auth::test_support::issuer();
        let (status, headers, jwks) = get_json(&app, "/_twin/issuer/.well-known/jwks.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[http::header::CACHE_CONTROL], "public, max-age=300");
        assert_eq!(jwks, issuer.jwks());
        let (status, _, config) =
            get_json(&app, "/_twin/issuer/.well-known/openid-configuration").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(config, issuer.openid_configuration());
    }

    #[tokio::test]
    async fn serves_a_kept_trace_by_trace_id_and_request_id() {
        const TRACE: &str = "1-6b023677-0123456789abcdef01234567";
        let state = state().await;
        let segment = json!({
            "name": "items", "id": "64cb80f63ddc6388", "trace_id": TRACE,
            "start_time": 1.0, "end_time": 1.01,
            "annotations": { "request_id": "Jd8mXh3fIAMEbXw=" },
        });
        state.xray.insert(segment.clone()).unwrap();
        let app = routes(state);
        let (status, _, trace) = get_json(&app, &format!("/_twin/traces/{TRACE}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(trace, json!({ "trace_id": TRACE, "segments": [segment] }));
        let (status, _, by_request) = get_json(&app, "/_twin/traces/Jd8mXh3fIAMEbXw=").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(by_request, trace);
        let (status, _, missing) =
            get_json(&app, "/_twin/traces/1-00000000-000000000000000000000000").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(missing["message"].is_string());
    }
}
