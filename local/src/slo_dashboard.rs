//! The `slos` dashboard (`dashboards/slos.json`), made from the objectives and the burn-rate
//! policy so that it cannot drift from them: a conformance test holds the committed file equal
//! to [`body`] of `slos/*.json` (and rewrites it when asked, see `slos/README.md`).
//!
//! For each objective, one row of three widgets over the compliance window, then one chart per
//! alert window:
//! - the SLI, the error budget left as a percentage and in minutes of full outage
//!   (`singleValue`: the latest value of each), and the budget left over the window (a chart);
//!   all three are running sums since the start of the widget's own time range, which is the
//!   window: `RUNNING_SUM` of the SLI's good and total events per hour;
//! - the burn rate over each window of each alert, exactly the queries of its window alarm
//!   ([`Slo::window_alarm`]: the window is the period), with the alert's threshold as a
//!   horizontal annotation.
//!
//! CloudWatch's documentation behind the choices:
//! - metric math functions (`RUNNING_SUM`, arithmetic):
//!   <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html>;
//! - the body's members (`period`, `view`, `annotations.horizontal`, a relative `start` such as
//!   `-PT8H`):
//!   <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html>;
//!   a widget's own `start`, "the start of the time range to use for each widget independently
//!   from those of the dashboard", and a single-value widget "displays the most recent value
//!   for every metric" (the CDK's rendering of the same body):
//!   <https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_cloudwatch.SingleValueWidgetProps.html>;
//! - hourly data is kept for 455 days (one-minute data for 15), so an hourly period covers the
//!   30-day window:
//!   <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Metric>.
//!   Each widget asks for at most 720 datapoints a query (30 days of hours), far below the
//!   100,800 data points one `GetMetricData` call returns
//!   (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html>).

use serde_json::{Map, Value, json};

use crate::slo::{BurnAlert, Policy, Severity, Slo, Window, composite_alarm_name};

/// The dashboard's file name inside `dashboards/`.
pub const FILE: &str = "slos.json";

/// The period of the window widgets: an hour, so that 30 days are 720 datapoints.
pub const WINDOW_PERIOD_SECS: u64 = 3600;

/// The most data points one `GetMetricData` call returns.
pub const GET_METRIC_DATA_MAX_DATAPOINTS: u64 = 100_800;

/// The Ids the window widgets add to the SLI's (besides the window alarm's `good` and
/// `total`): an SLI must not use them.
pub const WINDOW_IDS: [&str; 6] = [
    "goodsofar",
    "totalsofar",
    "burnsofar",
    "sli",
    "budgetleft",
    "budgetminutes",
];

/// Datapoints a burn-rate chart shows: a dozen windows, and at least three hours.
const BURN_CHART_WINDOWS: u32 = 12;
const BURN_CHART_MIN_HOURS: u32 = 3;

/// Grid rows: the introduction, then per objective a row of its window widgets and a row of
/// burn-rate charts.
const INTRO_HEIGHT: u64 = 3;
const ROW_HEIGHT: u64 = 6;

/// `5 min`, `1 h`, `3 days`.
pub fn duration_words(minutes: u32) -> String {
    match minutes {
        m if m % 1440 == 0 && m / 1440 == 1 => "1 day".to_owned(),
        m if m % 1440 == 0 => format!("{} days", m / 1440),
        m if m % 60 == 0 => format!("{} h", m / 60),
        m => format!("{m} min"),
    }
}

/// A number as an expression or a label writes it: at most six decimals, no trailing zeros.
fn number(value: f64) -> String {
    let rounded = (value * 1e6).round() / 1e6;
    format!("{rounded}")
}

/// The time range of the burn-rate chart of a window: [`BURN_CHART_WINDOWS`] windows, at
/// least [`BURN_CHART_MIN_HOURS`], at most the objective's window; in hours.
pub fn burn_chart_hours(slo: &Slo, window_minutes: u32) -> u32 {
    (BURN_CHART_WINDOWS * window_minutes)
        .div_ceil(60)
        .max(BURN_CHART_MIN_HOURS)
        .min(slo.window_days * 24)
}

