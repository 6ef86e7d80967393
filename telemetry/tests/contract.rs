//! The log and metric contract for each way a request can end: every line has the
//! contract's fields and the request's ids; the EMF documents carry the same ids as
//! properties and the standard metrics; secrets never show.

mod common;

use std::convert::Infallible;

use common::*;
use lambda_http::{Body, Request};
use serde_json::Value;
use telemetry::RequestLayer;
use telemetry::metric_names as names;
use tower::{Layer, ServiceExt, service_fn};
use tracing_subscriber::layer::SubscriberExt;

const AUTHORIZATION: &str = "Bearer eyJhbGciOiJSUzI1NiJ9.payload.signature";
const BODY_TOKEN: &str = "body-secret-token-5d41402a";

fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing::level_filters::LevelFilter::DEBUG)
        .with(telemetry::layer("items", capture.clone()));
    (capture, tracing::subscriber::set_default(subscriber))
}

/// A handler that behaves like the API's: logs what it does, with the caller's token and
/// authorization header passed as fields (as a careless handler would), counts, answers.
async fn handler(req: Request) -> Result<http::Response<Body>, lambda_http::Error> {
    let auth = req.headers()["authorization"].to_str()?.to_owned();
    let body: Value = serde_json::from_slice(req.body().as_ref())?;
    let token = body["token"].as_str().unwrap_or_default().to_owned();
    tracing::debug!(authorization = %auth, token = %token, "body read");
    metrics::counter!(names::ITEMS_CREATED).increment(1);
    match body["name"].as_str() {
        Some("ok") => {
            tracing::info!(item_id = "01JD3Y0Z8Q", "item created");
            Ok(http::Response::builder().status(201).body(Body::Empty)?)
        }
        Some("bad") => {
            tracing::warn!(problem = "name too long", "rejected");
            Ok(http::Response::builder().status(422).body(Body::Empty)?)
        }
        Some("down") => {
            tracing::error!(error = "ProvisionedThroughputExceeded", "store failed");
            Ok(http::Response::builder().status(503).body(Body::Empty)?)
        }
        Some("fail") => Err("table unavailable".into()),
        _ => panic!("unexpected item"),
    }
}

struct Run {
    lines: Vec<Value>,
    docs: Vec<Value>,
    text: String,
}

async fn run(name: &str, request_id: &str) -> Run {
    let (out, _guard) = capture();
    let docs = Documents::default();
    let service = RequestLayer::new()
        .with_service("items")
        .with_metrics_output(docs.sink())
        .layer(service_fn(handler));
    let body = format!(r#"{{"name":"{name}","token":"{BODY_TOKEN}"}}"#);
    let req = invocation_with(request_id, "fn-req-1", Some(TRACE_HEADER), &body);
    // Its own task, so that a panic is seen as Lambda's runtime sees it.
    let handle = tokio::spawn(service.oneshot(req));
    let joined = handle.await;
    if name == "boom" {
        assert!(joined.unwrap_err().is_panic(), "the panic goes on");
    }
    let text = format!("{}{}", out.text(), docs.text());
    let docs = docs.all();
    // The summary line is the request's EMF document, written with the metrics.
    let mut lines = out.lines();
    lines.extend(docs.iter().filter(|d| d.get("message").is_some()).cloned());
    Run { lines, docs, text }
}

fn check_lines(run: &Run, request_id: &str) -> Value {
    assert!(run.lines.len() >= 2, "{:#?}", run.lines);
    for line in &run.lines {
        for key in ["timestamp", "level", "service", "message"] {
            assert!(line[key].is_string(), "{key} missing in {line}");
        }
        // The summary's target would always be this crate's: it has none.
        assert_eq!(
            line["target"].is_string(),
            line.get("_aws").is_none(),
            "{line}"
        );
        assert_eq!(line["service"], "items");
        assert_eq!(line["request_id"], request_id, "{line}");
        assert_eq!(line["function_request_id"], "fn-req-1");
        assert_eq!(line["xray_trace_id"], TRACE_ID);
        assert!(line["cold_start"].is_boolean());
    }
    let summary = run
        .lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("request "))
        })
        .expect("a summary line")
        .clone();
    assert_eq!(summary["method"], "POST");
    assert_eq!(summary["route"], "POST /items");
    assert_eq!(summary["path"], "/items");
    assert!(summary["latency_ms"].is_number());
    summary
}

