//! The alarms of `alarms/*.json` evaluated against datapoints put in past periods: the time of
//! each evaluation is given, so nothing waits for minutes to pass.

use serde_json::json;

use super::alarms::{AlarmDef, Alarms, State, decide};
use super::store::{MetricId, MetricStore};
use super::*;

/// A minute boundary (2027-01-15T08:00:00Z).
const T0: i64 = 1_800_000_000;

fn minute(n: i64) -> i64 {
    T0 + n * 60
}

fn twin_alarms() -> Alarms {
    let defs = load_alarms(&default_repo_dir(), &placeholders(10)).expect("the alarm files");
    Alarms::new(defs)
}

fn api(name: &str) -> MetricId {
    MetricId::new(
        "AWS/ApiGateway",
        name,
        &[("ApiId", names::API_ID), ("Stage", STAGE)],
    )
}

/// `requests` requests in minute `n`, `errors` of them 5xx, as the gateway records them.
fn traffic(store: &MetricStore, n: i64, requests: u32, errors: u32) {
    for i in 0..requests {
        let at = (minute(n) + 1) * 1000 + i64::from(i);
        store.put_value(api("Count"), at, 1.0, Some("Count"));
        let failed = if i < errors { 1.0 } else { 0.0 };
        store.put_value(api("5xx"), at, failed, Some("Count"));
    }
}

/// Evaluates a few seconds after minute `n` starts: minutes before `n` are complete.
fn at(alarms: &Alarms, store: &MetricStore, n: i64) -> Vec<(String, State, State)> {
    alarms
        .evaluate(store, minute(n) + 5)
        .into_iter()
        .map(|c| (c.alarm, c.old_state, c.new_state))
        .collect()
}

fn reason_of(alarms: &Alarms, name: &str) -> String {
    alarms
        .statuses()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap()
        .reason
}

#[test]
fn every_alarm_file_is_read() {
    let alarms = twin_alarms();
    let mut names: Vec<&str> = alarms.defs().iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "api-5xx-rate",
            "api-latency-p99",
            "function-throttles",
            "item-events-dlq-depth",
            "item-events-function-errors",
            "item-events-iterator-age",
            "items-duration-near-timeout",
            "items-function-errors",
            "rule-failed-invocations",
            "table-throttles",
        ]
    );
    // Every alarm starts in INSUFFICIENT_DATA, as in CloudWatch.
    assert!(
        alarms
            .statuses()
            .iter()
            .all(|s| s.state == State::InsufficientData)
    );
}

#[test]
fn api_5xx_rate_fires_at_3_of_5_minutes_and_recovers() {
    let alarms = twin_alarms();
    let store = MetricStore::new();
    // No traffic at all: missing data is not breaching, so OK.
    let changes = at(&alarms, &store, 0);
    assert!(changes.contains(&("api-5xx-rate".into(), State::InsufficientData, State::Ok)));

    // Minutes 0..5: 100 requests each; 10% 5xx in minutes 1 and 3 only: 2 of 5, still OK.
    for (n, errors) in [(0, 0), (1, 10), (2, 0), (3, 10), (4, 0)] {
        traffic(&store, n, 100, errors);
    }
    at(&alarms, &store, 5);
    assert_eq!(alarms.state_of("api-5xx-rate"), Some(State::Ok));
    assert!(
        reason_of(&alarms, "api-5xx-rate").contains("2 out of the last 5 datapoints"),
        "{}",
        reason_of(&alarms, "api-5xx-rate")
    );

    // Minute 5 breaches too: 3 of the last 5 (1..5) above 5%.
    traffic(&store, 5, 100, 6);
    let changes = at(&alarms, &store, 6);
    assert_eq!(
        changes
            .iter()
            .filter(|c| c.0 == "api-5xx-rate")
            .collect::<Vec<_>>(),
        [&("api-5xx-rate".to_owned(), State::Ok, State::Alarm)]
    );
    let reason = reason_of(&alarms, "api-5xx-rate");
    assert!(
        reason.contains("3 out of the last 5 datapoints"),
        "{reason}"
    );
    assert!(
        reason.contains("greater than the threshold (5)"),
        "{reason}"
    );
    assert!(reason.contains("6 ("), "{reason}");

    // Exactly 5% is not above the threshold: with minute 6 at 5%, only minutes 3 and 5 of
    // the last 5 (2..6) breach, and the alarm is OK again.
    traffic(&store, 6, 100, 5);
    at(&alarms, &store, 7);
    assert_eq!(alarms.state_of("api-5xx-rate"), Some(State::Ok));

    // Both changes are kept, in order.
    let history: Vec<(State, State)> = alarms
        .history()
        .into_iter()
        .filter(|c| c.alarm == "api-5xx-rate")
        .map(|c| (c.old_state, c.new_state))
        .collect();
    assert_eq!(
        history,
        [
            (State::InsufficientData, State::Ok),
            (State::Ok, State::Alarm),
            (State::Alarm, State::Ok)
        ]
    );
}

