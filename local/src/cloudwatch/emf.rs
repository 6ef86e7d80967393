//! Reading Embedded Metric Format documents into the store, as CloudWatch Logs does for a
//! Lambda function's log group.
//!
//! A metric's value is a number, an array of numbers, or the `{Values, Counts, Min, Max, Count,
//! Sum}` object; each dimension set of a directive makes its own metric, with the dimension
//! values read from the document's top-level members.

use serde_json::Value;

use super::store::{MetricId, MetricStore};

/// Why a line was not taken as EMF.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum EmfError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("no `_aws` metadata: not an EMF document")]
    NotEmf,
    #[error("invalid EMF document: {0}")]
    Invalid(String),
}

/// The values of a metric member: `(value, count)` pairs.
fn values_of(member: &Value) -> Result<Vec<(f64, u64)>, String> {
    match member {
        Value::Number(n) => Ok(vec![(n.as_f64().ok_or("not a number")?, 1)]),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_f64()
                    .map(|v| (v, 1))
                    .ok_or_else(|| "a non-number in an array".into())
            })
            .collect(),
        Value::Object(o) => {
            let values = o
                .get("Values")
                .and_then(Value::as_array)
                .ok_or("`Values` missing")?;
            let counts = o
                .get("Counts")
                .and_then(Value::as_array)
                .ok_or("`Counts` missing")?;
            if values.len() != counts.len() {
                return Err("`Values` and `Counts` differ in length".into());
            }
            values
                .iter()
                .zip(counts)
                .map(|(v, c)| {
                    let v = v.as_f64().ok_or("a non-number in `Values`")?;
                    let c = c.as_f64().ok_or("a non-number in `Counts`")?;
                    Ok((v, c.round() as u64))
                })
                .collect()
        }
        _ => Err("a metric value must be a number, an array or a Values/Counts object".into()),
    }
}

/// Puts every metric of one EMF document into `store`; returns how many metric values (per
/// dimension set) it put.
pub fn ingest_line(store: &MetricStore, line: &str) -> Result<usize, EmfError> {
    ingest_line_shifted(store, line, 0)
}

/// [`ingest_line`] with the document's timestamp moved by `shift_ms` (the twin's clock offset).
fn ingest_line_shifted(store: &MetricStore, line: &str, shift_ms: i64) -> Result<usize, EmfError> {
    match fast::ingest(store, line.trim(), shift_ms) {
        Some(put) => Ok(put),
        None => ingest_any(store, line, shift_ms),
    }
}

/// The common document read without building a JSON tree: members borrowed from the line,
/// metadata read into types, each value a single number. Anything else (escaped names,
/// arrays, value objects, an invalid document) is left to [`ingest_any`], which also words
/// the errors; nothing is put unless the whole document is read.
mod fast {
    use std::collections::HashMap;

    use serde::Deserialize;
    use serde_json::value::RawValue;

    use super::MetricStore;

    #[derive(Deserialize)]
    struct Metadata<'a> {
        #[serde(rename = "Timestamp")]
        timestamp: i64,
        #[serde(rename = "CloudWatchMetrics", borrow)]
        directives: Vec<Directive<'a>>,
    }

    #[derive(Deserialize)]
    struct Directive<'a> {
        #[serde(rename = "Namespace")]
        namespace: &'a str,
        #[serde(rename = "Dimensions", borrow)]
        dimensions: Vec<Vec<&'a str>>,
        #[serde(rename = "Metrics", borrow)]
        metrics: Vec<Metric<'a>>,
    }

    #[derive(Deserialize)]
    struct Metric<'a> {
        #[serde(rename = "Name")]
        name: &'a str,
        #[serde(rename = "Unit")]
        unit: Option<&'a str>,
        #[serde(rename = "StorageResolution")]
        storage_resolution: Option<i64>,
    }

    pub(super) fn ingest(store: &MetricStore, line: &str, shift_ms: i64) -> Option<usize> {
        let members: HashMap<&str, &RawValue> = serde_json::from_str(line).ok()?;
        let aws: Metadata = serde_json::from_str(members.get("_aws")?.get()).ok()?;
        let mut puts = Vec::new();
        for directive in &aws.directives {
            for set in &directive.dimensions {
                let mut dimensions = Vec::with_capacity(set.len());
                for key in set {
                    let value: &str = serde_json::from_str(members.get(key)?.get()).ok()?;
                    dimensions.push((*key, value));
                }
                for metric in &directive.metrics {
                    // A declared metric without a value is skipped, as CloudWatch does.
                    let Some(value) = members.get(metric.name) else {
                        continue;
                    };
                    let value: f64 = serde_json::from_str(value.get()).ok()?;
                    let handle = store.handle(directive.namespace, metric.name, &dimensions);
                    puts.push((handle, value, metric));
                }
            }
        }
        let timestamp = aws.timestamp + shift_ms;
        for (handle, value, metric) in &puts {
            let high_resolution = metric.storage_resolution == Some(1);
            handle.put(timestamp, &[(*value, 1)], metric.unit, high_resolution);
        }
        Some(puts.len())
    }
}