/// The request's EMF: valid, with its ids as properties, `Requests` 1 and the handler's metric.
fn check_metrics(run: &Run, request_id: &str) -> (u64, u64) {
    let mut found = std::collections::HashMap::new();
    for doc in run.docs.iter().filter(|d| d.get("ColdStart").is_none()) {
        check_emf(doc);
        assert_eq!(doc["request_id"], request_id);
        // The other ids are on the log lines only, the summary line among them.
        for id in ["function_request_id", "xray_trace_id"] {
            assert_eq!(
                doc.get(id).is_some(),
                doc.get("message").is_some(),
                "{id}: {doc}"
            );
        }
        assert_eq!(doc["service"], "items");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ItemsApi");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["service"]])
        );
        for (name, value) in doc.as_object().unwrap() {
            if value.is_number() {
                found.insert(name.clone(), value.as_u64().unwrap_or(1));
            }
        }
    }
    assert_eq!(found[names::REQUESTS], 1);
    assert_eq!(found[names::ITEMS_CREATED], 1);
    assert!(found.contains_key(names::REQUEST_LATENCY));
    // Written when the request was one, never as a zero.
    let class = |name| {
        let n = found.get(name).copied();
        assert_ne!(n, Some(0), "{name} written as 0");
        n.unwrap_or(0)
    };
    (class(names::RESPONSES_4XX), class(names::RESPONSES_5XX))
}

fn check_no_secrets(run: &Run) {
    for secret in ["eyJhbGciOiJSUzI1NiJ9", BODY_TOKEN, AUTHORIZATION] {
        assert!(!run.text.contains(secret), "{secret} in\n{}", run.text);
    }
    let read = run
        .lines
        .iter()
        .find(|l| l["message"] == "body read")
        .expect("the handler's debug line");
    assert_eq!(read["authorization"], "[REDACTED]");
    assert_eq!(read["token"], "[REDACTED]");
}

#[tokio::test]
async fn a_success() {
    let run = run("ok", "req-ok").await;
    let summary = check_lines(&run, "req-ok");
    assert_eq!(summary["message"], "request completed");
    assert_eq!(summary["status"], 201);
    assert_eq!(summary["level"], "INFO");
    assert_eq!(check_metrics(&run, "req-ok"), (0, 0));
    check_no_secrets(&run);
}

#[tokio::test]
async fn a_4xx() {
    let run = run("bad", "req-4xx").await;
    let summary = check_lines(&run, "req-4xx");
    assert_eq!(summary["status"], 422);
    assert_eq!(check_metrics(&run, "req-4xx"), (1, 0));
    check_no_secrets(&run);
}

#[tokio::test]
async fn a_5xx_response_and_a_handler_error() {
    let run1 = run("down", "req-5xx").await;
    assert_eq!(check_lines(&run1, "req-5xx")["status"], 503);
    assert_eq!(check_metrics(&run1, "req-5xx"), (0, 1));
    check_no_secrets(&run1);

    let run2 = run("fail", "req-err").await;
    let summary = check_lines(&run2, "req-err");
    assert_eq!(summary["message"], "request failed");
    assert_eq!(summary["level"], "ERROR");
    assert_eq!(summary["error"], "table unavailable");
    assert_eq!(check_metrics(&run2, "req-err"), (0, 1));
    check_no_secrets(&run2);
}

#[tokio::test]
async fn a_panicking_handler() {
    let run = run("boom", "req-panic").await;
    let summary = check_lines(&run, "req-panic");
    assert_eq!(summary["message"], "request failed");
    assert_eq!(summary["level"], "ERROR");
    assert_eq!(summary["error"], "handler panicked: unexpected item");
    assert_eq!(check_metrics(&run, "req-panic"), (0, 1));
    check_no_secrets(&run);
}

#[tokio::test]
async fn requests_without_metrics_still_count() {
    let docs = Documents::default();
    let service = RequestLayer::new()
        .with_metrics_output(docs.sink())
        .layer(service_fn(|_: Request| async {
            Ok::<_, Infallible>(http::Response::new(Body::Empty))
        }));
    service
        .oneshot(api_request("GET", "/public", "GET /public"))
        .await
        .unwrap();
    let docs = docs.all();
    let doc = docs.iter().find(|d| d.get("Requests").is_some()).unwrap();
    check_emf(doc);
    assert_eq!(doc["request_id"], API_REQUEST_ID);
    // The header's trace id is on the log lines, which `request_id` joins to.
    assert!(doc.get("xray_trace_id").is_none());
}