#[test]
fn a_minute_without_5xx_is_a_zero_rate_not_missing() {
    // FILL(errors, 0): without it, minutes without any 5xx datapoint would be missing.
    let alarms = twin_alarms();
    let def = alarms
        .defs()
        .iter()
        .find(|d| d.name == "api-5xx-rate")
        .unwrap();
    let store = MetricStore::new();
    store.put_value(api("Count"), (minute(0) + 1) * 1000, 1.0, None);
    store.put_value(api("Count"), (minute(1) + 1) * 1000, 1.0, None);
    store.put_value(api("5xx"), (minute(1) + 2) * 1000, 1.0, None);
    let series = def.series(&store, minute(0), minute(3)).unwrap();
    assert_eq!(
        series.into_iter().collect::<Vec<_>>(),
        [(minute(0), 0.0), (minute(1), 100.0)]
    );
}

#[test]
fn the_dlq_depth_fires_on_one_message_and_clears_when_it_is_deleted() {
    let alarms = twin_alarms();
    let store = MetricStore::new();
    let depth = MetricId::new(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        &[("QueueName", "items-api-item-events-dlq")],
    );
    store.put_value(depth.clone(), (minute(0) + 30) * 1000, 1.0, Some("Count"));
    // During minute 0 nothing is decided on it yet: the minute has not ended.
    at(&alarms, &store, 0);
    assert_eq!(alarms.state_of("item-events-dlq-depth"), Some(State::Ok));
    let changes = at(&alarms, &store, 1);
    assert!(changes.contains(&("item-events-dlq-depth".into(), State::Ok, State::Alarm)));
    let reason = reason_of(&alarms, "item-events-dlq-depth");
    assert!(
        reason.contains("1 out of the last 1 datapoints")
            && reason.contains("greater than the threshold (0)"),
        "{reason}"
    );
    // The message is deleted: the queue reports 0, not breaching.
    store.put_value(depth, (minute(1) + 30) * 1000, 0.0, Some("Count"));
    at(&alarms, &store, 2);
    assert_eq!(alarms.state_of("item-events-dlq-depth"), Some(State::Ok));
}

#[test]
fn latency_p99_uses_the_percentile_not_the_average() {
    let alarms = twin_alarms();
    let store = MetricStore::new();
    // Each minute: 97 requests at 100 ms, 3 at 3 s. Average 187 ms; p99 3 s.
    for n in 0..3 {
        store.put(
            api("Latency"),
            (minute(n) + 1) * 1000,
            &[(100.0, 97), (3000.0, 3)],
            Some("Milliseconds"),
            false,
        );
    }
    at(&alarms, &store, 3);
    assert_eq!(alarms.state_of("api-latency-p99"), Some(State::Alarm));
    // 2 slow requests of 100 are p98, not p99: OK.
    let store = MetricStore::new();
    let alarms = twin_alarms();
    for n in 0..3 {
        store.put(
            api("Latency"),
            (minute(n) + 1) * 1000,
            &[(100.0, 99), (3000.0, 1)],
            None,
            false,
        );
    }
    at(&alarms, &store, 3);
    assert_eq!(alarms.state_of("api-latency-p99"), Some(State::Ok));
}

