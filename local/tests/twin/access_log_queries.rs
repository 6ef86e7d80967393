//! The runbooks' and dashboards' access-log queries read on the twin what they read on AWS.
//!
//! One scenario covers every way a request ends: the function answers (`201`, its own `404`,
//! its own `500`), the invocation fails (a panic), Lambda refuses it (throttled), or no
//! integration runs (the JWT authorizer's `401`, no route's `404`). Each access-log line must
//! hold what API Gateway writes for it: `integrationStatus` is the status of Lambda's `Invoke`
//! (`200` whenever Lambda ran the function, `429` when it throttled it, `-` when nothing was
//! invoked), never the function's answer
//! (docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html).
//! Then the queries themselves, taken from the files on-call reads, run through the twin's
//! Logs Insights engine and must answer as they would over AWS's lines.

use std::collections::BTreeSet;
use std::path::Path;

use local::ops::insights::{self, Record};
use serde_json::{Value, json};

use super::common::TwinProcess;

/// What one request of the scenario must leave in the access log.
struct Expected {
    request_id: String,
    route_key: &'static str,
    status: &'static str,
    integration_status: &'static str,
    /// `-`, or how the error message starts.
    integration_error: &'static str,
}

const PANIC_MESSAGE: &str = "The Lambda function returned the following error: Lambda panicked: \
     injected fault items=panic. Check your Lambda function code and try again.";

fn request_id(reply: &local::client::Reply) -> String {
    reply.header("apigw-requestid").unwrap().to_owned()
}

/// The ```` ```logs-insights access-log ```` block of `runbook` that contains `needle`.
fn runbook_query(runbook: &str, needle: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runbooks")
        .join(runbook);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut blocks = text.split("```logs-insights access-log\n").skip(1);
    let block = blocks
        .find(|b| b.split("```").next().unwrap().contains(needle))
        .unwrap_or_else(|| panic!("{runbook} has no access-log query with `{needle}`"));
    block.split("```").next().unwrap().to_owned()
}

/// The index of the api-overview dashboard's widget whose title starts with `title`.
fn widget_index(title: &str) -> usize {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards/api-overview.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    dashboard["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .position(|w| {
            w["properties"]["title"]
                .as_str()
                .is_some_and(|t| t.starts_with(title))
        })
        .unwrap_or_else(|| panic!("no widget `{title}`"))
}

