//! An objective's SLI, error budget and burn rate from its good and total events: the
//! arithmetic the twin's console and `opsctl slo` share, the same as the window alarms'
//! expression ([`Slo::burn_rate_expression`]).

use std::collections::BTreeMap;

use crate::math::{self, Series, Val};
use crate::{Sli, Slo};

/// Good events and all events over some span of time, as the SLI's `good` and `total` count
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Events {
    pub good: f64,
    pub total: f64,
}

impl Events {
    pub fn bad(&self) -> f64 {
        self.total - self.good
    }

    /// Good events over all events, in percent; `None` without events: no traffic measures
    /// nothing, it is not 100 %.
    pub fn sli_percent(&self) -> Option<f64> {
        (self.total > 0.0).then(|| 100.0 * self.good / self.total)
    }

    /// The events of the periods of `good` and `total` that start in `[from, to)`.
    pub fn sum(good: &Series, total: &Series, from: i64, to: i64) -> Self {
        // Folds from +0.0: an empty f64 `sum` is -0.0.
        let sum = |s: &Series| s.range(from..to).fold(0.0, |a, (_, v)| a + v);
        Self {
            good: sum(good),
            total: sum(total),
        }
    }
}

impl std::ops::Add for Events {
    type Output = Events;

    fn add(self, other: Events) -> Events {
        Events {
            good: self.good + other.good,
            total: self.total + other.total,
        }
    }
}

impl Slo {
    /// How many times faster than the window's budget lasts the events spend it: the error
    /// ratio over the budget, both in percent as the window alarms compute it. `None` without
    /// events.
    pub fn burn_rate(&self, events: Events) -> Option<f64> {
        (events.total > 0.0)
            .then(|| 100.0 * events.bad() / events.total / (100.0 - self.objective_percent))
    }

    /// The budget as minutes of full outage: every event bad for this long spends the whole
    /// window's budget (at steady traffic).
    pub fn budget_minutes(&self) -> f64 {
        f64::from(self.window_days) * 24.0 * 60.0 * self.error_budget()
    }

    /// The share of the window's budget that `events` (the window's so far) leave: one less
    /// their burn rate over the window; negative once overspent. `None` without events.
    pub fn budget_remaining(&self, events: Events) -> Option<f64> {
        self.burn_rate(events).map(|burn| 1.0 - burn)
    }
}

impl Sli {
    /// The ids of the SLI's metrics (`MetricStat` queries).
    pub fn metric_ids(&self) -> Vec<&str> {
        self.metrics
            .iter()
            .filter_map(|q| q.get("Id").and_then(serde_json::Value::as_str))
            .collect()
    }

    /// Good and total events per period: `good` and `total` evaluated over the metrics' series
    /// (by id), `periods` being the period starts of the span they cover (what `FILL` fills).
    pub fn good_and_total(
        &self,
        metrics: &BTreeMap<String, Series>,
        periods: &[i64],
    ) -> Result<(Series, Series), String> {
        let lookup = |id: &str| metrics.get(id).cloned();
        let series = |expression: &str| -> Result<Series, String> {
            let expr = math::parse(expression).map_err(|e| format!("`{expression}`: {e}"))?;
            Ok(match math::eval(&expr, &lookup, periods)? {
                Val::Series(s) => s,
                Val::Scalar(v) => periods.iter().map(|t| (*t, v)).collect(),
            })
        };
        Ok((series(&self.good)?, series(&self.total)?))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn objective(percent: f64) -> Slo {
        Slo {
            name: "api-availability".into(),
            title: "API availability".into(),
            description: "d".into(),
            owner: "o".into(),
            runbook: "runbooks/slo-api-availability.md".into(),
            objective_percent: percent,
            window_days: 30,
            sli: Sli {
                metrics: vec![
                    json!({"Id": "requests", "MetricStat": {}}),
                    json!({"Id": "errors", "MetricStat": {}}),
                ],
                good: "requests - FILL(errors, 0)".into(),
                total: "requests".into(),
            },
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn one_bad_event_in_a_thousand_burns_a_99_9_budget_at_its_own_pace() {
        let slo = objective(99.9);
        let events = Events {
            good: 999.0,
            total: 1000.0,
        };
        assert!(close(events.sli_percent().unwrap(), 99.9));
        assert!(close(slo.burn_rate(events).unwrap(), 1.0));
        // The whole budget spent: nothing left of its 43.2 minutes.
        assert!(close(slo.budget_minutes(), 43.2));
        assert!(close(slo.budget_remaining(events).unwrap(), 0.0));
        // 14.4 times the budget's pace: the fast page's threshold.
        let fast = Events {
            good: 9856.0,
            total: 10_000.0,
        };
        assert!(close(slo.burn_rate(fast).unwrap(), 14.4));
        assert!(close(slo.budget_remaining(fast).unwrap(), -13.4));
    }

    #[test]
    fn a_quarter_of_the_budget_spent_leaves_three_quarters_of_its_minutes() {
        let slo = objective(99.0);
        let events = Events {
            good: 99_750.0,
            total: 100_000.0,
        };
        assert!(close(slo.burn_rate(events).unwrap(), 0.25));
        assert!(close(slo.budget_minutes(), 432.0));
        let left = slo.budget_remaining(events).unwrap();
        assert!(close(left, 0.75));
        assert!(close(left * slo.budget_minutes(), 324.0));
    }

    #[test]
    fn no_events_is_no_measurement() {
        let slo = objective(99.9);
        let none = Events::default();
        assert_eq!(none.sli_percent(), None);
        assert_eq!(slo.burn_rate(none), None);
        assert_eq!(slo.budget_remaining(none), None);
        let good_only = Events {
            good: 5.0,
            total: 5.0,
        };
        assert_eq!(good_only.sli_percent(), Some(100.0));
        assert_eq!(slo.burn_rate(good_only), Some(0.0));
    }

    #[test]
    fn events_per_period_follow_the_slis_math_and_sum_over_a_span() {
        let slo = objective(99.9);
        assert_eq!(slo.sli.metric_ids(), ["requests", "errors"]);
        let metrics = BTreeMap::from([
            (
                "requests".to_owned(),
                Series::from([(0, 500.0), (60, 500.0), (120, 10.0)]),
            ),
            ("errors".to_owned(), Series::from([(60, 1.0)])),
        ]);
        let (good, total) = slo.sli.good_and_total(&metrics, &[0, 60, 120]).unwrap();
        // No 5xx datum in a minute is no 5xx (FILL), not a minute without a good count.
        assert_eq!(good, Series::from([(0, 500.0), (60, 499.0), (120, 10.0)]));
        let first_two = Events::sum(&good, &total, 0, 120);
        assert_eq!(
            first_two,
            Events {
                good: 999.0,
                total: 1000.0
            }
        );
        assert_eq!(
            first_two + Events::sum(&good, &total, 120, 180),
            Events {
                good: 1009.0,
                total: 1010.0
            }
        );
        let empty = Events::sum(&good, &total, 600, 660);
        assert!(empty.total.is_sign_positive() && empty.total == 0.0);
        let err = slo.sli.good_and_total(&BTreeMap::new(), &[0]).unwrap_err();
        assert!(err.contains("requests"), "{err}");
    }
}
