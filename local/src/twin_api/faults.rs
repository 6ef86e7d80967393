//! `/_twin/faults`: the faults in force, listed, added, replaced and cleared while the twin
//! runs.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::json;

use super::bad_request;
use crate::faults::{Fault, Faults, Target};

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

/// The body as JSON (its `Content-Type` was checked before: see `twin::surfaces`). The error
/// is the message of a `400`.
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

pub(super) async fn list_faults(State(faults): State<Arc<Faults>>) -> Json<serde_json::Value> {
    fault_list(&faults)
}

/// POST adds the given faults (replacing those of the same target and kind).
pub(super) async fn add_faults(State(faults): State<Arc<Faults>>, body: Bytes) -> Response {
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
pub(super) async fn replace_faults(State(faults): State<Arc<Faults>>, body: Bytes) -> Response {
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

pub(super) async fn clear_faults(State(faults): State<Arc<Faults>>) -> Json<serde_json::Value> {
    faults.clear(None);
    log_faults(&faults);
    fault_list(&faults)
}

pub(super) async fn clear_target(
    State(faults): State<Arc<Faults>>,
    Path(target): Path<String>,
) -> Response {
    match Target::parse(&target) {
        Ok(target) => {
            faults.clear(Some(target));
            log_faults(&faults);
            fault_list(&faults).into_response()
        }
        Err(e) => bad_request(e),
    }
}
