//! The ops console in a real browser: Debian's headless chromium (installed by
//! `scripts/browser-env`) loads `/_ops` after a scenario, runs its script and uPlot, and the
//! DOM it leaves must show every dashboard's metric widgets drawn with data, the request found
//! by id, and an alarm in ALARM. The screenshot is kept as a test artifact
//! (`target/test-artifacts/ops-console.png`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::{Value, json};

use crate::common::{TwinProcess, urlencode};

pub(crate) fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/browser-env` (it installs Debian's chromium), or set CHROMIUM",
        path.display()
    );
    path
}

pub(crate) fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

pub(crate) fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo_dir().join("target"), PathBuf::from);
    target.join("test-artifacts")
}

/// The flags of every headless Chromium the tests start: nothing reaches outside the machine.
pub(crate) const HEADLESS_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// Runs headless chromium on `url` with `args` (`--dump-dom` or `--screenshot=…`); its stdout.
/// The virtual time budget lets the page fetch its data and draw before the DOM is taken.
fn run_chromium(url: &str, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args(HEADLESS_FLAGS)
        .arg("--virtual-time-budget=8000")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    // A browser that never returns must fail the test, not hang it.
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 180 s: {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "chromium {args:?} {url}: {status}");
    reader.join().unwrap()
}

/// `count` requests and `errors` 5xx in the minute starting at `minute` (epoch seconds).
fn api_minute(minute: i64, count: f64, errors: f64) -> Vec<Value> {
    let dims = json!([{"Name": "ApiId", "Value": "local"}, {"Name": "Stage", "Value": "$default"}]);
    vec![
        json!({"MetricName": "Count", "Dimensions": dims, "Timestamp": minute + 1, "Value": count}),
        json!({"MetricName": "5xx", "Dimensions": dims, "Timestamp": minute + 1, "Value": errors}),
    ]
}

async fn put_metric_data(twin: &TwinProcess, namespace: &str, data: Vec<Value>) {
    let reply = twin
        .client
        .post_json(
            "/_twin/metrics",
            &[],
            &json!({"Namespace": namespace, "MetricData": data}),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// Traffic on every route, and the rehearsal data of what healthy traffic never produces.
/// Returns the request id of a create.
async fn scenario(twin: &TwinProcess) -> String {
    assert_eq!(twin.client.get("/public", &[]).await.unwrap().status, 200);
    let token = twin.token("alice").await;
    let created = twin
        .create(&token, &json!({"name": "seen in the browser"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let request_id = created.header("apigw-requestid").unwrap().to_owned();
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(twin.get_auth(&token, "/items?limit=5").await.status, 200);
    assert_eq!(
        twin.get_auth(&token, &format!("/items/{id}")).await.status,
        200
    );
    let invalid = twin.create(&token, &json!({"name": ""})).await;
    assert_eq!(invalid.status, 422);
    // Unsigned: refused by the IAM authorizer.
    let internal = twin
        .client
        .post_json("/internal/events/replay", &[], &json!({}))
        .await
        .unwrap();
    assert_eq!(internal.status, 403, "{}", internal.text());
    assert_eq!(twin.client.get("/nope", &[]).await.unwrap().status, 404);

    // Rehearsal: throttles, failed configuration reads and a 5xx storm in the last five minutes
    // (10% of 100 requests a minute), as PutMetricData, the way an operator rehearses alarms.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let minute = now - now % 60;
    let at = json!(minute - 59);
    let one = |name: &str, dims: Value| json!({"MetricName": name, "Dimensions": dims, "Timestamp": at, "Value": 1.0});
    put_metric_data(
        twin,
        "AWS/Lambda",
        vec![one(
            "Throttles",
            json!([{"Name": "FunctionName", "Value": "items-api-items"}]),
        )],
    )
    .await;
    put_metric_data(
        twin,
        "ItemsApi",
        vec![
            one(
                "ConfigLoadFailures",
                json!([{"Name": "service", "Value": "items"}]),
            ),
            one(
                "StoreThrottles",
                json!([{"Name": "service", "Value": "items"}]),
            ),
        ],
    )
    .await;
    let table = |op: &str| json!([{"Name": "TableName", "Value": "items"}, {"Name": "Operation", "Value": op}]);
    put_metric_data(
        twin,
        "AWS/DynamoDB",
        vec![
            one(
                "ReadThrottleEvents",
                json!([{"Name": "TableName", "Value": "items"}]),
            ),
            one("ThrottledRequests", table("GetItem")),
            one("SystemErrors", table("PutItem")),
        ],
    )
    .await;
    let storm: Vec<Value> = (1..=5)
        .flat_map(|k| api_minute(minute - k * 60, 100.0, 10.0))
        .collect();
    put_metric_data(twin, "AWS/ApiGateway", storm).await;

    // The bus's counters are sampled every second; wait until the rule's metrics are in.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = twin.client.get("/_twin/metrics", &[]).await.unwrap().json();
        let sampled = metrics["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["Namespace"] == "AWS/Logs" && m["MetricName"] == "IncomingLogEvents");
        if sampled {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the archive's metrics never came: {metrics:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let evaluated = twin
        .client
        .post_json("/_twin/alarms/evaluate", &[], &json!({}))
        .await
        .unwrap()
        .json();
    let alarm = evaluated["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "api-5xx-rate")
        .cloned()
        .unwrap();
    assert_eq!(alarm["state"], "ALARM", "{alarm:#}");
    request_id
}

/// The `slos` dashboard after the scenario's 5xx storm (50 of about 500 requests in five
/// minutes, against a budget of 0.1 %): in the page, the availability SLI below its objective
/// and its budget overspent, the other objectives untouched; in the data the charts are drawn
/// from, the 5-minute burn rate above the fast alert's threshold line.
async fn slo_dashboard_shows_the_burn(twin: &TwinProcess, dom: &str) {
    let figures = |title_start: &str| -> Vec<(String, f64)> {
        let section = dom
            .split("data-dashboard=\"slos\" data-widget=")
            .find(|w| w.contains(&format!("<h3>{title_start}")) && w.contains("single-values"))
            .unwrap_or_else(|| panic!("no SLI and budget widget for {title_start}"));
        let pair =
            Regex::new(r#"<dt>([^<]+)</dt><dd class="single-value" data-value="([^"]+)""#).unwrap();
        pair.captures_iter(section)
            .map(|c| (c[1].to_owned(), c[2].parse().unwrap()))
            .collect()
    };
    let value = |figures: &[(String, f64)], label: &str| {
        figures
            .iter()
            .find(|(l, _)| l.starts_with(label))
            .unwrap_or_else(|| panic!("{label}: {figures:?}"))
            .1
    };
    let availability = figures("API availability: SLI and error budget");
    assert!(
        value(&availability, "SLI over 30 days") < 99.9,
        "{availability:?}"
    );
    assert!(
        value(&availability, "error budget left (%)") < 0.0,
        "{availability:?}"
    );
    assert!(
        value(&availability, "error budget left (minutes") < 0.0,
        "{availability:?}"
    );
    let latency = figures("API latency: SLI and error budget");
    assert_eq!(latency.len(), 3, "{latency:?}");
    assert!(value(&latency, "SLI over 30 days") > 0.0, "{latency:?}");
    let freshness = figures("ItemCreated event freshness: SLI and error budget");
    assert_eq!(
        value(&freshness, "error budget left (%)"),
        100.0,
        "{freshness:?}"
    );

    let data = twin
        .client
        .get("/_ops/api/dashboards/slos", &[])
        .await
        .unwrap()
        .json();
    let body: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_dir().join("dashboards/slos.json")).unwrap(),
    )
    .unwrap();
    let index = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .position(|w| {
            // The first objective's block is api-availability's.
            w["properties"]["title"] == "fast short: burn rate over 5 min"
        })
        .expect("the fast alert's short window chart");
    let chart = &data["widgets"][index];
    let threshold = chart["annotations"][0]["value"].as_f64().unwrap();
    let peak = chart["series"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .fold(0.0, f64::max);
    assert!(peak > threshold, "burn {peak} vs {threshold}: {chart:#}");
}

/// The attributes of the opening tags that `pattern` matches.
fn tags<'a>(dom: &'a str, pattern: &str) -> Vec<&'a str> {
    Regex::new(pattern)
        .unwrap()
        .find_iter(dom)
        .map(|m| m.as_str())
        .collect()
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')?;
    Some(&tag[start..start + end])
}

/// The opening tag of the log widget of dashboard `stem` whose query contains `query_part`.
fn log_widget<'a>(dom: &'a str, stem: &str, query_part: &str) -> &'a str {
    let path = repo_dir().join(format!("dashboards/{stem}.json"));
    let body: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let index = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .position(|w| {
            w["properties"]["query"]
                .as_str()
                .is_some_and(|q| q.contains(query_part))
        })
        .unwrap_or_else(|| panic!("{stem} has no log widget querying {query_part}"));
    let pattern = format!(
        r#"<div class="widget log-widget[^"]*" data-dashboard="{stem}" data-widget="{index}"[^>]*>"#
    );
    let found = tags(dom, &pattern);
    assert_eq!(found.len(), 1, "{stem} widget {index}");
    found[0]
}

#[tokio::test]
async fn the_console_draws_every_dashboard_with_data_and_shows_the_alarm() {
    chromium();
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(
        dir.path(),
        &["--alarm-evaluation-interval", "1", "--xray-fixed-rate", "1"],
    );
    let request_id = scenario(&twin).await;
    let url = format!("{}/_ops?request_id={}", twin.url, urlencode(&request_id));

    let dom = tokio::task::spawn_blocking({
        let url = url.clone();
        move || run_chromium(&url, &["--window-size=1500,1200", "--dump-dom"])
    })
    .await
    .unwrap();

    // Every metric widget of every dashboard file: drawn by uPlot, with data points.
    let dashboards = std::fs::read_dir(repo_dir().join("dashboards")).unwrap();
    let mut checked = 0;
    for file in dashboards.map(|e| e.unwrap().path()) {
        let stem = file.file_stem().unwrap().to_str().unwrap().to_owned();
        let body: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for (index, widget) in body["widgets"].as_array().unwrap().iter().enumerate() {
            let found = tags(
                &dom,
                &format!(
                    r#"<div class="widget [a-z]+-widget[^"]*" data-dashboard="{stem}" data-widget="{index}"[^>]*>"#
                ),
            );
            assert_eq!(found.len(), 1, "{stem} widget {index} is not on the page");
            if widget["type"] != "metric" {
                continue;
            }
            let title = widget["properties"]["title"].as_str().unwrap_or_default();
            let tag = found[0];
            // A singleValue widget shows numbers, a chart is drawn by uPlot.
            let rendered = if widget["properties"]["view"] == "singleValue" {
                "values"
            } else {
                "uplot"
            };
            assert_eq!(
                attribute(tag, "data-rendered"),
                Some(rendered),
                "{stem}: {title}: {tag}"
            );
            let points: usize = attribute(tag, "data-points")
                .unwrap_or("0")
                .parse()
                .unwrap();
            assert!(points > 0, "{stem}: {title} drew no data point: {tag}");
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} metric widgets");
    slo_dashboard_shows_the_burn(&twin, &dom).await;
    assert!(
        !dom.contains("class=\"widget metric-widget failed\""),
        "a widget failed"
    );
    assert!(dom.contains("<canvas"), "uPlot draws on canvas");
    // The page refreshed its data, and no refresh failed.
    assert!(
        dom.contains(" data-refreshed=\""),
        "the page never finished a refresh"
    );
    assert!(!dom.contains("refresh failed"), "a refresh failed");
    // The SLO section refreshed itself from the server, as the widgets do.
    assert_eq!(
        tags(&dom, r#"<section id="slos" data-refreshed="[0-9]+">"#).len(),
        1,
        "the SLO section was refreshed"
    );

    // The alarm in ALARM: in the alarm list and in its dashboard's alarm widget.
    let alarmed = tags(
        &dom,
        r#"<tr class="alarm-row" data-alarm="api-5xx-rate" data-state="ALARM">"#,
    );
    assert!(
        alarmed.len() >= 2,
        "api-5xx-rate in ALARM in the list and the widget"
    );
    assert!(dom.contains("<span class=\"state ALARM\">ALARM</span>"));

    // The request found by id: its lines under the function's group, and its trace.
    let section = tags(&dom, r#"<section id="request"[^>]*>"#);
    assert_eq!(section.len(), 1);
    let found: usize = attribute(section[0], "data-found")
        .unwrap_or("0")
        .parse()
        .unwrap();
    assert!(found >= 3, "access log and function lines: {}", section[0]);
    assert!(dom.contains("data-log-group=\"/aws/lambda/items-api-items\""));
    assert!(
        dom.contains("<table class=\"trace\">"),
        "the X-Ray trace is drawn"
    );
    // The dashboard's Logs Insights search ran with the request id filled in.
    let search = log_widget(&dom, "api-overview", "REQUEST_ID");
    let rows: usize = attribute(search, "data-rows")
        .unwrap_or("0")
        .parse()
        .unwrap();
    assert!(rows >= 3, "the request-id query's rows: {search}");
    // Its ItemCreated event, from the archive log group: in the search and in its widget.
    let events: usize = attribute(section[0], "data-events")
        .unwrap_or("0")
        .parse()
        .unwrap();
    assert_eq!(events, 1, "the request's archived event: {}", section[0]);
    let archived = log_widget(
        &dom,
        "items-and-events",
        "SOURCE '${archive_log_group}' | fields",
    );
    let rows: usize = attribute(archived, "data-rows")
        .unwrap_or("0")
        .parse()
        .unwrap();
    assert_eq!(rows, 1, "the latest archived events: {archived}");

    // The screenshot, a PNG of the whole console.
    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("ops-console.png");
    let _ = std::fs::remove_file(&png);
    let screenshot = format!("--screenshot={}", png.display());
    tokio::task::spawn_blocking(move || {
        run_chromium(&url, &["--window-size=1500,10400", &screenshot])
    })
    .await
    .unwrap();
    check_png(&png, (1500, 10400));
}

/// `png` is a PNG of `size` with content, not a blank page.
fn check_png(png: &Path, size: (u32, u32)) {
    let bytes = std::fs::read(png).expect("the screenshot was written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), size);
    assert!(
        bytes.len() > 100_000,
        "a page with content, not a blank: {} bytes",
        bytes.len()
    );
}
