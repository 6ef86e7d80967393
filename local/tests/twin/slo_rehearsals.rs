//! SLO burn-rate rehearsals on the twin's clock, the same for every objective of `slos/`: real
//! traffic through the gateway, an exact share of its events made bad by a fault, the clock
//! moved a step at a time, and the objective's composite alarms read after every step.
//!
//! How each objective's bad events are made is its [`Sli`]'s. Each step sends `events`, `bad`
//! of them with the fault in force and the rest without: an exact error ratio (a fault's own
//! rate draws each call at random; a bound on detection time needs the ratio the windows will
//! see, not one near it). The test keeps what it sent, computes every window's burn rate from
//! it the way the window alarms do, and checks each composite's state against it after every
//! step. Then it checks the properties the SRE workbook gives multi-window, multi-burn-rate
//! alerts, in twin-clock minutes, against the policy (`slos/burn-rates.json`):
//! - detection: a steady burn at `rate` crosses an alert's `threshold` over its long window
//!   `long × threshold / rate` minutes into the burn; the alert fires then, not a step before
//!   and within a cycle of the burn after (its short window burns past the threshold already;
//!   a step more for freshness, whose held events publish a step late);
//! - a burn between two alerts' rates fires the slower one only; a burn just above 1× fires
//!   only the ticket;
//! - a burst shorter than the short window, small against the long windows, fires nothing;
//! - reset: once the fault is removed, the alert clears within its short window (counted from
//!   the end of the minute the fault was removed in).
//!
//! Each rehearsal prints its figures, a row of the table in `docs/local-twin.md`:
//! `cargo test -p local --test twin slo_ -- --nocapture | grep '^slo '`.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use crate::alarms::{Rehearsal, alarm};
use local::client::Reply;
use local::slo::{self, BurnAlert, Slo, Window};

/// Requests in flight at once: under the functions' concurrency, so none is throttled.
const CONCURRENT: u64 = 8;

/// How the rehearsal of one objective makes its events, good and bad.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sli {
    /// `GET /items`, the bad ones failed by `store=fail` (a 500).
    Availability,
    /// `GET /items`, the bad ones held by `items=slow` past the bound the SLI counts within.
    Latency,
    /// `POST /items`; the bad ones' `ItemCreated` held back by a throttled consumer
    /// (`item-events=throttle`) while the clock moves on past the SLI's bound, then published
    /// once the fault is removed, at the next step.
    Freshness,
}

impl Sli {
    fn slo(self) -> &'static str {
        match self {
            Sli::Availability => "api-availability",
            Sli::Latency => "api-latency",
            Sli::Freshness => "item-event-freshness",
        }
    }

    /// The fault that makes an event bad; `bound` is the SLI's (see [`good_bound`]).
    fn fault(self, bound: f64) -> String {
        match self {
            Sli::Availability => "store=fail".into(),
            // A tenth over the bound: well past it, the time a request takes besides.
            Sli::Latency => format!("items=slow:{}ms", (bound * 1.1).ceil()),
            Sli::Freshness => "item-events=throttle".into(),
        }
    }

    /// Each call's answer: with the fault, then without.
    fn statuses(self) -> (u16, u16) {
        match self {
            Sli::Availability => (500, 200),
            Sli::Latency => (200, 200),
            Sli::Freshness => (201, 201),
        }
    }

    /// The shortest step with bad events: a held event must be older than the SLI's minute
    /// once published.
    fn shortest_bad_step(self) -> i64 {
        match self {
            Sli::Freshness => 2,
            Sli::Availability | Sli::Latency => 1,
        }
    }
}

/// The bound a good event stays within: the `TC(:bound)` statistic that counts the SLI's good
/// events (milliseconds, for both objectives that have one).
fn good_bound(slo: &Slo) -> f64 {
    slo.sli
        .metrics
        .iter()
        .find_map(|query| {
            query["MetricStat"]["Stat"]
                .as_str()?
                .strip_prefix("TC(:")?
                .strip_suffix(')')?
                .parse()
                .ok()
        })
        .unwrap_or(f64::INFINITY)
}

struct Objective {
    slo: Slo,
    budget_percent: f64,
    alerts: Vec<BurnAlert>,
}

