//! X-Ray segments as the daemon receives them: a UDP socket stands in for it.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use lambda_http::{Body, Request};
use serde_json::Value;
use telemetry::RequestLayer;
use tower::{Layer, ServiceExt, service_fn};
use tracing::Instrument;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;

const DAEMON_HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

struct Daemon(UdpSocket);

impl Daemon {
    fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Self(socket)
    }

    /// Every segment document received until the socket is quiet.
    fn received(&self) -> Vec<Value> {
        let mut buf = vec![0; 65_536];
        let mut docs = Vec::new();
        while let Ok(n) = self.0.recv(&mut buf) {
            let packet = std::str::from_utf8(&buf[..n]).unwrap();
            let doc = packet
                .strip_prefix(DAEMON_HEADER)
                .unwrap_or_else(|| panic!("no daemon header: {packet}"));
            assert!(n <= 64 * 1024);
            docs.push(serde_json::from_str(doc).unwrap());
        }
        docs
    }
}

/// Logs filtered at `log_level` (the trace layer is not), traces to `daemon`.
fn subscribe(
    daemon: &Daemon,
    log_level: LevelFilter,
) -> (Capture, tracing::subscriber::DefaultGuard) {
    let out = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(telemetry::layer("items", out.clone()).with_filter(log_level))
        .with(telemetry::xray_layer(daemon.0.local_addr().unwrap()).unwrap());
    (out, tracing::subscriber::set_default(subscriber))
}

