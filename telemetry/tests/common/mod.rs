//! Shared by the test binaries: an output capture and realistic requests.
#![allow(dead_code)] // each test binary uses a different part

use std::io;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;

pub const API_REQUEST_ID: &str = "Jd8mXh3fIAMEbXw=";
pub const FUNCTION_REQUEST_ID: &str = "7f1c6a3e-2b4d-4c3e-9a51-0f0d2b1e6c11";
pub const TRACE_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
pub const TRACE_ID: &str = "1-5759e988-bd862e3fe1be46a994272793";

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Every line, each of which must be one JSON object.
    pub fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|line| {
                let value: Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                assert!(value.is_object(), "{line}");
                value
            })
            .collect()
    }

    /// For `RequestLayer::with_metrics_output`: the EMF documents, and the summary line the
    /// first of them is, join the other lines, as on Lambda's stdout.
    pub fn sink(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let out = self.0.clone();
        move |docs: &str| out.lock().unwrap().extend_from_slice(docs.as_bytes())
    }

    /// The one line with this message.
    pub fn line(&self, message: &str) -> Value {
        let mut found = self.lines().into_iter().filter(|l| l["message"] == message);
        let line = found
            .next()
            .unwrap_or_else(|| panic!("no line {message:?} in\n{}", self.text()));
        assert!(found.next().is_none(), "two lines {message:?}");
        line
    }
}

pub struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> CaptureWriter {
        CaptureWriter(self.0.clone())
    }
}

/// An API Gateway HTTP API (payload 2.0) event, as lambda_http turns it into a request.
pub fn api_request(method: &str, path: &str, route_key: &str) -> lambda_http::Request {
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "limit=10&cursor=c2VjcmV0",
        "headers": {
            "authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.payload.signature",
            "content-type": "application/json",
            "host": "abc123.execute-api.eu-west-1.amazonaws.com",
            "x-amzn-trace-id": "Root=1-11111111-222222222222222222222222",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "authorizer": { "jwt": { "claims": { "sub": "user-1" }, "scopes": null } },
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0"
            },
            "requestId": API_REQUEST_ID,
            "routeKey": route_key,
            "stage": "$default",
            "time": "21/Nov/2026:09:15:02 +0000",
            "timeEpoch": 1_795_252_502_000_i64
        },
        "body": "{\"name\":\"first\"}",
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event")
}

/// The same request as the Lambda runtime hands it over: with the invocation's context.
pub fn invocation(method: &str, path: &str, route_key: &str) -> lambda_http::Request {
    use lambda_http::RequestExt;
    let mut context = lambda_http::Context::default();
    context.request_id = FUNCTION_REQUEST_ID.to_owned();
    context.xray_trace_id = Some(TRACE_HEADER.to_owned());
    api_request(method, path, route_key).with_lambda_context(context)
}

/// A request as the runtime hands it over, with these ids and trace header, and this body.
pub fn invocation_with(
    request_id: &str,
    function_request_id: &str,
    trace_header: Option<&str>,
    body: &str,
) -> lambda_http::Request {
    use lambda_http::RequestExt;
    let mut event: serde_json::Value =
        serde_json::from_str(&api_event("POST", "/items", "POST /items")).unwrap();
    event["requestContext"]["requestId"] = request_id.into();
    event["body"] = body.into();
    let mut context = lambda_http::Context::default();
    context.request_id = function_request_id.to_owned();
    context.xray_trace_id = trace_header.map(str::to_owned);
    context.invoked_function_arn =
        "arn:aws:lambda:eu-west-1:123456789012:function:items-api-items:live".to_owned();
    lambda_http::request::from_str(&event.to_string())
        .expect("an API Gateway v2 event")
        .with_lambda_context(context)
}

fn api_event(method: &str, path: &str, route_key: &str) -> String {
    serde_json::json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.payload.signature",
            "content-type": "application/json",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0"
            },
            "requestId": API_REQUEST_ID,
            "routeKey": route_key,
            "stage": "$default",
            "time": "21/Nov/2026:09:15:02 +0000",
            "timeEpoch": 1_795_252_502_000_i64
        },
        "isBase64Encoded": false
    })
    .to_string()
}

/// An X-Ray header for a trace started now (X-Ray refuses trace ids older than 30 days).
pub fn fresh_trace_header(sampled: bool) -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let root = format!("1-{now:08x}-0123456789abcdef01234567");
    let header = format!(
        "Root={root};Parent=53995c3f42cd8ad8;Sampled={}",
        u8::from(sampled)
    );
    (header, root)
}

/// Collects the EMF documents a `RequestLayer` flushes, one JSON value each.
#[derive(Clone, Default)]
pub struct Documents(Arc<Mutex<String>>);

impl Documents {
    /// For `RequestLayer::with_metrics_output`.
    pub fn sink(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let out = self.0.clone();
        move |docs: &str| out.lock().unwrap().push_str(docs)
    }

    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    pub fn all(&self) -> Vec<Value> {
        let text = self.text();
        assert!(text.is_empty() || text.ends_with('\n'), "{text}");
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

const CLOUDWATCH_UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The members the writer puts on a document besides metrics and dimensions.
pub const WRITER_PROPERTIES: &[&str] = &["_aws", "request_id", "function_request_id"];

/// Every member name of a JSON object's root, duplicates kept (a `Value` keeps only one).
pub fn root_keys(line: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(Visit)
        }
    }
    serde_json::from_str::<Keys>(line)
        .unwrap_or_else(|e| panic!("{e}: {line}"))
        .0
}

