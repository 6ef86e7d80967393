//! Metrics recorded outside any request (start-up, a spawned task) go to the process-wide
//! recorder `init` installs and are written, without request ids, when the next request
//! ends or `flush_metrics` is called. Its own binary: `init` is process-wide.

mod common;

use std::convert::Infallible;

use common::*;
use lambda_http::Body;
use telemetry::RequestLayer;
use telemetry::metric_names as names;
use tower::{Layer, ServiceExt, service_fn};

#[tokio::test]
async fn recorded_outside_a_request_and_flushed_with_the_next_one() {
    let logs = Capture::default();
    telemetry::init_with_writer("items", logs.clone());
    metrics::counter!(names::CONFIG_LOAD_FAILURES).increment(1);

    let docs = Documents::default();
    let service = RequestLayer::new()
        .with_metrics_output(docs.sink())
        .layer(service_fn(|_: lambda_http::Request| async {
            // A task the handler spawns is outside the request's recorder.
            tokio::spawn(async {
                metrics::counter!(names::ITEM_EVENT_PUBLISH_RETRIES).increment(2)
            })
            .await
            .unwrap();
            Ok::<_, Infallible>(http::Response::new(Body::Empty))
        }));
    service
        .oneshot(invocation("GET", "/items", "GET /items"))
        .await
        .unwrap();

    let docs = docs.all();
    let outside = docs
        .iter()
        .find(|d| d.get(names::CONFIG_LOAD_FAILURES).is_some())
        .unwrap_or_else(|| panic!("{docs:#?}"));
    check_emf(outside);
    assert_eq!(outside[names::CONFIG_LOAD_FAILURES], 1);
    assert_eq!(outside[names::ITEM_EVENT_PUBLISH_RETRIES], 2);
    assert_eq!(outside["service"], "items", "the service given to init");
    assert!(outside.get("request_id").is_none(), "not the request's");
    let request = docs
        .iter()
        .find(|d| d.get(names::REQUESTS).is_some())
        .unwrap();
    assert_eq!(request["request_id"], API_REQUEST_ID);
    assert!(request.get(names::CONFIG_LOAD_FAILURES).is_none());
    // EMF never goes through the log subscriber.
    assert!(!logs.text().contains("_aws"));
}
