//! POWERTOOLS_LOGGER_SAMPLE_RATE: a sampled invocation logs at DEBUG above LOG_LEVEL=INFO;
//! lines outside invocations keep the level. Its own binary (environment, `init`).

mod common;

use std::convert::Infallible;

use common::*;
use lambda_http::Body;
use telemetry::RequestLayer;
use tower::{Layer, ServiceExt, service_fn};

#[tokio::test]
async fn every_invocation_sampled_at_rate_one() {
    // SAFETY: the only test in this binary, run before anything reads the environment.
    unsafe {
        std::env::set_var("LOG_LEVEL", "INFO");
        std::env::set_var("POWERTOOLS_LOGGER_SAMPLE_RATE", "1");
    }
    let out = Capture::default();
    telemetry::init_with_writer("items", out.clone());
    tracing::debug!("outside a request");

    let service = RequestLayer::new()
        .with_metrics_output(out.sink())
        .layer(service_fn(|_: lambda_http::Request| async {
            tracing::debug!("before an await");
            tokio::task::yield_now().await;
            tracing::debug!("after an await");
            tracing::trace!("still filtered");
            Ok::<_, Infallible>(http::Response::new(Body::Empty))
        }));
    service
        .oneshot(invocation("GET", "/items", "GET /items"))
        .await
        .unwrap();

    assert_eq!(out.line("before an await")["level"], "DEBUG");
    assert_eq!(out.line("after an await")["request_id"], API_REQUEST_ID);
    out.line("request completed");
    let text = out.text();
    assert!(!text.contains("outside a request"), "{text}");
    assert!(!text.contains("still filtered"));
}
