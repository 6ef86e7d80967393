//! `opsctl slo`: each objective of `slos/*.json`, its SLI over the compliance window, the error
//! budget left (a share and minutes of full outage) and the burn rate over each window of
//! `slos/burn-rates.json`, from CloudWatch's GetMetricData.
//!
//! Two GetMetricData requests (each paged, every objective's queries batched together): the
//! SLI's metrics per minute over the longest alert window (CloudWatch keeps one-minute data for
//! 15 days), and per hour over the compliance window (30 days is past the one-minute data; an
//! hour is a period that any start time allows). Only `MetricStat` queries are sent: the SLI's
//! `good` and `total` are evaluated here, per period, with the metric math the twin's alarms
//! use ([`slo::math`]). Summed over a window, that is what the window alarm's single-period
//! expression computes, as every statistic an SLI may count with (`Sum`, `SampleCount`,
//! `TC(:N)`) adds up across periods.
//!
//! The windows end with the minute of `--at` (now by default), the current minute so far
//! included, as the twin's console counts: the minute that holds `--at`, so a datum stamped at
//! or before that instant counts, whatever its fraction of a second. The compliance window
//! starts on the hour.
//!
//! CloudWatch's limits and retention, as relied on here:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html>
//! (at most 500 queries a request; one-minute data kept 15 days, one-hour data 455 days;
//! `StartTime` inclusive, `EndTime` exclusive, hence a window's end one minute past `--at`'s
//! minute start) and
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricStat.html> (a
//! start time 15 to 63 days ago needs a period that is a multiple of 300 s, older one of
//! 3600 s).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StandardUnit, StatusCode,
};
use serde_json::Value;
use slo::budget::Events;
use slo::math::Series;
use slo::placeholders::substitute;
use slo::{BurnAlert, Policy, Slo, Window as Side};

use crate::cli::{MetricsArgs, SloArgs, format_instant};
use crate::rates::Window;

/// GetMetricData takes at most this many queries a request.
pub const QUERIES_PER_CALL: usize = 500;
const MINUTE: i64 = 60;
const HOUR: i64 = 3600;

/// The placeholders of `slos/*.json` and what they stand for in this stack.
fn placeholders(args: &MetricsArgs) -> [(&'static str, &str); 3] {
    [
        ("api_id", &args.api_id),
        ("stage", &args.stage),
        ("metrics_namespace", &args.namespace),
    ]
}

/// The objectives of `dir` (sorted by name) and the policy, placeholders filled.
pub fn load(dir: &Path, args: &MetricsArgs) -> Result<(Vec<Slo>, Policy), crate::Error> {
    let values = placeholders(args);
    let (objectives, policy) = slo::load(dir, |text| substitute(text, &values))
        .map_err(|e| format!("{e} (give the repository's slos/ with --slos-dir)"))?;
    if objectives.is_empty() {
        return Err(format!("no objectives (*.json) in {}", dir.display()).into());
    }
    Ok((objectives, policy))
}

/// The two spans read from CloudWatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spans {
    /// Minutes: the longest alert window, and at least the current hour so far.
    pub recent: Window,
    /// Hours: the longest compliance window up to the current hour.
    pub history: Window,
}

impl Spans {
    /// The spans for windows that end with the minute of `at` (epoch seconds): the one that
    /// holds it. A period is `[start, start + 60)`, so at a minute boundary that is the minute
    /// just begun; rounding `at` up instead would drop it, with what was stamped at `at` (and in
    /// the fraction of a second that `at` lost).
    pub fn ending_at(at: i64, objectives: &[Slo], policy: &Policy) -> Self {
        let end = at.div_euclid(MINUTE) * MINUTE + MINUTE;
        let hour = end.div_euclid(HOUR) * HOUR;
        let longest_alert = policy
            .alerts
            .iter()
            .flat_map(|a| Side::BOTH.map(|side| i64::from(a.window_minutes(side)) * MINUTE))
            .max()
            .unwrap_or(0);
        let longest_days = objectives.iter().map(|o| o.window_days).max().unwrap_or(0);
        Self {
            recent: Window {
                start: (end - longest_alert).min(hour),
                end,
                period: MINUTE,
            },
            history: Window {
                start: window_start(end, longest_days),
                end: hour,
                period: HOUR,
            },
        }
    }

