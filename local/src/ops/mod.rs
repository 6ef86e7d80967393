//! The ops console at `/_ops`: the dashboards of `dashboards/*.json` with their charts drawn
//! in the browser (uPlot) from a JSON data API fed by the twin's metric store and log lines,
//! the alarms with their state, reason and runbook, the SLOs with their budgets and burn rates
//! ([`slos`]), and a request's log lines and trace by
//! request id. (The twin's CloudWatch as JSON, under `/_twin/`, is in [`crate::twin_api`].)
//!
//! Reading order: [`page`] (the HTML), [`api`] (the data behind it), [`widgets`] (metric,
//! alarm and log widgets), [`insights`] (the Logs Insights subset), [`logs`] (how the
//! functions' lines reach the console), [`assets`] (the compiled-in files).

pub mod api;
pub mod assets;
pub mod insights;
pub mod logs;
pub mod page;
pub mod slos;
pub mod stream;
pub mod widgets;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use functions::adapters::embedded::eventbridge::archive::LogArchive;

use crate::cloudwatch::CloudWatch;
use crate::sqs::Queue;
use crate::stream::mapping::MappingStatus;

pub use page::dashboard_title;

/// What the console reads: the metric store, alarms and kept lines, and the event archive
/// (absent when the twin runs on AWS services).
pub struct Ops {
    pub cloudwatch: Arc<CloudWatch>,
    pub archive: Option<Arc<LogArchive>>,
    /// The stream's event source mapping and its dead-letter queue, when running.
    pub stream: Option<(Arc<MappingStatus>, Queue)>,
}

/// The console's routes. From now on the functions' log lines (see
/// [`logs::tee`]) are kept in `cloudwatch`'s log store.
pub fn routes(
    cloudwatch: Arc<CloudWatch>,
    archive: Option<Arc<LogArchive>>,
    stream: Option<(Arc<MappingStatus>, Queue)>,
) -> Router {
    logs::attach(Arc::clone(&cloudwatch));
    Router::new()
        .route("/_ops", get(console))
        .route("/_ops/assets/{*path}", get(assets::serve))
        .route("/_ops/files/runbooks/{file}", get(runbook))
        .route("/_ops/api/dashboards/{name}", get(api::dashboard))
        .route("/_ops/api/alarms", get(api::alarms))
        .route("/_ops/api/slos", get(slos_json))
        .route("/_ops/sections/slos", get(slos_section))
        .route("/_ops/api/requests/{id}", get(api::request))
        .with_state(Arc::new(Ops {
            cloudwatch,
            archive,
            stream,
        }))
}

async fn slos_json(State(ops): State<Arc<Ops>>) -> axum::Json<Vec<slos::SloView>> {
    axum::Json(slos::view(&ops.cloudwatch))
}

/// The SLO section alone, as the page has it: `ops.js` swaps it in on each refresh, so the
/// markup has one author.
async fn slos_section(State(ops): State<Arc<Ops>>) -> Html<String> {
    Html(slos::section(&slos::view(&ops.cloudwatch)))
}

async fn console(State(ops): State<Arc<Ops>>) -> Html<String> {
    let mut sections = String::new();
    if let Some((status, queue)) = &ops.stream {
        let view = status.view().await;
        let messages = {
            let queue = queue.clone();
            tokio::task::spawn_blocking(move || queue.list())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default()
        };
        sections = stream::section(&view, &queue.name, &messages);
    }
    Html(page::render_with(&ops.cloudwatch, &sections))
}

/// A runbook as HTML: the links of the dashboards and the alarm list point here, and the
/// runbooks' links to each other work from here.
async fn runbook(State(ops): State<Arc<Ops>>, Path(file): Path<String>) -> Response {
    let safe = file.ends_with(".md")
        && file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !file.contains("..");
    if !safe {
        return (StatusCode::NOT_FOUND, "no such runbook").into_response();
    }
    let path = ops.cloudwatch.repo_dir.join("runbooks").join(&file);
    match std::fs::read_to_string(path) {
        Ok(text) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page::runbook_page(&file, &text),
        )
            .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "no such runbook").into_response(),
    }
}

/// `s` as one URL path segment or query value.
pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)])
        .map(|encoded| encoded[2..].to_owned())
        .unwrap_or_default()
}
