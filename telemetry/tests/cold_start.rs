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
    let service = RequestLayer::new().layer(service_fn(|_: lambda_http::Request| async {
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

    let starts: Vec<_> = out
        .lines()
        .iter()
        .map(|l| l["cold_start"].as_bool().unwrap())
        .collect();
    // Two lines a request (the handler's and the summary), both with the request's flag.
    assert_eq!(starts, [true, true, false, false, false, false]);
}
