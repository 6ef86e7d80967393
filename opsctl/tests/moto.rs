//! `opsctl alarms`, `opsctl rates` and `opsctl slo` against CloudWatch's wire protocol, served
//! by moto on a free port: the binary runs as on-call runs it, with the endpoint and keys in its
//! environment.
//!
//! moto as CloudWatch, what it does differently (checked with moto 5.2.5):
//! - alarms start in `OK` (AWS: `INSUFFICIENT_DATA`) and are not evaluated; `SetAlarmState`
//!   moves them, as on AWS;
//! - `PutMetricData` accepts the `AWS/` namespaces (AWS refuses them: there API Gateway writes
//!   its own metrics), which stands in for API Gateway here;
//! - `GetMetricData` sums per period from the start time on, as asked; with dimensions given it
//!   matches name and dimensions but not the namespace, so every metric here has its own name;
//! - `GetMetricData` has no `TC(:N)` statistic (the request fails whole), so the `slo` test
//!   reads the availability objective alone (`Sum` of `Count` and `5xx`); the latency and
//!   freshness SLIs are read on the twin (tests/twin.rs). Metric math it has not either, which
//!   `opsctl slo` does not ask of CloudWatch.

use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit,
    StateValue, Statistic,
};
use local::cloudwatch::{placeholders, read_json_dir};
use serde_json::Value;
use testkit::Moto;

const STACK: &str = "items-api";
const RUNBOOK_BASE: &str = "https://github.com/example/items-api/blob/main";
const API_ID: &str = "a1b2c3d4e5";

fn repo_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn opsctl(moto: &Moto, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsctl"))
        .args(args)
        .env_clear()
        .envs(moto.env())
        .output()
        .expect("run opsctl")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "opsctl failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn dimensions(pairs: impl IntoIterator<Item = (String, String)>) -> Vec<Dimension> {
    pairs
        .into_iter()
        .map(|(name, value)| Dimension::builder().name(name).value(value).build())
        .collect()
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("a string: {v}"))
        .to_owned()
}

/// `PutMetricAlarm` as `terraform/modules/observability` makes each alarm from its file: named
/// `<stack>-<name>`, the runbook's URL at the end of the description, one metric or metric math.
/// (The alarm actions, an SNS topic, play no part in what opsctl reads.)
async fn put_alarm_as_terraform(client: &aws_sdk_cloudwatch::Client, alarm: &Value) {
    let mut put = client
        .put_metric_alarm()
        .alarm_name(format!("{STACK}-{}", text(&alarm["name"])))
        .alarm_description(format!(
            "{} Runbook: {RUNBOOK_BASE}/{}",
            text(&alarm["description"]),
            text(&alarm["runbook"])
        ))
        .comparison_operator(ComparisonOperator::from(
            text(&alarm["comparison"]).as_str(),
        ))
        .evaluation_periods(alarm["evaluation_periods"].as_i64().unwrap() as i32)
        .set_datapoints_to_alarm(alarm["datapoints_to_alarm"].as_i64().map(|n| n as i32))
        .threshold(alarm["threshold"].as_f64().unwrap())
        .treat_missing_data(alarm["treat_missing_data"].as_str().unwrap_or("missing"));
    if let Some(metric) = alarm.get("metric") {
        let dims = metric["dimensions"].as_object().unwrap();
        put = put
            .namespace(text(&metric["namespace"]))
            .metric_name(text(&metric["name"]))
            .set_dimensions(Some(dimensions(
                dims.iter().map(|(k, v)| (k.clone(), text(v))),
            )))
            .set_statistic(metric["stat"].as_str().map(Statistic::from))
            .set_extended_statistic(metric["extended_stat"].as_str().map(str::to_owned))
            .period(alarm["period"].as_i64().unwrap() as i32);
    } else {
        for q in alarm["metrics"].as_array().unwrap() {
            let stat = q.get("MetricStat").map(|s| {
                let m = &s["Metric"];
                let dims = m["Dimensions"].as_array().cloned().unwrap_or_default();
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace(text(&m["Namespace"]))
                            .metric_name(text(&m["MetricName"]))
                            .set_dimensions(Some(dimensions(
                                dims.iter().map(|d| (text(&d["Name"]), text(&d["Value"]))),
                            )))
                            .build(),
                    )
                    .period(s["Period"].as_i64().unwrap() as i32)
                    .stat(text(&s["Stat"]))
                    .set_unit(s["Unit"].as_str().map(StandardUnit::from))
                    .build()
            });
            put = put.metrics(
                MetricDataQuery::builder()
                    .id(text(&q["Id"]))
                    .set_expression(q["Expression"].as_str().map(str::to_owned))
                    .set_label(q["Label"].as_str().map(str::to_owned))
                    .set_return_data(q["ReturnData"].as_bool())
                    .set_period(q["Period"].as_i64().map(|p| p as i32))
                    .set_metric_stat(stat)
                    .build(),
            );
        }
    }
    put.send().await.expect("PutMetricAlarm");
}

