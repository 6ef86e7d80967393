//! A dashboard's widgets as data: each metric widget's series through the same metric math
//! and statistics as the alarms ([`crate::cloudwatch::query`]), the alarm widgets' states,
//! the log widgets' Logs Insights answers.

use serde_json::{Value, json};

use super::insights::{self, Record};
use crate::cloudwatch::alarms::AlarmStatus;
use crate::cloudwatch::math;
use crate::cloudwatch::query::{self, Query, QueryKind};
use crate::cloudwatch::store::{MetricId, Statistic};
use crate::cloudwatch::{CloudWatch, NAME_PREFIX};

/// How far back the console looks: the dashboards' `start` (`-PT3H`), unless a widget has its
/// own.
pub const WINDOW_SECS: i64 = 3 * 3600;

/// A relative time range as a dashboard's or widget's `start` writes it, in seconds: an ISO 8601
/// duration after a minus, `-PT3H`, `-PT15M`, `-P30D`, `-P1W` ("the value of start must begin
/// with -P, and you can use M, H, D, W and M as abbreviations for minutes, hours, days, weeks
/// and months",
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html>).
/// Months, whose length depends on the date, and absolute times are refused.
pub fn relative_range_secs(start: &str) -> Result<i64, String> {
    let refuse = |why: &str| format!("start `{start}`: {why}");
    let rest = start
        .strip_prefix("-P")
        .ok_or_else(|| refuse("the twin reads only relative ranges (-P…)"))?;
    let mut secs: i64 = 0;
    let mut in_time = false;
    let mut digits = String::new();
    for c in rest.chars() {
        match c {
            'T' if !in_time && digits.is_empty() => in_time = true,
            '0'..='9' => digits.push(c),
            unit => {
                let n: i64 = digits
                    .parse()
                    .map_err(|_| refuse("a number before each unit"))?;
                digits.clear();
                let unit_secs = match (in_time, unit) {
                    (true, 'H') => 3600,
                    (true, 'M') => 60,
                    (true, 'S') => 1,
                    (false, 'D') => 86_400,
                    (false, 'W') => 7 * 86_400,
                    (false, 'M') => return Err(refuse("months are not read by the twin")),
                    _ => return Err(refuse(&format!("unit `{unit}`"))),
                };
                secs = n
                    .checked_mul(unit_secs)
                    .and_then(|s| s.checked_add(secs))
                    .ok_or_else(|| refuse("too long"))?;
            }
        }
    }
    if !digits.is_empty() || secs <= 0 {
        return Err(refuse("a duration such as -PT3H"));
    }
    Ok(secs)
}

/// Series colours when a row names none (CloudWatch's first eight).
const COLORS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

/// A metric widget's query: CloudWatch's `metrics` rows, with the widget's `stat` and
/// `period` as defaults and `"."` repeating the row above.
pub struct WidgetQuery {
    pub queries: Vec<Query>,
    pub period: i64,
    /// Each query's `color` option, by position.
    pub colors: Vec<Option<String>>,
}

