//! EMF documents as RequestLayer flushes them, checked against the specification and its
//! limits: split, never dropped.

mod common;

use std::collections::HashMap;
use std::convert::Infallible;

use common::*;
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use telemetry::RequestLayer;
use telemetry::metric_names as names;
use tower::{Layer, ServiceExt, service_fn};

/// Runs `record` as the handler of one invocation and returns the documents flushed.
async fn flushed(record: impl Fn() + Clone + Send + 'static) -> Vec<Value> {
    let docs = Documents::default();
    let service = RequestLayer::new()
        .with_service("items")
        .with_metrics_output(docs.sink())
        .layer(service_fn(move |_: Request| {
            let record = record.clone();
            async move {
                record();
                // Values recorded after an await land in the same invocation.
                tokio::task::yield_now().await;
                record();
                Ok::<_, Infallible>(http::Response::new(Body::Empty))
            }
        }));
    service
        .oneshot(invocation("POST", "/items", "POST /items"))
        .await
        .unwrap();
    // The cold start's own document belongs to whichever test ran first.
    docs.all()
        .into_iter()
        .filter(|d| d.get(names::COLD_START).is_none())
        .collect()
}

/// Every value of every metric across `docs`, checked against the specification.
fn totals(docs: &[Value]) -> HashMap<String, u64> {
    let mut totals = HashMap::new();
    for doc in docs {
        for (name, n) in check_emf(doc) {
            *totals.entry(name).or_default() += n;
        }
    }
    totals
}

fn directive(doc: &Value) -> &Value {
    &doc["_aws"]["CloudWatchMetrics"][0]
}