#[test]
fn duration_near_timeout_is_a_share_of_the_timeout() {
    let alarms = twin_alarms();
    let store = MetricStore::new();
    let duration = MetricId::new(
        "AWS/Lambda",
        "Duration",
        &[("FunctionName", "items-api-items")],
    );
    // 8 s of a 10 s timeout: 80%, the threshold (greater than or equal).
    for n in 0..3 {
        store.put_value(duration.clone(), (minute(n) + 1) * 1000, 8000.0, None);
    }
    at(&alarms, &store, 3);
    assert_eq!(
        alarms.state_of("items-duration-near-timeout"),
        Some(State::Alarm)
    );
}

#[test]
fn dynamodb_alarms_ignore_missing_data_as_cloudwatch_does() {
    let alarms = twin_alarms();
    let store = MetricStore::new();
    at(&alarms, &store, 5);
    // FILL(…, 0) gives the table-throttles alarm a zero in every minute: OK, not missing.
    assert_eq!(alarms.state_of("table-throttles"), Some(State::Ok));
    assert_eq!(alarms.state_of("function-throttles"), Some(State::Ok));
    // A bare AWS/DynamoDB metric keeps its state on missing data, whatever the file says.
    let d = AlarmDef::from_json(&json!({
        "name": "t",
        "metric": {"namespace": "AWS/DynamoDB", "name": "ReadThrottleEvents",
                   "dimensions": {"TableName": "items"}, "stat": "Sum"},
        "period": 60, "evaluation_periods": 3, "datapoints_to_alarm": 2, "threshold": 1,
        "comparison": "GreaterThanOrEqualToThreshold", "treat_missing_data": "notBreaching"
    }))
    .unwrap();
    assert_eq!(decide(&d, State::Alarm, &points("---")), None);
}

fn def(treat: &str, m: u64, n: u64) -> AlarmDef {
    AlarmDef::from_json(&json!({
        "name": "t",
        "metric": {"namespace": "X", "name": "Y", "dimensions": {}, "stat": "Sum"},
        "period": 60,
        "evaluation_periods": n,
        "datapoints_to_alarm": m,
        "threshold": 1,
        "comparison": "GreaterThanOrEqualToThreshold",
        "treat_missing_data": treat
    }))
    .unwrap()
}

/// `1` breaching, `0` not, `-` missing, oldest first.
fn points(pattern: &str) -> Vec<(i64, Option<f64>)> {
    pattern
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let v = match c {
                '1' => Some(5.0),
                '0' => Some(0.0),
                _ => None,
            };
            (minute(i as i64), v)
        })
        .collect()
}

fn state(treat: &str, m: u64, pattern: &str, current: State) -> Option<State> {
    let d = def(treat, m, pattern.len() as u64);
    decide(&d, current, &points(pattern)).map(|(s, _)| s)
}

#[test]
fn m_out_of_n() {
    let ok = State::Ok;
    assert_eq!(state("notBreaching", 3, "11000", ok), Some(State::Ok));
    assert_eq!(state("notBreaching", 3, "10101", ok), Some(State::Alarm));
    assert_eq!(state("notBreaching", 1, "00001", ok), Some(State::Alarm));
    assert_eq!(state("notBreaching", 5, "11110", ok), Some(State::Ok));
    assert_eq!(state("notBreaching", 5, "11111", ok), Some(State::Alarm));
}

#[test]
fn missing_data_treatments() {
    let (ok, alarm, insufficient) = (State::Ok, State::Alarm, State::InsufficientData);
    // Nothing at all.
    assert_eq!(state("notBreaching", 2, "---", alarm), Some(ok));
    assert_eq!(state("breaching", 2, "---", ok), Some(alarm));
    assert_eq!(state("ignore", 2, "---", alarm), None);
    assert_eq!(state("missing", 2, "---", ok), Some(insufficient));
    // Some data: breaching fills the gaps with breaches, notBreaching with good datapoints.
    assert_eq!(state("breaching", 2, "1--", ok), Some(alarm));
    assert_eq!(state("notBreaching", 2, "1--", ok), Some(ok));
    // ignore and missing decide on the datapoints that are there.
    assert_eq!(state("ignore", 2, "1-1", ok), Some(alarm));
    assert_eq!(state("missing", 2, "1-0", alarm), Some(ok));
    // The reason says what missing datapoints were taken as.
    let d = def("breaching", 2, 3);
    let (_, reason) = decide(&d, ok, &points("1--")).unwrap();
    assert!(
        reason.contains("3 out of the last 3") && reason.contains("[Breaching]"),
        "{reason}"
    );
}

