//! The twin as a small CloudWatch, over HTTP: real requests move the gateway's, Lambda's, the
//! bus's and the handlers' (EMF) metrics; the alarms are evaluated; `/_ops` renders every
//! dashboard.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::TwinProcess;

/// The metric named `name` in `namespace` with dimension `key` = `value`, if listed.
fn find<'a>(
    metrics: &'a [Value],
    namespace: &str,
    name: &str,
    dim: (&str, &str),
) -> Option<&'a Value> {
    metrics.iter().find(|m| {
        m["Namespace"] == namespace
            && m["MetricName"] == name
            && m["Dimensions"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d["Name"] == dim.0 && d["Value"] == dim.1))
    })
}

fn total(metric: &Value, stat: &str) -> f64 {
    metric["Datapoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d[stat].as_f64())
        .sum()
}

#[tokio::test]
async fn requests_move_metrics_alarms_are_evaluated_and_ops_shows_every_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(
        dir.path(),
        &["--alarm-evaluation-interval", "1", "--xray-fixed-rate", "1"],
    );

    for _ in 0..3 {
        let reply = twin.client.get("/public", &[]).await.unwrap();
        assert_eq!(reply.status, 200);
    }
    let missing = twin.client.get("/nope", &[]).await.unwrap();
    assert_eq!(missing.status, 404);
    let token = twin.token("alice").await;
    let created = twin.create(&token, &json!({"name": "observed item"})).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let request_id = created.header("apigw-requestid").unwrap().to_owned();

    // The bus's counters are sampled every second: wait for the rule's metrics.
    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let reply = twin.client.get("/_twin/metrics", &[]).await.unwrap();
        assert_eq!(reply.status, 200);
        let metrics = reply.json()["metrics"].as_array().unwrap().clone();
        let rule = ("RuleName", "items-api-item-created");
        let archived = ("LogGroupName", "/aws/events/items-api");
        // Both: the bus counts the match before the delivery, and a sample may fall between.
        if find(&metrics, "AWS/Events", "MatchedEvents", rule).is_some()
            && find(&metrics, "AWS/Logs", "IncomingLogEvents", archived).is_some()
        {
            break metrics;
        }
        assert!(
            Instant::now() < deadline,
            "no AWS/Events metrics: {metrics:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let api = ("ApiId", "local");
    let count = find(&metrics, "AWS/ApiGateway", "Count", api).expect("Count");
    // 3 public, 1 not found, 1 create (the sign-in goes to the issuer, not the API).
    assert_eq!(total(count, "Sum"), 5.0, "{count:#}");
    let four = find(&metrics, "AWS/ApiGateway", "4xx", api).expect("4xx");
    assert_eq!(total(four, "Sum"), 1.0);
    assert!(find(&metrics, "AWS/ApiGateway", "Latency", api).is_some());
    assert!(find(&metrics, "AWS/ApiGateway", "IntegrationLatency", api).is_some());

    let items_fn = ("FunctionName", "items-api-items");
    let invocations = find(&metrics, "AWS/Lambda", "Invocations", items_fn).expect("Invocations");
    assert_eq!(total(invocations, "Sum"), 1.0);
    let public_fn = ("FunctionName", "items-api-public");
    let public = find(&metrics, "AWS/Lambda", "Invocations", public_fn).expect("public");
    assert_eq!(total(public, "Sum"), 3.0);
    assert!(find(&metrics, "AWS/Lambda", "Duration", items_fn).is_some());
    assert!(find(&metrics, "AWS/Lambda", "ConcurrentExecutions", items_fn).is_some());

    // The handlers' own EMF metrics, read from the documents they wrote.
    let requests = find(&metrics, "ItemsApi", "Requests", ("service", "public")).expect("Requests");
    assert_eq!(total(requests, "Sum"), 3.0);
    let created =
        find(&metrics, "ItemsApi", "ItemsCreated", ("service", "items")).expect("ItemsCreated");
    assert_eq!(total(created, "Sum"), 1.0);
    let archived = ("LogGroupName", "/aws/events/items-api");
    let incoming = find(&metrics, "AWS/Logs", "IncomingLogEvents", archived).expect("archive");
    assert_eq!(total(incoming, "Sum"), 1.0);
    let rule = ("RuleName", "items-api-item-created");
    let matched = find(&metrics, "AWS/Events", "MatchedEvents", rule).unwrap();
    assert_eq!(total(matched, "Sum"), 1.0, "one event, counted once");
    assert!(find(&metrics, "AWS/Events", "FailedInvocations", rule).is_none());
    let table = ("TableName", "items");
    assert!(find(&metrics, "AWS/DynamoDB", "SuccessfulRequestLatency", table).is_some());
    // ... and still written to stdout as log lines, as on Lambda.
    assert!(
        twin.lines()
            .iter()
            .any(|l| l.contains("\"_aws\"") && l.contains("\"Requests\"")),
        "EMF documents still reach stdout"
    );

    // Every alarm is evaluated: healthy traffic, missing data not breaching, so OK.
    let alarms = twin.client.get("/_twin/alarms", &[]).await.unwrap().json();
    let list = alarms["alarms"].as_array().unwrap();
    let files = std::fs::read_dir(local::cloudwatch::default_repo_dir().join("alarms"))
        .unwrap()
        .filter(|f| f.as_ref().unwrap().path().extension() == Some("json".as_ref()))
        .count();
    // And each objective's window and composite alarms.
    let repo = local::cloudwatch::default_repo_dir();
    let (slos, policy) =
        local::cloudwatch::slos::load(&repo, &local::cloudwatch::placeholders(10)).unwrap();
    let (windows, composites) = local::cloudwatch::slos::alarms(&slos, &policy).unwrap();
    assert_eq!(
        list.len(),
        files + windows.len() + composites.len(),
        "{alarms:#}"
    );
    for alarm in list {
        assert_eq!(alarm["state"], "OK", "{alarm:#}");
        assert!(alarm["runbook"].as_str().unwrap().starts_with("runbooks/"));
    }
    // Their first change (INSUFFICIENT_DATA -> OK) is kept and logged.
    assert!(
        alarms["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["old_state"] == "INSUFFICIENT_DATA" && c["new_state"] == "OK")
    );
    assert!(
        twin.lines()
            .iter()
            .any(|l| l.contains("alarm state changed")),
        "state changes are logged"
    );

    let ops = twin.client.get("/_ops", &[]).await.unwrap();
    assert_eq!(ops.status, 200);
    let html = ops.text();
    for title in [
        "Items API: overview",
        "Items API: items and events",
        "Items API: functions and table",
        "Items API: service level objectives",
    ] {
        assert!(html.contains(title), "{title} missing from /_ops");
    }
    assert!(html.contains("Requests per minute"));
    // Every objective, with its alerts' composite states; healthy traffic burns no budget.
    for objective in &slos {
        assert!(
            html.contains(&format!("data-slo=\"{}\"", objective.name)),
            "{} missing from /_ops",
            objective.name
        );
    }
    let view = twin.client.get("/_ops/api/slos", &[]).await.unwrap().json();
    let availability = view
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "api-availability")
        .unwrap();
    assert_eq!(availability["bad_events"], 0.0, "{availability:#}");
    assert_eq!(availability["budget_remaining_percent"], 100.0);
    assert_eq!(availability["alerts"][0]["state"], "OK", "{availability:#}");
    assert_eq!(
        availability["alerts"][0]["long_burn_rate"], 0.0,
        "{availability:#}"
    );
    // The section alone, as the page refreshes it.
    let section = twin.client.get("/_ops/sections/slos", &[]).await.unwrap();
    assert_eq!(section.status, 200);
    let section = section.text();
    assert!(section.starts_with("<section id=\"slos\">"), "{section}");
    assert!(
        section.contains("data-slo=\"api-availability\""),
        "{section}"
    );
    // The SLO dashboard's figures over 30 days: 5 requests, none 5xx, the budget untouched.
    let figures = twin
        .client
        .get("/_ops/api/dashboards/slos", &[])
        .await
        .unwrap()
        .json();
    let single = figures["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["view"] == "singleValue")
        .unwrap();
    let latest = |label: &str| {
        single["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["label"].as_str().unwrap().starts_with(label))
            .and_then(|s| {
                s["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .rev()
                    .find_map(Value::as_f64)
            })
    };
    assert_eq!(latest("SLI over 30 days"), Some(100.0), "{single:#}");
    assert_eq!(latest("error budget left (%)"), Some(100.0), "{single:#}");
    assert_eq!(
        latest("error budget left (minutes"),
        Some(43.2),
        "{single:#}"
    );
    // The charts are drawn in the browser (see browser.rs) from the data API: every widget of
    // every dashboard has its data, none failed.
    for dashboard in ["api-overview", "functions", "items-and-events", "slos"] {
        let reply = twin
            .client
            .get(&format!("/_ops/api/dashboards/{dashboard}"), &[])
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        let data = reply.json();
        let widgets = data["widgets"].as_array().unwrap();
        assert!(!widgets.is_empty());
        for widget in widgets {
            assert!(widget.get("error").is_none(), "{dashboard}: {widget:#}");
        }
    }
    let requests = twin
        .client
        .get("/_ops/api/dashboards/api-overview", &[])
        .await
        .unwrap()
        .json();
    let per_minute = &requests["widgets"][2];
    assert_eq!(per_minute["type"], "metric");
    let drawn: f64 = per_minute["series"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .sum();
    assert_eq!(drawn, 5.0, "the chart's requests: {per_minute:#}");
    assert_eq!(
        twin.client
            .get("/_ops/api/dashboards/nope", &[])
            .await
            .unwrap()
            .status,
        404
    );
    let uplot = twin
        .client
        .get("/_ops/assets/vendor/uplot/uPlot.iife.min.js", &[])
        .await
        .unwrap();
    assert_eq!(uplot.status, 200);
    assert!(uplot.text().contains("uPlot"));

    // The request-id search: its access-log line, every function line (with the contract's
    // fields) and the function's EMF document, under the function's log group, and its trace.
    let path = format!(
        "/_twin/logs?request_id={}",
        crate::common::urlencode(&request_id)
    );
    let found = twin.client.get(&path, &[]).await.unwrap().json();
    let groups: Vec<&str> = found["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["logGroupName"].as_str().unwrap())
        .collect();
    assert!(groups.contains(&"/aws/apigateway/items-api"), "{found:#}");
    assert!(groups.contains(&"/aws/lambda/items-api-items"), "{found:#}");
    let path = format!(
        "/_ops/api/requests/{}",
        crate::common::urlencode(&request_id)
    );
    let found = twin.client.get(&path, &[]).await.unwrap().json();
    assert_eq!(
        found["access_log"].as_array().unwrap().len(),
        1,
        "{found:#}"
    );
    assert_eq!(found["access_log"][0]["routeKey"], "POST /items");
    // The log lines (a `message`; the summary line is also the request's EMF document).
    let function_lines: Vec<&Value> = found["function_logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["line"].get("message").is_some())
        .collect();
    // The twin's stdout holds the same lines: the console shows all of them.
    let on_stdout = twin
        .lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["request_id"] == request_id.as_str() && l.get("message").is_some())
        .count();
    assert_eq!(function_lines.len(), on_stdout, "{found:#}");
    let summary = function_lines
        .iter()
        .find(|l| l["line"]["message"] == "request completed")
        .expect("the summary line");
    assert_eq!(summary["log_group"], "/aws/lambda/items-api-items");
    assert_eq!(summary["line"]["ItemsCreated"], 1, "{summary:#}");
    // The items function's lines, and the stream consumer's about the item it created.
    let groups: std::collections::BTreeSet<&str> = function_lines
        .iter()
        .map(|l| l["log_group"].as_str().unwrap())
        .collect();
    assert_eq!(
        groups,
        [
            "/aws/lambda/items-api-item-events",
            "/aws/lambda/items-api-items"
        ]
        .into(),
        "{found:#}"
    );
    for line in &function_lines {
        for field in [
            "request_id",
            "function_request_id",
            "xray_trace_id",
            "service",
            "level",
            "timestamp",
            "message",
        ] {
            assert!(line["line"].get(field).is_some(), "{field}: {line:#}");
        }
    }
    assert!(
        found["function_logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["line"].get("_aws").is_some() && l["line"]["message"] == "request completed"),
        "the EMF document, the summary line"
    );
    let trace_url = found["trace_url"].as_str().unwrap();
    let trace = twin.client.get(trace_url, &[]).await.unwrap();
    assert_eq!(trace.status, 200, "{}", trace.text());
    let bad = twin
        .client
        .get("/_ops/api/requests/a%20b", &[])
        .await
        .unwrap();
    assert_eq!(bad.status, 400);

    // Every link of the console works (runbooks, JSON views, files), and so do the runbooks'
    // links to each other.
    let href = regex::Regex::new(r##"href="([^"#]+)""##).unwrap();
    let page = twin.client.get("/_ops", &[]).await.unwrap().text();
    let mut links: Vec<String> = href
        .captures_iter(&page)
        .map(|c| c[1].replace("&amp;", "&"))
        .collect();
    let guide = twin
        .client
        .get("/_ops/files/runbooks/README.md", &[])
        .await
        .unwrap()
        .text();
    links.extend(
        href.captures_iter(&guide)
            .filter(|c| !c[1].starts_with('/'))
            .map(|c| format!("/_ops/files/runbooks/{}", &c[1])),
    );
    assert!(links.len() > 20, "{links:?}");
    for link in &links {
        assert!(
            link.starts_with('/'),
            "an absolute link to elsewhere: {link}"
        );
        let reply = twin.client.get(link, &[]).await.unwrap();
        assert_eq!(reply.status, 200, "{link}");
    }

    let runbook = twin
        .client
        .get("/_ops/files/runbooks/api-5xx-rate.md", &[])
        .await
        .unwrap();
    assert_eq!(runbook.status, 200);
    let runbook = runbook.text();
    assert!(
        runbook.contains("<h1>api-5xx-rate: the API answers 5xx</h1>"),
        "{runbook}"
    );
    let escape = twin
        .client
        .get("/_ops/files/runbooks/..%2FCargo.toml", &[])
        .await
        .unwrap();
    assert_eq!(escape.status, 404);
}

/// `count` requests and `errors` 5xx in the minute starting at `minute` (epoch seconds), as
/// `PutMetricData` data.
fn api_minute(minute: i64, count: f64, errors: f64) -> Vec<Value> {
    let dims = json!([{"Name": "ApiId", "Value": "local"}, {"Name": "Stage", "Value": "$default"}]);
    vec![
        json!({"MetricName": "Count", "Dimensions": dims, "Timestamp": minute + 1, "Value": count}),
        json!({"MetricName": "5xx", "Dimensions": dims, "Timestamp": minute + 1, "Value": errors}),
    ]
}

#[tokio::test]
async fn the_5xx_rate_alarm_fires_and_recovers_on_a_running_twin() {
    let dir = tempfile::tempdir().unwrap();
    // Evaluated only when asked (and once at start), so the test decides the time.
    let twin = TwinProcess::start_in(dir.path(), &["--alarm-evaluation-interval", "3600"]);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let this_minute = now - now % 60;
    // The last 3 complete minutes: 10% of 100 requests answered 5xx.
    let data: Vec<Value> = (1..=3)
        .flat_map(|k| api_minute(this_minute - k * 60, 100.0, 10.0))
        .collect();
    let put = twin
        .client
        .post_json(
            "/_twin/metrics",
            &[],
            &json!({"Namespace": "AWS/ApiGateway", "MetricData": data}),
        )
        .await
        .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());

    let at = |t: i64| format!("/_twin/alarms/evaluate?now={t}");
    let reply = twin
        .client
        .post_json(&at(this_minute + 5), &[], &json!({}))
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    let state = |reply: &Value, name: &str| {
        reply["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap()
    };
    let alarm = state(&reply.json(), "api-5xx-rate");
    assert_eq!(alarm["state"], "ALARM", "{alarm:#}");
    let reason = alarm["reason"].as_str().unwrap();
    assert!(
        reason.contains("3 out of the last 5 datapoints") && reason.contains("10 ("),
        "{reason}"
    );

    // The console shows it.
    let html = twin.client.get("/_ops", &[]).await.unwrap().text();
    assert!(html.contains("data-alarm=\"api-5xx-rate\" data-state=\"ALARM\""));

    // Three minutes later the breaching minutes leave the window (2 of 5, then fewer): OK.
    let later = twin
        .client
        .post_json(&at(this_minute + 3 * 60 + 5), &[], &json!({}))
        .await
        .unwrap()
        .json();
    assert_eq!(state(&later, "api-5xx-rate")["state"], "OK", "{later:#}");
    let history = twin.client.get("/_twin/alarms", &[]).await.unwrap().json();
    let changes: Vec<(String, String)> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["alarm"] == "api-5xx-rate")
        .map(|c| {
            (
                c["old_state"].as_str().unwrap().to_owned(),
                c["new_state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        changes.last().map(|(a, b)| (a.as_str(), b.as_str())),
        Some(("ALARM", "OK")),
        "{changes:?}"
    );
    assert!(changes.iter().any(|(_, new)| new == "ALARM"));
    let logged = twin
        .lines()
        .iter()
        .filter(|l| l.contains("alarm state changed") && l.contains("api-5xx-rate"))
        .count();
    assert!(logged >= 2, "each change is one log line");
}

/// A datum put without a `Timestamp` is stamped with the twin's CloudWatch clock, as CloudWatch
/// stamps it with its own now: after the clock moved two hours on, it is in the last hour.
#[tokio::test]
async fn put_metric_data_without_a_timestamp_is_stamped_on_the_twins_clock() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &["--alarm-evaluation-interval", "3600"]);
    let moved = twin
        .client
        .post_json("/_twin/clock", &[], &json!({ "advance_seconds": 7200 }))
        .await
        .unwrap();
    assert_eq!(moved.status, 200, "{}", moved.text());
    let datum = json!({"MetricName": "Rehearsal", "Dimensions": [{"Name": "Case", "Value": "now"}], "Value": 7.0});
    let put = twin
        .client
        .post_json(
            "/_twin/metrics",
            &[],
            &json!({"Namespace": "Twin/Test", "MetricData": [datum]}),
        )
        .await
        .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    let listed = twin.client.get("/_twin/metrics", &[]).await.unwrap().json();
    let metric = find(
        listed["metrics"].as_array().unwrap(),
        "Twin/Test",
        "Rehearsal",
        ("Case", "now"),
    )
    .expect("the metric is listed");
    assert_eq!(total(metric, "Sum"), 7.0, "{metric:#}");
}
