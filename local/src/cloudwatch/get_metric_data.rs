//! CloudWatch's `GetMetricData` on the twin's metric store, as AWS documents it
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html>):
//! `MetricStat` and `Expression` queries (the twin's metric math, as its alarms use it),
//! `StartTime` inclusive and `EndTime` exclusive, the start rounded down by its age, `ScanBy`
//! (newest first unless asked), `Label`, `ReturnData`, and pages of at most `MaxDatapoints`
//! (100,800 unless asked) with a `NextToken` and `PartialData` for a result that goes on.
//!
//! What the twin does not do is refused by name: Metrics Insights queries (`SELECT …`),
//! `AccountId`, and queries of different periods in one request. The protocol (form in, XML
//! out) is [`super::query_protocol`]'s.

use super::math::Series;
use super::query::{self, Query};
use super::store::MetricStore;

/// At most this many queries a request.
pub const MAX_QUERIES: usize = 500;
/// Data points a page holds unless `MaxDatapoints` says fewer.
pub const DEFAULT_MAX_DATAPOINTS: usize = 100_800;

/// One query as the request gave it: the `MetricDataQuery` in the JSON shape the alarm files
/// use, and its period.
#[derive(Clone, Debug)]
pub struct QueryInput {
    pub query: serde_json::Value,
    /// `MetricStat.Period`, or the query's own `Period` (an expression's).
    pub period: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub queries: Vec<QueryInput>,
    /// Epoch seconds.
    pub start: i64,
    pub end: i64,
    pub scan_by_ascending: bool,
    pub max_datapoints: usize,
    /// Data points already returned by earlier pages.
    pub next_token: Option<String>,
}

/// One query's answer on a page.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultPage {
    pub id: String,
    pub label: String,
    /// Period starts (epoch seconds) and values, in the order asked for.
    pub points: Vec<(i64, f64)>,
    /// More of this query's points are on the next page.
    pub partial: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub results: Vec<ResultPage>,
    pub next_token: Option<String>,
}

/// Why a request is refused, with CloudWatch's error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    Validation(String),
    InvalidNextToken(String),
}

/// `StartTime` as CloudWatch rounds it, by how long ago (on the twin's clock) it is: to the
/// minute within 15 days, to 5 minutes within 63 days, to the hour before.
pub fn rounded_start(start: i64, now: i64) -> i64 {
    let age = now - start;
    let step = if age <= 15 * 86_400 {
        60
    } else if age <= 63 * 86_400 {
        300
    } else {
        3600
    };
    start.div_euclid(step) * step
}

