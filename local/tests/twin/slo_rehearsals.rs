//! SLO burn-rate rehearsals on the twin's clock: real traffic through the gateway, a share of
//! it failed by the `store=fail` fault, the clock moved a step at a time, and the composite
//! alarms of `api-availability` read after every step.
//!
//! Each step sends `requests` listings, `errors` of them with the fault in force and the rest
//! without: an exact error ratio. (The fault's own rate draws each call at random; a bound on
//! detection time needs the ratio the windows will see, not one near it.) The test keeps what
//! it sent, computes every window's burn rate from it the way the window alarms do, and checks
//! each composite's state against it after every step; then it checks the properties the SRE
//! workbook gives multi-window burn-rate alerts, in twin-clock minutes:
//! - a burn above an alert's rate fires it once the long window's burn crosses the rate, not
//!   before, and within the short window after that;
//! - a burn between two alerts' rates fires the slower one only;
//! - a burst shorter than the short window, small against the long windows, fires nothing;
//! - once the burn stops, the alert clears within its short window.

use http::Method;
use serde_json::{Value, json};

use crate::alarms::{Rehearsal, alarm};
use local::slo::{self, BurnAlert, Window};

const SLO: &str = "api-availability";

/// Requests in flight at once.
const CONCURRENT: u64 = 8;

struct Objective {
    budget_percent: f64,
    alerts: Vec<BurnAlert>,
}

fn objective() -> Objective {
    let repo = local::cloudwatch::default_repo_dir();
    let (slos, policy) = slo::load(&repo.join("slos"), |t| Ok(t.to_owned())).unwrap();
    let availability = slos.iter().find(|s| s.name == SLO).unwrap();
    Objective {
        budget_percent: 100.0 - availability.objective_percent,
        alerts: policy.alerts,
    }
}

/// What was sent at each twin minute (minutes since the rehearsal's start).
#[derive(Default)]
struct Sent(Vec<(i64, u64, u64)>);

impl Sent {
    /// The burn rate over `[end - minutes, end)`, as the window alarm computes it; `None`
    /// without traffic (the alarm treats that as not breaching).
    fn burn(&self, objective: &Objective, end: i64, minutes: i64) -> Option<f64> {
        let (total, bad) = self
            .0
            .iter()
            .filter(|(m, _, _)| (end - minutes..end).contains(m))
            .fold((0u64, 0u64), |(t, b), (_, n, e)| (t + n, b + e));
        (total > 0).then(|| 100.0 * bad as f64 / total as f64 / objective.budget_percent)
    }

    fn fires(&self, objective: &Objective, alert: &BurnAlert, end: i64) -> bool {
        Window::BOTH.iter().all(|w| {
            self.burn(objective, end, i64::from(alert.window_minutes(*w)))
                .is_some_and(|b| b > alert.burn_rate)
        })
    }
}

struct Run {
    r: Rehearsal,
    bearer: String,
    objective: Objective,
    sent: Sent,
    /// Minutes since the start, on the twin's clock.
    now: i64,
    /// Each composite's state after each step: `(minute, alert, state)`.
    seen: Vec<(i64, String, String)>,
}

impl Run {
    async fn start() -> Self {
        // Only the rehearsal's own failures: no stage throttling of its bursts.
        let r =
            Rehearsal::start(&["--throttle-rate", "100000", "--throttle-burst", "100000"]).await;
        let bearer = format!("Bearer {}", r.twin.token("slo-rehearsal").await);
        // Whatever the twin recorded while starting leaves every window: the longest is
        // three days.
        for _ in 0..3 {
            r.send(
                Method::POST,
                "/_twin/clock",
                Some(json!({ "advance_seconds": 86_400 })),
            )
            .await;
        }
        r.next_minute().await;
        Self {
            r,
            bearer,
            objective: objective(),
            sent: Sent::default(),
            now: 0,
            seen: Vec::new(),
        }
    }

    async fn list(&self, n: u64, want: u16) {
        // A few at a time: under the functions' concurrency, so none is throttled.
        for chunk in 0..n.div_ceil(CONCURRENT) {
            let count = (n - chunk * CONCURRENT).min(CONCURRENT);
            self.list_at_once(count, want).await;
        }
    }