/// The repository's alarm files, filled as Terraform fills them (the twin's placeholder values,
/// with an https runbook base as a deployment has).
fn alarm_files() -> Vec<Value> {
    let mut values = placeholders(10);
    for (name, value) in &mut values {
        match *name {
            "runbook_base_url" => *value = RUNBOOK_BASE.to_owned(),
            "api_id" => *value = API_ID.to_owned(),
            _ => {}
        }
    }
    let files = read_json_dir(&repo_dir().join("alarms"), &values).unwrap();
    assert!(files.len() >= 2, "the repository's alarms");
    files.into_iter().map(|(_, doc)| doc).collect()
}

#[tokio::test]
async fn alarms_shows_states_reasons_and_runbooks() {
    let moto = Moto::start();
    let sdk = testkit::aws::sdk_config(&moto).await;
    let client = aws_sdk_cloudwatch::Client::new(&sdk);
    let alarms = alarm_files();
    for alarm in &alarms {
        put_alarm_as_terraform(&client, alarm).await;
    }
    let reason =
        "Threshold Crossed: 3 out of the last 5 datapoints were greater than the threshold (5.0).";
    client
        .set_alarm_state()
        .alarm_name(format!("{STACK}-api-5xx-rate"))
        .state_value(StateValue::Alarm)
        .state_reason(reason)
        .send()
        .await
        .expect("SetAlarmState");

    let all = stdout(&opsctl(&moto, &["alarms"]));
    let mut lines = all.lines();
    let first = lines.next().unwrap();
    assert!(
        first.starts_with("ALARM ") && first.contains(" items-api-api-5xx-rate  since 20"),
        "{all}"
    );
    assert_eq!(
        lines.next(),
        Some(format!("  reason:  {reason}").as_str()),
        "{all}"
    );
    assert_eq!(
        lines.next(),
        Some(format!("  runbook: {RUNBOOK_BASE}/runbooks/api-5xx-rate.md").as_str()),
        "{all}"
    );
    // Every other alarm of the repository, each with its own runbook.
    for alarm in &alarms {
        let runbook = format!("  runbook: {RUNBOOK_BASE}/{}", text(&alarm["runbook"]));
        assert!(all.contains(&runbook), "{runbook}\n{all}");
    }
    let n = alarms.len();
    assert!(
        all.ends_with(&format!(
            "{n} of {n} alarms shown: 1 ALARM, 0 INSUFFICIENT_DATA, {} OK, 0 missing\n",
            n - 1
        )),
        "{all}"
    );

    let alarming = stdout(&opsctl(&moto, &["alarms", "--state", "ALARM"]));
    assert_eq!(
        alarming.lines().filter(|l| !l.starts_with(' ')).count(),
        2,
        "{alarming}"
    );
    assert!(alarming.starts_with(first), "{alarming}");

    // Another stack name finds none of them, and says so.
    let other = stdout(&opsctl(&moto, &["alarms", "--stack-name", "other"]));
    assert!(
        other.contains("MISSING") && other.contains("not found in CloudWatch"),
        "{other}"
    );
    assert!(
        other.contains("runbooks/api-5xx-rate.md (in the repository)"),
        "{other}"
    );
}

#[tokio::test]
async fn rates_sums_requests_and_item_events_per_period() {
    let moto = Moto::start();
    let sdk = testkit::aws::sdk_config(&moto).await;
    let client = aws_sdk_cloudwatch::Client::new(&sdk);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Two whole minutes before the current one: inside a 10-minute window, whatever the second.
    let minute = now / 60 * 60;
    let (earlier, later) = (minute - 180, minute - 120);

    let put = |namespace: &str, name: &str, dims: Vec<(String, String)>, at: i64, value: f64| {
        client
            .put_metric_data()
            .namespace(namespace)
            .metric_data(
                MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(dimensions(dims)))
                    .timestamp(DateTime::from_secs(at + 5))
                    .value(value)
                    .unit(StandardUnit::Count)
                    .build(),
            )
            .send()
    };
    let api = || {
        vec![
            ("ApiId".to_owned(), API_ID.to_owned()),
            ("Stage".to_owned(), "$default".to_owned()),
        ]
    };
    let items = || vec![("service".to_owned(), "items".to_owned())];
    let events = || vec![("service".to_owned(), "item-events".to_owned())];
    for (ns, name, dims, at, value) in [
        ("AWS/ApiGateway", "Count", api(), earlier, 40.0),
        ("AWS/ApiGateway", "Count", api(), later, 20.0),
        ("AWS/ApiGateway", "4xx", api(), earlier, 2.0),
        ("AWS/ApiGateway", "5xx", api(), later, 3.0),
        ("ItemsApi", "ItemsCreated", items(), earlier, 8.0),
        ("ItemsApi", "ItemsCreated", items(), later, 2.0),
        ("ItemsApi", "ItemEventsPublished", events(), earlier, 8.0),
        ("ItemsApi", "ItemEventsPublished", events(), later, 1.0),
        ("ItemsApi", "ItemEventPublishFailures", events(), later, 1.0),
        // Re-emitted by the operator route (service items): not the stream's publications.
        ("ItemsApi", "ItemEventsPublished", items(), later, 50.0),
        // Another API's requests are not this one's.
        (
            "AWS/ApiGateway",
            "Count",
            vec![
                ("ApiId".into(), "other".into()),
                ("Stage".into(), "$default".into()),
            ],
            later,
            1000.0,
        ),
    ] {
        put(ns, name, dims, at, value).await.expect("PutMetricData");
    }
    // A second datum in the same minute: the period's Sum adds them.
    put("AWS/ApiGateway", "Count", api(), later + 30, 5.0)
        .await
        .expect("PutMetricData");

    let out = stdout(&opsctl(
        &moto,
        &[
            "rates", "--since", "10m", "--period", "60", "--api-id", API_ID,
        ],
    ));
    let row = |label: &str| -> Vec<String> {
        let line = out
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no row {label}:\n{out}"));
        line[20..].split_whitespace().map(str::to_owned).collect()
    };
    let at = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    //                        requests 4xx  5xx  created published failed
    assert_eq!(row(&at(earlier)), ["40", "2", "-", "8", "8", "-"], "{out}");
    assert_eq!(row(&at(later)), ["25", "-", "3", "2", "1", "1"], "{out}");
    assert_eq!(row("total"), ["65", "2", "3", "10", "9", "1"], "{out}");
    assert!(
        out.contains(
            "4xx: 3.1% of requests; 5xx: 4.6% of requests; events failed: 10.0% of items created"
        ),
        "{out}"
    );
    // The window is 10 minutes from a minute boundary up to now: 600 to 659 s.
    let window: f64 = out
        .lines()
        .find(|l| l.starts_with("window "))
        .and_then(|l| l.split(" (").nth(1))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!((600.0..660.0).contains(&window), "{out}");
    assert_eq!(
        row("per second")[0],
        format!("{:.3}", 65.0 / window),
        "{out}"
    );
}