    pub fn end(&self) -> i64 {
        self.recent.end
    }
}

/// Where the compliance window of `days` that ends at `end` starts: on the hour.
fn window_start(end: i64, days: u32) -> i64 {
    (end - i64::from(days) * 86_400).div_euclid(HOUR) * HOUR
}

/// Each objective's metrics by the SLI's ids, over one span.
pub type MetricSeries = Vec<BTreeMap<String, Series>>;

/// One SLI metric as a GetMetricData query, renamed `id` (unique in the request).
fn metric_query(id: String, query: &Value, period: i64) -> Result<MetricDataQuery, String> {
    let text = |v: &Value, what: &str| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("query `{id}`: `{what}` missing"))
    };
    let stat = query
        .get("MetricStat")
        .ok_or_else(|| format!("query `{id}`: an SLI metric needs `MetricStat`"))?;
    let metric = &stat["Metric"];
    let dimensions = metric["Dimensions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            Ok(Dimension::builder()
                .name(text(&d["Name"], "Dimensions.Name")?)
                .value(text(&d["Value"], "Dimensions.Value")?)
                .build())
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut metric_stat = MetricStat::builder()
        .metric(
            Metric::builder()
                .namespace(text(&metric["Namespace"], "Metric.Namespace")?)
                .metric_name(text(&metric["MetricName"], "Metric.MetricName")?)
                .set_dimensions(Some(dimensions))
                .build(),
        )
        .period(i32::try_from(period).map_err(|e| e.to_string())?)
        .stat(text(&stat["Stat"], "MetricStat.Stat")?);
    if let Some(unit) = stat.get("Unit").and_then(Value::as_str) {
        metric_stat = metric_stat.unit(StandardUnit::from(unit));
    }
    Ok(MetricDataQuery::builder()
        .id(id)
        .metric_stat(metric_stat.build())
        .return_data(true)
        .build())
}

/// One request's queries, and each query id (`s<objective>_<SLI id>`) back to the objective's
/// index and the SLI's id.
type Batch = (Vec<MetricDataQuery>, BTreeMap<String, (usize, String)>);

/// Every objective's SLI metrics over `span`, in requests of at most [`QUERIES_PER_CALL`]
/// queries (an objective's queries in one request), each paged.
pub async fn fetch(
    client: &aws_sdk_cloudwatch::Client,
    objectives: &[Slo],
    span: Window,
) -> Result<MetricSeries, crate::Error> {
    let mut found: MetricSeries = objectives
        .iter()
        .map(|o| {
            o.sli
                .metric_ids()
                .into_iter()
                .map(|id| (id.to_owned(), Series::new()))
                .collect()
        })
        .collect();
    if span.start >= span.end {
        return Ok(found);
    }
    let mut batches: Vec<Batch> = vec![Default::default()];
    for (i, objective) in objectives.iter().enumerate() {
        let queries = &objective.sli.metrics;
        if queries.len() > QUERIES_PER_CALL {
            return Err(format!(
                "{}: {} SLI metrics, more than GetMetricData takes in a request ({QUERIES_PER_CALL})",
                objective.name,
                queries.len()
            )
            .into());
        }
        if batches
            .last()
            .is_some_and(|(q, _)| q.len() + queries.len() > QUERIES_PER_CALL)
        {
            batches.push(Default::default());
        }
        let (batch, ids) = batches.last_mut().expect("one batch at least");
        for query in queries {
            let sli_id = query["Id"]
                .as_str()
                .ok_or_else(|| format!("{}: an SLI metric without `Id`", objective.name))?;
            let id = format!("s{i}_{sli_id}");
            batch.push(
                metric_query(id.clone(), query, span.period)
                    .map_err(|e| format!("{}: {e}", objective.name))?,
            );
            ids.insert(id, (i, sli_id.to_owned()));
        }
    }
    for (queries, ids) in batches {
        let mut pages = client
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(DateTime::from_secs(span.start))
            .end_time(DateTime::from_secs(span.end))
            .scan_by(ScanBy::TimestampAscending)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| format!("GetMetricData: {}", DisplayErrorContext(e)))?;
            for result in page.metric_data_results.unwrap_or_default() {
                let Some((i, sli_id)) = result.id().and_then(|id| ids.get(id)) else {
                    continue;
                };
                if let Some(code @ (StatusCode::Forbidden | StatusCode::InternalError)) =
                    result.status_code()
                {
                    let messages: Vec<&str> =
                        result.messages().iter().filter_map(|m| m.value()).collect();
                    return Err(format!(
                        "GetMetricData answered {} for `{sli_id}` of {}: {}",
                        code.as_str(),
                        objectives[*i].name,
                        messages.join("; ")
                    )
                    .into());
                }
                let series = found[*i].entry(sli_id.clone()).or_default();
                for (t, v) in result.timestamps().iter().zip(result.values()) {
                    series.insert(t.secs(), *v);
                }
            }
        }
    }
    Ok(found)
}