pub fn widget_queries(props: &Value) -> Result<WidgetQuery, String> {
    let period = props["period"].as_i64().unwrap_or(300).max(1);
    let default_stat = props["stat"].as_str().unwrap_or("Average");
    let mut queries = Vec::new();
    let mut colors = Vec::new();
    let mut previous: Vec<String> = Vec::new();
    for (i, row) in props["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let row = row.as_array().ok_or("a `metrics` row must be an array")?;
        let (options, fields) = match row.last() {
            Some(Value::Object(o)) => (Some(o), &row[..row.len() - 1]),
            _ => (None, &row[..]),
        };
        let option = |k: &str| options.and_then(|o| o.get(k));
        let id = option("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("m{i}"), str::to_owned);
        let label = option("label").and_then(Value::as_str).map(str::to_owned);
        let visible = option("visible").and_then(Value::as_bool).unwrap_or(true);
        let kind = if let Some(expr) = option("expression").and_then(Value::as_str) {
            QueryKind::Expression(math::parse(expr)?)
        } else {
            let fields: Vec<String> = fields
                .iter()
                .enumerate()
                .map(|(j, f)| match f.as_str() {
                    Some(".") => previous.get(j).cloned().unwrap_or_default(),
                    Some(s) => s.to_owned(),
                    None => f.to_string(),
                })
                .collect();
            previous.clone_from(&fields);
            if fields.len() < 2 {
                return Err("a metric row needs a namespace and a name".into());
            }
            let dims: Vec<(&str, &str)> = fields[2..]
                .chunks(2)
                .filter(|c| c.len() == 2)
                .map(|c| (c[0].as_str(), c[1].as_str()))
                .collect();
            let stat = option("stat")
                .and_then(Value::as_str)
                .unwrap_or(default_stat);
            QueryKind::Metric {
                id: MetricId::new(&fields[0], &fields[1], &dims),
                stat: Statistic::parse(stat)?,
            }
        };
        colors.push(option("color").and_then(Value::as_str).map(str::to_owned));
        queries.push(Query {
            id,
            kind,
            label,
            return_data: visible,
        });
    }
    Ok(WidgetQuery {
        queries,
        period,
        colors,
    })
}

/// A metric widget's visible series over the window ending with the current period, on one
/// time axis (period starts, epoch seconds; `null` where a period has no value), with its
/// horizontal annotations.
pub fn metric_data(cw: &CloudWatch, props: &Value, now: i64) -> Result<Value, String> {
    let WidgetQuery {
        queries,
        period,
        colors,
    } = widget_queries(props)?;
    let range = match props["start"].as_str() {
        Some(start) => relative_range_secs(start)?,
        None => WINDOW_SECS,
    };
    // The current period is included, so that the chart moves as requests come in.
    let end = now - now.rem_euclid(period) + period;
    let start = end - range.max(period);
    let results = query::run(&cw.store, &queries, start, end, period)?;
    let timestamps: Vec<i64> = (start..end).step_by(period as usize).collect();
    let mut points = 0;
    let series: Vec<Value> = queries
        .iter()
        .zip(colors)
        .filter(|(q, _)| q.return_data)
        .enumerate()
        .map(|(i, (q, color))| {
            let values: Vec<Option<f64>> = match results.get(&q.id) {
                Some(s) => timestamps.iter().map(|t| s.get(t).copied()).collect(),
                None => vec![None; timestamps.len()],
            };
            points += values.iter().flatten().count();
            let label = q.label.clone().unwrap_or_else(|| match &q.kind {
                QueryKind::Metric { id, .. } => id.to_string(),
                QueryKind::Expression(_) => q.id.clone(),
            });
            let color = color.unwrap_or_else(|| COLORS[i % COLORS.len()].to_owned());
            json!({ "label": label, "color": color, "values": values })
        })
        .collect();
    let annotations: Vec<Value> = props["annotations"]["horizontal"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| Some(json!({ "value": a["value"].as_f64()?, "label": a["label"] })))
        .collect();
    Ok(json!({
        "view": props["view"].as_str().unwrap_or("timeSeries"),
        "range_secs": range,
        "period": period,
        "timestamps": timestamps,
        "series": series,
        "annotations": annotations,
        "points": points,
        "y_min": props["yAxis"]["left"]["min"],
    }))
}

/// The statuses of the alarms an alarm widget lists (by ARN), in its order.
pub fn alarm_statuses(cw: &CloudWatch, props: &Value) -> Vec<AlarmStatus> {
    let statuses = cw.alarms.statuses();
    let prefix = format!("{NAME_PREFIX}-");
    props["alarms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|arn| arn.rsplit(":alarm:").next())
        .filter_map(|name| {
            let name = name.strip_prefix(&prefix).unwrap_or(name);
            statuses.iter().find(|s| s.name == name).cloned()
        })
        .collect()
}

/// An alarm as the console shows it, with the link to its runbook.
pub fn alarm_json(status: &AlarmStatus) -> Value {
    json!({
        "name": status.name,
        "state": status.state.as_str(),
        "reason": status.reason,
        "updated": status.updated,
        "description": status.description,
        "runbook": status.runbook,
        "runbook_url": format!("/_ops/files/{}", status.runbook),
    })
}

/// A log widget's query, its dashboard variables filled in, run over `records`.
pub fn log_data(query_text: &str, records: &[Record]) -> Result<Value, String> {
    let query = insights::parse(query_text)?;
    let table = query.run(records);
    Ok(json!({ "columns": table.columns, "rows": table.rows }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::{clock, default_repo_dir};

    #[test]
    fn rows_with_options_expressions_and_repeats() {
        let props = json!({
            "period": 60, "stat": "Sum",
            "metrics": [
                [{"expression": "100 * FILL(e, 0) / r", "id": "rate", "label": "rate"}],
                ["AWS/ApiGateway", "Count", "ApiId", "local", {"id": "r", "visible": false}],
                [".", "5xx", ".", ".", {"id": "e", "visible": false, "stat": "Maximum", "color": "#d62728"}]
            ]
        });
        let w = widget_queries(&props).unwrap();
        assert_eq!(w.period, 60);
        assert_eq!(w.queries.len(), 3);
        assert!(w.queries[0].return_data && !w.queries[1].return_data);
        assert_eq!(w.colors[2].as_deref(), Some("#d62728"));
        match &w.queries[2].kind {
            QueryKind::Metric { id, stat } => {
                assert_eq!(id.name, "5xx");
                assert_eq!(id.namespace, "AWS/ApiGateway");
                assert_eq!(
                    id.dimensions.get("ApiId").map(String::as_str),
                    Some("local")
                );
                assert_eq!(*stat, Statistic::Maximum);
            }
            other => panic!("{other:?}"),
        }
        assert!(widget_queries(&json!({"metrics": [["OnlyNamespace"]]})).is_err());
    }

    #[test]
    fn relative_ranges() {
        assert_eq!(relative_range_secs("-PT3H"), Ok(3 * 3600));
        assert_eq!(relative_range_secs("-PT720H"), Ok(30 * 86_400));
        assert_eq!(relative_range_secs("-PT15M"), Ok(900));
        assert_eq!(relative_range_secs("-P30D"), Ok(30 * 86_400));
        assert_eq!(relative_range_secs("-P1W"), Ok(7 * 86_400));
        assert_eq!(relative_range_secs("-P1DT12H"), Ok(36 * 3600));
        for refused in [
            "-P3M",
            "PT3H",
            "2018-12-17T06:00:00.000Z",
            "-PT",
            "-PT3",
            "-PTH",
            "-PT3X",
        ] {
            assert!(relative_range_secs(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_widget_s_own_range_and_a_running_sum_over_it() {
        let cw = CloudWatch::load(&default_repo_dir(), 10).unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let hour = now - now.rem_euclid(3600);
        // Two hours ago 1 of 10 requests answered 5xx; this hour 0 of 30.
        for (at, count, errors) in [(hour - 7200, 10, 1), (hour, 30, 0)] {
            for i in 0..count {
                let status = if i < errors { 500 } else { 200 };
                cw.record_request(
                    status,
                    std::time::Duration::from_millis(5),
                    None,
                    (at + 1) * 1000,
                );
            }
        }
        let props = json!({
            "view": "singleValue", "period": 3600, "stat": "Sum", "start": "-PT720H",
            "metrics": [
                [{"expression": "100 * RUNNING_SUM(FILL(e, 0)) / RUNNING_SUM(r)", "id": "bad", "label": "bad %"}],
                ["AWS/ApiGateway", "Count", "ApiId", "local", "Stage", "$default", {"id": "r", "visible": false}],
                [".", "5xx", ".", ".", ".", ".", {"id": "e", "visible": false}]
            ]
        });
        let data = metric_data(&cw, &props, now).unwrap();
        assert_eq!(data["view"], "singleValue");
        assert_eq!(data["range_secs"], 30 * 86_400);
        assert_eq!(data["timestamps"].as_array().unwrap().len(), 720);
        let values: Vec<f64> = data["series"][0]["values"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        // 1 of 10, then 1 of 40 since the start of the range.
        assert_eq!(values.len(), 2, "{values:?}");
        assert!((values[0] - 10.0).abs() < 1e-9);
        assert!((values[1] - 2.5).abs() < 1e-9);
        let refused =
            json!({"start": "-P1M", "period": 60, "metrics": [["AWS/ApiGateway", "Count"]]});
        assert!(
            metric_data(&cw, &refused, now)
                .unwrap_err()
                .contains("months")
        );
    }

    #[test]
    fn series_share_one_time_axis_with_nulls_where_no_data() {
        let cw = CloudWatch::load(&default_repo_dir(), 10).unwrap();
        cw.record_request(
            200,
            std::time::Duration::from_millis(12),
            None,
            clock::real_ms(),
        );
        cw.record_request(
            503,
            std::time::Duration::from_millis(30),
            None,
            clock::real_ms(),
        );
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let props = json!({
            "period": 60, "stat": "Sum",
            "metrics": [
                [{"expression": "100 * FILL(e, 0) / r", "id": "rate", "label": "5xx %"}],
                ["AWS/ApiGateway", "Count", "ApiId", "local", "Stage", "$default", {"id": "r", "visible": false}],
                [".", "5xx", ".", ".", ".", ".", {"id": "e", "visible": false}]
            ]
        });
        let data = metric_data(&cw, &props, now).unwrap();
        let timestamps = data["timestamps"].as_array().unwrap();
        assert_eq!(timestamps.len(), (WINDOW_SECS / 60) as usize);
        let series = data["series"].as_array().unwrap();
        assert_eq!(series.len(), 1, "hidden rows are not drawn");
        let values = series[0]["values"].as_array().unwrap();
        assert_eq!(values.len(), timestamps.len());
        // One minute has requests (this one, or the one before if a minute just began): 1 of 2
        // answered 5xx.
        let drawn: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
        assert_eq!(drawn, [&json!(50.0)]);
        assert_eq!(data["points"], 1);
    }
}
