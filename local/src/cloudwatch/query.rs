//! Metric data queries (CloudWatch's `MetricDataQuery`): a metric with a statistic, or a math
//! expression over other queries of the same request, evaluated over a window of periods.

use std::collections::BTreeMap;

use serde_json::Value;

use super::math::{self, Expr, Series, Val};
use super::store::{MetricId, MetricStore, Statistic};

#[derive(Clone, Debug)]
pub enum QueryKind {
    Metric { id: MetricId, stat: Statistic },
    Expression(Expr),
}

#[derive(Clone, Debug)]
pub struct Query {
    pub id: String,
    pub kind: QueryKind,
    pub label: Option<String>,
    pub return_data: bool,
}

impl Query {
    /// One `MetricDataQuery` as the alarm files write it (`Id`, `Expression` or `MetricStat`,
    /// `Label`, `ReturnData`).
    pub fn from_metric_data_query(q: &Value) -> Result<Self, String> {
        let id = q
            .get("Id")
            .and_then(Value::as_str)
            .ok_or("a query without `Id`")?
            .to_owned();
        let kind = if let Some(expr) = q.get("Expression").and_then(Value::as_str) {
            QueryKind::Expression(math::parse(expr).map_err(|e| format!("query `{id}`: {e}"))?)
        } else {
            let stat = q
                .get("MetricStat")
                .ok_or_else(|| format!("query `{id}`: neither `Expression` nor `MetricStat`"))?;
            let metric = &stat["Metric"];
            let dimensions: Vec<(&str, &str)> = metric["Dimensions"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .filter_map(|d| Some((d["Name"].as_str()?, d["Value"].as_str()?)))
                        .collect()
                })
                .unwrap_or_default();
            let statistic = stat["Stat"]
                .as_str()
                .ok_or_else(|| format!("query `{id}`: `MetricStat.Stat` missing"))?;
            QueryKind::Metric {
                id: MetricId::new(
                    metric["Namespace"].as_str().unwrap_or_default(),
                    metric["MetricName"].as_str().unwrap_or_default(),
                    &dimensions,
                ),
                stat: Statistic::parse(statistic)?,
            }
        };
        Ok(Self {
            id,
            kind,
            label: q.get("Label").and_then(Value::as_str).map(str::to_owned),
            return_data: q.get("ReturnData").and_then(Value::as_bool).unwrap_or(true),
        })
    }
}

/// Evaluates `queries` over the periods `[start, end)` of `period` seconds: every query's
/// series by id. Expressions may name queries listed before or after them.
pub fn run(
    store: &MetricStore,
    queries: &[Query],
    start: i64,
    end: i64,
    period: i64,
) -> Result<BTreeMap<String, Series>, String> {
    let periods: Vec<i64> = (0..)
        .map(|i| start + i * period)
        .take_while(|t| *t < end)
        .collect();
    let mut done: BTreeMap<String, Series> = BTreeMap::new();
    for q in queries {
        if let QueryKind::Metric { id, stat } = &q.kind {
            done.insert(q.id.clone(), store.statistic(id, *stat, start, end, period));
        }
    }
    // Expressions in dependency order: at most as many rounds as there are expressions.
    let mut pending: Vec<&Query> = queries
        .iter()
        .filter(|q| matches!(q.kind, QueryKind::Expression(_)))
        .collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut left = Vec::new();
        for q in pending {
            let QueryKind::Expression(expr) = &q.kind else {
                continue;
            };
            let mut needs = Vec::new();
            math::ids(expr, &mut needs);
            if needs.iter().all(|n| done.contains_key(n)) {
                let lookup = |id: &str| done.get(id).cloned();
                let series = match math::eval(expr, &lookup, &periods)
                    .map_err(|e| format!("query `{}`: {e}", q.id))?
                {
                    Val::Series(s) => s,
                    // A constant expression is a value at every period, as in CloudWatch.
                    Val::Scalar(v) => periods.iter().map(|t| (*t, v)).collect(),
                };
                done.insert(q.id.clone(), series);
            } else {
                left.push(q);
            }
        }
        if left.len() == before {
            let names: Vec<&str> = left.iter().map(|q| q.id.as_str()).collect();
            return Err(format!(
                "queries {names:?} name ids that no query defines (or each other in a cycle)"
            ));
        }
        pending = left;
    }
    Ok(done)
}