/// One `MetricDataQuery` of an alarm as a dashboard `metrics` row: a metric as
/// `[Namespace, MetricName, dimension name, value, …, options]` with its `Stat`, an expression
/// as `[{expression, …}]`; `ReturnData` becomes `visible`.
pub fn dashboard_row(query: &Value) -> Result<Value, String> {
    let id = query["Id"].as_str().ok_or("a query without Id")?;
    let visible = query["ReturnData"].as_bool().unwrap_or(true);
    let mut options = Map::new();
    if let Some(expression) = query["Expression"].as_str() {
        options.insert("expression".into(), json!(expression));
        options.insert("id".into(), json!(id));
        if let Some(label) = query["Label"].as_str() {
            options.insert("label".into(), json!(label));
        }
        options.insert("visible".into(), json!(visible));
        return Ok(json!([options]));
    }
    let stat = &query["MetricStat"];
    let metric = &stat["Metric"];
    let mut row = vec![metric["Namespace"].clone(), metric["MetricName"].clone()];
    if !row.iter().all(Value::is_string) {
        return Err(format!("{id}: neither an Expression nor a MetricStat"));
    }
    for dimension in metric["Dimensions"].as_array().into_iter().flatten() {
        row.push(dimension["Name"].clone());
        row.push(dimension["Value"].clone());
    }
    options.insert("id".into(), json!(id));
    options.insert("stat".into(), stat["Stat"].clone());
    if let Some(label) = query["Label"].as_str() {
        options.insert("label".into(), json!(label));
    }
    options.insert("visible".into(), json!(visible));
    row.push(Value::Object(options));
    Ok(Value::Array(row))
}

fn widget(kind: &str, (x, y, width, height): (u64, u64, u64, u64), properties: Value) -> Value {
    json!({ "type": kind, "x": x, "y": y, "width": width, "height": height, "properties": properties })
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Page => "page",
        Severity::Ticket => "ticket",
    }
}

/// The objective's text: what it measures, its target, owner, runbook and alerts.
fn objective_text(slo: &Slo, policy: &Policy) -> String {
    let mut alerts = String::new();
    for alert in &policy.alerts {
        alerts.push_str(&format!(
            "\n- `{}` ({}): burn rate above {} over {} and over {}",
            composite_alarm_name(&slo.name, &alert.name),
            severity_word(alert.severity),
            number(alert.burn_rate),
            duration_words(alert.long_window_minutes),
            duration_words(alert.short_window_minutes),
        ));
    }
    format!(
        "### {title}\n{description} Objective: **{objective} %** over {days} days; the budget is {minutes} minutes of full outage. Owner: {owner}. Runbook: [{runbook}](${{runbook_base_url}}/{runbook}).\n\nAlerts (`slos/{name}.json`):{alerts}",
        title = slo.title,
        description = slo.description,
        objective = number(slo.objective_percent),
        days = slo.window_days,
        minutes = number(slo.budget_minutes()),
        owner = slo.owner,
        runbook = slo.runbook,
        name = slo.name,
    )
}

/// The SLI's metrics per hour, `good` and `total` as the window alarm has them, their sums
/// since the start of the widget's range, and the burn rate of those sums; then `shown`, the
/// expressions drawn (id, expression, label).
fn window_rows(slo: &Slo, shown: &[(&str, String, String)]) -> Result<Vec<Value>, String> {
    let mut queries: Vec<Value> = slo
        .sli
        .metrics
        .iter()
        .map(|query| {
            let mut query = query.clone();
            query["MetricStat"]["Period"] = json!(WINDOW_PERIOD_SECS);
            query["ReturnData"] = json!(false);
            query
        })
        .collect();
    let hidden = |id: &str, expression: String| json!({ "Id": id, "Expression": expression, "ReturnData": false });
    queries.push(hidden("good", slo.sli.good.clone()));
    queries.push(hidden("total", slo.sli.total.clone()));
    queries.push(hidden("goodsofar", "RUNNING_SUM(good)".into()));
    queries.push(hidden("totalsofar", "RUNNING_SUM(total)".into()));
    queries.push(hidden(
        "burnsofar",
        slo.burn_rate_over("goodsofar", "totalsofar"),
    ));
    let mut rows = Vec::new();
    for (id, expression, label) in shown {
        rows.push(json!([{ "expression": expression, "id": id, "label": label }]));
    }
    for query in &queries {
        rows.push(dashboard_row(query)?);
    }
    Ok(rows)
}

