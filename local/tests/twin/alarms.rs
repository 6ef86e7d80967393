//! Alarm rehearsals: for every alarm of `alarms/*.json`, a twin of its own, the alarm's fault
//! injected at the operator route, real traffic through the gateway, and the twin's CloudWatch
//! clock moved on a minute at a time (`POST /_twin/clock`). The alarm goes to `ALARM` on the
//! minute its file says (M of N datapoints, with CloudWatch's reason), not before; once the
//! fault is cleared and healthy traffic flows, it returns to `OK`.
//!
//! Each runbook's *Rehearse on the twin* section injects the same fault, as checked here.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use crate::common::TwinProcess;

/// A request the rehearsal sends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Call {
    /// `GET /items?limit=10`
    List,
    /// `POST /items`
    Create,
}

/// One alarm's rehearsal: its file, the twin's flags, the fault, the traffic of each minute
/// and the statuses the traffic gets while the fault is in force.
struct Plan {
    alarm: &'static str,
    args: &'static [&'static str],
    fault: &'static str,
    calls: &'static [Call],
    faulty_list: u16,
    faulty_create: u16,
}

/// The alarm file as written (placeholders sit inside strings, so it parses as it is).
pub(crate) fn alarm_file(stem: &str) -> Value {
    let path = local::cloudwatch::default_repo_dir().join(format!("alarms/{stem}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The runbook's rehearsal names the fault this test injects, in the words an operator types.
pub(crate) fn check_runbook_names(alarm: &str, fault: &str) {
    let path = local::cloudwatch::default_repo_dir().join(format!("runbooks/{alarm}.md"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let (_, rehearsal) = text
        .split_once("## Rehearse on the twin")
        .unwrap_or_else(|| panic!("{path:?} has no rehearsal section"));
    let command = format!(r#"-d '{{"fault": "{fault}"}}'"#);
    assert!(
        rehearsal.contains(&command),
        "{path:?}: the rehearsal does not inject `{fault}` ({command})"
    );
}

pub(crate) fn number(file: &Value, key: &str) -> u64 {
    file[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {file}"))
}

pub(crate) struct Rehearsal {
    pub(crate) twin: TwinProcess,
    _dir: tempfile::TempDir,
    bearer: String,
}

impl Rehearsal {
    pub(crate) async fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The test moves the clock and evaluates; the background evaluation, on the same
        // clock, would only repeat it.
        let mut all = vec!["--alarm-evaluation-interval", "3600"];
        all.extend_from_slice(args);
        let twin = TwinProcess::start_in(dir.path(), &all);
        let bearer = format!("Bearer {}", twin.token("rehearsal").await);
        Self {
            twin,
            _dir: dir,
            bearer,
        }
    }

    pub(crate) async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let reply = self
            .twin
            .client
            .send(
                method.clone(),
                path,
                &[("content-type", "application/json")],
                body,
            )
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{method} {path}: {}", reply.text());
        reply.json()
    }

    pub(crate) async fn inject(&self, fault: &str) {
        let listed = self
            .send(
                Method::POST,
                "/_twin/faults",
                Some(json!({ "fault": fault })),
            )
            .await;
        assert_eq!(listed["faults"].as_array().unwrap().len(), 1, "{listed:#}");
    }

    pub(crate) async fn clear(&self) {
        let listed = self.send(Method::DELETE, "/_twin/faults", None).await;
        assert_eq!(listed["faults"], json!([]), "{listed:#}");
    }

    /// Ends the current minute on the twin's clock; the alarms are evaluated at the new one.
    pub(crate) async fn next_minute(&self) -> Value {
        self.send(
            Method::POST,
            "/_twin/clock",
            Some(json!({ "to_next_minute": true })),
        )
        .await
    }

    /// One minute's traffic, all at once; each answer must be `want(call)`.
    pub(crate) async fn drive(&self, calls: &[Call], want: impl Fn(Call) -> u16) {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, call) in calls.iter().copied().enumerate() {
            let client = self.twin.client.clone();
            let bearer = self.bearer.clone();
            tasks.spawn(async move {
                let auth = [("authorization", bearer.as_str())];
                let reply = match call {
                    Call::List => client.get("/items?limit=10", &auth).await,
                    Call::Create => {
                        let body = json!({ "name": format!("rehearsal {i}") });
                        client.post_json("/items", &auth, &body).await
                    }
                }
                .unwrap();
                (call, reply.status.as_u16(), reply.text())
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (call, status, text) = done.unwrap();
            assert_eq!(status, want(call), "{call:?}: {text}");
        }
        // The events of the minute's creates come from the table's stream a moment later:
        // they belong to this minute too.
        self.twin.caught_up_within(Duration::from_secs(30)).await;
    }
}

pub(crate) fn alarm<'a>(view: &'a Value, name: &str) -> &'a Value {
    view["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("alarm {name} in {view:#}"))
}

/// CloudWatch's wording of a comparison, as in a state reason.
fn words(comparison: &str) -> &'static str {
    match comparison {
        "GreaterThanOrEqualToThreshold" => "greater than or equal to",
        "GreaterThanThreshold" => "greater than",
        other => panic!("no rehearsal for comparison {other}"),
    }
}

async fn rehearse(plan: Plan) {
    check_runbook_names(plan.alarm, plan.fault);
    let file = alarm_file(plan.alarm);
    let name = file["name"].as_str().unwrap().to_owned();
    let m = number(&file, "datapoints_to_alarm");
    let n = number(&file, "evaluation_periods");
    let threshold = file["threshold"].as_f64().unwrap();
    let comparison = words(file["comparison"].as_str().unwrap());
    let healthy = |call| match call {
        Call::List => 200,
        Call::Create => 201,
    };

    let r = Rehearsal::start(plan.args).await;
    // Before the fault: a healthy minute, and the alarm is OK.
    r.drive(plan.calls, healthy).await;
    let view = r.next_minute().await;
    assert_eq!(alarm(&view, &name)["state"], "OK", "{view:#}");

    // The fault: M breaching minutes, and ALARM on the M-th, not before.
    r.inject(plan.fault).await;
    for minute in 1..=m {
        r.drive(plan.calls, |call| match call {
            Call::List => plan.faulty_list,
            Call::Create => plan.faulty_create,
        })
        .await;
        let view = r.next_minute().await;
        let status = alarm(&view, &name);
        if minute < m {
            assert_eq!(status["state"], "OK", "after {minute} of {m}: {status:#}");
            continue;
        }
        assert_eq!(status["state"], "ALARM", "after {m} minutes: {status:#}");
        let reason = status["reason"].as_str().unwrap();
        // Every period of the window counts: missing data is not breaching, or (DynamoDB's,
        // whose missing data CloudWatch ignores) FILL gives each period a value.
        for part in [
            format!("Threshold Crossed: {m} out of the last {n} datapoints"),
            format!("{comparison} the threshold ({threshold})"),
            format!("(minimum {m} datapoint"),
            "OK -> ALARM transition".to_owned(),
        ] {
            assert!(reason.contains(&part), "`{part}` not in: {reason}");
        }
        let history = &view["changes"];
        assert!(
            history
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["alarm"] == name.as_str() && c["new_state"] == "ALARM"),
            "the change is reported: {history:#}"
        );
    }

    // The fault cleared: after k healthy minutes, min(M, N - k) breaching minutes are left in
    // the window, so the alarm stays in ALARM until k = N - M + 1, then returns to OK.
    r.clear().await;
    let back = n - m + 1;
    for minute in 1..=back {
        r.drive(plan.calls, healthy).await;
        let view = r.next_minute().await;
        let status = alarm(&view, &name);
        if minute < back {
            assert_eq!(status["state"], "ALARM", "{minute} healthy: {status:#}");
        } else {
            assert_eq!(status["state"], "OK", "{minute} healthy: {status:#}");
            let reason = status["reason"].as_str().unwrap();
            assert!(reason.starts_with("Threshold Crossed: "), "{reason}");
        }
    }
}

#[tokio::test]
async fn api_5xx_rate_fires_when_the_store_fails() {
    rehearse(Plan {
        alarm: "api-5xx-rate",
        args: &[],
        fault: "store=fail",
        calls: &[Call::List, Call::List, Call::Create, Call::List],
        faulty_list: 500,
        faulty_create: 500,
    })
    .await;
}

#[tokio::test]
async fn api_latency_p99_fires_when_the_handler_slows_down() {
    rehearse(Plan {
        alarm: "api-latency-p99",
        args: &[],
        fault: "items=slow:1500ms",
        calls: &[Call::List, Call::List],
        faulty_list: 200,
        faulty_create: 201,
    })
    .await;
}

#[tokio::test]
async fn function_throttles_fires_when_lambda_throttles_the_function() {
    rehearse(Plan {
        alarm: "function-throttles",
        args: &[],
        fault: "items=throttle",
        calls: &[Call::List, Call::Create],
        // Lambda's 429 reaches the client as API Gateway's 500.
        faulty_list: 500,
        faulty_create: 500,
    })
    .await;
}

#[tokio::test]
async fn items_duration_near_timeout_fires_when_the_handler_nears_its_timeout() {
    rehearse(Plan {
        alarm: "items-duration-near-timeout",
        // The runbook's: a 2 s timeout, and 1.7 s is 85 % of it (the alarm is at 80 %), with
        // 300 ms to spare before the timeout on a busy machine.
        args: &["--function-timeout", "2"],
        fault: "items=slow:1700ms",
        calls: &[Call::List, Call::List],
        faulty_list: 200,
        faulty_create: 201,
    })
    .await;
}

#[tokio::test]
async fn items_function_errors_fires_when_the_handler_panics() {
    rehearse(Plan {
        alarm: "items-function-errors",
        args: &[],
        fault: "items=panic",
        calls: &[Call::List, Call::Create],
        faulty_list: 500,
        faulty_create: 500,
    })
    .await;
}

#[tokio::test]
async fn rule_failed_invocations_fires_when_the_archive_target_fails() {
    rehearse(Plan {
        alarm: "rule-failed-invocations",
        args: &[],
        fault: "archive=fail",
        calls: &[Call::Create],
        faulty_list: 200,
        faulty_create: 201,
    })
    .await;
}

#[tokio::test]
async fn table_throttles_fires_when_the_store_throttles() {
    rehearse(Plan {
        alarm: "table-throttles",
        args: &[],
        fault: "store=throttle",
        calls: &[Call::List, Call::Create],
        faulty_list: 503,
        faulty_create: 503,
    })
    .await;
}

/// The flag takes the same faults as the route; a bad one stops the twin with its reason, and
/// the route answers a bad one with a 400 that names it.
#[tokio::test]
async fn faults_from_the_flag_and_mistakes_named() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &["--fault", "public=throttle"]);
    let reply = twin.client.get("/public", &[]).await.unwrap();
    assert_eq!(reply.status, 500, "throttled from the start");
    let request_id = reply.header("apigw-requestid").unwrap().to_owned();
    let line = access_log_line(&twin, &request_id).await;
    assert_eq!(line["integrationStatus"], "429", "{line}");
    assert_eq!(line["integrationErrorMessage"], "Rate Exceeded.", "{line}");

    let bad = twin
        .client
        .post_json("/_twin/faults", &[], &json!({ "fault": "store=panic" }))
        .await
        .unwrap();
    assert_eq!(bad.status, 400);
    assert!(
        bad.text().contains("`store` has no fault `panic`"),
        "{}",
        bad.text()
    );
    let bad = twin
        .client
        .post_json("/_twin/clock", &[], &json!({ "advance_seconds": 0 }))
        .await
        .unwrap();
    assert_eq!(bad.status, 400, "{}", bad.text());
    let cleared = twin
        .client
        .send(
            Method::DELETE,
            "/_twin/faults/public",
            &[("content-type", "application/json")],
            "",
        )
        .await
        .unwrap();
    assert_eq!(cleared.json()["faults"], json!([]));
    assert_eq!(twin.client.get("/public", &[]).await.unwrap().status, 200);

    let output = std::process::Command::new(crate::common::binary())
        .args(["serve", "--addr", "127.0.0.1:0", "--fault", "items=slow"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("needs a delay, e.g. items=slow:1500ms"),
        "{stderr}"
    );
}

/// The access-log line of a request, once the twin's output has been read that far.
async fn access_log_line(twin: &TwinProcess, request_id: &str) -> Value {
    for _ in 0..200 {
        if let Some(line) = twin
            .access_log()
            .into_iter()
            .find(|l| l["requestId"] == request_id)
        {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no access-log line for {request_id}");
}
