//! The console's SLO section and `GET /_ops/api/slos`: each objective of `slos/*.json` with
//! its SLI over the compliance window so far, the error budget left (a share, and minutes of
//! full outage), the burn rate over each alert window now, and each alert's composite alarm.
//! Everything is read at the twin's clock, from the same metrics and math as the alarms. The
//! page refreshes the section from `GET /_ops/sections/slos` (this module's HTML alone).

use std::fmt::Write as _;

use serde::Serialize;

use crate::cloudwatch::CloudWatch;
use crate::cloudwatch::alarms::window_end;
use crate::cloudwatch::slos::good_and_total;
use crate::html::escape;
use crate::slo::budget::Events;
use crate::slo::{self, Slo, Window};

#[derive(Debug, Serialize)]
pub struct SloView {
    pub name: String,
    pub title: String,
    pub owner: String,
    pub runbook: String,
    pub objective_percent: f64,
    pub window_days: u32,
    /// Good events over all events in the window so far, percent; `None` without events.
    pub sli_percent: Option<f64>,
    pub events: f64,
    pub bad_events: f64,
    /// The budget left, percent of the window's budget (negative once overspent).
    pub budget_remaining_percent: Option<f64>,
    /// The budget as minutes of full outage over the whole window.
    pub budget_minutes: f64,
    /// What is left of those minutes.
    pub budget_remaining_minutes: Option<f64>,
    pub alerts: Vec<AlertView>,
}

#[derive(Debug, Serialize)]
pub struct AlertView {
    /// The composite alarm's name.
    pub alarm: String,
    pub alert: String,
    pub severity: String,
    pub burn_rate_threshold: f64,
    pub long_window_minutes: u32,
    pub long_burn_rate: Option<f64>,
    pub short_window_minutes: u32,
    pub short_burn_rate: Option<f64>,
    pub state: String,
    pub reason: String,
}

fn burn(cw: &CloudWatch, objective: &Slo, end: i64, minutes: u32) -> Option<f64> {
    let start = end - i64::from(minutes) * 60;
    let (good, total) = good_and_total(&cw.store, objective, start, end).ok()??;
    objective.burn_rate(Events { good, total })
}

/// Every objective as of the twin's clock now.
pub fn view(cw: &CloudWatch) -> Vec<SloView> {
    // Up to the end of the current minute: what happened so far counts (the alarms read
    // only the minutes that have ended).
    let end = window_end(cw.clock.now_secs(), 60) + 60;
    let statuses = cw.alarms.statuses();
    cw.slos
        .iter()
        .map(|objective| {
            let window_start = end - i64::from(objective.window_days) * 86_400;
            let so_far = good_and_total(&cw.store, objective, window_start, end)
                .ok()
                .flatten();
            let budget_minutes = objective.budget_minutes();
            let remaining =
                so_far.and_then(|(good, total)| objective.budget_remaining(Events { good, total }));
            let alerts = cw
                .slo_policy
                .alerts
                .iter()
                .map(|alert| {
                    let alarm = slo::composite_alarm_name(&objective.name, &alert.name);
                    let status = statuses.iter().find(|s| s.name == alarm);
                    AlertView {
                        alert: alert.name.clone(),
                        severity: format!("{:?}", alert.severity).to_lowercase(),
                        burn_rate_threshold: alert.burn_rate,
                        long_window_minutes: alert.window_minutes(Window::Long),
                        long_burn_rate: burn(cw, objective, end, alert.long_window_minutes),
                        short_window_minutes: alert.window_minutes(Window::Short),
                        short_burn_rate: burn(cw, objective, end, alert.short_window_minutes),
                        state: status
                            .map_or("INSUFFICIENT_DATA", |s| s.state.as_str())
                            .into(),
                        reason: status.map(|s| s.reason.clone()).unwrap_or_default(),
                        alarm,
                    }
                })
                .collect();
            SloView {
                name: objective.name.clone(),
                title: objective.title.clone(),
                owner: objective.owner.clone(),
                runbook: objective.runbook.clone(),
                objective_percent: objective.objective_percent,
                window_days: objective.window_days,
                sli_percent: so_far.map(|(good, total)| 100.0 * good / total),
                events: so_far.map_or(0.0, |(_, total)| total),
                bad_events: so_far.map_or(0.0, |(good, total)| total - good),
                budget_remaining_percent: remaining.map(|r| 100.0 * r),
                budget_minutes,
                budget_remaining_minutes: remaining.map(|r| r * budget_minutes),
                alerts,
            }
        })
        .collect()
}

