//! Alarms of `alarms/*.json`, evaluated as CloudWatch evaluates a metric alarm: at each
//! evaluation, the last `evaluation_periods` periods that have ended are read; the alarm goes
//! to ALARM when at least `datapoints_to_alarm` of them breach (M out of N), to OK when fewer
//! do; missing periods count as `treat_missing_data` says. Every alarm starts in
//! INSUFFICIENT_DATA. Each state change is one JSON line on stdout and kept for
//! `/_twin/alarms`.
//!
//! Missing data, as CloudWatch documents it: `notBreaching` and `breaching` fill every
//! missing period; with `ignore` and `missing`, the periods with data decide when there are
//! any, and when there are none `ignore` keeps the current state while `missing` goes to
//! INSUFFICIENT_DATA. Alarms on `AWS/DynamoDB` metrics always ignore missing data.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::composite::CompositeDef;
use super::query::{self, Query, QueryKind};
use super::store::{MetricId, MetricStore, Statistic};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Ok,
    Alarm,
    InsufficientData,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Alarm => "ALARM",
            State::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "GreaterThanOrEqualToThreshold" => Self::GreaterThanOrEqualToThreshold,
            "GreaterThanThreshold" => Self::GreaterThanThreshold,
            "LessThanThreshold" => Self::LessThanThreshold,
            "LessThanOrEqualToThreshold" => Self::LessThanOrEqualToThreshold,
            other => return Err(format!("unsupported comparison `{other}`")),
        })
    }

    fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterThanOrEqualToThreshold => value >= threshold,
            Self::GreaterThanThreshold => value > threshold,
            Self::LessThanThreshold => value < threshold,
            Self::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// As CloudWatch words it in a state reason.
    fn words(self) -> &'static str {
        match self {
            Self::GreaterThanOrEqualToThreshold => "greater than or equal to",
            Self::GreaterThanThreshold => "greater than",
            Self::LessThanThreshold => "less than",
            Self::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingData {
    NotBreaching,
    Breaching,
    Ignore,
    Missing,
}

impl MissingData {
    fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "notBreaching" => Self::NotBreaching,
            "breaching" => Self::Breaching,
            "ignore" => Self::Ignore,
            "missing" => Self::Missing,
            other => return Err(format!("unsupported treat_missing_data `{other}`")),
        })
    }
}

/// One alarm file, placeholders filled.
#[derive(Clone, Debug)]
pub struct AlarmDef {
    pub name: String,
    pub description: String,
    pub runbook: String,
    /// The queries; the one with `ReturnData` is what is compared.
    pub queries: Vec<Query>,
    pub period: i64,
    pub evaluation_periods: usize,
    pub datapoints_to_alarm: usize,
    pub threshold: f64,
    pub comparison: Comparison,
    pub treat_missing_data: MissingData,
}