fn objective(sli: Sli) -> Objective {
    let repo = local::cloudwatch::default_repo_dir();
    let (slos, policy) = slo::load(&repo.join("slos"), |t| Ok(t.to_owned())).unwrap();
    let slo = slos.into_iter().find(|s| s.name == sli.slo()).unwrap();
    Objective {
        budget_percent: 100.0 - slo.objective_percent,
        slo,
        alerts: policy.alerts,
    }
}

/// What the windows see at each twin minute (minutes since the rehearsal's start): events
/// and bad events, as the SLI's metrics count them.
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
    sli: Sli,
    bearer: String,
    objective: Objective,
    fault: String,
    /// The SLI's bound on a good event (see [`good_bound`]).
    bound: f64,
    sent: Sent,
    /// Minutes since the start, on the twin's clock.
    now: i64,
    /// The minute the fault was last removed in.
    removed_in: Option<i64>,
    /// Each composite's state after each step: `(minute, alert, state)`.
    seen: Vec<(i64, String, String)>,
}

impl Run {
    async fn start(sli: Sli) -> Self {
        // Only the rehearsal's own failures: no stage throttling of its bursts. The stream's
        // records go to the consumer as soon as they are read: a step's events are published
        // within its minute.
        let r = Rehearsal::start(&[
            "--throttle-rate",
            "100000",
            "--throttle-burst",
            "100000",
            "--item-events-batching-window-seconds",
            "0",
        ])
        .await;
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
        let objective = objective(sli);
        Self {
            r,
            sli,
            bearer,
            fault: sli.fault(good_bound(&objective.slo)),
            bound: good_bound(&objective.slo),
            objective,
            sent: Sent::default(),
            now: 0,
            removed_in: None,
            seen: Vec::new(),
        }
    }

    /// `n` calls, [`CONCURRENT`] in flight, each answered `want`. Answers the request ids of
    /// those that took longer than the SLI's bound, as the client saw them.
    async fn call(&self, n: u64, want: u16) -> Vec<String> {
        let mut tasks = tokio::task::JoinSet::new();
        let mut slow = Vec::new();
        for _ in 0..n {
            if tasks.len() as u64 == CONCURRENT {
                slow.extend(self.answered(tasks.join_next().await, want));
            }
            let client = self.r.twin.client.clone();
            let bearer = self.bearer.clone();
            let creates = self.sli == Sli::Freshness;
            tasks.spawn(async move {
                let auth = [("authorization", bearer.as_str())];
                let sent = std::time::Instant::now();
                let reply = if creates {
                    let body = json!({ "name": "rehearsal" });
                    client.post_json("/items", &auth, &body).await
                } else {
                    client.get("/items?limit=10", &auth).await
                }
                .unwrap();
                (reply, sent.elapsed())
            });
        }
        while !tasks.is_empty() {
            slow.extend(self.answered(tasks.join_next().await, want));
        }
        slow
    }

    fn answered(
        &self,
        done: Option<Result<(Reply, Duration), tokio::task::JoinError>>,
        want: u16,
    ) -> Option<String> {
        let (reply, took) = done.expect("a call in flight").unwrap();
        assert_eq!(reply.status, want, "{}", reply.text());
        (took.as_secs_f64() * 1000.0 > self.bound).then(|| {
            reply.headers[local::gateway::REQUEST_ID_HEADER]
                .to_str()
                .unwrap()
                .to_owned()
        })
    }

