//! The objectives of `slos/*.json` on the twin: the window alarms and composite alarms that
//! [`crate::slo`] says they become (the same names, expressions and rules Terraform creates),
//! and what the console shows of each objective: its SLI, budget and burn rates so far.

use std::path::Path;

use super::NAME_PREFIX;
use super::alarms::AlarmDef;
use super::composite::CompositeDef;
use super::query::{self, Query};
use super::store::MetricStore;
use crate::slo::{self, Policy, Slo, Window};

/// The objectives and the policy of `repo/slos`, placeholders filled.
pub fn load(repo: &Path, values: &[(&str, String)]) -> Result<(Vec<Slo>, Policy), String> {
    slo::load(&repo.join("slos"), |text| super::substitute(text, values))
}

/// Every window alarm and composite alarm of the objectives, as Terraform declares them.
pub fn alarms(slos: &[Slo], policy: &Policy) -> Result<(Vec<AlarmDef>, Vec<CompositeDef>), String> {
    let mut windows = Vec::new();
    let mut composites = Vec::new();
    for objective in slos {
        for alert in &policy.alerts {
            for window in Window::BOTH {
                windows.push(AlarmDef::from_json(&objective.window_alarm(alert, window))?);
            }
            let name = slo::composite_alarm_name(&objective.name, &alert.name);
            let rule = slo::composite_alarm_rule(NAME_PREFIX, &objective.name, &alert.name);
            let mut composite = CompositeDef::new(
                &name,
                &objective.composite_description(alert),
                &objective.runbook,
                &rule,
            )?;
            composite.rule = composite.rule.without_prefix(&format!("{NAME_PREFIX}-"));
            composites.push(composite);
        }
    }
    Ok((windows, composites))
}

/// Good and total events of an objective over `[start, end)`, one period: `None` when there
/// were no events.
pub fn good_and_total(
    store: &MetricStore,
    objective: &Slo,
    start: i64,
    end: i64,
) -> Result<Option<(f64, f64)>, String> {
    let period = (end - start).max(60);
    let mut queries = objective
        .sli
        .metrics
        .iter()
        .map(Query::from_metric_data_query)
        .collect::<Result<Vec<_>, _>>()?;
    for (id, expression) in [
        ("good", &objective.sli.good),
        ("total", &objective.sli.total),
    ] {
        queries.push(Query::from_metric_data_query(&serde_json::json!({
            "Id": id, "Expression": expression, "ReturnData": true,
        }))?);
    }
    let all = query::run(store, &queries, start, start + period, period)?;
    let value = |id: &str| all.get(id).and_then(|s| s.get(&start)).copied();
    Ok(match (value("good"), value("total")) {
        (Some(good), Some(total)) if total > 0.0 => Some((good, total)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::{default_repo_dir, placeholders};

    #[test]
    fn every_objective_gets_two_window_alarms_and_a_composite_per_alert() {
        let (slos, policy) = load(&default_repo_dir(), &placeholders(10)).unwrap();
        assert!(slos.len() >= 3, "{slos:?}");
        let (windows, composites) = alarms(&slos, &policy).unwrap();
        assert_eq!(windows.len(), slos.len() * policy.alerts.len() * 2);
        assert_eq!(composites.len(), slos.len() * policy.alerts.len());
        let fast = composites
            .iter()
            .find(|c| c.name == "slo-api-availability-fast")
            .unwrap();
        assert_eq!(
            fast.rule_text,
            "ALARM(\"items-api-slo-api-availability-fast-long\") AND ALARM(\"items-api-slo-api-availability-fast-short\")"
        );
        let mut children = Vec::new();
        fast.rule.children(&mut children);
        assert_eq!(
            children,
            [
                "slo-api-availability-fast-long",
                "slo-api-availability-fast-short"
            ]
        );
        for child in children {
            assert!(windows.iter().any(|w| w.name == child), "{child}");
        }
        let drift_long = windows
            .iter()
            .find(|w| w.name == "slo-api-availability-drift-long")
            .unwrap();
        assert_eq!(
            (drift_long.period, drift_long.evaluation_periods),
            (4320 * 60, 1)
        );
    }
}
