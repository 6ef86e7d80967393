//! RequestLayer around a service over API Gateway requests, output captured per test.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

use common::*;
use lambda_http::{Body, Request};
use telemetry::{RequestIds, RequestLayer};
use tower::{Layer, Service, ServiceExt, service_fn};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

fn capture(level: LevelFilter) -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(level)
        .with(telemetry::layer("items", capture.clone()));
    (capture, tracing::subscriber::set_default(subscriber))
}

async fn created(_: Request) -> Result<http::Response<Body>, Infallible> {
    tracing::info!(item_id = "01JD3Y0Z8Q", "item stored");
    Ok(http::Response::builder()
        .status(201)
        .body(Body::Empty)
        .unwrap())
}

#[tokio::test]
async fn every_line_of_a_request_carries_its_ids() {
    let (out, _guard) = capture(LevelFilter::INFO);
    let service = RequestLayer::new()
        .with_service("items")
        .with_metrics_output(out.sink())
        .layer(service_fn(created));
    service
        .oneshot(invocation("POST", "/items", "POST /items"))
        .await
        .unwrap();

    // The log lines (the cold start's `ColdStart` document is not one).
    let lines: Vec<_> = out
        .lines()
        .into_iter()
        .filter(|l| l.get("message").is_some())
        .collect();
    assert_eq!(lines.len(), 2, "{}", out.text());
    for line in &lines {
        assert_eq!(line["request_id"], API_REQUEST_ID);
        assert_eq!(line["function_request_id"], FUNCTION_REQUEST_ID);
        assert_eq!(line["xray_trace_id"], TRACE_ID);
        assert_eq!(line["service"], "items");
        assert_eq!(line["level"], "INFO");
        assert!(line["cold_start"].is_boolean());
        assert!(line.get("span").is_none() && line.get("spans").is_none());
        let ts = line["timestamp"].as_str().unwrap();
        time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).unwrap();
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[19] == b'.',
            "{ts}"
        );
    }
    let stored = out.line("item stored");
    assert_eq!(stored["item_id"], "01JD3Y0Z8Q");
    assert_eq!(stored["target"], "request_layer");
}

#[tokio::test]
async fn the_request_s_ids_win_over_the_runtime_s_and_inner_spans_add_theirs() {
    use tracing::Instrument;
    let (out, _guard) = capture(LevelFilter::INFO);
    let handler = service_fn(|_: Request| {
        async {
            tracing::info!("item stored");
            Ok::<_, Infallible>(http::Response::new(Body::Empty))
        }
        .instrument(tracing::info_span!("aws", aws.service = "DynamoDB"))
    });
    // The layer names its function's service (a process serving several functions): its
    // lines say it.
    let service = RequestLayer::new()
        .with_service("public")
        .with_metrics_output(out.sink())
        .layer(handler);
    // What lambda_runtime opens around each invocation, with ids of its own here.
    let runtime = tracing::info_span!(
        target: "lambda_runtime::layers::trace",
        "Lambda runtime invoke",
        requestId = "runtime-request-id",
        xrayTraceId = "Root=1-00000000-000000000000000000000000",
        tenantId = "tenant-9",
    );
    service
        .oneshot(invocation("GET", "/public", "GET /public"))
        .instrument(runtime)
        .await
        .unwrap();

    for message in ["item stored", "request completed"] {
        let line = out.line(message);
        assert_eq!(line["function_request_id"], FUNCTION_REQUEST_ID, "{line}");
        assert_eq!(line["xray_trace_id"], TRACE_ID, "{line}");
        assert_eq!(line["request_id"], API_REQUEST_ID, "{line}");
        assert_eq!(line["tenant_id"], "tenant-9", "{line}");
        assert_eq!(line["service"], "public", "{line}");
    }
    assert_eq!(out.line("item stored")["aws.service"], "DynamoDB");
    // A line outside the request: the subscriber's service, no request ids.
    tracing::info!("between requests");
    let between = out.line("between requests");
    assert_eq!(between["service"], "items");
    assert!(between.get("request_id").is_none(), "{between}");
}

