//! Whatever a handler records, every EMF document written keeps every rule of the
//! specification and of CloudWatch's API (`common::check_emf_line`): names, labels and values
//! drawn from those that break a rule and those that just do not; and the summary line, which
//! the document with the `service` dimension alone goes on from, unless a name of the line is
//! a metric's. Its own test binary: the crate warns about a refusal once per process, which
//! the tests of `emf.rs` count.

mod common;

use std::convert::Infallible;

use common::*;
use lambda_http::{Body, Request};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use telemetry::RequestLayer;
use tower::{Layer, ServiceExt, service_fn};
use tracing_subscriber::layer::SubscriberExt;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z][A-Za-z0-9_]{0,12}",
        1 => prop::sample::select(vec![
            "service", "request_id", "function_request_id", "function_name", "_aws",
            "storage_resolution", "", " ", ":x", "ä", "a\u{0}b", "\t",
        ])
        .prop_map(str::to_owned),
        1 => prop_oneof![Just(249usize), Just(250), Just(251), Just(255), Just(256), Just(1024), Just(1025)]
            .prop_map(|n| "x".repeat(n)),
        1 => any::<String>(),
    ]
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e6..1e6f64,
        1 => prop::sample::select(vec![
            f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, -1e97, 1e96, 1e-300, 5e-324,
            0.0, f64::MAX, f64::MIN_POSITIVE,
        ]),
        1 => any::<f64>(),
    ]
}

#[derive(Debug, Clone)]
enum Kind {
    Counter(u64),
    Gauge(f64),
    Histogram(Vec<f64>),
}

/// One metric as a handler records it: name, labels (key, value) and values.
type Recorded = (String, Vec<(String, String)>, Kind);

fn recording() -> impl Strategy<Value = Vec<Recorded>> {
    let kind = prop_oneof![
        (0..u64::MAX / 4).prop_map(Kind::Counter),
        value().prop_map(Kind::Gauge),
        prop::collection::vec(value(), 0..120).prop_map(Kind::Histogram),
    ];
    let labels = |most: usize| prop::collection::vec((text(), text()), 0..most);
    prop_oneof![
        // Up to past 30 dimensions.
        3 => prop::collection::vec((text(), labels(34), kind.clone()), 0..40),
        // Around 100 metrics without labels: with the layer's own, one set of dimensions.
        1 => prop::collection::vec((text(), labels(1), kind), 100..140),
    ]
}

#[test]
fn every_document_written_keeps_every_rule() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let config = Config {
        cases: 120,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new(config)
        .run(&recording(), |metrics_| {
            let docs = Documents::default();
            let service = RequestLayer::new()
                .with_service("items")
                .with_metrics_output(docs.sink())
                .layer(service_fn(move |_: Request| {
                    let metrics_ = metrics_.clone();
                    async move {
                        for (name, labels, kind) in metrics_ {
                            let labels: Vec<metrics::Label> = labels
                                .into_iter()
                                .map(|(k, v)| metrics::Label::new(k, v))
                                .collect();
                            match kind {
                                Kind::Counter(n) => metrics::counter!(name, labels).increment(n),
                                Kind::Gauge(v) => metrics::gauge!(name, labels).set(v),
                                Kind::Histogram(vs) => {
                                    let h = metrics::histogram!(name, labels);
                                    vs.into_iter().for_each(|v| h.record(v));
                                }
                            }
                        }
                        Ok::<_, Infallible>(http::Response::new(Body::Empty))
                    }
                }));
            // The JSON lines layer: the summary line goes with the metrics.
            let subscriber =
                tracing_subscriber::registry().with(telemetry::layer("items", Capture::default()));
            tracing::subscriber::with_default(subscriber, || {
                runtime.block_on(service.oneshot(invocation("POST", "/items", "POST /items")))
            })
            .unwrap();
            let text = docs.text();
            prop_assert!(
                !text.is_empty(),
                "the layer's own metrics are always written"
            );
            let mut summaries = 0;
            for line in text.lines() {
                let keys = root_keys(line);
                if keys.iter().any(|k| k == "message") {
                    summaries += 1;
                }
                if !keys.iter().any(|k| k == "_aws") {
                    // The summary line on its own: a metric is named like one of its fields.
                    prop_assert!(keys.iter().any(|k| k == "message"), "{line}");
                    continue;
                }
                // Panics name the broken rule; proptest reports and shrinks them.
                check_emf_line(line);
            }
            prop_assert_eq!(summaries, 1, "{}", text);
            Ok(())
        })
        .unwrap();
}
