//! The line format without the request layer: flat span fields, fixed keys, valid JSON.

mod common;

use std::fmt;

use common::Capture;
use tracing_subscriber::layer::SubscriberExt;

fn with_lines(body: impl FnOnce()) -> Capture {
    let out = Capture::default();
    let subscriber = tracing_subscriber::registry().with(telemetry::layer("items", out.clone()));
    tracing::subscriber::with_default(subscriber, body);
    out
}

#[test]
fn span_fields_are_flat_and_the_inner_span_wins() {
    let out = with_lines(|| {
        let outer = tracing::info_span!("outer", request_id = "outer-id", tenant = "t1");
        let _outer = outer.enter();
        let inner = tracing::info_span!("inner", request_id = "inner-id", attempt = 2);
        let _inner = inner.enter();
        tracing::info!(table = "items", "put item");
    });
    let line = out.line("put item");
    assert_eq!(line["request_id"], "inner-id");
    assert_eq!(line["tenant"], "t1");
    assert_eq!(line["attempt"], 2);
    assert_eq!(line["table"], "items");
    assert_eq!(out.text().matches("request_id").count(), 1);
}

#[test]
fn fixed_keys_cannot_be_overwritten() {
    let out = with_lines(|| {
        let span = tracing::info_span!("s", service = "span-service", message = "span-message");
        let _entered = span.enter();
        tracing::warn!(
            level = "fake",
            service = "other",
            timestamp = 1,
            target = "x",
            "real"
        );
    });
    let line = out.line("real");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["service"], "items");
    assert!(line["timestamp"].is_string());
    assert_eq!(line["target"], "lines");
    for key in ["level", "service", "timestamp", "target", "message"] {
        assert_eq!(
            out.text().matches(&format!("\"{key}\"")).count(),
            1,
            "{key}"
        );
    }
}

#[test]
fn an_event_without_a_message_still_has_one() {
    let out = with_lines(|| tracing::info!(count = 3));
    let lines = out.lines();
    assert_eq!(lines[0]["message"], "");
    assert_eq!(lines[0]["count"], 3);
}

#[derive(Debug)]
struct Item {
    #[allow(dead_code)]
    name: &'static str,
}

#[derive(Debug)]
struct Outer(std::io::Error);

impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("service error")
    }
}

impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn every_value_type_is_valid_json() {
    let err = Outer(std::io::Error::other("throttled"));
    let out = with_lines(|| {
        tracing::info!(
            quote = "say \"hi\"\nnew line\ttab \u{1} \\ é",
            neg = -5_i64,
            big = u128::MAX,
            small = i128::MIN,
            ratio = 1.5_f64,
            nan = f64::NAN,
            inf = f64::INFINITY,
            yes = true,
            item = ?Item { name: "a \"quoted\" name" },
            shown = %"display",
            error = &err as &dyn std::error::Error,
            "message with \"quotes\" and\nnewline"
        );
    });
    assert_eq!(out.text().lines().count(), 1);
    let line = out.line("message with \"quotes\" and\nnewline");
    assert_eq!(line["quote"], "say \"hi\"\nnew line\ttab \u{1} \\ é");
    assert_eq!(line["neg"], -5);
    // Exact digits on the line (serde_json reads them back as floats).
    assert!(out.text().contains(&format!("\"big\":{},", u128::MAX)));
    assert!(out.text().contains(&format!("\"small\":{},", i128::MIN)));
    assert_eq!(line["ratio"], 1.5);
    assert!(line["nan"].is_null() && line["inf"].is_null());
    assert_eq!(line["yes"], true);
    assert_eq!(line["item"], "Item { name: \"a \\\"quoted\\\" name\" }");
    assert_eq!(line["shown"], "display");
    assert_eq!(line["error"], "service error: throttled");
}

#[test]
fn a_field_recorded_again_is_replaced() {
    let out = with_lines(|| {
        let span = tracing::info_span!(
            "s",
            status = tracing::field::Empty,
            user = tracing::field::Empty
        );
        span.record("status", 200);
        span.record("status", 503);
        let _entered = span.enter();
        tracing::info!("done");
    });
    let line = out.line("done");
    assert_eq!(line["status"], 503);
    assert!(line.get("user").is_none());
    assert_eq!(out.text().matches("status").count(), 1);
}

#[test]
fn the_lambda_runtime_span_uses_the_contract_names() {
    let out = with_lines(|| {
        // What lambda_runtime opens around each invocation.
        let span = tracing::info_span!(
            target: "lambda_runtime::layers::trace",
            "Lambda runtime invoke",
            requestId = common::FUNCTION_REQUEST_ID,
            xrayTraceId = common::TRACE_HEADER
        );
        let _entered = span.enter();
        tracing::error!("handler returned an error");
    });
    let line = out.line("handler returned an error");
    assert_eq!(line["function_request_id"], common::FUNCTION_REQUEST_ID);
    assert_eq!(line["xray_trace_id"], common::TRACE_ID);
    assert!(line.get("requestId").is_none() && line.get("xrayTraceId").is_none());
}

#[test]
fn a_long_line_of_fields_stays_one_line() {
    let out = with_lines(|| {
        let span = tracing::info_span!(
            "s",
            a0 = 0,
            a1 = 1,
            a2 = 2,
            a3 = 3,
            a4 = 4,
            a5 = 5,
            a6 = 6,
            a7 = 7
        );
        let _entered = span.enter();
        tracing::info!(
            b0 = 0,
            b1 = 1,
            b2 = 2,
            b3 = 3,
            b4 = 4,
            b5 = 5,
            b6 = 6,
            b7 = 7,
            "many"
        );
    });
    let line = out.line("many");
    assert_eq!(line.as_object().unwrap().len(), 5 + 16);
}

#[test]
fn a_field_that_logs_while_its_line_is_written_leaves_the_line_whole() {
    // `tracing` drops an event raised inside its own dispatch: the outer line is written
    // whole, and the lines after it too.
    struct Chatty;
    impl fmt::Display for Chatty {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            tracing::info!(depth = 2, "inner line");
            f.write_str("rendered")
        }
    }
    let out = with_lines(|| {
        tracing::info!(value = %Chatty, "outer line");
        tracing::info!(value = %Chatty, "second line");
    });
    assert_eq!(out.line("outer line")["value"], "rendered");
    assert_eq!(out.line("second line")["value"], "rendered");
    assert_eq!(out.lines().len(), 2);
}