/// A line as CloudWatch reads it: one JSON object with no member twice, meeting the
/// specification ([`check_emf`]); returns it.
pub fn check_emf_line(line: &str) -> Value {
    let keys = root_keys(line);
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), keys.len(), "a member twice: {line}");
    let doc: Value = serde_json::from_str(line).unwrap();
    check_emf(&doc);
    doc
}

/// CloudWatch's `Dimension` name or value: ASCII, no control character, not blank.
fn dimension_text(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii() && !b.is_ascii_control())
        && text.bytes().any(|b| !b.is_ascii_whitespace())
}

/// A number CloudWatch takes as a metric value: within ±2^360.
fn cloudwatch_number(v: &Value) -> bool {
    v.as_f64()
        .is_some_and(|f| f.is_finite() && f.abs() <= 2f64.powi(360))
}

/// Checks one document against the EMF specification and its limits; returns the number of
/// values each metric carries (`name → count`, Counts summed).
pub fn check_emf(doc: &Value) -> Vec<(String, u64)> {
    let root = doc.as_object().expect("a document is an object");
    let mut declared: Vec<&str> = Vec::new();
    let aws = root["_aws"].as_object().expect("_aws");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let ts = aws["Timestamp"].as_i64().expect("Timestamp in epoch ms");
    assert!(
        ts > now_ms - 14 * 86_400_000 && ts < now_ms + 2 * 3_600_000,
        "{ts}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    assert!(!directives.is_empty());
    let mut counts = Vec::new();
    for directive in directives {
        let ns = directive["Namespace"].as_str().expect("Namespace");
        assert!((1..=255).contains(&ns.len()));
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            let set = set.as_array().expect("a dimension set");
            assert!(set.len() <= 30, "{} dimensions", set.len());
            let mut seen: Vec<&str> = Vec::new();
            for key in set {
                let key = key.as_str().expect("dimension keys are strings");
                assert!(
                    !["request_id", "function_request_id", "xray_trace_id"].contains(&key),
                    "{key} is a dimension"
                );
                assert!(!seen.contains(&key), "{key} twice in a dimension set");
                seen.push(key);
                assert!((1..=250).contains(&key.len()), "{key:?}");
                assert!(dimension_text(key) && !key.starts_with(':'), "{key:?}");
                let value = root[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("dimension {key}"));
                assert!((1..=1024).contains(&value.len()), "{key}={value:?}");
                assert!(dimension_text(value), "{key}={value:?}");
                declared.push(key);
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(
            metrics.len() <= 100,
            "{} metrics in one directive",
            metrics.len()
        );
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name");
            assert!(
                (1..=255).contains(&name.chars().count()) && !name.trim().is_empty(),
                "metric name {name:?}"
            );
            assert!(
                !declared.contains(&name),
                "{name} is a dimension and a metric"
            );
            assert!(!WRITER_PROPERTIES.contains(&name), "{name} is the writer's");
            declared.push(name);
            if let Some(unit) = metric.get("Unit") {
                assert!(CLOUDWATCH_UNITS.contains(&unit.as_str().unwrap()), "{unit}");
            }
            if let Some(res) = metric.get("StorageResolution") {
                assert!(res == 1 || res == 60, "{res}");
            }
            let value = &root[name];
            let n = match value {
                Value::Number(_) => {
                    assert!(cloudwatch_number(value), "{name}: {value}");
                    1
                }
                Value::Array(values) => {
                    assert!(values.len() <= 100, "{name}: {} values", values.len());
                    assert!(values.iter().all(cloudwatch_number), "{name}: {value}");
                    values.len() as u64
                }
                Value::Object(dist) => {
                    let values = dist["Values"].as_array().expect("Values");
                    let weights = dist["Counts"].as_array().expect("Counts");
                    assert!(values.len() <= 100 && values.len() == weights.len());
                    assert!(values.iter().all(cloudwatch_number), "{name}: {value}");
                    for stat in ["Min", "Max", "Count", "Sum"] {
                        assert!(cloudwatch_number(&dist[stat]), "{name}: {stat}");
                    }
                    let total: f64 = weights.iter().map(|c| c.as_f64().unwrap()).sum();
                    assert_eq!(dist["Count"].as_f64().unwrap(), total);
                    total as u64
                }
                other => panic!("{name} is {other}"),
            };
            counts.push((name.to_owned(), n));
        }
    }
    // Besides what the directives name, only the writer's own members; and the summary line's
    // when the document is one (it has a `message`).
    let summary = root.contains_key("message");
    for key in root.keys().filter(|_| !summary) {
        assert!(
            declared.contains(&key.as_str()) || WRITER_PROPERTIES.contains(&key.as_str()),
            "{key} is neither declared nor the writer's"
        );
    }
    counts
}