/// Any document, read as a JSON tree; the errors say what is wrong with it.
fn ingest_any(store: &MetricStore, line: &str, shift_ms: i64) -> Result<usize, EmfError> {
    let doc: Value =
        serde_json::from_str(line.trim()).map_err(|e| EmfError::NotJson(e.to_string()))?;
    let aws = doc.get("_aws").ok_or(EmfError::NotEmf)?;
    let invalid = |m: &str| EmfError::Invalid(m.to_owned());
    let timestamp = aws
        .get("Timestamp")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("`_aws.Timestamp` must be milliseconds"))?
        + shift_ms;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("`_aws.CloudWatchMetrics` must be an array"))?;
    let mut put = 0;
    for directive in directives {
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("a directive without `Namespace`"))?;
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("a directive without `Dimensions`"))?;
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("a directive without `Metrics`"))?;
        for set in sets {
            let keys = set
                .as_array()
                .ok_or_else(|| invalid("a dimension set must be an array"))?;
            let mut dimensions = Vec::with_capacity(keys.len());
            for key in keys {
                let key = key
                    .as_str()
                    .ok_or_else(|| invalid("a dimension name must be a string"))?;
                let value = doc.get(key).and_then(Value::as_str).ok_or_else(|| {
                    EmfError::Invalid(format!("dimension `{key}` has no string value"))
                })?;
                dimensions.push((key, value));
            }
            for metric in metrics {
                let name = metric
                    .get("Name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("a metric without `Name`"))?;
                let unit = metric.get("Unit").and_then(Value::as_str);
                let high_resolution =
                    metric.get("StorageResolution").and_then(Value::as_i64) == Some(1);
                // A declared metric without a value is skipped, as CloudWatch does.
                let Some(member) = doc.get(name) else {
                    continue;
                };
                let values = values_of(member)
                    .map_err(|e| EmfError::Invalid(format!("metric `{name}`: {e}")))?;
                store.put(
                    MetricId::new(namespace, name, &dimensions),
                    timestamp,
                    &values,
                    unit,
                    high_resolution,
                );
                put += 1;
            }
        }
    }
    Ok(put)
}

/// Every EMF document of a flush (one a line); lines that are not EMF are passed over.
pub fn ingest(store: &MetricStore, text: &str) -> usize {
    ingest_shifted(store, text, 0)
}