fn cell(row: &[Value], columns: &[Value], name: &str) -> String {
    let at = columns
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {columns:?}"));
    match &row[at] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn the_access_log_and_its_queries_read_as_api_gateway_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let alice = format!("Bearer {}", twin.token("alice").await);
    let bob = format!("Bearer {}", twin.token("bob").await);
    let mut expected = Vec::new();

    // The function answers 201, then its own 404 (another user's item is not found).
    let created = twin
        .client
        .post_json(
            "/items",
            &[("authorization", &alice)],
            &json!({"name": "one"}),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());
    expected.push(Expected {
        request_id: request_id(&created),
        route_key: "POST /items",
        status: "201",
        integration_status: "200",
        integration_error: "-",
    });
    let item = created.json()["id"].as_str().unwrap().to_owned();
    let not_found = twin
        .client
        .get(&format!("/items/{item}"), &[("authorization", &bob)])
        .await
        .unwrap();
    assert_eq!(not_found.status, 404, "{}", not_found.text());
    expected.push(Expected {
        request_id: request_id(&not_found),
        route_key: "GET /items/{id}",
        status: "404",
        integration_status: "200",
        integration_error: "-",
    });

    // No integration: the authorizer refuses, or no route matches.
    let unauthorized = twin.client.get("/items", &[]).await.unwrap();
    assert_eq!(unauthorized.status, 401, "{}", unauthorized.text());
    expected.push(Expected {
        request_id: request_id(&unauthorized),
        route_key: "GET /items",
        status: "401",
        integration_status: "-",
        integration_error: "-",
    });
    let no_route = twin.client.get("/nowhere", &[]).await.unwrap();
    assert_eq!(no_route.status, 404, "{}", no_route.text());
    expected.push(Expected {
        request_id: request_id(&no_route),
        route_key: "-",
        status: "404",
        integration_status: "-",
        integration_error: "-",
    });

    // The function answers its own 500: Lambda ran it, so Invoke said 200.
    twin.set_fault("store=fail").await;
    let failed = twin
        .client
        .get("/items", &[("authorization", &alice)])
        .await
        .unwrap();
    assert_eq!(failed.status, 500, "{}", failed.text());
    assert_ne!(failed.json(), json!({"message": "Internal Server Error"}));
    expected.push(Expected {
        request_id: request_id(&failed),
        route_key: "GET /items",
        status: "500",
        integration_status: "200",
        integration_error: "-",
    });

    // The function panics: Invoke still said 200 (with X-Amz-Function-Error); API Gateway
    // answers 500 on its own and says why. The invocation is traced: its function segment
    // is a fault.
    twin.set_fault("items=panic").await;
    let trace_root = "1-5759e988-0123456789abcdef0123cafe";
    let panicked = twin
        .client
        .get(
            "/items",
            &[
                ("authorization", &alice),
                ("x-amzn-trace-id", &format!("Root={trace_root};Sampled=1")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        (panicked.status.as_u16(), panicked.json()),
        (500, json!({"message": "Internal Server Error"}))
    );
    expected.push(Expected {
        request_id: request_id(&panicked),
        route_key: "GET /items",
        status: "500",
        integration_status: "200",
        integration_error: PANIC_MESSAGE,
    });

    // Lambda throttles the function: Invoke's own 429, and API Gateway's 500.
    twin.set_fault("items=throttle").await;
    let throttled = twin
        .client
        .get("/items", &[("authorization", &alice)])
        .await
        .unwrap();
    assert_eq!(throttled.status, 500, "{}", throttled.text());
    expected.push(Expected {
        request_id: request_id(&throttled),
        route_key: "GET /items",
        status: "500",
        integration_status: "429",
        integration_error: "Rate Exceeded.",
    });
    twin.clear_faults().await;

    // Each line as API Gateway writes it.
    let access = twin.access_log();
    for e in &expected {
        let line = access
            .iter()
            .find(|l| l["requestId"] == e.request_id.as_str())
            .unwrap_or_else(|| panic!("no access-log line for {}", e.request_id));
        assert_eq!(line["routeKey"], e.route_key, "{line}");
        assert_eq!(line["status"], e.status, "{line}");
        assert_eq!(line["integrationStatus"], e.integration_status, "{line}");
        assert_eq!(
            line["integrationErrorMessage"], e.integration_error,
            "{line}"
        );
        // A latency exactly when an integration ran.
        let ran = e.integration_status != "-";
        assert_eq!(line["integrationLatency"] != "-", ran, "{line}");
    }
    let unauthorized_line = access
        .iter()
        .find(|l| l["requestId"] == expected[2].request_id.as_str())
        .unwrap();
    assert_ne!(unauthorized_line["authorizerError"], "-");

    // The panicked invocation's function segment, read back by its trace id.
    let trace = twin
        .client
        .get(&format!("/_twin/traces/{trace_root}"), &[])
        .await
        .unwrap();
    assert_eq!(trace.status, 200, "{}", trace.text());
    let trace = trace.json();
    let function = trace["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["origin"] == "AWS::Lambda::Function")
        .unwrap_or_else(|| panic!("no function segment: {trace:#}"));
    assert_eq!(function["fault"], true, "{function:#}");
    assert_eq!(
        function["cause"]["exceptions"][0]["message"],
        "Lambda panicked: injected fault items=panic"
    );

    // The 5xx the access log holds, and why each happened.
    let five_xx: BTreeSet<(String, &str, &str)> = expected
        .iter()
        .filter(|e| e.status.starts_with('5'))
        .map(|e| {
            (
                e.request_id.clone(),
                e.integration_status,
                e.integration_error,
            )
        })
        .collect();
    assert_eq!(five_xx.len(), 3);

    // The api-overview dashboard's "Latest 5xx" widget, as the ops console runs it.
    let dashboard = twin
        .client
        .get("/_ops/api/dashboards/api-overview", &[])
        .await
        .unwrap();
    assert_eq!(dashboard.status, 200, "{}", dashboard.text());
    let dashboard = dashboard.json();
    let widget = &dashboard["widgets"][widget_index("Latest 5xx")];
    let (columns, rows) = (
        widget["columns"].as_array().unwrap(),
        widget["rows"].as_array().unwrap(),
    );
    let shown: BTreeSet<(String, String, String)> = rows
        .iter()
        .map(|r| {
            let r = r.as_array().unwrap();
            assert_eq!(cell(r, columns, "status"), "500", "{widget:#}");
            (
                cell(r, columns, "requestId"),
                cell(r, columns, "integrationStatus"),
                cell(r, columns, "integrationErrorMessage"),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = five_xx
        .iter()
        .map(|(id, status, error)| (id.clone(), (*status).to_owned(), (*error).to_owned()))
        .collect();
    assert_eq!(shown, want, "{widget:#}");

    // The runbooks' access-log queries, over the same lines.
    let records: Vec<Record> = access
        .iter()
        .enumerate()
        .map(|(i, line)| Record {
            group: local::cloudwatch::ACCESS_LOG_GROUP.to_owned(),
            // The lines in the order they were written.
            timestamp_ms: i as i64,
            line: line.clone(),
        })
        .collect();
    let run = |query: &str| {
        let table = insights::parse(query).unwrap().run(&records);
        let columns: Vec<Value> = table.columns.iter().map(|c| json!(c)).collect();
        (columns, table.rows)
    };

    // api-5xx-rate: the 5xx by route, status and why: the function's own 500 with no error,
    // the panic with Lambda's error, the throttle with Invoke's 429.
    let (columns, rows) = run(&runbook_query(
        "api-5xx-rate.md",
        "by routeKey, status, integrationStatus, integrationErrorMessage",
    ));
    let by_why: BTreeSet<(String, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                cell(r, &columns, "routeKey"),
                cell(r, &columns, "integrationStatus"),
                cell(r, &columns, "integrationErrorMessage"),
                cell(r, &columns, "responses"),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String, String)> = [
        ("200", "-"),
        ("200", PANIC_MESSAGE),
        ("429", "Rate Exceeded."),
    ]
    .iter()
    .map(|(status, error)| {
        (
            "GET /items".to_owned(),
            (*status).to_owned(),
            (*error).to_owned(),
            "1".to_owned(),
        )
    })
    .collect();
    assert_eq!(by_why, want);

    // function-throttles: the requests Lambda refused, and those alone.
    let (columns, rows) = run(&runbook_query(
        "function-throttles.md",
        "integrationErrorMessage like",
    ));
    let refused: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                cell(r, &columns, "requestId"),
                cell(r, &columns, "integrationStatus"),
            )
        })
        .collect();
    assert_eq!(
        refused,
        vec![(expected[6].request_id.clone(), "429".to_owned())]
    );

    // api-5xx-rate: the failed invocations, which the function never answered.
    let (columns, rows) = run(&runbook_query(
        "api-5xx-rate.md",
        "filter integrationErrorMessage != \"-\"",
    ));
    let failed: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                cell(r, &columns, "integrationStatus"),
                cell(r, &columns, "integrationErrorMessage"),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("200".to_owned(), PANIC_MESSAGE.to_owned()),
        ("429".to_owned(), "Rate Exceeded.".to_owned()),
    ]
    .into_iter()
    .collect();
    assert_eq!(failed, want);
}