/// The request's page: every query evaluated over `[start, end)`, the returned ones cut at
/// `next_token` and `max_datapoints`.
pub fn run(store: &MetricStore, request: &Request, now: i64) -> Result<Page, Refusal> {
    let invalid = |m: String| Refusal::Validation(m);
    if request.queries.is_empty() {
        return Err(invalid(
            "The parameter MetricDataQueries is required.".into(),
        ));
    }
    if request.queries.len() > MAX_QUERIES {
        return Err(invalid(format!(
            "The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}."
        )));
    }
    if request.start >= request.end {
        return Err(invalid(
            "The parameter StartTime must be less than the parameter EndTime.".into(),
        ));
    }
    let mut periods: Vec<i64> = request.queries.iter().filter_map(|q| q.period).collect();
    periods.sort_unstable();
    periods.dedup();
    let period = match periods[..] {
        [p] if p > 0 && p % 60 == 0 => p,
        [p] => {
            return Err(invalid(format!(
                "The parameter Period ({p}) must be a multiple of 60 (the twin keeps one-minute data)."
            )));
        }
        [] => return Err(invalid("No query of the request has a Period.".into())),
        _ => {
            return Err(invalid(format!(
                "The twin evaluates the queries of a request over one period; these have {periods:?}."
            )));
        }
    };
    let mut queries = Vec::with_capacity(request.queries.len());
    for input in &request.queries {
        let q = &input.query;
        if q.get("AccountId").is_some() {
            return Err(invalid(
                "The twin has one account: leave out AccountId.".into(),
            ));
        }
        if q["Expression"]
            .as_str()
            .is_some_and(|e| e.trim_start().to_ascii_uppercase().starts_with("SELECT"))
        {
            return Err(invalid(
                "The twin does not run Metrics Insights queries (SELECT ...).".into(),
            ));
        }
        let query = Query::from_metric_data_query(q).map_err(invalid)?;
        if !query
            .id
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
            || !query
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(invalid(format!(
                "The value {} for parameter MetricDataQueries.member.Id is not valid: it starts with a lowercase letter and holds only letters, digits and underscores.",
                query.id
            )));
        }
        if queries.iter().any(|other: &Query| other.id == query.id) {
            return Err(invalid(format!(
                "The value {} for parameter MetricDataQueries.member.Id is used twice.",
                query.id
            )));
        }
        queries.push(query);
    }
    let start = rounded_start(request.start, now);
    let all = query::run(store, &queries, start, request.end, period).map_err(invalid)?;

    // Every returned query whole, then the page's share of each.
    let whole: Vec<ResultPage> = queries
        .iter()
        .filter(|q| q.return_data)
        .map(|q| {
            let series: Series = all.get(&q.id).cloned().unwrap_or_default();
            let mut points: Vec<(i64, f64)> = series.into_iter().collect();
            if !request.scan_by_ascending {
                points.reverse();
            }
            ResultPage {
                id: q.id.clone(),
                label: label(q),
                points,
                partial: false,
            }
        })
        .collect();
    let total: usize = whole.iter().map(|r| r.points.len()).sum();
    let skip = match &request.next_token {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= total)
            .ok_or_else(|| {
                Refusal::InvalidNextToken(format!("The NextToken {token} is not valid."))
            })?,
    };
    let page_end = skip
        .saturating_add(request.max_datapoints.max(1))
        .min(total);
    let mut offset = 0;
    let results = whole
        .into_iter()
        .map(|mut r| {
            let (from, to) = (offset, offset + r.points.len());
            offset = to;
            let take = skip.clamp(from, to)..page_end.clamp(from, to);
            r.partial = take.end < to;
            r.points = r.points[take.start - from..take.end - from].to_vec();
            r
        })
        .collect();
    Ok(Page {
        results,
        next_token: (page_end < total).then(|| page_end.to_string()),
    })
}