fn number(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

/// The console's section.
pub fn section(views: &[SloView]) -> String {
    let mut out = String::from(
        "<section id=\"slos\"><h2>Service level objectives</h2><table class=\"slos\"><thead><tr><th>objective</th><th>target</th><th>SLI so far</th><th>error budget left</th><th>alert</th><th>burn rate (long / short window)</th><th>state</th><th>runbook</th></tr></thead><tbody>",
    );
    for v in views {
        let rows = v.alerts.len().max(1);
        for (i, a) in v.alerts.iter().enumerate() {
            out.push_str("<tr class=\"slo-alert\">");
            if i == 0 {
                let _ = write!(
                    out,
                    "<td rowspan=\"{rows}\" data-slo=\"{name}\"><strong>{title}</strong><br><span class=\"meta\">{name}, {owner}</span></td>\
<td rowspan=\"{rows}\">{objective} % over {days} days</td>\
<td rowspan=\"{rows}\" class=\"slo-sli\">{sli} %<br><span class=\"meta\">{bad} bad of {events} events</span></td>\
<td rowspan=\"{rows}\" class=\"slo-budget\">{left} %<br><span class=\"meta\">{minutes} of {budget:.1} min of full outage</span></td>",
                    name = escape(&v.name),
                    title = escape(&v.title),
                    owner = escape(&v.owner),
                    objective = v.objective_percent,
                    days = v.window_days,
                    sli = number(v.sli_percent, 3),
                    bad = v.bad_events,
                    events = v.events,
                    left = number(v.budget_remaining_percent, 1),
                    minutes = number(v.budget_remaining_minutes, 1),
                    budget = v.budget_minutes,
                );
            }
            let _ = write!(
                out,
                "<td>{alert} <span class=\"meta\">{severity}, over {threshold}×</span></td>\
<td class=\"slo-burn\">{long}× over {long_min} min / {short}× over {short_min} min</td>\
<td><span class=\"state {state}\" title=\"{reason}\" data-alarm=\"{alarm}\">{state}</span></td>",
                alert = escape(&a.alert),
                severity = escape(&a.severity),
                threshold = a.burn_rate_threshold,
                long = number(a.long_burn_rate, 2),
                long_min = a.long_window_minutes,
                short = number(a.short_burn_rate, 2),
                short_min = a.short_window_minutes,
                state = escape(&a.state),
                reason = escape(&a.reason),
                alarm = escape(&a.alarm),
            );
            if i == 0 {
                let _ = write!(
                    out,
                    "<td rowspan=\"{rows}\"><a href=\"/_ops/files/{runbook}\">{runbook}</a></td>",
                    runbook = escape(&v.runbook)
                );
            }
            out.push_str("</tr>");
        }
    }
    out.push_str("</tbody></table><p class=\"meta\">As of the last refresh, on the twin's clock, the current minute included; JSON: <a href=\"/_ops/api/slos\">/_ops/api/slos</a>; over time: the <a href=\"#dashboard-slos\">SLO dashboard</a>. The twin keeps seven days of metrics: the SLI and budget cover what it holds of the window.</p></section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::default_repo_dir;

    #[test]
    fn budget_and_burn_follow_the_traffic() {
        let cw = CloudWatch::load(&default_repo_dir(), 10).unwrap();
        let now = crate::cloudwatch::clock::real_ms();
        // 2000 requests, 4 of them 5xx, in the last minute that ended.
        let at = (now - 60_000) - (now - 60_000).rem_euclid(60_000) + 1000;
        for i in 0..2000 {
            let status = if i < 4 { 500 } else { 200 };
            cw.record_request(status, std::time::Duration::from_millis(5), None, at);
        }
        let views = view(&cw);
        let availability = views.iter().find(|v| v.name == "api-availability").unwrap();
        assert_eq!(
            (availability.events, availability.bad_events),
            (2000.0, 4.0)
        );
        assert!((availability.sli_percent.unwrap() - 99.8).abs() < 1e-9);
        // 0.2 % bad against a 0.1 % budget: twice the budget, 100 % overspent.
        assert!((availability.budget_remaining_percent.unwrap() + 100.0).abs() < 1e-6);
        assert!((availability.budget_minutes - 43.2).abs() < 1e-9);
        let fast = &availability.alerts[0];
        assert_eq!(fast.alarm, "slo-api-availability-fast");
        assert!((fast.long_burn_rate.unwrap() - 2.0).abs() < 1e-6);
        let html = section(&views);
        assert!(html.contains("data-slo=\"api-availability\""), "{html}");
        assert!(html.contains("-100.0 %"), "{html}");
        assert_eq!(
            html.matches("class=\"slo-alert\"").count(),
            cw.slos.len() * cw.slo_policy.alerts.len()
        );
    }
}
