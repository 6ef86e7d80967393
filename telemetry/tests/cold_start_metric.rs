//! The first invocation of a process adds a `ColdStart` document with the dimensions
//! Powertools uses; the namespace comes from the environment. Its own binary: the cold start
//! is per process, and the test sets the environment.

mod common;

use std::convert::Infallible;

use common::*;
use lambda_http::Body;
use serde_json::json;
use telemetry::RequestLayer;
use tower::{Layer, ServiceExt, service_fn};

#[tokio::test]
async fn cold_start_once_with_function_name_and_service() {
    // SAFETY: the only test in this binary, run before anything reads the environment.
    unsafe {
        std::env::set_var("POWERTOOLS_METRICS_NAMESPACE", "ItemsApiTest");
    }
    let docs = Documents::default();
    let layer = RequestLayer::new()
        .with_service("items")
        .with_metrics_output(docs.sink());
    let handler = service_fn(|_: lambda_http::Request| async {
        Ok::<_, Infallible>(http::Response::new(Body::Empty))
    });
    // A clone of the layer (one for each serving thread, say) has its settings and shares
    // its cold start: invocations through either are one function's.
    let services = [layer.layer(handler), layer.clone().layer(handler)];
    for n in 0..3 {
        let req = invocation_with(&format!("req-{n}"), "fn", None, "{}");
        services[n % 2].clone().oneshot(req).await.unwrap();
    }

    let docs = docs.all();
    let cold: Vec<_> = docs
        .iter()
        .filter(|d| d.get("ColdStart").is_some())
        .collect();
    assert_eq!(cold.len(), 1, "{docs:#?}");
    let cold = cold[0];
    check_emf(cold);
    assert_eq!(cold["ColdStart"], 1);
    assert_eq!(cold["request_id"], "req-0");
    // The function's name from the invoked ARN, without its alias.
    assert_eq!(cold["function_name"], "items-api-items");
    assert_eq!(cold["service"], "items");
    let directive = &cold["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(
        directive["Dimensions"],
        json!([["function_name", "service"]])
    );
    assert_eq!(
        directive["Metrics"],
        json!([{"Name": "ColdStart", "Unit": "Count"}])
    );
    assert_eq!(directive["Namespace"], "ItemsApiTest");
    // Every other document: the service dimension only.
    for doc in docs.iter().filter(|d| d.get("ColdStart").is_none()) {
        check_emf(doc);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["service"]])
        );
        assert!(doc.get("function_name").is_none());
        assert_eq!(doc["service"], "items");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "ItemsApiTest"
        );
    }
    assert_eq!(docs.len(), 4);
}
