//! Service level objectives (`slos/<name>.json`), the burn-rate policy every objective gets
//! (`slos/burn-rates.json`), and the alarms they become: the one place that says how an alarm
//! is named and what it computes. Terraform's observability module builds the same alarms from
//! the same files (a conformance test evaluates its expressions against these functions); the
//! twin evaluates the window alarms [`Slo::window_alarm`] returns as it evaluates
//! `alarms/*.json`; `opsctl slo` reads the same SLIs from CloudWatch and works out the budget
//! and burn rates with [`budget`], as the twin's console does.
//!
//! A crate of its own, free of the twin and of the AWS SDK, so that the twin and `opsctl` share
//! it at the cost of serde alone. [`math`] is here for the same reason: an SLI's good and total
//! events are metric math, which the twin evaluates for its alarms and `opsctl` over the
//! statistics CloudWatch returns.
//!
//! Each (objective, alert) pair is two window alarms, `slo-<slo>-<alert>-long` and
//! `slo-<slo>-<alert>-short`, each the burn rate over its window against the alert's
//! `burn_rate`, and one composite alarm `slo-<slo>-<alert>` = `ALARM(long) AND ALARM(short)`.
//! Windows are named by alert and side, not by length: two alerts may share a window length
//! with different burn rates (the policy's `slow` long window and `drift` short window are both
//! 6 hours).
//!
//! A window is one period: the metrics' `Period` is the window, and the alarm evaluates one
//! period (CloudWatch allows `Period x EvaluationPeriods` up to 7 days, and up to 1 day when the
//! period is under an hour).

pub mod budget;
pub mod math;
pub mod placeholders;

use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

/// The policy's file name inside `slos/`; every other `slos/*.json` is one objective.
pub const POLICY_FILE: &str = "burn-rates.json";

/// The compliance window every objective is measured over.
pub const WINDOW_DAYS: u32 = 30;

/// One objective, as `slos/<name>.json` holds it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    pub name: String,
    pub title: String,
    pub description: String,
    pub owner: String,
    /// `runbooks/<file>.md`, with one section per alert.
    pub runbook: String,
    /// Share of good events to keep over the window, strictly between 0 and 100.
    pub objective_percent: f64,
    pub window_days: u32,
    pub sli: Sli,
}

/// The indicator: good and total events per period, as metric math.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sli {
    /// CloudWatch `MetricDataQuery` objects (`MetricStat`, `Period` 60, `ReturnData` false).
    pub metrics: Vec<Value>,
    /// Metric math over the ids of `metrics`: good events in a period.
    pub good: String,
    /// Metric math over the ids of `metrics`: all events in a period.
    pub total: String,
}

/// `slos/burn-rates.json`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub alerts: Vec<BurnAlert>,
}

/// One multi-window alert: it fires when the budget burns faster than `burn_rate` over both
/// windows; the short window lets it end soon after the burn stops.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BurnAlert {
    pub name: String,
    pub severity: Severity,
    pub burn_rate: f64,
    pub long_window_minutes: u32,
    pub short_window_minutes: u32,
}

/// Who hears the composite alarm: `page` goes to the alarm topic, `ticket` to the ticket topic.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Page,
    Ticket,
}

/// The two windows of an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    Long,
    Short,
}

impl Window {
    pub const BOTH: [Window; 2] = [Window::Long, Window::Short];

    pub fn as_str(self) -> &'static str {
        match self {
            Window::Long => "long",
            Window::Short => "short",
        }
    }
}

impl BurnAlert {
    pub fn window_minutes(&self, window: Window) -> u32 {
        match window {
            Window::Long => self.long_window_minutes,
            Window::Short => self.short_window_minutes,
        }
    }
}

/// The Ids the window alarm adds to the SLI's: an SLI must not use them.
pub const RESERVED_IDS: [&str; 3] = ["good", "total", "burn"];

/// `slo-<slo>-<alert>-<long|short>`, before the stack's prefix.
pub fn window_alarm_name(slo: &str, alert: &str, window: Window) -> String {
    format!("slo-{slo}-{alert}-{}", window.as_str())
}

/// `slo-<slo>-<alert>`, before the stack's prefix.
pub fn composite_alarm_name(slo: &str, alert: &str) -> String {
    format!("slo-{slo}-{alert}")
}

/// The composite's rule; `prefix` is what the stack puts before every alarm name and a dash
/// (Terraform's `name` variable; the twin's `items-api`).
pub fn composite_alarm_rule(prefix: &str, slo: &str, alert: &str) -> String {
    let [long, short] =
        Window::BOTH.map(|window| format!("{prefix}-{}", window_alarm_name(slo, alert, window)));
    format!("ALARM(\"{long}\") AND ALARM(\"{short}\")")
}

impl Slo {
    /// The share of the window's events that may be bad: `1 - objective / 100`.
    pub fn error_budget(&self) -> f64 {
        1.0 - self.objective_percent / 100.0
    }

    /// Metric math over the window alarm's `good` and `total`: the error ratio divided by the
    /// budget, both in percent (`100 - objective` is exact as written, `1 - objective / 100`
    /// is not).
    pub fn burn_rate_expression(&self) -> String {
        self.burn_rate_over("good", "total")
    }

    /// [`Self::burn_rate_expression`] over other ids of good and total events (the dashboard's
    /// sums since the start of its window).
    pub fn burn_rate_over(&self, good: &str, total: &str) -> String {
        format!(
            "100 * ({total} - {good}) / {total} / (100 - {})",
            self.objective_percent
        )
    }

