//! InvocationLayer: the ids on every line of an invocation that is not HTTP, its summary line,
//! its metrics flushed once with Lambda's request id. Its own binary: the cold-start flag and
//! the default subscriber are per process.

mod common;

use common::*;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use telemetry::InvocationLayer;
use telemetry::metric_names as names;
use tower::{Layer, ServiceExt, service_fn};
use tracing_subscriber::layer::SubscriberExt;

fn event(payload: u32) -> LambdaEvent<u32> {
    let mut context = Context::default();
    context.request_id = FUNCTION_REQUEST_ID.to_owned();
    context.xray_trace_id = Some(TRACE_HEADER.to_owned());
    context.invoked_function_arn =
        "arn:aws:lambda:eu-west-1:123456789012:function:items-api-item-events".to_owned();
    LambdaEvent::new(payload, context)
}

#[tokio::test]
async fn lines_summary_and_one_flush_per_invocation() {
    let out = Capture::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(telemetry::layer("fallback", out.clone())),
    );
    let service = InvocationLayer::new()
        .with_service("item-events")
        .with_metrics_output(out.sink())
        .layer(service_fn(|event: LambdaEvent<u32>| async move {
            tracing::info!(request_id = "from-the-record", "record handled");
            metrics::counter!(names::ITEM_EVENTS_PUBLISHED).increment(1);
            tokio::task::yield_now().await;
            metrics::counter!(names::ITEM_EVENTS_PUBLISHED).increment(1);
            match event.payload {
                0 => Err(lambda_http::Error::from("the batch failed")),
                n => Ok(n),
            }
        }));

    assert_eq!(service.clone().oneshot(event(7)).await.unwrap(), 7);
    service.oneshot(event(0)).await.unwrap_err();

    // The log lines; the cold start's `ColdStart` document is not one.
    let all = out.lines();
    let lines: Vec<&Value> = all.iter().filter(|l| l.get("message").is_some()).collect();
    assert_eq!(lines.len(), 4, "{}", out.text());
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["service"], "item-events", "{line}");
        assert_eq!(line["function_request_id"], FUNCTION_REQUEST_ID, "{line}");
        assert_eq!(line["xray_trace_id"], TRACE_ID, "{line}");
        assert_eq!(line["cold_start"], i < 2, "{line}");
    }
    // The handler's own request id (a record's) is its line's, never the invocation's.
    assert_eq!(lines[0]["request_id"], "from-the-record");
    assert_eq!(lines[1]["message"], "invocation completed");
    assert!(lines[1].get("request_id").is_none(), "{}", lines[1]);
    assert!(lines[1]["latency_ms"].as_f64().is_some());
    assert!(lines[1].get("init_ms").is_some() || !cfg!(target_os = "linux"));
    assert!(lines[1].get("max_memory_mb").is_some() || !cfg!(target_os = "linux"));
    assert_eq!(lines[3]["message"], "invocation failed");
    assert_eq!(lines[3]["level"], "ERROR");
    assert_eq!(lines[3]["error"], "the batch failed");
    assert!(lines[3].get("init_ms").is_none());

    let cold: Vec<&Value> = all
        .iter()
        .filter(|d| d.get(names::COLD_START).is_some())
        .collect();
    assert_eq!(cold.len(), 1, "{all:?}");
    assert_eq!(cold[0]["function_name"], "items-api-item-events");
    let published: Vec<&Value> = all
        .iter()
        .filter(|d| d.get(names::ITEM_EVENTS_PUBLISHED).is_some())
        .collect();
    // One document per invocation, both counts of each in it, with Lambda's request id: the
    // summary line itself.
    assert_eq!(published.len(), 2, "{all:?}");
    assert_eq!(published[0]["message"], "invocation completed");
    assert_eq!(published[1]["message"], "invocation failed");
    for doc in published {
        check_emf(doc);
        assert_eq!(doc[names::ITEM_EVENTS_PUBLISHED], 2);
        assert_eq!(doc["service"], "item-events");
        assert_eq!(doc["function_request_id"], FUNCTION_REQUEST_ID);
        assert!(doc.get(names::REQUESTS).is_none(), "{doc}");
    }
}

#[tokio::test]
async fn a_panic_is_summarised_and_resumed() {
    let out = Capture::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(telemetry::layer("item-events", out.clone())),
    );
    let service = InvocationLayer::new()
        .with_metrics_output(out.sink())
        .layer(service_fn(|_: LambdaEvent<u32>| async move {
            if true {
                panic!("bad record");
            }
            Ok::<u32, lambda_http::Error>(0)
        }));
    let handle = tokio::spawn(service.oneshot(event(1)));
    assert!(handle.await.unwrap_err().is_panic());
    let line = out.line("invocation failed");
    assert_eq!(line["error"], "handler panicked: bad record");
    assert_eq!(line["function_request_id"], FUNCTION_REQUEST_ID);
}