#[test]
fn a_bad_window_fails_before_any_call() {
    let out = Command::new(env!("CARGO_BIN_EXE_opsctl"))
        .args(["rates", "--since", "3 weeks", "--api-id", API_ID])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--since") && err.contains("use s, m, h or d"),
        "{err}"
    );
}

#[tokio::test]
async fn slo_reads_the_availability_sli_budget_and_burn_rates() {
    let moto = Moto::start();
    let sdk = testkit::aws::sdk_config(&moto).await;
    let client = aws_sdk_cloudwatch::Client::new(&sdk);
    // `--at` on a minute boundary: the windows end with the minute that it begins, which holds
    // what is stamped at that instant; the minute before holds the failure.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let end = now / 60 * 60;
    let api = |id: &str| {
        vec![
            ("ApiId".to_owned(), id.to_owned()),
            ("Stage".to_owned(), "$default".to_owned()),
        ]
    };
    for (name, id, stamped, value) in [
        ("Count", API_ID, end - 55, 600.0),
        ("5xx", API_ID, end - 55, 1.0),
        ("Count", API_ID, end, 400.0),
        // Eight hours before: in the three-day and 30-day windows, not in the others.
        ("Count", API_ID, end - 8 * 3600 + 5, 2000.0),
        // Another API's failures are not this one's.
        ("5xx", "other", end - 55, 1000.0),
        ("Count", "other", end - 55, 1000.0),
    ] {
        client
            .put_metric_data()
            .namespace("AWS/ApiGateway")
            .metric_data(
                MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(dimensions(api(id))))
                    .timestamp(DateTime::from_secs(stamped))
                    .value(value)
                    .unit(StandardUnit::Count)
                    .build(),
            )
            .send()
            .await
            .expect("PutMetricData");
    }
    let slos = tempfile::tempdir().unwrap();
    for file in ["api-availability.json", "burn-rates.json"] {
        std::fs::copy(repo_dir().join("slos").join(file), slos.path().join(file)).unwrap();
    }
    let at = time::OffsetDateTime::from_unix_timestamp(end)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let out = stdout(&opsctl(
        &moto,
        &[
            "slo",
            "--api-id",
            API_ID,
            "--at",
            &at,
            "--slos-dir",
            slos.path().to_str().unwrap(),
        ],
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "api-availability: API availability (objective 99.9 % over 30 days, owner items-api on-call)",
        "{out}"
    );
    // 1 bad of 3000: a third of the 0.1 % budget spent, two thirds of its 43.2 minutes left.
    assert!(
        lines[1].starts_with("  SLI          99.967 %  (1 bad of 3000 events since "),
        "{out}"
    );
    assert_eq!(
        lines[2], "  budget left  66.7 %  (28.8 of 43.2 min of full outage)",
        "{out}"
    );
    for (line, long, short) in [
        (3, "1.00x over 60 min", "1.00x over 5 min"),
        (4, "1.00x over 360 min", "1.00x over 30 min"),
        (5, "0.33x over 4320 min", "1.00x over 360 min"),
    ] {
        assert!(
            lines[line].contains(long) && lines[line].contains(short),
            "{out}"
        );
    }
    assert_eq!(lines[6], "  runbook      runbooks/slo-api-availability.md");
    let windows_end = time::OffsetDateTime::from_unix_timestamp(end + 60)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!(
        lines[7].starts_with(&format!("as of {windows_end} ")),
        "{out}"
    );
}
