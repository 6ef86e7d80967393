//! `opsctl rates`: API requests and item events over a window, one GetMetricData call (paged),
//! `Sum` per period, printed as a table with totals and rates.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use telemetry::metric_names;

use crate::cli::{RatesArgs, format_instant};

/// One column: a metric summed per period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// GetMetricData query id: lowercase first, letters and digits.
    pub id: &'static str,
    pub heading: &'static str,
    pub namespace: String,
    pub metric: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
}

/// The `service` dimension of the item-events function's metrics (its `POWERTOOLS_SERVICE_NAME`
/// in terraform/modules/functions): it publishes `ItemCreated` from the table's stream.
pub const ITEM_EVENTS_SERVICE: &str = "item-events";

/// The columns, in order: API Gateway's own metrics, the items stored by the items function,
/// then the events the item-events function published or failed to.
pub fn series(args: &RatesArgs) -> Vec<Series> {
    let api = |id, heading, metric| Series {
        id,
        heading,
        namespace: "AWS/ApiGateway".to_owned(),
        metric,
        dimensions: vec![
            ("ApiId", args.metrics.api_id.clone()),
            ("Stage", args.metrics.stage.clone()),
        ],
    };
    let items = |id, heading, metric| Series {
        id,
        heading,
        namespace: args.metrics.namespace.clone(),
        metric,
        dimensions: vec![("service", args.service.clone())],
    };
    let events = |id, heading, metric| Series {
        id,
        heading,
        namespace: args.metrics.namespace.clone(),
        metric,
        dimensions: vec![("service", ITEM_EVENTS_SERVICE.to_owned())],
    };
    vec![
        api("requests", "requests", "Count"),
        api("client", "4xx", "4xx"),
        api("server", "5xx", "5xx"),
        items("created", "items created", metric_names::ITEMS_CREATED),
        events(
            "published",
            "events published",
            metric_names::ITEM_EVENTS_PUBLISHED,
        ),
        events(
            "failed",
            "events failed",
            metric_names::ITEM_EVENT_PUBLISH_FAILURES,
        ),
    ]
}

/// The window, its start floored to a period boundary as CloudWatch aligns its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    pub period: i64,
}

impl Window {
    pub fn ending_at(end: i64, since_secs: i64, period: i64) -> Self {
        let start = (end - since_secs).div_euclid(period) * period;
        Self { start, end, period }
    }

    /// Each period's start.
    pub fn rows(&self) -> impl Iterator<Item = i64> + '_ {
        (self.start..self.end).step_by(self.period as usize)
    }

    pub fn seconds(&self) -> i64 {
        self.end - self.start
    }
}

/// Sums by series id, then by period start (epoch seconds).
pub type Sums = BTreeMap<&'static str, BTreeMap<i64, f64>>;

pub async fn fetch(
    client: &aws_sdk_cloudwatch::Client,
    columns: &[Series],
    window: Window,
) -> Result<Sums, crate::Error> {
    let queries = columns.iter().map(|s| {
        let metric = Metric::builder()
            .namespace(&s.namespace)
            .metric_name(s.metric)
            .set_dimensions(Some(
                s.dimensions
                    .iter()
                    .map(|(name, value)| Dimension::builder().name(*name).value(value).build())
                    .collect(),
            ))
            .build();
        MetricDataQuery::builder()
            .id(s.id)
            .metric_stat(
                MetricStat::builder()
                    .metric(metric)
                    .period(window.period as i32)
                    .stat("Sum")
                    .build(),
            )
            .return_data(true)
            .build()
    });
    let mut pages = client
        .get_metric_data()
        .set_metric_data_queries(Some(queries.collect()))
        .start_time(DateTime::from_secs(window.start))
        .end_time(DateTime::from_secs(window.end))
        .scan_by(ScanBy::TimestampAscending)
        .into_paginator()
        .send();
    let mut sums = Sums::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("GetMetricData: {}", DisplayErrorContext(e)))?;
        for result in page.metric_data_results.unwrap_or_default() {
            let Some(column) = columns.iter().find(|s| Some(s.id) == result.id()) else {
                continue;
            };
            let values = sums.entry(column.id).or_default();
            for (t, v) in result.timestamps().iter().zip(result.values()) {
                *values.entry(t.secs()).or_default() += v;
            }
        }
    }
    Ok(sums)
}

fn cell(value: Option<f64>) -> String {
    match value {
        // Sums of counts are whole numbers; anything else is shown as it is.
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "-".to_owned(),
    }
}

fn percent(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.1}%", 100.0 * part / whole)
    } else {
        "n/a".to_owned()
    }
}