/// [`ingest`] with every timestamp moved by `shift_ms` (the twin's clock offset).
pub fn ingest_shifted(store: &MetricStore, text: &str, shift_ms: i64) -> usize {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| match ingest_line_shifted(store, line, shift_ms) {
            Ok(n) => n,
            Err(err) => {
                tracing::warn!(error = %err, "EMF document not taken into the metric store");
                0
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::store::Statistic;

    const T: i64 = 1_800_000_000;

    fn doc(value: &str) -> String {
        format!(
            r#"{{"_aws":{{"Timestamp":{},"CloudWatchMetrics":[{{"Namespace":"ItemsApi","Dimensions":[["service"]],"Metrics":[{{"Name":"Requests","Unit":"Count"}},{{"Name":"RequestLatency","Unit":"Milliseconds","StorageResolution":1}}]}}]}},"service":"items","request_id":"r-1","Requests":1,"RequestLatency":{value}}}"#,
            T * 1000
        )
    }

    fn latency() -> MetricId {
        MetricId::new("ItemsApi", "RequestLatency", &[("service", "items")])
    }

    #[test]
    fn numbers_arrays_and_value_count_objects() {
        let store = MetricStore::new();
        assert_eq!(ingest_line(&store, &doc("4")).unwrap(), 2);
        assert_eq!(ingest_line(&store, &doc("[1, 2.5]")).unwrap(), 2);
        let object = r#"{"Values":[10,20],"Counts":[3,1],"Min":10,"Max":20,"Count":4,"Sum":50}"#;
        assert_eq!(ingest_line(&store, &doc(object)).unwrap(), 2);
        let start = T - T % 60;
        let count = store.statistic(&latency(), Statistic::SampleCount, start, start + 60, 60);
        assert_eq!(count.get(&start), Some(&7.0));
        let sum = store.statistic(&latency(), Statistic::Sum, start, start + 60, 60);
        assert_eq!(sum.get(&start), Some(&(4.0 + 3.5 + 50.0)));
        let requests = MetricId::new("ItemsApi", "Requests", &[("service", "items")]);
        let requests = store.statistic(&requests, Statistic::Sum, start, start + 60, 60);
        assert_eq!(requests.get(&start), Some(&3.0));
        // StorageResolution 1: kept per second.
        let per_second = store.statistic(&latency(), Statistic::SampleCount, T, T + 1, 1);
        assert_eq!(per_second.get(&T), Some(&7.0));
    }

    #[test]
    fn escaped_names_and_values_are_read_as_plain_ones() {
        // Escapes leave the borrowed reading to the tree; the metric is the same either way.
        let store = MetricStore::new();
        let plain = doc("4");
        let escaped = plain
            .replace(r#""service":"items""#, r#""servic\u0065":"ite\u006ds""#)
            .replace(r#"["service"]"#, r#"["servic\u0065"]"#);
        assert_ne!(plain, escaped);
        assert_eq!(ingest_line(&store, &plain).unwrap(), 2);
        assert_eq!(ingest_line(&store, &escaped).unwrap(), 2);
        let start = T - T % 60;
        let count = store.statistic(&latency(), Statistic::SampleCount, start, start + 60, 60);
        assert_eq!(count.get(&start), Some(&2.0));
    }

    #[test]
    fn lines_that_are_not_emf_are_passed_over() {
        let store = MetricStore::new();
        assert_eq!(
            ingest_line(&store, r#"{"level":"INFO"}"#),
            Err(EmfError::NotEmf)
        );
        assert!(matches!(
            ingest_line(&store, "plain text"),
            Err(EmfError::NotJson(_))
        ));
        assert!(matches!(
            ingest_line(&store, &doc("\"fast\"")),
            Err(EmfError::Invalid(_))
        ));
        let text = format!("{}\nnot json\n{}\n", doc("1"), doc("2"));
        assert_eq!(ingest(&store, &text), 4);
    }

    #[test]
    fn a_shift_moves_every_document_onto_the_twin_s_clock() {
        let store = MetricStore::new();
        let two_minutes = 120_000;
        assert_eq!(ingest_shifted(&store, &doc("4"), two_minutes), 2);
        let start = T - T % 60;
        let requests = MetricId::new("ItemsApi", "Requests", &[("service", "items")]);
        let at = |from: i64| store.statistic(&requests, Statistic::Sum, from, from + 60, 60);
        assert!(at(start).is_empty(), "not at the document's own time");
        assert_eq!(at(start + 120).get(&(start + 120)), Some(&1.0));
    }

    #[test]
    fn the_telemetry_crate_s_documents_are_read() {
        let store = MetricStore::new();
        // Shape written by `telemetry` (see its emf module): a dimension set of two.
        let line = r#"{"_aws":{"Timestamp":1800000000000,"CloudWatchMetrics":[{"Namespace":"ItemsApi","Dimensions":[["function_name","service"]],"Metrics":[{"Name":"ColdStart","Unit":"Count"}]}]},"function_name":"items-api-items","service":"items","ColdStart":1}"#;
        assert_eq!(ingest_line(&store, line).unwrap(), 1);
        let listed = store.list();
        assert_eq!(listed[0].0.dimensions.len(), 2);
    }
}