    /// The composite alarm's description, before Terraform appends the runbook's URL.
    pub fn composite_description(&self, alert: &BurnAlert) -> String {
        format!(
            "{}: the error budget ({} % over {} days) burns more than {} times as fast as it lasts, over the last {} and {} minutes. Severity {}. Owner: {}.",
            self.title,
            self.objective_percent,
            self.window_days,
            alert.burn_rate,
            alert.long_window_minutes,
            alert.short_window_minutes,
            severity_word(alert.severity),
            self.owner,
        )
    }

    /// One window alarm, in the shape of `alarms/*.json` (placeholders as the SLI has them):
    /// the SLI's metrics over one period as long as the window, `good` and `total` from the
    /// SLI, and the burn rate compared with the alert's. No traffic is no burn
    /// (`notBreaching`). It notifies nobody: its composite does.
    pub fn window_alarm(&self, alert: &BurnAlert, window: Window) -> Value {
        let minutes = alert.window_minutes(window);
        let period = u64::from(minutes) * 60;
        let mut metrics: Vec<Value> = self
            .sli
            .metrics
            .iter()
            .map(|query| {
                let mut query = query.clone();
                if let Some(stat) = query.get_mut("MetricStat") {
                    stat["Period"] = json!(period);
                }
                query
            })
            .collect();
        metrics.push(json!({ "Id": "good", "Expression": self.sli.good, "ReturnData": false }));
        metrics.push(json!({ "Id": "total", "Expression": self.sli.total, "ReturnData": false }));
        metrics.push(json!({
            "Id": "burn",
            "Expression": self.burn_rate_expression(),
            "Label": format!("burn rate over {minutes} min"),
            "ReturnData": true,
        }));
        json!({
            "name": window_alarm_name(&self.name, &alert.name, window),
            "description": format!(
                "{}: burn rate of the error budget over the last {} minutes above {} ({} window of slo-{}-{}).",
                self.title,
                minutes,
                alert.burn_rate,
                window.as_str(),
                self.name,
                alert.name,
            ),
            "runbook": self.runbook,
            "metrics": metrics,
            "period": period,
            "evaluation_periods": 1,
            "datapoints_to_alarm": 1,
            "threshold": alert.burn_rate,
            "comparison": "GreaterThanThreshold",
            "treat_missing_data": "notBreaching",
        })
    }
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Page => "page",
        Severity::Ticket => "ticket",
    }
}

/// Every objective of `dir` (sorted by name) and the policy. `fill` gets each file's text
/// before it is parsed (the twin fills placeholders there; identity keeps them).
pub fn load(
    dir: &Path,
    fill: impl Fn(&str) -> Result<String, String>,
) -> Result<(Vec<Slo>, Policy), String> {
    let read = |path: &Path| {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        fill(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let policy_path = dir.join(POLICY_FILE);
    let policy: Policy = serde_json::from_str(&read(&policy_path)?)
        .map_err(|e| format!("{}: {e}", policy_path.display()))?;
    let mut slos = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let is_json = path.extension().is_some_and(|e| e == "json");
        if !is_json || path.file_name().is_some_and(|n| n == POLICY_FILE) {
            continue;
        }
        let slo: Slo =
            serde_json::from_str(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))?;
        slos.push(slo);
    }
    slos.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((slos, policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> BurnAlert {
        BurnAlert {
            name: "fast".into(),
            severity: Severity::Page,
            burn_rate: 14.4,
            long_window_minutes: 60,
            short_window_minutes: 5,
        }
    }

    fn slo() -> Slo {
        Slo {
            name: "api-availability".into(),
            title: "API availability".into(),
            description: "d".into(),
            owner: "o".into(),
            runbook: "runbooks/slo-api-availability.md".into(),
            objective_percent: 99.9,
            window_days: 30,
            sli: Sli {
                metrics: vec![json!({
                    "Id": "requests",
                    "MetricStat": { "Metric": { "Namespace": "AWS/ApiGateway", "MetricName": "Count" }, "Period": 60, "Stat": "Sum" },
                    "ReturnData": false
                })],
                good: "requests".into(),
                total: "requests".into(),
            },
        }
    }

    #[test]
    fn names_and_rule() {
        assert_eq!(
            window_alarm_name("api-availability", "fast", Window::Long),
            "slo-api-availability-fast-long"
        );
        assert_eq!(
            composite_alarm_rule("items-api", "api-availability", "fast"),
            "ALARM(\"items-api-slo-api-availability-fast-long\") AND ALARM(\"items-api-slo-api-availability-fast-short\")"
        );
    }

    #[test]
    fn the_window_is_the_period_and_the_burn_is_the_error_ratio_over_the_budget() {
        let alarm = slo().window_alarm(&alert(), Window::Short);
        assert_eq!(alarm["period"], 300);
        assert_eq!(alarm["metrics"][0]["MetricStat"]["Period"], 300);
        assert_eq!(alarm["threshold"], 14.4);
        let burn = &alarm["metrics"][3];
        assert_eq!(burn["Id"], "burn");
        assert_eq!(
            burn["Expression"],
            "100 * (total - good) / total / (100 - 99.9)"
        );
        // 0.5 % errors against a 0.1 % budget burn 5 times as fast as the budget lasts.
        let (good, total) = (995.0, 1000.0);
        let burn_rate = 100.0 * (total - good) / total / (100.0 - 99.9);
        assert!((burn_rate - 5.0_f64).abs() < 1e-9);
        assert!((slo().error_budget() - 0.001).abs() < 1e-12);
    }
}
