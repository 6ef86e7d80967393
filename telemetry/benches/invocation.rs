//! What telemetry costs one invocation: the same handler (five metrics, three AWS-call spans)
//! with RequestLayer (summary line, EMF flush), with and without X-Ray, against the handler
//! alone with no subscriber and no recorder.
//!
//! `cargo bench -p telemetry --bench invocation`; criterion's own figures first, then a
//! summary with nanoseconds and bytes written per invocation.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::io;
use std::net::UdpSocket;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{BatchSize, Criterion};
use lambda_http::{Body, Request, RequestExt};
use telemetry::metric_names as names;
use tower::{Layer, Service, service_fn};
use tracing::Instrument;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// The handler: what the items function does around a create, minus the work itself.
async fn handler(_: Request) -> Result<http::Response<Body>, Infallible> {
    async {}
        .instrument(telemetry::aws_span(
            "SecretsManager",
            "GetSecretValue",
            "items/config",
        ))
        .await;
    async {}
        .instrument(telemetry::aws_span("DynamoDB", "PutItem", "items-table"))
        .await;
    metrics::counter!(names::ITEMS_CREATED).increment(1);
    metrics::histogram!("StoreLatency").record(3.2);
    async {}
        .instrument(telemetry::aws_span("EventBridge", "PutEvents", "items-bus"))
        .await;
    metrics::counter!(names::ITEM_EVENTS_PUBLISHED).increment(1);
    metrics::counter!(names::ITEM_EVENT_PUBLISH_RETRIES).increment(0);
    metrics::counter!(names::STORE_THROTTLES).increment(0);
    Ok(http::Response::builder()
        .status(201)
        .body(Body::Empty)
        .unwrap())
}

/// An API Gateway request with the Lambda context, as the runtime hands it over.
fn request(trace_header: &str) -> Request {
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /items",
        "rawPath": "/items",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123",
            "http": {"method": "POST", "path": "/items", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "requestId": "Jd8mXh3fIAMEbXw=", "routeKey": "POST /items", "stage": "$default",
            "time": "21/Nov/2026:09:15:02 +0000", "timeEpoch": 1_795_252_502_000_i64
        },
        "body": "{\"name\":\"first\"}",
        "isBase64Encoded": false
    });
    let mut context = lambda_http::Context::default();
    context.request_id = "7f1c6a3e-2b4d-4c3e-9a51-0f0d2b1e6c11".to_owned();
    context.xray_trace_id = Some(trace_header.to_owned());
    context.invoked_function_arn =
        "arn:aws:lambda:eu-west-1:123456789012:function:items-api-items".to_owned();
    lambda_http::request::from_str(&event.to_string())
        .unwrap()
        .with_lambda_context(context)
}

/// Polls a future that completes without waiting (the handler awaits nothing real).
fn run_once<S>(service: &mut S, req: Request)
where
    S: Service<Request, Response = http::Response<Body>>,
    S::Error: std::fmt::Debug,
{
    let mut future = pin!(service.call(req));
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(response) => {
            black_box(response.unwrap());
        }
        Poll::Pending => unreachable!("the handler never waits"),
    }
}

/// Counts the bytes of log lines and throws them away.
#[derive(Clone, Default)]
struct Counted(Arc<AtomicU64>);

impl io::Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Counted {
    type Writer = Counted;

    fn make_writer(&'a self) -> Counted {
        self.clone()
    }
}

/// A daemon stand-in that drains the UDP socket and counts what it receives.
fn daemon() -> (std::net::SocketAddr, Arc<AtomicU64>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let bytes = Arc::new(AtomicU64::new(0));
    let counted = bytes.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0; 65_536];
        while let Ok(n) = socket.recv(&mut buf) {
            counted.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    (addr, bytes)
}

fn trace_header(sampled: bool) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sampled = u8::from(sampled);
    format!("Root=1-{now:08x}-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled={sampled}")
}

struct Variant {
    name: &'static str,
    /// The Lambda's trace header: sampled or not.
    header: String,
    dispatch: Option<tracing::Dispatch>,
    layered: bool,
    logs: Counted,
    emf: Arc<AtomicU64>,
    udp: Option<Arc<AtomicU64>>,
}

fn bare() -> Variant {
    Variant {
        name: "without telemetry",
        header: trace_header(true),
        dispatch: None,
        layered: false,
        logs: Counted::default(),
        emf: Arc::default(),
        udp: None,
    }
}

fn logs_and_metrics() -> Variant {
    let logs = Counted::default();
    Variant {
        name: "with telemetry (logs, EMF; no daemon)",
        header: trace_header(true),
        dispatch: Some(tracing::Dispatch::new(tracing_subscriber::registry().with(
            telemetry::layer("items", logs.clone()).with_filter(LevelFilter::INFO),
        ))),
        layered: true,
        logs,
        emf: Arc::default(),
        udp: None,
    }
}