/// The three figures of the window, and what each is.
fn window_figures(slo: &Slo) -> [(&'static str, String, String); 3] {
    let days = slo.window_days;
    let minutes = number(slo.budget_minutes());
    [
        (
            "sli",
            "100 * goodsofar / totalsofar".to_owned(),
            format!("SLI over {days} days (%)"),
        ),
        (
            "budgetleft",
            "100 - 100 * burnsofar".to_owned(),
            "error budget left (%)".to_owned(),
        ),
        (
            "budgetminutes",
            format!("{minutes} * (1 - burnsofar)"),
            format!("error budget left (minutes of full outage, of {minutes})"),
        ),
    ]
}

fn window_properties(slo: &Slo, title: String, view: &str, rows: Vec<Value>) -> Value {
    let mut properties = json!({
        "title": title,
        "view": view,
        "stacked": false,
        "region": "${region}",
        "period": WINDOW_PERIOD_SECS,
        "start": format!("-PT{}H", slo.window_days * 24),
        "metrics": rows,
    });
    if view == "timeSeries" {
        properties["yAxis"] = json!({ "left": { "showUnits": false } });
    }
    properties
}

fn burn_chart(slo: &Slo, alert: &BurnAlert, window: Window) -> Result<Value, String> {
    let alarm = slo.window_alarm(alert, window);
    let minutes = alert.window_minutes(window);
    let rows = alarm["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(dashboard_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        // Short: six charts share a row under the objective's own title.
        "title": format!(
            "{} {}: burn rate over {}",
            alert.name,
            window.as_str(),
            duration_words(minutes),
        ),
        "view": "timeSeries",
        "stacked": false,
        "region": "${region}",
        "period": alarm["period"],
        "start": format!("-PT{}H", burn_chart_hours(slo, minutes)),
        "metrics": rows,
        "annotations": {
            "horizontal": [{
                "label": format!("{} threshold", alarm["name"].as_str().unwrap_or_default()),
                "value": alert.burn_rate,
            }]
        },
        "yAxis": { "left": { "min": 0, "showUnits": false } },
    }))
}

/// The dashboard body of `slos` (placeholders kept, as the objectives' files have them).
pub fn body(slos: &[Slo], policy: &Policy) -> Result<Value, String> {
    let mut widgets = vec![widget(
        "text",
        (0, 0, 24, INTRO_HEIGHT),
        json!({ "markdown": format!(
            "## Items API: service level objectives\nOne block per objective of `slos/*.json`. Left to right: the objective; its SLI, the error budget left (a percentage, and minutes of full outage) over the last {days} days; the budget left as it went. Below, the burn rate (1 = the budget lasts exactly the window) over each window of each alert of `slos/burn-rates.json`, the same math as its alarm, its threshold dashed: an alert fires when both of its windows are above. On call, start with the [on-call guide](${{runbook_base_url}}/runbooks/README.md).",
            days = slos.first().map_or(crate::slo::WINDOW_DAYS, |s| s.window_days),
        ) }),
    )];
    for (i, slo) in slos.iter().enumerate() {
        for query in &slo.sli.metrics {
            let id = query["Id"].as_str().unwrap_or_default();
            if WINDOW_IDS.contains(&id) {
                return Err(format!("{}: Id {id} is the dashboard's own", slo.name));
            }
        }
        let y = INTRO_HEIGHT + i as u64 * 2 * ROW_HEIGHT;
        widgets.push(widget(
            "text",
            (0, y, 8, ROW_HEIGHT),
            json!({ "markdown": objective_text(slo, policy) }),
        ));
        let figures = window_figures(slo);
        widgets.push(widget(
            "metric",
            (8, y, 8, ROW_HEIGHT),
            window_properties(
                slo,
                format!(
                    "{}: SLI and error budget, last {} days",
                    slo.title, slo.window_days
                ),
                "singleValue",
                window_rows(slo, &figures)?,
            ),
        ));
        widgets.push(widget(
            "metric",
            (16, y, 8, ROW_HEIGHT),
            window_properties(
                slo,
                format!(
                    "{}: error budget left (%) over the last {} days",
                    slo.title, slo.window_days
                ),
                "timeSeries",
                window_rows(slo, &figures[1..2])?,
            ),
        ));
        let charts: Vec<(&BurnAlert, Window)> = policy
            .alerts
            .iter()
            .flat_map(|alert| Window::BOTH.map(|window| (alert, window)))
            .collect();
        let width = (24 / charts.len().max(1)) as u64;
        for (j, (alert, window)) in charts.into_iter().enumerate() {
            widgets.push(widget(
                "metric",
                (j as u64 * width, y + ROW_HEIGHT, width, ROW_HEIGHT),
                burn_chart(slo, alert, window)?,
            ));
        }
    }
    Ok(json!({
        "start": "-PT3H",
        "periodOverride": "inherit",
        "widgets": widgets,
    }))
}