impl AlarmDef {
    /// Reads the shape of `alarms/*.json`: `metric {namespace, name, dimensions, stat |
    /// extended_stat}` or `metrics` (CloudWatch `MetricDataQuery` objects).
    pub fn from_json(doc: &Value) -> Result<Self, String> {
        let name = doc["name"].as_str().ok_or("`name` missing")?.to_owned();
        let whose = |e: String| format!("alarm {name}: {e}");
        let number = |key: &str| {
            doc[key]
                .as_f64()
                .ok_or_else(|| format!("alarm {name}: `{key}` missing"))
        };
        let period = number("period")? as i64;
        let queries = if let Some(metric) = doc.get("metric") {
            let dimensions: Vec<(&str, &str)> = metric["dimensions"]
                .as_object()
                .map(|d| {
                    d.iter()
                        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                        .collect()
                })
                .unwrap_or_default();
            let stat = metric["stat"]
                .as_str()
                .or_else(|| metric["extended_stat"].as_str())
                .ok_or_else(|| whose("`metric.stat` or `metric.extended_stat` missing".into()))?;
            vec![Query {
                id: "m1".into(),
                kind: QueryKind::Metric {
                    id: MetricId::new(
                        metric["namespace"].as_str().unwrap_or_default(),
                        metric["name"].as_str().unwrap_or_default(),
                        &dimensions,
                    ),
                    stat: Statistic::parse(stat).map_err(whose)?,
                },
                label: None,
                return_data: true,
            }]
        } else {
            doc["metrics"]
                .as_array()
                .ok_or_else(|| whose("neither `metric` nor `metrics`".into()))?
                .iter()
                .map(Query::from_metric_data_query)
                .collect::<Result<Vec<_>, _>>()
                .map_err(whose)?
        };
        if queries.iter().filter(|q| q.return_data).count() != 1 {
            return Err(whose("exactly one query must have `ReturnData`".into()));
        }
        let evaluation_periods = number("evaluation_periods")? as usize;
        Ok(Self {
            description: doc["description"].as_str().unwrap_or_default().to_owned(),
            runbook: doc["runbook"].as_str().unwrap_or_default().to_owned(),
            queries,
            period,
            evaluation_periods,
            datapoints_to_alarm: doc["datapoints_to_alarm"]
                .as_u64()
                .map_or(evaluation_periods, |n| n as usize),
            threshold: number("threshold")?,
            comparison: Comparison::parse(doc["comparison"].as_str().unwrap_or_default())
                .map_err(whose)?,
            treat_missing_data: MissingData::parse(
                doc["treat_missing_data"].as_str().unwrap_or("missing"),
            )
            .map_err(whose)?,
            name,
        })
    }

    /// CloudWatch ignores missing data of `AWS/DynamoDB` metrics whatever the alarm says.
    fn missing_data(&self) -> MissingData {
        let dynamodb = self.queries.iter().any(
            |q| matches!(&q.kind, QueryKind::Metric { id, .. } if id.namespace == "AWS/DynamoDB"),
        );
        if dynamodb {
            MissingData::Ignore
        } else {
            self.treat_missing_data
        }
    }

    /// The compared series over `[start, end)`.
    pub fn series(
        &self,
        store: &MetricStore,
        start: i64,
        end: i64,
    ) -> Result<BTreeMap<i64, f64>, String> {
        let mut all = query::run(store, &self.queries, start, end, self.period)?;
        let returned = self
            .queries
            .iter()
            .find(|q| q.return_data)
            .map(|q| q.id.clone())
            .unwrap_or_default();
        Ok(all.remove(&returned).unwrap_or_default())
    }
}

/// An alarm's current state.
#[derive(Clone, Debug, Serialize)]
pub struct AlarmStatus {
    pub name: String,
    pub description: String,
    pub runbook: String,
    pub state: State,
    pub reason: String,
    /// RFC 3339.
    pub updated: String,
    /// The evaluated datapoints, oldest first (`null` where missing).
    pub datapoints: Vec<Option<f64>>,
    /// A composite alarm's rule; `None` for a metric alarm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_rule: Option<String>,
}

/// One state change, as logged.
#[derive(Clone, Debug, Serialize)]
pub struct StateChange {
    pub alarm: String,
    pub old_state: State,
    pub new_state: State,
    pub reason: String,
    pub timestamp: String,
}

/// How many state changes are kept in memory.
const HISTORY: usize = 1000;

pub struct Alarms {
    defs: Vec<AlarmDef>,
    /// Evaluated after the metric alarms, on their new states; listed after them.
    composites: Vec<CompositeDef>,
    inner: Mutex<Inner>,
}

struct Inner {
    statuses: Vec<AlarmStatus>,
    history: Vec<StateChange>,
}

fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// CloudWatch's datapoint stamp in a reason: `22/11/26 01:20:00`.
fn stamp(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| {
            format!(
                "{:02}/{:02}/{:02} {:02}:{:02}:{:02}",
                t.day(),
                u8::from(t.month()),
                t.year() % 100,
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default()
}

/// The state `datapoints` (oldest first, `None` where missing) lead to, with its reason;
/// `None` keeps the current state.
pub fn decide(
    def: &AlarmDef,
    current: State,
    datapoints: &[(i64, Option<f64>)],
) -> Option<(State, String)> {
    let n = datapoints.len();
    let m = def.datapoints_to_alarm;
    let present: Vec<(i64, f64)> = datapoints
        .iter()
        .filter_map(|(t, v)| v.map(|v| (*t, v)))
        .collect();
    let breaching = present
        .iter()
        .filter(|(_, v)| def.comparison.breaches(*v, def.threshold))
        .count();
    let missing = n - present.len();
    let treatment = def.missing_data();
    if present.is_empty() {
        return match treatment {
            MissingData::NotBreaching => Some((
                State::Ok,
                format!(
                    "Threshold Crossed: no datapoints were received for {n} periods and {n} missing datapoints were treated as [NonBreaching]."
                ),
            )),
            MissingData::Breaching => Some((
                State::Alarm,
                format!(
                    "Threshold Crossed: no datapoints were received for {n} periods and {n} missing datapoints were treated as [Breaching]."
                ),
            )),
            MissingData::Ignore => None,
            MissingData::Missing => Some((
                State::InsufficientData,
                format!(
                    "Insufficient Data: {n} datapoints were unknown (no datapoints were received for {n} periods)."
                ),
            )),
        };
    }
    let filled_breaching = match treatment {
        MissingData::Breaching => breaching + missing,
        _ => breaching,
    };
    let listed: Vec<String> = present
        .iter()
        .rev()
        .map(|(t, v)| format!("{v} ({})", stamp(*t)))
        .collect();
    let evaluated = match treatment {
        MissingData::NotBreaching | MissingData::Breaching => n,
        _ => present.len(),
    };
    let state = if filled_breaching >= m {
        State::Alarm
    } else {
        State::Ok
    };
    let transition = format!("{} -> {}", current.as_str(), state.as_str());
    let missing_note = match treatment {
        MissingData::NotBreaching if missing > 0 => {
            format!(" and {missing} missing datapoints were treated as [NonBreaching]")
        }
        MissingData::Breaching if missing > 0 => {
            format!(" and {missing} missing datapoints were treated as [Breaching]")
        }
        _ => String::new(),
    };
    let reason = format!(
        "Threshold Crossed: {filled_breaching} out of the last {evaluated} datapoints [{}] {} {} the threshold ({}){missing_note} (minimum {m} datapoints for {transition} transition).",
        listed.join(", "),
        if filled_breaching == 1 { "was" } else { "were" },
        def.comparison.words(),
        def.threshold,
    );
    Some((state, reason))
}

/// Where the evaluated range ends at `now`: CloudWatch's default sliding window ends at the
/// last whole minute for periods of a minute or more (an hour-long period is the last sixty
/// minutes, not the last clock hour), and at the last whole period below a minute.
pub fn window_end(now: i64, period: i64) -> i64 {
    let step = if period >= 60 { 60 } else { period.max(1) };
    now - now.rem_euclid(step)
}

/// Records `state` and `reason` on `status`; a change of state is logged and kept.
fn settle(
    status: &mut AlarmStatus,
    state: State,
    reason: String,
    now: i64,
    changes: &mut Vec<StateChange>,
) {
    if state != status.state {
        let change = StateChange {
            alarm: status.name.clone(),
            old_state: status.state,
            new_state: state,
            reason: reason.clone(),
            timestamp: rfc3339(now),
        };
        println!(
            "{}",
            serde_json::json!({
                "level": "INFO",
                "timestamp": change.timestamp,
                "message": "alarm state changed",
                "service": "local-twin",
                "alarm": change.alarm,
                "old_state": change.old_state,
                "new_state": change.new_state,
                "reason": change.reason,
            })
        );
        status.state = state;
        status.updated = rfc3339(now);
        changes.push(change);
    }
    status.reason = reason;
}

impl Alarms {
    pub fn new(defs: Vec<AlarmDef>) -> Self {
        Self::with_composites(defs, Vec::new())
    }

    /// Metric alarms and composite alarms; every name is unique.
    pub fn with_composites(defs: Vec<AlarmDef>, composites: Vec<CompositeDef>) -> Self {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let created =
            |name: &str, description: &str, runbook: &str, rule: Option<&str>| AlarmStatus {
                name: name.to_owned(),
                description: description.to_owned(),
                runbook: runbook.to_owned(),
                state: State::InsufficientData,
                reason: "Unchecked: Initial alarm creation".into(),
                updated: rfc3339(now),
                datapoints: Vec::new(),
                alarm_rule: rule.map(str::to_owned),
            };
        let statuses = defs
            .iter()
            .map(|d| created(&d.name, &d.description, &d.runbook, None))
            .chain(
                composites
                    .iter()
                    .map(|c| created(&c.name, &c.description, &c.runbook, Some(&c.rule_text))),
            )
            .collect();
        Self {
            defs,
            composites,
            inner: Mutex::new(Inner {
                statuses,
                history: Vec::new(),
            }),
        }
    }

    pub fn defs(&self) -> &[AlarmDef] {
        &self.defs
    }

    pub fn composites(&self) -> &[CompositeDef] {
        &self.composites
    }

    /// Evaluates every alarm as of `now` (seconds since the epoch): returns the state changes.
    /// The metric alarms first, then the composite alarms on the states just decided.
    pub fn evaluate(&self, store: &MetricStore, now: i64) -> Vec<StateChange> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut changes = Vec::new();
        let (metric, composite) = inner.statuses.split_at_mut(self.defs.len());
        for (def, status) in self.defs.iter().zip(metric.iter_mut()) {
            let end = window_end(now, def.period);
            let start = end - def.period * def.evaluation_periods as i64;
            let decided = match def.series(store, start, end) {
                Ok(series) => {
                    let points: Vec<(i64, Option<f64>)> = (0..def.evaluation_periods as i64)
                        .map(|i| {
                            let t = start + i * def.period;
                            (t, series.get(&t).copied())
                        })
                        .collect();
                    status.datapoints = points.iter().map(|(_, v)| *v).collect();
                    decide(def, status.state, &points)
                }
                Err(e) => Some((
                    State::InsufficientData,
                    format!("Insufficient Data: the alarm's query failed: {e}"),
                )),
            };
            if let Some((state, reason)) = decided {
                settle(status, state, reason, now, &mut changes);
            }
        }
        // A composite may name another composite: as many passes as there are composites
        // settle any chain (a cycle, which CloudWatch refuses, just stops there).
        for _ in 0..composite.len() {
            let mut moved = false;
            for (i, def) in self.composites.iter().enumerate() {
                let known: Vec<(String, State)> = metric
                    .iter()
                    .chain(composite.iter())
                    .map(|s| (s.name.clone(), s.state))
                    .collect();
                let state_of = |name: &str| {
                    known
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, state)| *state)
                };
                let (state, reason) = def.decide(&state_of);
                moved |= state != composite[i].state;
                settle(&mut composite[i], state, reason, now, &mut changes);
            }
            if !moved {
                break;
            }
        }
        inner.history.extend(changes.iter().cloned());
        let excess = inner.history.len().saturating_sub(HISTORY);
        inner.history.drain(..excess);
        changes
    }

    pub fn statuses(&self) -> Vec<AlarmStatus> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .statuses
            .clone()
    }

    pub fn history(&self) -> Vec<StateChange> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .history
            .clone()
    }

    pub fn state_of(&self, name: &str) -> Option<State> {
        self.statuses()
            .into_iter()
            .find(|s| s.name == name)
            .map(|s| s.state)
    }
}