#[tokio::test]
async fn structure_units_and_properties() {
    let docs = flushed(|| {
        metrics::counter!(names::ITEMS_CREATED).increment(1);
        metrics::histogram!("PayloadSize").record(512.0);
        metrics::gauge!("QueueDepth").set(7.0);
    })
    .await;
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let doc = &docs[0];
    check_emf(doc);
    let units: HashMap<&str, Option<&str>> = directive(doc)["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["Name"].as_str().unwrap(), m["Unit"].as_str()))
        .collect();
    assert_eq!(units[names::ITEMS_CREATED], Some("Count"));
    assert_eq!(units[names::REQUEST_LATENCY], Some("Milliseconds"));
    assert_eq!(units[names::REQUESTS], Some("Count"));
    assert_eq!(units["PayloadSize"], None, "not in the list: no unit");
    assert_eq!(doc[names::ITEMS_CREATED], 2);
    assert_eq!(
        doc["PayloadSize"],
        json!({"Values": [512], "Counts": [2], "Min": 512, "Max": 512, "Count": 2, "Sum": 1024})
    );
    assert_eq!(doc["QueueDepth"], 7);
    assert_eq!(doc[names::REQUESTS], 1);
    assert_eq!(doc[names::RESPONSES_4XX], 0);
    assert_eq!(doc[names::RESPONSES_5XX], 0);
    assert_eq!(directive(doc)["Dimensions"], json!([["service"]]));
    assert_eq!(doc["service"], "items");
    assert_eq!(doc["request_id"], API_REQUEST_ID);
    assert!(doc.get("xray_trace_id").is_none(), "on the log lines only");
    assert!(
        directive(doc)["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m.get("StorageResolution").is_none())
    );
}

#[tokio::test]
async fn a_150_metric_flush_is_two_documents_and_loses_nothing() {
    let docs = flushed(|| {
        for i in 0..150 {
            metrics::counter!(format!("Custom{i:03}")).increment(i + 1);
        }
    })
    .await;
    // 150 custom metrics and the layer's 4: 100 in the first document, 54 in the second.
    assert_eq!(docs.len(), 2, "{docs:#?}");
    let sizes: Vec<usize> = docs
        .iter()
        .map(|d| directive(d)["Metrics"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 54]);
    totals(&docs);
    for i in 0..150_u64 {
        let name = format!("Custom{i:03}");
        let holders: Vec<&Value> = docs.iter().filter(|d| d.get(&name).is_some()).collect();
        assert_eq!(holders.len(), 1, "{name}");
        assert_eq!(holders[0][&name], 2 * (i + 1), "{name}");
    }
    for doc in &docs {
        assert_eq!(doc["request_id"], API_REQUEST_ID, "ids on every document");
    }
}

#[tokio::test]
async fn a_histogram_of_250_values_is_split_and_loses_nothing() {
    let docs = flushed(|| {
        for i in 0..125 {
            metrics::histogram!("ItemSize").record(f64::from(i) + 0.5);
        }
        metrics::counter!(names::ITEMS_CREATED).increment(1);
    })
    .await;
    // 125 distinct values recorded twice: 250 values, 125 distinct, in two documents.
    let holders: Vec<&Value> = docs
        .iter()
        .filter(|d| d.get("ItemSize").is_some())
        .collect();
    assert_eq!(holders.len(), 2, "{docs:#?}");
    assert_eq!(totals(&docs)["ItemSize"], 250);
    let mut seen: Vec<f64> = Vec::new();
    for doc in &holders {
        let values = doc["ItemSize"]["Values"].as_array().unwrap();
        assert!(values.len() <= 100);
        seen.extend(values.iter().map(|v| v.as_f64().unwrap()));
        assert!(
            doc["ItemSize"]["Counts"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c == 2)
        );
    }
    seen.sort_by(f64::total_cmp);
    let expected: Vec<f64> = (0..125).map(|i| f64::from(i) + 0.5).collect();
    assert_eq!(seen, expected);
    // Other metrics are written once, in the first document.
    assert_eq!(totals(&docs)[names::ITEMS_CREATED], 1);
    assert_eq!(
        docs.iter()
            .filter(|d| d.get(names::REQUESTS).is_some())
            .count(),
        1
    );
}

#[tokio::test]
async fn two_hundred_fifty_distinct_values_take_three_documents() {
    let round = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let docs = flushed(move || {
        // The handler records twice: distinct values each time.
        let r = round.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for i in 0..125 {
            metrics::histogram!("Distinct").record(f64::from(i) + f64::from(r) * 1000.0);
        }
    })
    .await;
    let holders: Vec<&Value> = docs
        .iter()
        .filter(|d| d.get("Distinct").is_some())
        .collect();
    let per_doc: Vec<usize> = holders
        .iter()
        .map(|d| d["Distinct"].as_array().unwrap().len())
        .collect();
    assert_eq!(per_doc, [100, 100, 50]);
    assert_eq!(totals(&docs)["Distinct"], 250);
}

#[tokio::test]
async fn labels_are_dimensions_and_high_resolution_is_asked_by_label() {
    let docs = flushed(|| {
        metrics::counter!(names::STORE_THROTTLES, "table" => "items-table").increment(1);
        metrics::histogram!("FastPath", telemetry::STORAGE_RESOLUTION_LABEL => "1").record(1.0);
    })
    .await;
    let labelled = docs
        .iter()
        .find(|d| d.get(names::STORE_THROTTLES).is_some())
        .unwrap();
    assert_eq!(
        directive(labelled)["Dimensions"],
        json!([["service", "table"]])
    );
    assert_eq!(labelled["table"], "items-table");
    assert_eq!(labelled[names::STORE_THROTTLES], 2);
    assert!(
        labelled.get(names::REQUESTS).is_none(),
        "other dimensions, other document"
    );
    let fast = docs.iter().find(|d| d.get("FastPath").is_some()).unwrap();
    let def = directive(fast)["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Name"] == "FastPath")
        .unwrap();
    assert_eq!(def["StorageResolution"], 1);
    assert!(fast.get(telemetry::STORAGE_RESOLUTION_LABEL).is_none());
    assert_eq!(directive(fast)["Dimensions"], json!([["service"]]));
    totals(&docs);
}

#[tokio::test]
async fn more_labels_than_dimensions_allowed_still_writes_the_metric() {
    let docs = flushed(|| {
        let labels: Vec<metrics::Label> = (0..40)
            .map(|i| metrics::Label::new(format!("k{i:02}"), format!("v{i}")))
            .collect();
        metrics::counter!("Wide", labels).increment(1);
    })
    .await;
    let wide = docs.iter().find(|d| d.get("Wide").is_some()).unwrap();
    check_emf(wide);
    assert_eq!(
        directive(wide)["Dimensions"][0].as_array().unwrap().len(),
        30
    );
    assert_eq!(wide["Wide"], 2);
}

/// Invocations run concurrently in one process, on several threads: each invocation's
/// documents hold its own values and ids only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_invocations_never_mix() {
    let docs = Documents::default();
    let service = RequestLayer::new()
        .with_metrics_output(docs.sink())
        .layer(service_fn(|req: Request| async move {
            let n: u64 = telemetry::RequestIds::from_request(&req).request_id[4..]
                .parse()
                .unwrap();
            for _ in 0..n {
                metrics::counter!(names::ITEMS_CREATED).increment(1);
                tokio::task::yield_now().await;
                metrics::histogram!("Mine").record(n as f64);
            }
            Ok::<_, Infallible>(http::Response::new(Body::Empty))
        }));
    let tasks: Vec<_> = (1..=40_u64)
        .map(|n| {
            let header = format!("Root=1-00000000-{n:024};Parent=53995c3f42cd8ad8;Sampled=0");
            let req = invocation_with(&format!("req-{n}"), &format!("fn-{n}"), Some(&header), "{}");
            tokio::spawn(service.clone().oneshot(req))
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let docs = docs.all();
    let mut seen = 0;
    for doc in docs.iter().filter(|d| d.get(names::REQUESTS).is_some()) {
        check_emf(doc);
        let n: u64 = doc["request_id"].as_str().unwrap()[4..].parse().unwrap();
        assert!(doc.get("xray_trace_id").is_none(), "{doc}");
        assert_eq!(doc[names::ITEMS_CREATED], n, "{doc}");
        let mine = &doc["Mine"];
        let all_n = match mine {
            Value::Number(v) => v.as_f64() == Some(n as f64),
            Value::Object(d) => d["Values"] == json!([n]) && d["Count"] == n,
            _ => false,
        };
        assert!(all_n, "{doc}");
        seen += 1;
    }
    assert_eq!(seen, 40);
}
