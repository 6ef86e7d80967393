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
    // A request that was neither: no zero written for them.
    assert!(doc.get(names::RESPONSES_4XX).is_none(), "{doc}");
    assert!(doc.get(names::RESPONSES_5XX).is_none(), "{doc}");
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
    // 150 custom metrics and the layer's 2: 100 in the first document, 52 in the second.
    assert_eq!(docs.len(), 2, "{docs:#?}");
    let sizes: Vec<usize> = docs
        .iter()
        .map(|d| directive(d)["Metrics"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 52]);
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

// ---------------------------------------------------------------------------------------------
// CloudWatch's rules, held at record time: what would break one is refused with one warning
// line and never written; the rest of the document is written as ever.

/// Runs `record` as the handler of one invocation, with the crate's log lines captured; returns
/// the documents (each line checked as CloudWatch reads it) and the warning lines.
async fn recorded(record: impl Fn() + Clone + Send + 'static) -> (Vec<Value>, Vec<Value>) {
    recorded_as("items", record).await
}

async fn recorded_as(
    service_name: &str,
    record: impl Fn() + Clone + Send + 'static,
) -> (Vec<Value>, Vec<Value>) {
    use tracing_subscriber::layer::SubscriberExt;
    let lines = Capture::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(telemetry::layer("items", lines.clone())),
    );
    let docs = Documents::default();
    let service = RequestLayer::new()
        .with_service(service_name)
        .with_metrics_output(docs.sink())
        .layer(service_fn(move |_: Request| {
            let record = record.clone();
            async move {
                record();
                record();
                Ok::<_, Infallible>(http::Response::new(Body::Empty))
            }
        }));
    service
        .oneshot(invocation("POST", "/items", "POST /items"))
        .await
        .unwrap();
    // With the JSON lines layer, the summary line goes with the metrics: the document with the
    // `service` dimension alone goes on from it, or it is written before them when it cannot
    // (its service is not the document's, say).
    let docs = docs
        .text()
        .lines()
        .filter(|l| root_keys(l).iter().any(|k| k == "_aws"))
        .map(check_emf_line)
        .filter(|d| d.get(names::COLD_START).is_none())
        .collect();
    let warnings = lines
        .lines()
        .into_iter()
        .filter(|l| l["level"] == "WARN")
        .collect();
    (docs, warnings)
}

/// The document holding metric `name`, if one does.
fn holder<'a>(docs: &'a [Value], name: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d.get(name).is_some())
}