/// One alert's events over its two windows.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvents {
    pub alert: BurnAlert,
    pub long: Events,
    pub short: Events,
}

/// One objective as on-call reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub objective: Slo,
    /// Where its compliance window starts (epoch seconds); it ends with the spans.
    pub window_start: i64,
    pub window: Events,
    pub alerts: Vec<AlertEvents>,
}

/// Each objective's events over its compliance window and each alert window.
pub fn assess(
    objectives: &[Slo],
    policy: &Policy,
    spans: Spans,
    recent: &MetricSeries,
    history: &MetricSeries,
) -> Result<Vec<Assessment>, String> {
    let per_period = |objective: &Slo, metrics: &BTreeMap<String, Series>, span: Window| {
        let periods: Vec<i64> = span.rows().collect();
        objective
            .sli
            .good_and_total(metrics, &periods)
            .map_err(|e| format!("{}: {e}", objective.name))
    };
    let end = spans.end();
    objectives
        .iter()
        .enumerate()
        .map(|(i, objective)| {
            let (good, total) = per_period(objective, &recent[i], spans.recent)?;
            let (hourly_good, hourly_total) = per_period(objective, &history[i], spans.history)?;
            let window_start = window_start(end, objective.window_days);
            // Whole hours from the history, then the minutes of the current hour.
            let window = Events::sum(&hourly_good, &hourly_total, window_start, spans.history.end)
                + Events::sum(&good, &total, spans.history.end, end);
            let over =
                |minutes: u32| Events::sum(&good, &total, end - i64::from(minutes) * 60, end);
            let alerts = policy
                .alerts
                .iter()
                .map(|alert| AlertEvents {
                    alert: alert.clone(),
                    long: over(alert.long_window_minutes),
                    short: over(alert.short_window_minutes),
                })
                .collect();
            Ok(Assessment {
                objective: objective.clone(),
                window_start,
                window,
                alerts,
            })
        })
        .collect()
}

const NO_DATA: &str = "no data";

/// `v` with `decimals` decimals, never `-0.0`: a budget spent exactly may come out a hair
/// below zero in floating point.
fn fixed(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    match text.strip_prefix('-') {
        Some(digits) if digits.chars().all(|c| c == '0' || c == '.') => digits.to_owned(),
        _ => text,
    }
}

fn instant(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(format_instant)
        .unwrap_or_else(|_| secs.to_string())
}

fn burn_cell(objective: &Slo, events: Events, minutes: u32) -> String {
    match objective.burn_rate(events) {
        Some(rate) => format!("{}x over {minutes} min", fixed(rate, 2)),
        None => format!("{NO_DATA} over {minutes} min"),
    }
}