/// The query's `Label`, else the metric's name or the expression's id.
fn label(q: &Query) -> String {
    if let Some(label) = &q.label {
        return label.clone();
    }
    match &q.kind {
        query::QueryKind::Metric { id, .. } => id.name.clone(),
        query::QueryKind::Expression(_) => q.id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cloudwatch::store::MetricId;

    /// On the hour.
    const T0: i64 = 1_800_000_000;

    fn store() -> MetricStore {
        let store = MetricStore::default();
        let requests = MetricId::new("AWS/ApiGateway", "Count", &[("ApiId", "a1")]);
        let errors = MetricId::new("AWS/ApiGateway", "5xx", &[("ApiId", "a1")]);
        for minute in 0..3 {
            let at = (T0 + minute * 60 + 5) * 1000;
            store.put(requests.clone(), at, &[(1.0, 500)], Some("Count"), false);
        }
        store.put(errors, (T0 + 65) * 1000, &[(1.0, 1)], Some("Count"), false);
        store
    }

    fn stat(id: &str, metric: &str) -> QueryInput {
        QueryInput {
            query: json!({"Id": id, "ReturnData": false, "MetricStat": {
                "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": metric,
                    "Dimensions": [{"Name": "ApiId", "Value": "a1"}]},
                "Period": 60, "Stat": "Sum"}}),
            period: Some(60),
        }
    }

    fn request(queries: Vec<QueryInput>) -> Request {
        Request {
            queries,
            start: T0 + 30,
            end: T0 + 180,
            scan_by_ascending: true,
            max_datapoints: DEFAULT_MAX_DATAPOINTS,
            next_token: None,
        }
    }

    fn good() -> QueryInput {
        QueryInput {
            query: json!({"Id": "good", "Expression": "requests - FILL(errors, 0)", "Label": "good requests"}),
            period: None,
        }
    }

    #[test]
    fn metric_stats_and_math_over_the_minutes_of_the_window() {
        let mut total = stat("requests", "Count");
        total.query["ReturnData"] = json!(true);
        let req = request(vec![stat("errors", "5xx"), total, good()]);
        let page = run(&store(), &req, T0 + 600).unwrap();
        assert_eq!(page.next_token, None);
        // The start (T0 + 30 s) is rounded down to its minute; ReturnData false is not returned.
        assert_eq!(
            page.results,
            [
                ResultPage {
                    id: "requests".into(),
                    label: "Count".into(),
                    points: vec![(T0, 500.0), (T0 + 60, 500.0), (T0 + 120, 500.0)],
                    partial: false,
                },
                ResultPage {
                    id: "good".into(),
                    label: "good requests".into(),
                    points: vec![(T0, 500.0), (T0 + 60, 499.0), (T0 + 120, 500.0)],
                    partial: false,
                },
            ]
        );
        let newest_first = run(
            &store(),
            &Request {
                scan_by_ascending: false,
                ..req
            },
            T0 + 600,
        )
        .unwrap();
        assert_eq!(newest_first.results[0].points[0], (T0 + 120, 500.0));
    }

    #[test]
    fn pages_of_max_datapoints_carry_on_with_the_token() {
        let mut req = request(vec![
            stat("requests", "Count"),
            stat("errors", "5xx"),
            good(),
        ]);
        for q in &mut req.queries[..2] {
            q.query["ReturnData"] = json!(true);
        }
        req.max_datapoints = 2;
        let mut seen: Vec<(String, i64, bool)> = Vec::new();
        let mut pages = 0;
        loop {
            let page = run(&store(), &req, T0 + 600).unwrap();
            pages += 1;
            for r in &page.results {
                seen.extend(r.points.iter().map(|(t, _)| (r.id.clone(), *t, r.partial)));
            }
            match page.next_token {
                Some(token) => req.next_token = Some(token),
                None => break,
            }
        }
        // 3 + 1 + 3 points, two a page.
        assert_eq!(pages, 4);
        assert_eq!(seen.len(), 7);
        assert_eq!(seen[0], ("requests".into(), T0, true));
        assert_eq!(seen[2], ("requests".into(), T0 + 120, false));
        assert_eq!(seen[3], ("errors".into(), T0 + 60, false));
        req.next_token = Some("99".into());
        assert!(matches!(
            run(&store(), &req, T0 + 600),
            Err(Refusal::InvalidNextToken(_))
        ));
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let refused = |req: Request| match run(&store(), &req, T0 + 600) {
            Err(Refusal::Validation(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(refused(request(vec![])).contains("required"));
        let mut backwards = request(vec![stat("requests", "Count")]);
        backwards.end = backwards.start;
        assert!(refused(backwards).contains("StartTime"));
        let mut hourly = stat("errors", "5xx");
        hourly.period = Some(3600);
        assert!(refused(request(vec![stat("requests", "Count"), hourly])).contains("one period"));
        assert!(refused(request(vec![stat("Bad-id", "Count")])).contains("Bad-id"));
        assert!(
            refused(request(vec![stat("a", "Count"), stat("a", "5xx")])).contains("used twice")
        );
        let insights = QueryInput {
            query: json!({"Id": "q", "Expression": "SELECT SUM(Count) FROM \"AWS/ApiGateway\""}),
            period: Some(60),
        };
        assert!(refused(request(vec![insights])).contains("Metrics Insights"));
        let too_many = (0..=MAX_QUERIES)
            .map(|i| stat(&format!("q{i}"), "Count"))
            .collect();
        assert!(refused(request(too_many)).contains("500"));
    }

    #[test]
    fn the_start_is_rounded_by_its_age() {
        let now = T0 + 100 * 86_400;
        assert_eq!(rounded_start(now - 3600 - 34, now), now - 3600 - 60);
        assert_eq!(
            rounded_start(now - 20 * 86_400 + 299, now),
            now - 20 * 86_400
        );
        assert_eq!(
            rounded_start(now - 70 * 86_400 + 3599, now),
            now - 70 * 86_400
        );
    }
}