    /// How many of `requests` the gateway answered in more than the SLI's bound, from its
    /// access log: a request answered without the fault may still be slow on a busy machine,
    /// and the windows count it as the SLI does.
    async fn slow_as_logged(&self, requests: &[String]) -> u64 {
        let mut slow = 0;
        for id in requests {
            let lines = self
                .r
                .twin
                .client
                .get(&format!("/_twin/logs?request_id={id}"), &[])
                .await
                .unwrap()
                .json();
            let latency = lines["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["logGroupName"] == local::cloudwatch::ACCESS_LOG_GROUP)
                .find_map(|e| match &e["message"]["responseLatency"] {
                    Value::String(text) => text.parse::<f64>().ok(),
                    number => number.as_f64(),
                })
                .unwrap_or_else(|| panic!("no access log line of {id}: {lines:#}"));
            if latency > self.bound {
                println!(
                    "slo {}: request {id} answered in {latency} ms without the fault",
                    self.sli.slo()
                );
                slow += 1;
            }
        }
        slow
    }

    async fn caught_up(&self) {
        assert!(
            self.r.twin.caught_up_within(Duration::from_secs(30)).await,
            "{:#}",
            self.r.twin.stream().await
        );
    }

    /// `events` events, `bad` of them made bad by the fault, then the clock moved on
    /// `minutes`; every composite's state is checked against the burn rates of what was sent.
    async fn step(&mut self, minutes: i64, events: u64, bad: u64) {
        let (faulty, healthy) = self.sli.statuses();
        if bad > 0 {
            assert!(minutes >= self.sli.shortest_bad_step());
        }
        match self.sli {
            Sli::Availability | Sli::Latency => {
                if bad > 0 {
                    self.r.inject(&self.fault).await;
                    self.call(bad, faulty).await;
                    self.r.clear().await;
                    self.removed_in = Some(self.now);
                }
                let slow = self.call(events - bad, healthy).await;
                let slow = if self.sli == Sli::Latency {
                    self.slow_as_logged(&slow).await
                } else {
                    0
                };
                self.sent.0.push((self.now, events, bad + slow));
            }
            Sli::Freshness => {
                // The good events published before the consumer is throttled: the stream
                // is read in order, and would hold them back with the bad ones.
                self.call(events - bad, healthy).await;
                self.caught_up().await;
                self.sent.0.push((self.now, events - bad, 0));
                if bad > 0 {
                    self.r.inject(&self.fault).await;
                    self.call(bad, faulty).await;
                }
            }
        }
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
        if self.sli == Sli::Freshness && bad > 0 {
            // Published now, more than a minute after their writes on the twin's clock.
            self.r.clear().await;
            self.caught_up().await;
            self.sent.0.push((self.now, bad, bad));
            self.removed_in = Some(self.now);
        }
        self.check(&view);
    }

    fn check(&mut self, view: &Value) {
        let slo = self.sli.slo();
        for alert in &self.objective.alerts {
            let name = slo::composite_alarm_name(slo, &alert.name);
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

    /// The composite's own reason and history, as CloudWatch keeps them for a composite.
    async fn check_composite_record(&self, alert_name: &str) {
        let slo = self.sli.slo();
        let composite = slo::composite_alarm_name(slo, alert_name);
        let alarms = self
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
        let [long_name, short_name] =
            Window::BOTH.map(|w| slo::window_alarm_name(slo, alert_name, w));
        for part in [
            "evaluated to TRUE".to_owned(),
            format!("{long_name} is ALARM"),
            format!("{short_name} is ALARM"),
        ] {
            assert!(reason.contains(&part), "`{part}` not in: {reason}");
        }
        assert!(
            alarms["history"].as_array().unwrap().iter().any(|c| {
                c["alarm"] == composite.as_str()
                    && c["old_state"] == "OK"
                    && c["new_state"] == "ALARM"
            }),
            "{:#}",
            alarms["history"]
        );
    }
}

/// A steady burn: steps of `step` minutes with `events` events each; the last step of every
/// `every` has `bad` bad ones.
#[derive(Clone, Copy, Debug)]
struct Burn {
    step: i64,
    events: u64,
    bad: u64,
    every: u64,
}

impl Burn {
    /// How many times as fast as the budget lasts it burns.
    fn rate(&self, objective: &Objective) -> f64 {
        100.0 * self.bad as f64 / (self.events * self.every) as f64 / objective.budget_percent
    }

    /// The minutes over which the burn is spread evenly.
    fn cycle(&self) -> i64 {
        self.step * self.every as i64
    }
}

/// A burn's rate and the workbook's detection time for it, in twin minutes.
struct Figures {
    rate: f64,
    theoretical: f64,
}

/// A healthy stretch as long as the alert's long window, then `burn` until the alert fires,
/// then healthy minutes at the same traffic until it clears.
async fn burn_until_fired_and_cleared(sli: Sli, alert_name: &str, burn: Burn) -> (Run, Figures) {
    let mut run = Run::start(sli).await;
    let alert = run.alert(alert_name);
    let long = i64::from(alert.long_window_minutes);
    let short = i64::from(alert.short_window_minutes);
    let rate = burn.rate(&run.objective);
    assert!(
        rate > alert.burn_rate,
        "the burn {rate} must be above {alert:?}"
    );
    assert!(burn.cycle() <= short, "each short window sees the burn");
    // Bad events a held back stream publishes a step later.
    let late = if sli == Sli::Freshness { burn.step } else { 0 };

    while run.now < long {
        run.step(burn.step, burn.events, 0).await;
    }
    let started = run.now;
    // The SRE workbook's detection time: the long window, full of good events before, burns
    // past the threshold this far into a steady burn.
    let theoretical = long as f64 * alert.burn_rate / rate;
    let mut steps = 0;
    let fired = loop {
        steps += 1;
        let bad = if steps % burn.every == 0 { burn.bad } else { 0 };
        run.step(burn.step, burn.events, bad).await;
        if let Some(at) = run.first(alert_name, "ALARM", started) {
            break at;
        }
        assert!(
            ((run.now - started) as f64) <= theoretical + (burn.cycle() + late) as f64,
            "{} {alert_name} not fired {} min into a {rate}x burn",
            sli.slo(),
            run.now - started
        );
    };
    let detection = fired - started;
    run.check_composite_record(alert_name).await;
    assert!(
        (detection + burn.step) as f64 > theoretical,
        "fired after {detection} min, a step before the long window could burn past {}",
        alert.burn_rate
    );
    assert!(
        detection as f64 <= theoretical + (burn.cycle() + late) as f64,
        "fired after {detection} min"
    );

    // Healthy traffic as before, looked at every minute (every 12 for the three-day
    // alert's six-hour short window), and on the minute the short window has passed the
    // fault's last minute.
    let look = (short / 30).max(1);
    let events = |minutes: i64| (burn.events * minutes as u64 / burn.step as u64).max(1);
    let stopped = run.removed_in.expect("the fault was removed") + 1;
    let first = (stopped + short - run.now).rem_euclid(look);
    if first > 0 {
        run.step(first, events(first), 0).await;
    }
    let cleared = loop {
        if let Some(at) = run.first(alert_name, "OK", fired.max(stopped)) {
            break at;
        }
        assert!(
            run.now - stopped < short,
            "{alert_name} still in ALARM {} min after the fault was removed",
            run.now - stopped
        );
        run.step(look, events(look), 0).await;
    };
    let reset = cleared - stopped;
    assert!(reset <= short, "cleared after {reset} min");
    let figures = Figures { rate, theoretical };
    println!(
        "slo {} {alert_name}: a {rate:.2}x burn ({} of {} events every {} min) fired after {detection} min (workbook {:.1}), cleared {reset} min after the fault was removed (short window {short})",
        sli.slo(),
        burn.bad,
        burn.events * burn.every,
        burn.cycle(),
        figures.theoretical,
    );
    (run, figures)
}

/// The fast page: a burn above its 14.4×.
async fn fast_burn(sli: Sli, burn: Burn) {
    // (With only an hour of history before it, the burn also reaches the slow page's rate
    // over six hours; the check after every step holds that to the windows too.)
    let (run, figures) = burn_until_fired_and_cleared(sli, "fast", burn).await;
    assert!(figures.rate > run.alert("fast").burn_rate);
}

/// The slow page: a burn between its 6× and the fast page's 14.4×.
async fn slow_burn(sli: Sli, burn: Burn) {
    let (run, figures) = burn_until_fired_and_cleared(sli, "slow", burn).await;
    assert!(figures.rate < run.alert("fast").burn_rate);
    assert!(!run.ever("fast", "ALARM"));
}

/// The ticket: a burn just above its 1×, under the slow page's.
async fn drifting_burn(sli: Sli, burn: Burn) {
    let (run, figures) = burn_until_fired_and_cleared(sli, "drift", burn).await;
    assert!(
        figures.rate < 1.25 * run.alert("drift").burn_rate,
        "just above: {}",
        figures.rate
    );
    assert!(!run.ever("fast", "ALARM") && !run.ever("slow", "ALARM"));
}

/// A day of light traffic and an hour of more, then a burst of bad events shorter than the
/// fast page's short window: enough for that window alone to burn past the fast page's rate,
/// small against every long window.
async fn burst(sli: Sli) {
    let mut run = Run::start(sli).await;
    let fast = run.alert("fast");
    let drift = run.alert("drift");
    let budget = run.objective.budget_percent / 100.0;
    let short = i64::from(fast.short_window_minutes);
    let per_minute: u64 = 10;
    let bad = (fast.burn_rate * budget * (short as u64 * per_minute) as f64).floor() as u64 + 1;
    // The day's events keep the burst under the ticket's rate over its three days.
    let per_half_hour = (bad as f64 / (drift.burn_rate * budget) / 48.0).ceil() as u64 + 1;
    for _ in 0..48 {
        run.step(30, per_half_hour, 0).await;
    }
    let step = sli.shortest_bad_step();
    for _ in 0..60 / step {
        run.step(step, per_minute * step as u64, 0).await;
    }
    let burst_start = run.now;
    let burst = short - 3;
    let steps = burst / step;
    for i in 0..steps as u64 {
        let share = bad / steps as u64 + u64::from(i < bad % steps as u64);
        run.step(step, per_minute * step as u64, share).await;
    }
    let burst_end = run.now;
    assert!(burst_end - burst_start < short);
    for _ in 0..fast.long_window_minutes as i64 / step {
        run.step(step, per_minute * step as u64, 0).await;
    }
    for alert in ["fast", "slow", "drift"] {
        assert!(
            !run.ever(alert, "ALARM"),
            "{alert} fired on a {burst}-minute burst"
        );
    }
    // The short windows alone would have fired: the long windows hold the page back.
    let burned = (burst_start..=burst_end + short)
        .filter_map(|end| run.sent.burn(&run.objective, end, short))
        .fold(0.0, f64::max);
    assert!(burned > fast.burn_rate, "{burned}");
    println!(
        "slo {} burst: {bad} bad events in {burst} min, a {burned:.1}x burn over the fast page's short window, fired nothing",
        sli.slo()
    );
}

/// The rehearsals of one objective; the burns are chosen for its budget (events × every per
/// bad one sets the rate) at the least traffic that keeps each short window burning.
macro_rules! rehearsals {
    ($module:ident, $sli:expr, fast: $fast:expr, slow: $slow:expr, drift: $drift:expr) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn a_fast_burn_pages_within_the_short_window_and_clears() {
                fast_burn($sli, $fast).await;
            }

            #[tokio::test]
            async fn a_slow_burn_pages_the_slow_alert_and_not_the_fast_one() {
                slow_burn($sli, $slow).await;
            }

            #[tokio::test]
            async fn a_burn_just_above_the_budget_raises_only_the_ticket() {
                drifting_burn($sli, $drift).await;
            }

            #[tokio::test]
            async fn a_burst_shorter_than_the_short_window_fires_nothing() {
                burst($sli).await;
            }
        }
    };
}

// 99.9 %: 15.4×, 10.1×, 1.21×.
rehearsals!(
    api_availability,
    Sli::Availability,
    fast: Burn { step: 1, events: 13, bad: 1, every: 5 },
    slow: Burn { step: 10, events: 33, bad: 1, every: 3 },
    drift: Burn { step: 60, events: 138, bad: 1, every: 6 }
);

// 99 %: 15×, 10×, 1.19×.
rehearsals!(
    api_latency,
    Sli::Latency,
    fast: Burn { step: 1, events: 4, bad: 3, every: 5 },
    slow: Burn { step: 10, events: 5, bad: 1, every: 2 },
    drift: Burn { step: 60, events: 140, bad: 10, every: 6 }
);

// 99.9 %: 15.2×, 10.1×, 1.21×; a held event is published a step later.
rehearsals!(
    item_event_freshness,
    Sli::Freshness,
    fast: Burn { step: 2, events: 33, bad: 1, every: 2 },
    slow: Burn { step: 10, events: 33, bad: 1, every: 3 },
    drift: Burn { step: 60, events: 138, bad: 1, every: 6 }
);