/// The report: per objective its SLI, budget and burn rates; "no data" where a window had no
/// events, never 100 %.
pub fn render(assessments: &[Assessment], end: i64) -> String {
    let mut out = String::new();
    for a in assessments {
        let o = &a.objective;
        out.push_str(&format!(
            "{}: {} (objective {} % over {} days, owner {})\n",
            o.name, o.title, o.objective_percent, o.window_days, o.owner
        ));
        let since = instant(a.window_start);
        match a.window.sli_percent() {
            Some(sli) => out.push_str(&format!(
                "  SLI          {} %  ({} bad of {} events since {since})\n",
                fixed(sli, 3),
                a.window.bad(),
                a.window.total
            )),
            None => out.push_str(&format!(
                "  SLI          {NO_DATA}  (no events since {since})\n"
            )),
        }
        match o.budget_remaining(a.window) {
            Some(left) => out.push_str(&format!(
                "  budget left  {} %  ({} of {:.1} min of full outage)\n",
                fixed(100.0 * left, 1),
                fixed(left * o.budget_minutes(), 1),
                o.budget_minutes()
            )),
            None => out.push_str(&format!(
                "  budget left  {NO_DATA}  ({:.1} min of full outage in all)\n",
                o.budget_minutes()
            )),
        }
        for alert in &a.alerts {
            let name = format!(
                "{} ({})",
                alert.alert.name,
                match alert.alert.severity {
                    slo::Severity::Page => "page",
                    slo::Severity::Ticket => "ticket",
                }
            );
            out.push_str(&format!(
                "  burn {name:<15} {:<24} {:<24} fires above {}x on both\n",
                burn_cell(o, alert.long, alert.alert.long_window_minutes),
                burn_cell(o, alert.short, alert.alert.short_window_minutes),
                alert.alert.burn_rate,
            ));
        }
        out.push_str(&format!("  runbook      {}\n", o.runbook));
    }
    out.push_str(&format!(
        "as of {} (the current minute so far); compliance windows start on the hour\n",
        instant(end)
    ));
    out
}