#[test]
fn unsupported_math_is_a_clear_error() {
    let err = AlarmDef::from_json(&json!({
        "name": "t",
        "metrics": [{"Id": "e", "Expression": "ANOMALY_DETECTION_BAND(m1)", "ReturnData": true}],
        "period": 60, "evaluation_periods": 1, "threshold": 1,
        "comparison": "GreaterThanThreshold"
    }))
    .unwrap_err();
    assert!(err.contains("ANOMALY_DETECTION_BAND"), "{err}");
}

#[test]
fn placeholders_fill_every_file() {
    let cw = CloudWatch::load(&default_repo_dir(), 10).unwrap();
    let files = std::fs::read_dir(default_repo_dir().join("dashboards"))
        .unwrap()
        .filter(|f| f.as_ref().unwrap().path().extension() == Some("json".as_ref()))
        .count();
    assert_eq!(cw.dashboards.len(), files);
    let text = serde_json::to_string(&cw.dashboards).unwrap();
    assert!(!text.contains("${"), "a placeholder left");
    assert!(substitute("${nope}", &placeholders(10)).is_err());
}

#[test]
fn table_calls_become_dynamodb_metrics() {
    use functions::ports::StoreError;
    let cw = CloudWatch::load(&default_repo_dir(), 10).unwrap();
    let ok: Result<(), StoreError> = Ok(());
    let throttled: Result<(), StoreError> = Err(StoreError::Unavailable {
        reason: "throttled".into(),
        retry_after: std::time::Duration::from_millis(100),
    });
    let latency = std::time::Duration::from_millis(3);
    cw.record_table_call("items", "GetItem", false, latency, &ok);
    cw.record_table_call("items", "PutItem", true, latency, &throttled);
    let listed: Vec<String> = cw
        .store
        .list()
        .into_iter()
        .map(|(id, _)| id.to_string())
        .collect();
    assert_eq!(
        listed,
        [
            "AWS/DynamoDB/SuccessfulRequestLatency Operation=GetItem TableName=items",
            "AWS/DynamoDB/ThrottledRequests Operation=PutItem TableName=items",
            "AWS/DynamoDB/WriteThrottleEvents TableName=items",
        ]
    );
}

#[test]
fn gateway_and_lambda_latencies_keep_their_services_resolution() {
    use std::time::Duration;
    let cw = CloudWatch::load(&default_repo_dir(), 10).unwrap();
    let function = cw.function_metrics("items-api-items");
    // Many requests, a few distinct values each service reports.
    for micros in [2_750, 2_999, 2_001, 1_234_567] {
        let d = Duration::from_nanos(micros * 1000 + 321);
        let now = clock::real_ms();
        cw.record_request(200, d, Some(d), now);
        cw.invocation_started(&function, now);
        cw.invocation_ended(&function, d, false, now);
    }
    use super::store::Statistic;
    // One period holding every value put.
    let hour = 3600;
    let start = cw.clock.now_secs().div_euclid(hour) * hour - hour;
    let (end, period) = (start + 3 * hour, 3 * hour);
    let maximum = |id: &MetricId| {
        cw.store
            .statistic(id, Statistic::Maximum, start, end, period)
    };
    let minimum = |id: &MetricId| {
        cw.store
            .statistic(id, Statistic::Minimum, start, end, period)
    };
    let only = |m: std::collections::BTreeMap<i64, f64>| m.into_values().collect::<Vec<_>>();
    // API Gateway: whole milliseconds, as its access log.
    assert_eq!(only(maximum(&api("Latency"))), [1234.0]);
    assert_eq!(only(minimum(&api("IntegrationLatency"))), [2.0]);
    // Lambda: two decimals, as its REPORT line.
    let duration = MetricId::new(
        "AWS/Lambda",
        "Duration",
        &[("FunctionName", "items-api-items")],
    );
    assert_eq!(only(maximum(&duration)), [1234.56]);
    assert_eq!(only(minimum(&duration)), [2.0]);
}