fn dimensions(doc: &Value) -> Vec<String> {
    directive(doc)["Dimensions"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

/// The `(metric, label, rule)` of each warning line.
fn refusals(warnings: &[Value]) -> Vec<(String, Option<String>, String)> {
    warnings
        .iter()
        .map(|w| {
            assert!(w["message"].as_str().unwrap().starts_with("EMF "), "{w}");
            (
                w["metric"].as_str().unwrap().to_owned(),
                w["label"].as_str().map(str::to_owned),
                w["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_metric_named_like_a_member_of_the_document_is_refused() {
    let (docs, warnings) = recorded(|| {
        for name in [
            "service",
            "request_id",
            "function_request_id",
            "function_name",
            "_aws",
        ] {
            metrics::counter!(name).increment(1);
        }
        metrics::counter!("KeptBesideThem").increment(1);
    })
    .await;
    let doc = holder(&docs, "KeptBesideThem").unwrap();
    assert_eq!(doc["KeptBesideThem"], 2, "the rest is written");
    assert_eq!(doc["service"], "items");
    assert_eq!(doc["request_id"], API_REQUEST_ID);
    let refused = refusals(&warnings);
    // One line each, though each was recorded twice.
    assert_eq!(refused.len(), 5, "{warnings:#?}");
    assert!(refused.iter().all(|(_, label, rule)| label.is_none()
        && rule == "a metric is not named like a member the writer writes"));
}

#[tokio::test]
async fn a_label_named_like_a_member_of_the_document_or_its_metric_is_refused() {
    let (docs, warnings) = recorded(|| {
        metrics::counter!(
            "LabelClash",
            "service" => "other",
            "request_id" => "r",
            "function_name" => "f",
            "LabelClash" => "itself",
            "table" => "t",
            "table" => "again"
        )
        .increment(1);
    })
    .await;
    let doc = holder(&docs, "LabelClash").unwrap();
    assert_eq!(dimensions(doc), ["service", "table"]);
    assert_eq!(doc["service"], "items");
    assert_eq!(doc["table"], "t", "the first of a label given twice");
    assert_eq!(doc["LabelClash"], 2);
    let labels: Vec<Option<String>> = refusals(&warnings).into_iter().map(|r| r.1).collect();
    assert_eq!(
        labels,
        [
            "service",
            "request_id",
            "function_name",
            "LabelClash",
            "table"
        ]
        .map(|l| Some(l.into()))
    );
}

#[tokio::test]
async fn dimension_names_and_values_are_held_to_cloudwatchs_rules() {
    let long_key = "k".repeat(251);
    let long_value = "v".repeat(1025);
    let at_limits = ("k".repeat(250), "v".repeat(1024));
    let (docs, warnings) = recorded(move || {
        let bad = [
            ("empty_value", ""),
            ("blank_value", "  "),
            ("non_ascii_value", "café"),
            ("control_value", "a\u{7}b"),
            ("long_value", long_value.as_str()),
            (long_key.as_str(), "v"),
            (":colon", "v"),
            ("", "v"),
            ("clé", "v"),
        ];
        let mut labels: Vec<metrics::Label> = bad
            .iter()
            .map(|(k, v)| metrics::Label::new(k.to_string(), v.to_string()))
            .collect();
        labels.push(metrics::Label::new(
            at_limits.0.clone(),
            at_limits.1.clone(),
        ));
        labels.push(metrics::Label::new("ok", "fine value"));
        metrics::histogram!("Dimensional", labels).record(1.0);
    })
    .await;
    let doc = holder(&docs, "Dimensional").unwrap();
    assert_eq!(
        dimensions(doc),
        ["service".to_owned(), "k".repeat(250), "ok".into()]
    );
    assert_eq!(doc["ok"], "fine value");
    assert_eq!(refusals(&warnings).len(), 9, "{warnings:#?}");
}

#[tokio::test]
async fn metric_names_are_1_to_255_characters_and_not_blank() {
    let (docs, warnings) = recorded(|| {
        metrics::counter!("é".repeat(255)).increment(1);
        metrics::counter!("n".repeat(256)).increment(1);
        metrics::counter!("").increment(1);
        metrics::counter!("   ").increment(1);
    })
    .await;
    assert!(holder(&docs, &"é".repeat(255)).is_some());
    assert!(holder(&docs, &"n".repeat(256)).is_none());
    let rules: Vec<String> = refusals(&warnings).into_iter().map(|r| r.2).collect();
    assert_eq!(
        rules,
        [
            "a metric name has 1 to 255 characters",
            "a metric name has 1 to 255 characters",
            "a metric name is not blank"
        ]
    );
}

#[tokio::test]
async fn more_than_30_dimensions_are_refused_past_the_30th() {
    let (docs, warnings) = recorded(|| {
        let labels: Vec<metrics::Label> = (0..40)
            .map(|i| metrics::Label::new(format!("d{i:02}"), format!("v{i}")))
            .collect();
        metrics::counter!("Wider", labels).increment(1);
    })
    .await;
    let doc = holder(&docs, "Wider").unwrap();
    let dims = dimensions(doc);
    assert_eq!(dims.len(), 30);
    assert_eq!(dims[29], "d28", "service and the first 29 labels");
    assert_eq!(doc["Wider"], 2);
    let refused = refusals(&warnings);
    assert_eq!(refused.len(), 11, "one line per label refused");
    assert!(
        refused
            .iter()
            .all(|r| r.2 == "at most 30 dimensions, service included")
    );
}

#[tokio::test]
async fn values_that_are_not_numbers_cloudwatch_takes_are_refused() {
    let (docs, warnings) = recorded(|| {
        metrics::gauge!("Level").set(4.0);
        metrics::gauge!("Level").set(f64::NAN);
        metrics::gauge!("Level").increment(f64::INFINITY);
        metrics::gauge!("Huge").set(1e300);
        for v in [1.0, f64::NAN, f64::NEG_INFINITY, 2.0, -1e100, 1e-200, 0.0] {
            metrics::histogram!("Spread").record(v);
        }
    })
    .await;
    let doc = holder(&docs, "Level").unwrap();
    assert_eq!(doc["Level"], 4, "the last value accepted");
    assert_eq!(doc["Huge"], 0, "never set to a value CloudWatch takes");
    assert_eq!(
        doc["Spread"],
        json!({"Values": [0, 1, 2], "Counts": [2, 2, 2], "Min": 0, "Max": 2, "Count": 6, "Sum": 6})
    );
    let refused = refusals(&warnings);
    let for_metric = |m: &str| refused.iter().filter(|r| r.0 == m).count();
    // Once per metric and rule, however many times it was broken.
    assert_eq!(for_metric("Level"), 1);
    assert_eq!(for_metric("Huge"), 1);
    assert_eq!(for_metric("Spread"), 2, "{refused:?}");
}

#[tokio::test]
async fn a_service_cloudwatch_would_refuse_as_a_dimension_is_service_undefined() {
    let (docs, warnings) = recorded_as("sérvice", || {
        metrics::counter!("UnderABadService").increment(1);
    })
    .await;
    let doc = holder(&docs, "UnderABadService").unwrap();
    assert_eq!(doc["service"], "service_undefined");
    // The summary line says `sérvice`: a line of its own, not the document's start.
    assert!(doc.get("message").is_none(), "{doc}");
    let refused = refusals(&warnings);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "service");
}

#[tokio::test]
async fn a_refusal_is_warned_about_once_across_invocations() {
    let first = recorded(|| metrics::counter!("Warned", "k" => "").increment(1)).await;
    assert_eq!(refusals(&first.1).len(), 1);
    let again = recorded(|| metrics::counter!("Warned", "k" => "").increment(1)).await;
    assert!(again.1.is_empty(), "{:#?}", again.1);
    assert_eq!(holder(&again.0, "Warned").unwrap()["Warned"], 2);
}

#[tokio::test]
async fn keys_that_differ_only_in_refused_labels_write_the_metric_once() {
    let (docs, warnings) = recorded(|| {
        metrics::counter!("Twice").increment(1);
        metrics::counter!("Twice", "empty" => "").increment(5);
        metrics::counter!("Twice", telemetry::STORAGE_RESOLUTION_LABEL => "1").increment(7);
    })
    .await;
    assert_eq!(
        holder(&docs, "Twice").unwrap()["Twice"],
        2,
        "the first recorded"
    );
    let rules: Vec<String> = refusals(&warnings).into_iter().map(|r| r.2).collect();
    assert_eq!(
        rules,
        [
            "a dimension value has 1 to 1024 characters",
            "a metric is written once per set of dimensions"
        ]
    );
}