pub async fn run(sdk: &SdkConfig, args: &SloArgs) -> Result<String, crate::Error> {
    let (objectives, policy) = load(&args.slos_dir, &args.metrics)?;
    let at = match args.at {
        Some(at) => at.unix_timestamp(),
        None => SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64,
    };
    let spans = Spans::ending_at(at, &objectives, &policy);
    let client = aws_sdk_cloudwatch::Client::new(sdk);
    let recent = fetch(&client, &objectives, spans.recent).await?;
    let history = fetch(&client, &objectives, spans.history).await?;
    let assessments = assess(&objectives, &policy, spans, &recent, &history)?;
    Ok(render(&assessments, spans.end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> MetricsArgs {
        MetricsArgs {
            api_id: "a1".into(),
            stage: "$default".into(),
            namespace: "ItemsApi".into(),
        }
    }

    fn repo() -> (Vec<Slo>, Policy) {
        load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../slos"),
            &metrics(),
        )
        .unwrap()
    }

    #[test]
    fn placeholders_are_filled_as_json_and_unknown_ones_refused() {
        let args = metrics();
        let values = placeholders(&args);
        assert_eq!(
            substitute(r#"{"v": "${api_id}/${stage}"}"#, &values).unwrap(),
            r#"{"v": "a1/$default"}"#
        );
        assert_eq!(
            substitute(r#""${x}""#, &[("x", "a\"b")]).unwrap(),
            r#""a\"b""#
        );
        assert!(
            substitute("${table}", &values)
                .unwrap_err()
                .contains("${table}")
        );
        assert!(substitute("${api_id", &values).is_err());
        let err = load(Path::new("/nonexistent"), &metrics()).unwrap_err();
        assert!(err.to_string().contains("--slos-dir"), "{err}");
    }

    #[test]
    fn the_spans_cover_the_longest_alert_window_and_the_compliance_window() {
        let (objectives, policy) = repo();
        // 12:34:10 ends the windows at 12:35:00, the current minute included.
        let day = 1_800_000_000 - 1_800_000_000 % 86_400;
        let spans = Spans::ending_at(day + 12 * 3600 + 34 * 60 + 10, &objectives, &policy);
        let end = day + 12 * 3600 + 35 * 60;
        assert_eq!(spans.end(), end);
        // The drift alert's 3 days, in minutes.
        assert_eq!(spans.recent.start, end - 4320 * 60);
        assert_eq!(spans.recent.period, 60);
        // 30 days back, on the hour, to the current hour.
        assert_eq!(spans.history.end, end - 35 * 60);
        assert_eq!(spans.history.start, end - 30 * 86_400 - 35 * 60);
        assert_eq!(spans.history.period, 3600);
        // On a minute boundary, the minute just begun is the current one: it ends the windows.
        assert_eq!(Spans::ending_at(end, &objectives, &policy).end(), end + 60);
        assert_eq!(Spans::ending_at(end - 1, &objectives, &policy).end(), end);
    }

    #[test]
    fn every_sli_metric_becomes_one_renamed_query_of_the_spans_period() {
        let (objectives, _) = repo();
        let availability = objectives
            .iter()
            .find(|o| o.name == "api-availability")
            .unwrap();
        let q = metric_query("s0_errors".into(), &availability.sli.metrics[1], 3600).unwrap();
        assert_eq!(q.id(), Some("s0_errors"));
        let stat = q.metric_stat().unwrap();
        assert_eq!((stat.period(), stat.stat()), (Some(3600), Some("Sum")));
        let metric = stat.metric().unwrap();
        assert_eq!(metric.metric_name(), Some("5xx"));
        let dims: Vec<(&str, &str)> = metric
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap(), d.value().unwrap()))
            .collect();
        assert_eq!(dims, [("ApiId", "a1"), ("Stage", "$default")]);
        assert!(
            metric_query("x".into(), &serde_json::json!({"Id": "x"}), 60)
                .unwrap_err()
                .contains("MetricStat")
        );
    }

    /// One failure in a thousand requests, in the last minute of the windows: a known SLI,
    /// budget and burn rate for every window.
    #[test]
    fn one_failure_in_a_thousand_gives_the_slis_budget_and_burn_rates() {
        let (objectives, policy) = repo();
        // 1_800_000_000 is on the hour.
        let at = 1_800_000_000 + 30 * 60;
        let spans = Spans::ending_at(at, &objectives, &policy);
        let minute = spans.end() - 60;
        let mut recent: MetricSeries = objectives
            .iter()
            .map(|o| {
                o.sli
                    .metric_ids()
                    .iter()
                    .map(|id| (id.to_string(), Series::new()))
                    .collect()
            })
            .collect();
        let history = recent.clone();
        let i = objectives
            .iter()
            .position(|o| o.name == "api-availability")
            .unwrap();
        recent[i].insert("requests".into(), Series::from([(minute, 1000.0)]));
        recent[i].insert("errors".into(), Series::from([(minute, 1.0)]));
        let assessments = assess(&objectives, &policy, spans, &recent, &history).unwrap();
        let a = &assessments[i];
        assert_eq!(
            a.window,
            Events {
                good: 999.0,
                total: 1000.0
            }
        );
        for alert in &a.alerts {
            assert_eq!(alert.long, a.window, "{}", alert.alert.name);
            assert_eq!(alert.short, a.window, "{}", alert.alert.name);
        }
        let out = render(&assessments, spans.end());
        let section: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.starts_with("api-availability:"))
            .take(7)
            .collect();
        assert_eq!(
            section[0],
            "api-availability: API availability (objective 99.9 % over 30 days, owner items-api on-call)"
        );
        assert!(
            section[1].starts_with("  SLI          99.900 %  (1 bad of 1000 events since "),
            "{out}"
        );
        assert_eq!(
            section[2],
            "  budget left  0.0 %  (0.0 of 43.2 min of full outage)"
        );
        assert!(
            section[3]
                .starts_with("  burn fast (page)     1.00x over 60 min        1.00x over 5 min "),
            "{out}"
        );
        assert!(section[3].ends_with("fires above 14.4x on both"), "{out}");
        assert!(section[5].contains("1.00x over 4320 min"), "{out}");
        assert_eq!(
            section[6],
            "  runbook      runbooks/slo-api-availability.md"
        );

        // The other objectives had no events: no data, not 100 %.
        let latency = out
            .lines()
            .skip_while(|l| !l.starts_with("api-latency:"))
            .take(4)
            .collect::<Vec<_>>();
        assert!(
            latency[1].starts_with("  SLI          no data  (no events since "),
            "{out}"
        );
        assert_eq!(
            latency[2],
            "  budget left  no data  (432.0 min of full outage in all)"
        );
        assert!(latency[3].contains("no data over 60 min"), "{out}");
    }

    #[test]
    fn the_compliance_window_adds_whole_hours_to_the_current_hours_minutes() {
        let (objectives, policy) = repo();
        let hour = 1_800_000_000; // on the hour
        let spans = Spans::ending_at(hour + 600, &objectives, &policy);
        let i = objectives
            .iter()
            .position(|o| o.name == "api-availability")
            .unwrap();
        let empty: MetricSeries = objectives
            .iter()
            .map(|o| {
                o.sli
                    .metric_ids()
                    .iter()
                    .map(|id| (id.to_string(), Series::new()))
                    .collect()
            })
            .collect();
        let (mut recent, mut history) = (empty.clone(), empty);
        // Minutes before the current hour are the history's: not counted twice.
        recent[i].insert(
            "requests".into(),
            Series::from([(hour - 60, 100.0), (hour, 300.0)]),
        );
        history[i].insert(
            "requests".into(),
            Series::from([(hour - 3600, 700.0), (spans.history.start - 3600, 5.0)]),
        );
        history[i].insert("errors".into(), Series::from([(hour - 3600, 3.0)]));
        let a = &assess(&objectives, &policy, spans, &recent, &history).unwrap()[i];
        assert_eq!(
            a.window,
            Events {
                good: 997.0,
                total: 1000.0
            }
        );
        let out = render(std::slice::from_ref(a), spans.end());
        assert!(
            out.contains("  budget left  -200.0 %  (-86.4 of 43.2 min"),
            "{out}"
        );
    }

    /// `--at` read off a clock just after a batch of requests that straddled a minute: in the
    /// first second of the new minute, its fraction of a second lost in epoch seconds. The
    /// requests stamped in that minute so far count.
    #[test]
    fn the_minute_that_holds_at_counts_from_its_first_instant() {
        let (objectives, policy) = repo();
        let hour = 1_800_000_000; // 2027-01-15T08:00:00Z
        let at = crate::cli::parse_instant("2027-01-15T08:06:00.479Z").unwrap();
        let spans = Spans::ending_at(at.unix_timestamp(), &objectives, &policy);
        let i = objectives
            .iter()
            .position(|o| o.name == "api-availability")
            .unwrap();
        let empty: MetricSeries = objectives
            .iter()
            .map(|o| {
                o.sli
                    .metric_ids()
                    .iter()
                    .map(|id| (id.to_string(), Series::new()))
                    .collect()
            })
            .collect();
        let (mut recent, mut history) = (empty.clone(), empty);
        // Seven hours before, 1 failure in 1000; now 1000 good, 669 in the minute before `at`
        // and 331 in the minute of `at`.
        let earlier = hour - 7 * 3600;
        recent[i].insert(
            "requests".into(),
            Series::from([
                (earlier + 300, 1000.0),
                (hour + 300, 669.0),
                (hour + 360, 331.0),
            ]),
        );
        recent[i].insert("errors".into(), Series::from([(earlier + 300, 1.0)]));
        history[i].insert("requests".into(), Series::from([(earlier, 1000.0)]));
        history[i].insert("errors".into(), Series::from([(earlier, 1.0)]));
        let a = &assess(&objectives, &policy, spans, &recent, &history).unwrap()[i];
        assert_eq!(
            a.window,
            Events {
                good: 1999.0,
                total: 2000.0
            }
        );
        let fast = a.alerts.iter().find(|x| x.alert.name == "fast").unwrap();
        assert_eq!(
            (fast.long, fast.short),
            (
                Events {
                    good: 1000.0,
                    total: 1000.0
                },
                Events {
                    good: 1000.0,
                    total: 1000.0
                }
            )
        );
        assert_eq!(spans.end(), hour + 7 * 60);
    }
}