/// [`body`] of the objectives and policy of `slos_dir`, as the file is written: two-space
/// JSON and a final newline.
pub fn render(slos_dir: &std::path::Path) -> Result<String, String> {
    let (slos, policy) = crate::slo::load(slos_dir, |text| Ok(text.to_owned()))?;
    let body = body(&slos, &policy)?;
    serde_json::to_string_pretty(&body)
        .map(|text| text + "\n")
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::{Sli, load};

    fn repo() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn durations_ranges_and_numbers() {
        assert_eq!(duration_words(5), "5 min");
        assert_eq!(duration_words(60), "1 h");
        assert_eq!(duration_words(360), "6 h");
        assert_eq!(duration_words(1440), "1 day");
        assert_eq!(duration_words(4320), "3 days");
        assert_eq!(number(43.200_000_000_000_04), "43.2");
        assert_eq!(number(432.0), "432");
        let (slos, _) = load(&repo().join("slos"), |t| Ok(t.to_owned())).unwrap();
        let slo = &slos[0];
        assert_eq!(burn_chart_hours(slo, 5), 3);
        assert_eq!(burn_chart_hours(slo, 30), 6);
        assert_eq!(burn_chart_hours(slo, 60), 12);
        assert_eq!(burn_chart_hours(slo, 360), 72);
        assert_eq!(burn_chart_hours(slo, 4320), 720, "at most the window");
    }

    #[test]
    fn rows_keep_the_queries() {
        let metric = json!({
            "Id": "requests",
            "MetricStat": {
                "Metric": { "Namespace": "AWS/ApiGateway", "MetricName": "Count",
                    "Dimensions": [{ "Name": "ApiId", "Value": "${api_id}" }] },
                "Period": 60, "Stat": "Sum" },
            "ReturnData": false
        });
        assert_eq!(
            dashboard_row(&metric).unwrap(),
            json!(["AWS/ApiGateway", "Count", "ApiId", "${api_id}", { "id": "requests", "stat": "Sum", "visible": false }])
        );
        let burn =
            json!({ "Id": "burn", "Expression": "1 + good", "Label": "b", "ReturnData": true });
        assert_eq!(
            dashboard_row(&burn).unwrap(),
            json!([{ "expression": "1 + good", "id": "burn", "label": "b", "visible": true }])
        );
        assert!(dashboard_row(&json!({ "Id": "x" })).is_err());
    }

    #[test]
    fn every_window_of_every_alert_is_a_chart_of_its_alarm_with_its_threshold() {
        let (slos, policy) = load(&repo().join("slos"), |t| Ok(t.to_owned())).unwrap();
        let body = body(&slos, &policy).unwrap();
        let widgets = body["widgets"].as_array().unwrap();
        let charts: Vec<&Value> = widgets
            .iter()
            .filter(|w| w["properties"]["annotations"].is_object())
            .collect();
        assert_eq!(charts.len(), slos.len() * policy.alerts.len() * 2);
        let availability = &slos[0];
        let fast = &policy.alerts[0];
        let short = charts
            .iter()
            .find(|w| w["properties"]["title"] == "fast short: burn rate over 5 min")
            .unwrap();
        assert_eq!(short["properties"]["period"], 300);
        assert_eq!(
            short["properties"]["annotations"]["horizontal"][0]["value"],
            fast.burn_rate
        );
        let burn = short["properties"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row[0]["id"] == "burn")
            .unwrap();
        assert_eq!(
            burn[0]["expression"],
            availability.burn_rate_expression(),
            "the alarm's own math"
        );
        // Each widget's queries fit in one GetMetricData call.
        for w in widgets.iter().filter(|w| w["type"] == "metric") {
            let p = &w["properties"];
            let range = crate::ops::widgets::relative_range_secs(p["start"].as_str().unwrap());
            let points = range.unwrap() as u64 / p["period"].as_u64().unwrap();
            let queries = p["metrics"].as_array().unwrap().len() as u64;
            assert!(points <= 720, "{p:#}");
            assert!(points * queries <= GET_METRIC_DATA_MAX_DATAPOINTS);
        }
        // 99.9 % over 30 days: 43.2 minutes of full outage.
        let figures = widgets
            .iter()
            .find(|w| w["properties"]["view"] == "singleValue")
            .unwrap();
        let minutes = figures["properties"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row[0]["id"] == "budgetminutes")
            .unwrap();
        assert_eq!(minutes[0]["expression"], "43.2 * (1 - burnsofar)");
    }

    #[test]
    fn an_sli_may_not_take_the_dashboard_s_ids() {
        let (mut slos, policy) = load(&repo().join("slos"), |t| Ok(t.to_owned())).unwrap();
        slos.truncate(1);
        let mut metric = slos[0].sli.metrics[0].clone();
        metric["Id"] = json!("sli");
        slos[0].sli = Sli {
            metrics: vec![metric],
            good: "sli".into(),
            total: "sli".into(),
        };
        assert!(body(&slos, &policy).unwrap_err().contains("sli"));
    }
}
