//! The process's first request is the cold start; the next ones are warm. Its own binary:
//! the flag is per process.

mod common;

use std::convert::Infallible;

use common::*;
use lambda_http::Body;
use telemetry::RequestLayer;
use tower::{Layer, ServiceExt, service_fn};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn cold_start_is_true_once() {
    let out = Capture::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(telemetry::layer("items", out.clone())),
    );
    let service = RequestLayer::new()
        .with_metrics_output(out.sink())
        .layer(service_fn(|_: lambda_http::Request| async {
            tracing::info!("handled");
            Ok::<_, Infallible>(http::Response::new(Body::Empty))
        }));
    for _ in 0..3 {
        service
            .clone()
            .oneshot(invocation("GET", "/public", "GET /public"))
            .await
            .unwrap();
    }

    let lines = out.lines();
    let starts: Vec<_> = lines
        .iter()
        .filter(|l| l.get("message").is_some())
        .map(|l| l["cold_start"].as_bool().unwrap())
        .collect();
    // Two lines a request (the handler's and the summary), both with the request's flag.
    assert_eq!(starts, [true, true, false, false, false, false]);
    // The cold start's summary says how long the process took to get there; the others do not.
    let summaries: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "request completed")
        .collect();
    if cfg!(target_os = "linux") {
        assert!(summaries[0]["init_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    }
    assert!(summaries[1..].iter().all(|l| l.get("init_ms").is_none()));
}