/// The table: one row per period (`-`: no data point), the totals, the per-second rates over the
/// window, and the error and failure ratios.
pub fn render(columns: &[Series], window: Window, sums: &Sums) -> String {
    let first = "period start";
    let widths: Vec<usize> = columns.iter().map(|c| c.heading.len().max(8)).collect();
    let mut out = format!("{first:<20}");
    for (c, w) in columns.iter().zip(&widths) {
        out.push_str(&format!("  {:>w$}", c.heading));
    }
    out.push('\n');
    let line = |out: &mut String, label: &str, cells: Vec<String>| {
        out.push_str(&format!("{label:<20}"));
        for (text, w) in cells.iter().zip(&widths) {
            out.push_str(&format!("  {text:>w$}"));
        }
        out.push('\n');
    };
    for start in window.rows() {
        let label = time::OffsetDateTime::from_unix_timestamp(start)
            .map(format_instant)
            .unwrap_or_else(|_| start.to_string());
        let cells = columns
            .iter()
            .map(|c| cell(sums.get(c.id).and_then(|v| v.get(&start)).copied()))
            .collect();
        line(&mut out, &label, cells);
    }
    // A fold from +0.0: an empty f64 `sum` is -0.0, which would print as "-0".
    let total = |id: &str| {
        sums.get(id)
            .map_or(0.0, |v| v.values().fold(0.0, |a, b| a + b))
    };
    line(
        &mut out,
        "total",
        columns.iter().map(|c| cell(Some(total(c.id)))).collect(),
    );
    let secs = window.seconds().max(1) as f64;
    line(
        &mut out,
        "per second",
        columns
            .iter()
            .map(|c| format!("{:.3}", total(c.id) / secs))
            .collect(),
    );
    out.push_str(&format!(
        "window {} to {} ({} s, periods of {} s)\n",
        format_instant(
            time::OffsetDateTime::from_unix_timestamp(window.start)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        ),
        format_instant(
            time::OffsetDateTime::from_unix_timestamp(window.end)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        ),
        window.seconds(),
        window.period
    ));
    out.push_str(&format!(
        "4xx: {} of requests; 5xx: {} of requests; events failed: {} of items created\n",
        percent(total("client"), total("requests")),
        percent(total("server"), total("requests")),
        percent(total("failed"), total("created")),
    ));
    out
}

pub async fn run(sdk: &SdkConfig, args: &RatesArgs) -> Result<String, crate::Error> {
    args.check()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let window = Window::ending_at(now, args.since.as_secs() as i64, i64::from(args.period));
    let columns = series(args);
    let client = aws_sdk_cloudwatch::Client::new(sdk);
    let sums = fetch(&client, &columns, window).await?;
    Ok(render(&columns, window, &sums))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args() -> RatesArgs {
        let cli =
            crate::cli::Cli::parse_from(["opsctl", "rates", "--since", "3m", "--api-id", "a1"]);
        match cli.command {
            crate::cli::Command::Rates(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_window_starts_on_a_period_boundary() {
        let w = Window::ending_at(1_000_030, 180, 60);
        assert_eq!(w.start, 999_840);
        assert_eq!(
            w.rows().collect::<Vec<_>>(),
            [999_840, 999_900, 999_960, 1_000_020]
        );
        assert_eq!(w.seconds(), 190);
    }

    #[test]
    fn columns_use_the_metric_names_of_the_code() {
        let cols = series(&args());
        let names: Vec<&str> = cols.iter().map(|c| c.metric).collect();
        assert_eq!(
            names,
            [
                "Count",
                "4xx",
                "5xx",
                "ItemsCreated",
                "ItemEventsPublished",
                "ItemEventPublishFailures"
            ]
        );
        for c in &cols[3..] {
            assert!(metric_names::find(c.metric).is_some(), "{}", c.metric);
        }
        // Items are stored by the items function, their events published from the stream by
        // item-events: each counted under its own service.
        let service = |id: &str| {
            let c = cols.iter().find(|c| c.id == id).unwrap();
            assert_eq!(c.dimensions.len(), 1);
            c.dimensions[0].clone()
        };
        assert_eq!(service("created"), ("service", "items".to_owned()));
        assert_eq!(service("published"), ("service", "item-events".to_owned()));
        assert_eq!(service("failed"), ("service", "item-events".to_owned()));
        for c in &cols[4..] {
            assert_eq!(
                metric_names::find(c.metric).unwrap().emitted_by,
                metric_names::Emitter::ItemEvents,
                "{}",
                c.metric
            );
        }
    }

    #[test]
    fn totals_rates_and_ratios() {
        let cols = series(&args());
        let w = Window {
            start: 0,
            end: 120,
            period: 60,
        };
        let mut sums = Sums::new();
        sums.entry("requests")
            .or_default()
            .extend([(0, 40.0), (60, 20.0)]);
        sums.entry("server").or_default().insert(60, 3.0);
        sums.entry("created").or_default().insert(0, 4.0);
        let out = render(&cols, w, &sums);
        let row = |label: &str| -> Vec<String> {
            let line = out.lines().find(|l| l.starts_with(label)).unwrap();
            line[20..].split_whitespace().map(str::to_owned).collect()
        };
        assert_eq!(row("1970-01-01T00:00:00Z"), ["40", "-", "-", "4", "-", "-"]);
        assert_eq!(row("1970-01-01T00:01:00Z"), ["20", "-", "3", "-", "-", "-"]);
        assert_eq!(row("total"), ["60", "0", "3", "4", "0", "0"]);
        assert_eq!(row("per second")[0], "0.500");
        assert!(
            out.contains(
                "4xx: 0.0% of requests; 5xx: 5.0% of requests; events failed: 0.0% of items created"
            ),
            "{out}"
        );

        // A window without any data point: zeros and no ratios, never "-0".
        let empty: Sums = cols.iter().map(|c| (c.id, BTreeMap::new())).collect();
        let out = render(&cols, w, &empty);
        let total = out.lines().find(|l| l.starts_with("total")).unwrap();
        assert_eq!(
            total[20..].split_whitespace().collect::<Vec<_>>(),
            ["0"; 6],
            "{out}"
        );
        let per_second = out.lines().find(|l| l.starts_with("per second")).unwrap();
        assert!(!per_second.contains("-0") && !total.contains("-0"), "{out}");
        assert!(out.contains("4xx: n/a of requests"), "{out}");
    }
}