    async fn list_at_once(&self, n: u64, want: u16) {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let client = self.r.twin.client.clone();
            let bearer = self.bearer.clone();
            tasks.spawn(async move {
                let auth = [("authorization", bearer.as_str())];
                let reply = client.get("/items?limit=10", &auth).await.unwrap();
                (reply.status.as_u16(), reply.text())
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (status, text) = done.unwrap();
            assert_eq!(status, want, "{text}");
        }
    }

    /// `requests` requests, `errors` of them failed, then the clock moved on `minutes`; every
    /// composite's state is checked against the burn rates of what was sent.
    async fn step(&mut self, minutes: i64, requests: u64, errors: u64) {
        if errors > 0 {
            self.r.inject("store=fail").await;
            self.list(errors, 500).await;
            self.r.clear().await;
        }
        self.list(requests - errors, 200).await;
        self.sent.0.push((self.now, requests, errors));
        if minutes > 1 {
            let seconds = (minutes - 1) * 60;
            self.r
                .send(
                    Method::POST,
                    "/_twin/clock",
                    Some(json!({ "advance_seconds": seconds })),
                )
                .await;
        }
        let view = self.r.next_minute().await;
        self.now += minutes;
        self.check(&view);
    }

    fn check(&mut self, view: &Value) {
        for alert in &self.objective.alerts {
            let name = slo::composite_alarm_name(SLO, &alert.name);
            let state = alarm(view, &name)["state"].as_str().unwrap().to_owned();
            let expected = if self.sent.fires(&self.objective, alert, self.now) {
                "ALARM"
            } else {
                "OK"
            };
            assert_eq!(
                state,
                expected,
                "{name} at minute {}: {:#}",
                self.now,
                alarm(view, &name)
            );
            self.seen.push((self.now, alert.name.clone(), state));
        }
    }

    fn alert(&self, name: &str) -> BurnAlert {
        self.objective
            .alerts
            .iter()
            .find(|a| a.name == name)
            .unwrap()
            .clone()
    }

    /// The first minute at or after `from` at which `alert` was seen in `state`.
    fn first(&self, alert: &str, state: &str, from: i64) -> Option<i64> {
        self.seen
            .iter()
            .find(|(m, a, s)| *m >= from && a == alert && s == state)
            .map(|(m, _, _)| *m)
    }

    fn ever(&self, alert: &str, state: &str) -> bool {
        self.seen.iter().any(|(_, a, s)| a == alert && s == state)
    }
}

/// A steady burn of `errors` in `requests` each step after a healthy stretch as long as the
/// alert's long window, until the alert fires, then healthy steps until it clears. Returns
/// the run and the detection and reset times in twin minutes.
async fn burn_until_fired_and_cleared(
    alert_name: &str,
    step: i64,
    requests: u64,
    errors: u64,
) -> (Run, i64, i64) {
    let mut run = Run::start().await;
    let alert = run.alert(alert_name);
    let long = i64::from(alert.long_window_minutes);
    let short = i64::from(alert.short_window_minutes);
    let rate = 100.0 * errors as f64 / requests as f64 / run.objective.budget_percent;
    assert!(rate > alert.burn_rate, "the burn {rate} is above {alert:?}");

    while run.now < long {
        run.step(step, requests, 0).await;
    }
    let started = run.now;
    // Steady state: the long window's burn crosses the alert's rate once this share of it
    // burns.
    let crossing = (long as f64 * alert.burn_rate / rate).ceil() as i64;
    let fired = loop {
        run.step(step, requests, errors).await;
        if let Some(at) = run.first(alert_name, "ALARM", started) {
            break at;
        }
        assert!(
            run.now - started <= crossing + short,
            "{alert_name} not fired {} min into a {rate}x burn",
            run.now - started
        );
    };
    let detection = fired - started;
    // The composite's own reason and history, as CloudWatch keeps them for a composite.
    let composite = slo::composite_alarm_name(SLO, alert_name);
    let alarms = run
        .r
        .twin
        .client
        .get("/_twin/alarms", &[])
        .await
        .unwrap()
        .json();
    let reason = alarm(&alarms, &composite)["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    let [long_name, short_name] = Window::BOTH.map(|w| slo::window_alarm_name(SLO, alert_name, w));
    for part in [
        "evaluated to TRUE".to_owned(),
        format!("{long_name} is ALARM"),
        format!("{short_name} is ALARM"),
    ] {
        assert!(reason.contains(&part), "`{part}` not in: {reason}");
    }
    assert!(
        alarms["history"].as_array().unwrap().iter().any(|c| {
            c["alarm"] == composite.as_str() && c["old_state"] == "OK" && c["new_state"] == "ALARM"
        }),
        "{:#}",
        alarms["history"]
    );
    assert!(
        detection >= crossing,
        "fired after {detection} min, before the long window could burn past {}",
        alert.burn_rate
    );
    assert!(detection <= crossing + short, "fired after {detection} min");

    let stopped = run.now;
    let cleared = loop {
        run.step(step, requests, 0).await;
        if let Some(at) = run.first(alert_name, "OK", stopped) {
            break at;
        }
        assert!(
            run.now - stopped <= short,
            "{alert_name} still in ALARM {} min after the burn stopped",
            run.now - stopped
        );
    };
    let reset = cleared - stopped;
    assert!(reset <= short, "cleared after {reset} min");
    println!(
        "{alert_name}: a {rate:.1}x burn ({errors} of {requests} requests every {step} min) fired after {detection} min (long window crossed at {crossing}); cleared {reset} min after the burn stopped"
    );
    (run, detection, reset)
}

#[tokio::test]
async fn a_fast_burn_pages_within_the_short_window_and_clears() {
    // 3 of 200 failed: 15 times as fast as a 99.9 % budget lasts.
    // (With only an hour of history before it, the burn also reaches the slow page's rate
    // over six hours; the check after every step holds that to the windows too.)
    burn_until_fired_and_cleared("fast", 1, 200, 3).await;
}

#[tokio::test]
async fn a_slow_burn_pages_the_slow_alert_and_not_the_fast_one() {
    // 1 of 100 failed every 5 minutes: a 10x burn, between the slow page's 6 and the fast
    // page's 14.4. Steps of 5 minutes keep exactly one step in the fast alert's short window.
    let (run, _, _) = burn_until_fired_and_cleared("slow", 5, 100, 1).await;
    assert!(!run.ever("fast", "ALARM"));
}

#[tokio::test]
async fn a_burst_shorter_than_the_short_window_fires_nothing() {
    let mut run = Run::start().await;
    let fast = run.alert("fast");
    // A day at 100 requests every 30 minutes, then an hour at 100 a minute: the burst's
    // budget is small against every long window.
    for _ in 0..48 {
        run.step(30, 100, 0).await;
    }
    for _ in 0..60 {
        run.step(1, 100, 0).await;
    }
    let burst = i64::from(fast.short_window_minutes) - 3;
    for _ in 0..burst {
        run.step(1, 100, 5).await;
    }
    let burst_end = run.now;
    for _ in 0..fast.long_window_minutes {
        run.step(1, 100, 0).await;
    }
    for alert in ["fast", "slow", "drift"] {
        assert!(
            !run.ever(alert, "ALARM"),
            "{alert} fired on a {burst}-minute burst"
        );
    }
    // The short windows alone would have fired: the long windows hold the page back.
    let burned = run.sent.burn(
        &run.objective,
        burst_end,
        i64::from(fast.short_window_minutes),
    );
    assert!(burned.is_some_and(|b| b > fast.burn_rate), "{burned:?}");
}

#[tokio::test]
async fn a_drifting_burn_raises_only_the_ticket() {
    // 1 of 200 failed every 30 minutes: a 5x burn, above the ticket's 1 and under the slow
    // page's 6, over the three-day window.
    let (run, _, _) = burn_until_fired_and_cleared("drift", 30, 200, 1).await;
    assert!(!run.ever("fast", "ALARM") && !run.ever("slow", "ALARM"));
}