/// After the others: once a trace layer exists, every request layer in the process does
/// trace work.
fn traced(sampled: bool) -> Variant {
    let logs = Counted::default();
    let (addr, udp) = daemon();
    Variant {
        name: if sampled {
            "with telemetry and X-Ray, sampled"
        } else {
            "with telemetry and X-Ray, not sampled"
        },
        header: trace_header(sampled),
        dispatch: Some(tracing::Dispatch::new(
            tracing_subscriber::registry()
                .with(telemetry::layer("items", logs.clone()).with_filter(LevelFilter::INFO))
                .with(telemetry::xray_layer(addr).unwrap()),
        )),
        layered: true,
        logs,
        emf: Arc::default(),
        udp: Some(udp),
    }
}

fn service(v: &Variant) -> tower::util::BoxService<Request, http::Response<Body>, Infallible> {
    if !v.layered {
        return tower::util::BoxService::new(service_fn(handler));
    }
    let emf = v.emf.clone();
    tower::util::BoxService::new(
        telemetry::RequestLayer::new()
            .with_service("items")
            .with_metrics_output(move |docs| {
                emf.fetch_add(docs.len() as u64, Ordering::Relaxed);
            })
            .layer(service_fn(handler)),
    )
}

fn with_dispatch<T>(v: &Variant, f: impl FnOnce() -> T) -> T {
    match &v.dispatch {
        Some(d) => tracing::dispatcher::with_default(d, f),
        None => f(),
    }
}

/// Warm invocations timed without building their requests (built a batch at a time, so
/// that they stay in cache as they would in a process serving one request at a time), and
/// the bytes they wrote.
fn measure(v: &Variant, baseline: Option<f64>) -> (f64, String) {
    let header = &v.header;
    const BATCH: u32 = 100;
    const BATCHES: u32 = 200;
    let mut svc = service(v);
    with_dispatch(v, || run_once(&mut svc, request(header)));
    let logs0 = v.logs.0.load(Ordering::Relaxed);
    let emf0 = v.emf.load(Ordering::Relaxed);
    let udp0 = v.udp.as_ref().map_or(0, |u| u.load(Ordering::Relaxed));
    let mut elapsed = Duration::ZERO;
    for _ in 0..BATCHES {
        let requests: Vec<Request> = (0..BATCH).map(|_| request(header)).collect();
        let start = Instant::now();
        with_dispatch(v, || {
            for req in requests {
                run_once(&mut svc, req);
            }
        });
        elapsed += start.elapsed();
    }
    let n = f64::from(BATCH * BATCHES);
    let ns = elapsed.as_nanos() as f64 / n;
    // Let the daemon thread catch up with the last packets.
    std::thread::sleep(Duration::from_millis(200));
    let per = |total: u64, start: u64| (total - start) as f64 / n;
    let logs = per(v.logs.0.load(Ordering::Relaxed), logs0);
    let emf = per(v.emf.load(Ordering::Relaxed), emf0);
    let udp = v
        .udp
        .as_ref()
        .map_or(0.0, |u| per(u.load(Ordering::Relaxed), udp0));
    let cost = baseline.map_or(String::new(), |b| format!(" (+{:.0} ns)", ns - b));
    let line = format!(
        "  {:<42} {ns:>7.0} ns{cost:<12} stdout {:>4.0} B (log {logs:.0} + EMF {emf:.0}), X-Ray UDP {udp:.0} B",
        v.name,
        logs + emf,
    );
    (ns, line)
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let mut summary = Vec::new();
    let mut baseline = None;
    let makers: [fn() -> Variant; 4] = [bare, logs_and_metrics, || traced(false), || traced(true)];
    // `INVOCATION_VARIANT=N` runs only variant N's 20,000 invocations, for an instruction
    // count (`scripts/bench-telemetry-instructions`): time moves with the machine, it does not.
    if let Ok(n) = std::env::var("INVOCATION_VARIANT") {
        let v = makers[n.parse::<usize>().expect("a variant's index, 0 to 3")]();
        println!("{}", measure(&v, None).1);
        return;
    }
    for make in makers {
        let v = make();
        let header = &v.header;
        let mut svc = service(&v);
        // The cold start's extra document is not what a warm invocation costs.
        with_dispatch(&v, || run_once(&mut svc, request(header)));
        criterion.bench_function(v.name, |b| {
            with_dispatch(&v, || {
                b.iter_batched(
                    || request(header),
                    |req| run_once(&mut svc, req),
                    BatchSize::SmallInput,
                )
            })
        });
        let (ns, line) = measure(&v, baseline);
        baseline.get_or_insert(ns);
        summary.push(line);
    }
    criterion.final_summary();
    println!("\nper invocation (mean of 20000 warm invocations, request construction excluded):");
    for line in summary {
        println!("{line}");
    }
}
