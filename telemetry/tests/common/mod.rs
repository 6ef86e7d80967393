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