#[test]
fn kept_lines_are_the_latest_and_reused_buffers_hold_only_the_new_line() {
    let cw = CloudWatch::load(&default_repo_dir(), 10).unwrap();
    let line = |n: usize| format!(r#"{{"request_id":"r-{n}","n":{n}}}"#);
    // A long first line: its buffer, reused later, must not leave its tail behind.
    cw.keep_log_line(
        "first",
        &format!(r#"{{"request_id":"long","pad":"{}"}}"#, "x".repeat(500)),
    );
    for n in 1..KEPT_LOG_LINES + 5 {
        cw.keep_log_line(if n % 2 == 0 { "even" } else { "odd" }, &line(n));
    }
    let kept = cw.kept_lines();
    assert_eq!(kept.len(), KEPT_LOG_LINES);
    assert_eq!(kept[0], ("odd".to_owned(), line(5)));
    assert_eq!(
        kept[kept.len() - 1],
        ("even".to_owned(), line(KEPT_LOG_LINES + 4))
    );
    assert!(cw.lines_of_request("long").is_empty());
    let found = cw.lines_of_request(&format!("r-{}", KEPT_LOG_LINES + 3));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "odd");
    assert_eq!(found[0].1["n"], KEPT_LOG_LINES + 3);
}

/// A 5xx-ratio alarm over `minutes` minutes: one period as long as the window.
fn ratio_alarm(name: &str, minutes: i64, threshold: f64) -> AlarmDef {
    let stat = |id: &str, metric: &str| {
        json!({"Id": id, "ReturnData": false, "MetricStat": {"Stat": "Sum", "Period": minutes * 60,
            "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": metric,
                "Dimensions": [{"Name": "ApiId", "Value": names::API_ID}, {"Name": "Stage", "Value": STAGE}]}}})
    };
    AlarmDef::from_json(&json!({
        "name": name, "period": minutes * 60, "evaluation_periods": 1, "threshold": threshold,
        "comparison": "GreaterThanThreshold", "treat_missing_data": "notBreaching",
        "metrics": [stat("requests", "Count"), stat("errors", "5xx"),
            {"Id": "ratio", "Expression": "FILL(errors, 0) / requests", "ReturnData": true}],
    }))
    .unwrap()
}

#[test]
fn a_composite_follows_its_children_at_each_evaluation() {
    use super::composite::CompositeDef;
    let store = MetricStore::new();
    let alarms = Alarms::with_composites(
        vec![ratio_alarm("long", 60, 0.05), ratio_alarm("short", 5, 0.05)],
        vec![CompositeDef::new("both", "", "", "ALARM(long) AND ALARM(short)").unwrap()],
    );
    // Healthy for an hour, then every request fails for 4 minutes.
    for n in 0..60 {
        traffic(&store, n, 10, 0);
    }
    for n in 60..64 {
        traffic(&store, n, 10, 10);
    }
    let changes = at(&alarms, &store, 61);
    assert!(
        changes.contains(&("short".into(), State::InsufficientData, State::Alarm))
            && changes.contains(&("long".into(), State::InsufficientData, State::Ok))
            && changes.contains(&("both".into(), State::InsufficientData, State::Ok)),
        "{changes:?}"
    );
    // The long window is the last sixty minutes, not the clock hour: 10 of 600 at minute 61,
    // 30 of 600 at minute 63 (5 %, not above), 40 of 600 at minute 64.
    assert!(at(&alarms, &store, 63).is_empty());
    assert_eq!(
        at(&alarms, &store, 64),
        [
            ("long".into(), State::Ok, State::Alarm),
            ("both".into(), State::Ok, State::Alarm)
        ]
    );
    let reason = reason_of(&alarms, "both");
    assert!(
        reason.contains("evaluated to TRUE") && reason.contains("long is ALARM, short is ALARM"),
        "{reason}"
    );
    // The failures leave the short window five minutes after they stopped: the composite
    // clears with it though the long window still breaches.
    for n in 64..70 {
        traffic(&store, n, 10, 0);
    }
    assert!(at(&alarms, &store, 68).is_empty());
    assert_eq!(
        at(&alarms, &store, 69),
        [
            ("short".into(), State::Alarm, State::Ok),
            ("both".into(), State::Alarm, State::Ok)
        ]
    );
    assert_eq!(alarms.state_of("long"), Some(State::Alarm));
    let history: Vec<String> = alarms.history().iter().map(|c| c.alarm.clone()).collect();
    assert_eq!(history.iter().filter(|a| *a == "both").count(), 3);
}