/// A handler making three AWS calls, the last of which fails.
async fn handler(_: Request) -> Result<http::Response<Body>, lambda_http::Error> {
    async { tracing::info!("put") }
        .instrument(telemetry::aws_span("DynamoDB", "PutItem", "items-table"))
        .await;
    async {}
        .instrument(telemetry::aws_span("EventBridge", "PutEvents", "items-bus"))
        .await;
    let span = telemetry::aws_span("SecretsManager", "GetSecretValue", "items/config");
    async { tracing::error!(error = "AccessDenied", "secret unreadable") }
        .instrument(span.clone())
        .await;
    drop(span);
    // Spans below INFO (the AWS SDK's own) are not subsegments.
    let _ = tracing::debug_span!("sdk internals").entered();
    Ok(http::Response::builder().status(201).body(Body::Empty)?)
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn aws_calls_are_subsegments_of_the_lambda_trace() {
    let daemon = Daemon::new();
    let (_logs, _guard) = subscribe(&daemon, LevelFilter::ERROR);
    let (header, root) = fresh_trace_header(true);
    let before = now();
    let service = RequestLayer::new()
        .with_metrics_output(|_| ())
        .layer(service_fn(handler));
    let req = invocation_with("req-traced", "fn-1", Some(&header), "{}");
    service.oneshot(req).await.unwrap();
    let after = now();

    let docs = daemon.received();
    if std::env::var_os("SHOW_SEGMENTS").is_some() {
        for d in &docs {
            eprintln!("{d}");
        }
    }
    assert_eq!(docs.len(), 4, "{docs:#?}");
    for doc in &docs {
        assert_eq!(
            doc["trace_id"],
            root.as_str(),
            "the incoming header's trace"
        );
        assert_eq!(doc["type"], "subsegment");
        assert!(is_hex(doc["id"].as_str().unwrap(), 16), "{doc}");
        assert!(is_hex(doc["parent_id"].as_str().unwrap(), 16), "{doc}");
        let (start, end) = (
            doc["start_time"].as_f64().unwrap(),
            doc["end_time"].as_f64().unwrap(),
        );
        assert!(
            before - 0.01 <= start && start <= end && end <= after + 0.01,
            "{doc}"
        );
        assert!(doc.get("in_progress").is_none());
    }
    let invocation = docs.iter().find(|d| d["name"] == "request").unwrap();
    assert_eq!(
        invocation["parent_id"], "53995c3f42cd8ad8",
        "the Lambda's segment"
    );
    assert_eq!(invocation["annotations"]["request_id"], "req-traced");
    assert!(invocation["annotations"]["cold_start"].is_boolean());
    let ids: Vec<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert!(
        ids.iter()
            .all(|id| ids.iter().filter(|x| *x == id).count() == 1)
    );

    let calls: Vec<(&str, &str, &Value)> = docs
        .iter()
        .filter(|d| d["name"] != "request")
        .map(|d| {
            assert_eq!(d["parent_id"], invocation["id"], "{d}");
            assert_eq!(d["namespace"], "aws", "{d}");
            (
                d["name"].as_str().unwrap(),
                d["aws"]["operation"].as_str().unwrap(),
                d,
            )
        })
        .collect();
    let names: Vec<(&str, &str)> = calls.iter().map(|(n, o, _)| (*n, *o)).collect();
    assert_eq!(
        names,
        [
            ("DynamoDB", "PutItem"),
            ("EventBridge", "PutEvents"),
            ("SecretsManager", "GetSecretValue"),
        ]
    );
    let (_, _, dynamo) = calls[0];
    assert_eq!(dynamo["aws"]["table_name"], "items-table");
    assert_eq!(dynamo["annotations"]["aws_resource"], "items-table");
    assert_eq!(calls[1].2["annotations"]["aws_resource"], "items-bus");
    let (_, _, secrets) = calls[2];
    assert_eq!(
        secrets["fault"], true,
        "an ERROR event in the span marks it"
    );
    assert!(dynamo.get("fault").is_none() || dynamo["fault"] == false);
    assert!(invocation.get("fault").is_none() || invocation["fault"] == false);
}

#[tokio::test]
async fn not_sampled_or_no_header_sends_nothing() {
    let daemon = Daemon::new();
    let (_logs, _guard) = subscribe(&daemon, LevelFilter::INFO);
    let service = RequestLayer::new()
        .with_metrics_output(|_| ())
        .layer(service_fn(handler));
    let (unsampled, _) = fresh_trace_header(false);
    let req = invocation_with("req-unsampled", "fn-1", Some(&unsampled), "{}");
    service.clone().oneshot(req).await.unwrap();
    service
        .oneshot(api_request("POST", "/items", "POST /items"))
        .await
        .unwrap();
    // Spans outside any invocation have no sampled parent either.
    async {}
        .instrument(telemetry::aws_span("DynamoDB", "Query", "items-table"))
        .await;
    assert_eq!(daemon.received(), Vec::<Value>::new());
}

#[tokio::test]
async fn a_5xx_marks_the_invocation_as_a_fault() {
    let daemon = Daemon::new();
    let (logs, _guard) = subscribe(&daemon, LevelFilter::INFO);
    let (header, _) = fresh_trace_header(true);
    let service = RequestLayer::new()
        .with_metrics_output(logs.sink())
        .layer(service_fn(|_: Request| async {
            let span = telemetry::aws_span("DynamoDB", "PutItem", "items-table");
            telemetry::aws_call_failed(&span, Some(400));
            drop(span);
            Ok::<_, std::convert::Infallible>(
                http::Response::builder()
                    .status(503)
                    .body(Body::Empty)
                    .unwrap(),
            )
        }));
    let req = invocation_with("req-503", "fn-1", Some(&header), "{}");
    service.oneshot(req).await.unwrap();
    let docs = daemon.received();
    let invocation = docs.iter().find(|d| d["name"] == "request").unwrap();
    assert_eq!(invocation["fault"], true, "{invocation}");
    let call = docs.iter().find(|d| d["name"] == "DynamoDB").unwrap();
    assert_eq!(call["error"], true, "{call}");
    // Log lines are unchanged by tracing: same ids, no trace attributes.
    let summary = logs.line("request completed");
    assert_eq!(summary["request_id"], "req-503");
    assert!(!logs.text().contains("table.name"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invocations_ending_spans_on_several_threads_at_once_lose_none() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use tracing::instrument::WithSubscriber;

    let daemon = Daemon::new();
    // Drained while the invocations run: their datagrams outgrow the socket's buffer.
    let received = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let socket = daemon.0.try_clone().unwrap();
        let (received, done) = (Arc::clone(&received), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut buf = vec![0; 65_536];
            loop {
                match socket.recv(&mut buf) {
                    Ok(n) => {
                        let packet = std::str::from_utf8(&buf[..n]).unwrap();
                        let doc = packet.strip_prefix(DAEMON_HEADER).unwrap();
                        received
                            .lock()
                            .unwrap()
                            .push(serde_json::from_str::<Value>(doc).unwrap());
                    }
                    Err(_) if done.load(Ordering::Relaxed) => break,
                    Err(_) => {}
                }
            }
        })
    };
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(telemetry::layer("items", Capture::default()).with_filter(LevelFilter::ERROR))
            .with(telemetry::xray_layer(daemon.0.local_addr().unwrap()).unwrap()),
    );
    let service = RequestLayer::new()
        .with_metrics_output(|_| ())
        .layer(service_fn(handler));
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let invocations = 64;
    let tasks: Vec<_> = (0..invocations)
        .map(|i| {
            let header = format!("Root=1-{seconds:08x}-{i:024x};Parent=53995c3f42cd8ad8;Sampled=1");
            let req = invocation_with(&format!("req-{i}"), "fn-1", Some(&header), "{}");
            tokio::spawn(
                service
                    .clone()
                    .oneshot(req)
                    .with_subscriber(dispatch.clone()),
            )
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // Quiet for a read timeout once every datagram is in.
    std::thread::sleep(Duration::from_millis(300));
    done.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    let docs = received.lock().unwrap();
    // Each invocation: its own subsegment and its three AWS calls', under its own trace.
    assert_eq!(docs.len(), invocations * 4);
    for i in 0..invocations {
        let trace_id = format!("1-{seconds:08x}-{i:024x}");
        let names: Vec<&str> = docs
            .iter()
            .filter(|d| d["trace_id"] == trace_id.as_str())
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 4, "{trace_id}: {names:?}");
        assert!(names.contains(&"request"), "{names:?}");
    }
}

/// An invocation that is not HTTP (a stream batch): its subsegment is the Lambda's child, its
/// AWS calls are its children, and a failed invocation is a fault.
#[tokio::test]
async fn an_invocation_layer_invocation_is_a_subsegment_too() {
    use lambda_http::lambda_runtime::{Context, LambdaEvent};
    let daemon = Daemon::new();
    let (_logs, _guard) = subscribe(&daemon, LevelFilter::ERROR);
    let (header, root) = fresh_trace_header(true);
    let service = telemetry::InvocationLayer::new()
        .with_metrics_output(|_| ())
        .layer(service_fn(|event: LambdaEvent<bool>| async move {
            async {}
                .instrument(telemetry::aws_span("EventBridge", "PutEvents", "items-bus"))
                .await;
            match event.payload {
                true => Ok(()),
                false => Err(lambda_http::Error::from("the batch failed")),
            }
        }));
    for ok in [true, false] {
        let mut context = Context::default();
        context.request_id = format!("fn-{ok}");
        context.xray_trace_id = Some(header.clone());
        let _ = service.clone().oneshot(LambdaEvent::new(ok, context)).await;
    }

    let docs = daemon.received();
    assert_eq!(docs.len(), 4, "{docs:#?}");
    let invocations: Vec<&Value> = docs.iter().filter(|d| d["name"] == "invocation").collect();
    assert_eq!(invocations.len(), 2, "{docs:#?}");
    for (invocation, ok) in invocations.iter().zip([true, false]) {
        assert_eq!(invocation["trace_id"], root.as_str());
        assert_eq!(invocation["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(
            invocation["annotations"]["function_request_id"],
            format!("fn-{ok}")
        );
        assert_eq!(invocation.get("fault") == Some(&Value::Bool(true)), !ok);
        let call = docs
            .iter()
            .find(|d| d["name"] == "EventBridge" && d["parent_id"] == invocation["id"])
            .unwrap_or_else(|| panic!("its PutEvents: {docs:#?}"));
        assert_eq!(call["namespace"], "aws");
    }
}