#[tokio::test]
async fn the_summary_line_has_method_route_path_status_latency() {
    let (out, _guard) = capture(LevelFilter::INFO);
    let service = RequestLayer::new()
        .with_service("items")
        .with_metrics_output(out.sink())
        .layer(service_fn(created));
    service
        .oneshot(invocation("POST", "/items", "POST /items"))
        .await
        .unwrap();

    let summary = out.line("request completed");
    assert_eq!(summary["level"], "INFO");
    assert_eq!(summary["method"], "POST");
    assert_eq!(summary["route"], "POST /items");
    assert_eq!(summary["path"], "/items");
    assert_eq!(summary["status"], 201);
    let latency = summary["latency_ms"].as_f64().expect("a number");
    assert!((0.0..10_000.0).contains(&latency));
    assert_eq!(summary["request_id"], API_REQUEST_ID);
    // The process's peak memory (Linux), and no `target`: the summary is always this crate's.
    if cfg!(target_os = "linux") {
        assert!(
            summary["max_memory_mb"].as_u64().is_some_and(|mb| mb > 0),
            "{summary}"
        );
    }
    assert!(summary.get("target").is_none(), "{summary}");
    // The line is the request's EMF document: one line a request.
    let raw = out.text();
    check_emf_line(
        raw.lines()
            .find(|l| l.contains("request completed"))
            .unwrap(),
    );
    assert_eq!(summary["Requests"], 1);
    assert_eq!(summary["RequestLatency"], summary["latency_ms"]);
    for zero in ["Responses4xx", "Responses5xx"] {
        assert!(summary.get(zero).is_none(), "{zero}: {summary}");
    }
    let lines = out.lines();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.get("ColdStart").is_none())
            .count(),
        2,
        "{}",
        out.text()
    );
    // The query string can hold cursors: never on the line.
    assert!(!out.text().contains("c2VjcmV0"));
}

#[tokio::test]
async fn the_trace_id_falls_back_to_the_header() {
    let (out, _guard) = capture(LevelFilter::INFO);
    let service = RequestLayer::new()
        .with_service("items")
        .with_metrics_output(out.sink())
        .layer(service_fn(created));
    let req = api_request("GET", "/items/01JD3Y0Z8Q", "GET /items/{id}");
    assert_eq!(
        RequestIds::from_request(&req),
        RequestIds {
            request_id: API_REQUEST_ID.into(),
            function_request_id: String::new(),
            xray_trace_id: Some("1-11111111-222222222222222222222222".into()),
            trace_header: Some("Root=1-11111111-222222222222222222222222".into()),
        }
    );
    service.oneshot(req).await.unwrap();

    let summary = out.line("request completed");
    assert_eq!(
        summary["xray_trace_id"],
        "1-11111111-222222222222222222222222"
    );
    assert_eq!(summary["function_request_id"], "");
    assert_eq!(summary["route"], "GET /items/{id}");
}

#[tokio::test]
async fn any_body_types_and_no_ids_at_all() {
    let (out, _guard) = capture(LevelFilter::INFO);
    let service = RequestLayer::new()
        .with_service("items")
        .with_metrics_output(out.sink())
        .layer(service_fn(|_: http::Request<String>| async {
            Ok::<_, Infallible>(http::Response::new(Vec::<u8>::new()))
        }));
    let req = http::Request::get("/public").body(String::new()).unwrap();
    assert_eq!(RequestIds::from_request(&req), RequestIds::default());
    assert_eq!(
        RequestIds::from_parts(&req.clone().into_parts().0),
        RequestIds::default()
    );
    service.oneshot(req).await.unwrap();

    let summary = out.line("request completed");
    assert_eq!(summary["request_id"], "");
    assert_eq!(summary["function_request_id"], "");
    assert!(summary.get("xray_trace_id").is_none());
    assert!(summary.get("route").is_none());
    assert_eq!(summary["path"], "/public");
    assert_eq!(summary["status"], 200);
}

#[tokio::test]
async fn request_ids_from_parts_match_the_request() {
    let req = invocation("GET", "/items", "GET /items");
    let ids = RequestIds::from_request(&req);
    assert_eq!(ids.request_id, API_REQUEST_ID);
    assert_eq!(ids.function_request_id, FUNCTION_REQUEST_ID);
    assert_eq!(ids.xray_trace_id.as_deref(), Some(TRACE_ID));
    assert_eq!(RequestIds::from_parts(&req.into_parts().0), ids);
}

#[tokio::test]
async fn a_failing_service_is_logged_at_error() {
    let (out, _guard) = capture(LevelFilter::INFO);
    let service = RequestLayer::new()
        .with_service("items")
        .with_metrics_output(out.sink())
        .layer(service_fn(|_: Request| async {
            Err::<http::Response<Body>, _>(lambda_http::Error::from("table unavailable"))
        }));
    let err = service
        .oneshot(invocation("POST", "/items", "POST /items"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "table unavailable");

    let failed = out.line("request failed");
    assert_eq!(failed["level"], "ERROR");
    assert_eq!(failed["error"], "table unavailable");
    assert_eq!(failed["route"], "POST /items");
    assert_eq!(failed["request_id"], API_REQUEST_ID);
    assert!(failed["latency_ms"].is_number());
    assert!(!out.text().contains("request completed"));
}

#[test]
fn a_dropped_request_is_logged_as_cancelled() {
    let (out, _guard) = capture(LevelFilter::INFO);
    let mut service = RequestLayer::new()
        .with_service("items")
        .with_metrics_output(out.sink())
        .layer(service_fn(|_: Request| async {
            std::future::pending::<Result<http::Response<Body>, Infallible>>().await
        }));
    {
        let future = pin!(service.call(invocation("GET", "/items", "GET /items")));
        assert!(
            future
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
    }
    let cancelled = out.line("request cancelled");
    assert_eq!(cancelled["level"], "WARN");
    assert_eq!(cancelled["request_id"], API_REQUEST_ID);
    assert_eq!(cancelled["route"], "GET /items");
}

#[tokio::test]
async fn ids_reach_error_lines_when_only_errors_are_logged() {
    let (out, _guard) = capture(LevelFilter::ERROR);
    let service = RequestLayer::new()
        .with_service("items")
        .with_metrics_output(out.sink())
        .layer(service_fn(|_: Request| async {
            tracing::info!("not written");
            tracing::error!("store failed");
            Ok::<_, Infallible>(
                http::Response::builder()
                    .status(503)
                    .body(Body::Empty)
                    .unwrap(),
            )
        }));
    service
        .oneshot(invocation("GET", "/items", "GET /items"))
        .await
        .unwrap();

    // The summary line is left out at ERROR: the metrics are written alone.
    let (documents, lines): (Vec<_>, Vec<_>) = out
        .lines()
        .into_iter()
        .filter(|l| l.get("ColdStart").is_none())
        .partition(|l| l.get("_aws").is_some());
    assert_eq!(lines.len(), 1, "{}", out.text());
    assert_eq!(documents.len(), 1, "{}", out.text());
    assert!(documents[0].get("message").is_none(), "{}", out.text());
    assert_eq!(documents[0]["Responses5xx"], 1);
    assert_eq!(lines[0]["message"], "store failed");
    assert_eq!(lines[0]["request_id"], API_REQUEST_ID);
    assert_eq!(lines[0]["function_request_id"], FUNCTION_REQUEST_ID);
}

#[tokio::test]
async fn secrets_never_reach_the_output() {
    let (out, _guard) = capture(LevelFilter::TRACE);
    let service = RequestLayer::new()
        .with_service("items")
        .with_metrics_output(out.sink())
        .layer(service_fn(|req: Request| async move {
            let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
            let span =
                tracing::info_span!("login", cookie = "session=s3cr3t-cookie", user = "user-1");
            let _entered = span.enter();
            tracing::info!(
                authorization = %auth,
                password = "hunter2-password",
                Token = "tok-upper-case",
                "x-amz-security-token" = "FwoGZXIvYXdzE-session",
                secret = ?"debug-secret",
                id_token = 987_654_321_u64,
                "headers seen"
            );
            Ok::<_, Infallible>(http::Response::new(Body::Empty))
        }));
    service
        .oneshot(invocation("POST", "/items", "POST /items"))
        .await
        .unwrap();

    let text = out.text();
    for secret in [
        "eyJhbGciOiJSUzI1NiJ9",
        "hunter2",
        "tok-upper-case",
        "FwoGZXIvYXdzE",
        "debug-secret",
        "s3cr3t",
        "987654321",
    ] {
        assert!(!text.contains(secret), "{secret} in\n{text}");
    }
    let line = out.line("headers seen");
    for name in [
        "authorization",
        "password",
        "Token",
        "x-amz-security-token",
        "secret",
        "id_token",
        "cookie",
    ] {
        assert_eq!(line[name], "[REDACTED]", "{name}");
    }
    assert_eq!(line["user"], "user-1");
}

#[tokio::test]
async fn the_service_is_ready_when_the_inner_one_is() {
    let mut service = RequestLayer::new().layer(service_fn(created));
    service.ready().await.unwrap();
    let response = service
        .call(invocation("POST", "/items", "POST /items"))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}
