//! Reading Embedded Metric Format documents into the store, as CloudWatch Logs does for a
//! Lambda function's log group.
//!
//! A document is parsed whole with serde_json, then read: its `_aws` metadata (the
//! `Timestamp` in milliseconds and the `CloudWatchMetrics` directives), and for each directive,
//! each dimension set and each metric, the member of the metric's name. A metric's value is a
//! number, an array of numbers, or the `{Values, Counts, Min, Max, Count, Sum}` object; each
//! dimension set makes its own metric, with the dimension values read from the document's
//! top-level members. Of repeated member names the last counts, as serde_json keeps it.

use serde_json::Value;

use super::store::MetricStore;

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

fn invalid(message: &str) -> EmfError {
    EmfError::Invalid(message.to_owned())
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

/// Puts every metric of one EMF document into `store`, its timestamp moved by `shift_ms` (the
/// twin's clock offset); returns how many metric values (per dimension set) it put. The
/// metrics are put as they are read: those before the first invalid one are kept.
pub fn ingest_line_shifted(
    store: &MetricStore,
    line: &str,
    shift_ms: i64,
) -> Result<usize, EmfError> {
    let doc: Value =
        serde_json::from_str(line.trim()).map_err(|e| EmfError::NotJson(e.to_string()))?;
    let aws = doc.get("_aws").ok_or(EmfError::NotEmf)?;
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
            // A name given twice is one dimension of the metric.
            dimensions.sort_unstable();
            dimensions.dedup();
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
                store.handle(namespace, name, &dimensions).put(
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

/// Puts every metric of one EMF document into `store`; returns how many metric values (per
/// dimension set) it put.
pub fn ingest_line(store: &MetricStore, line: &str) -> Result<usize, EmfError> {
    ingest_line_shifted(store, line, 0)
}

/// [`ingest_line_shifted`], a document not taken logged as a warning (0 put).
pub fn ingest_line_logged(store: &MetricStore, line: &str, shift_ms: i64) -> usize {
    ingest_line_shifted(store, line, shift_ms).unwrap_or_else(|err| {
        tracing::warn!(error = %err, "EMF document not taken into the metric store");
        0
    })
}

/// Every EMF document of a flush (one a line); lines that are not EMF are passed over.
pub fn ingest(store: &MetricStore, text: &str) -> usize {
    ingest_shifted(store, text, 0)
}

/// [`ingest`] with every timestamp moved by `shift_ms` (the twin's clock offset).
pub fn ingest_shifted(store: &MetricStore, text: &str, shift_ms: i64) -> usize {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| ingest_line_logged(store, line, shift_ms))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::store::{MetricId, Statistic};

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
    fn a_repeated_member_counts_as_its_last_value() {
        for (first, last, expected) in [("1", "7", 7.0), ("1", "[7]", 7.0)] {
            let store = MetricStore::new();
            let line = doc(first);
            let line = format!(r#"{},"RequestLatency":{last}}}"#, &line[..line.len() - 1]);
            assert_eq!(ingest_line(&store, &line).unwrap(), 2, "{line}");
            let start = T - T % 60;
            let max = store.statistic(&latency(), Statistic::Maximum, start, start + 60, 60);
            assert_eq!(max.get(&start), Some(&expected), "{line}");
        }
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
    fn each_document_is_kept_on_its_own_dimension_values() {
        let store = MetricStore::new();
        for (service, value) in [("items", "4"), ("public", "5"), ("items", "6")] {
            let line =
                doc(value).replace(r#""service":"items""#, &format!(r#""service":"{service}""#));
            assert_eq!(ingest_line(&store, &line).unwrap(), 2);
        }
        // A declared metric without a value is skipped.
        let partial = doc("7").replace(r#","RequestLatency":7"#, "");
        assert_eq!(ingest_line(&store, &partial).unwrap(), 1);
        let start = T - T % 60;
        let sum = |service| {
            let id = MetricId::new("ItemsApi", "RequestLatency", &[("service", service)]);
            store
                .statistic(&id, Statistic::Sum, start, start + 60, 60)
                .get(&start)
                .copied()
        };
        assert_eq!(sum("items"), Some(10.0));
        assert_eq!(sum("public"), Some(5.0));
        let requests = MetricId::new("ItemsApi", "Requests", &[("service", "items")]);
        let requests = store.statistic(&requests, Statistic::Sum, start, start + 60, 60);
        assert_eq!(requests.get(&start), Some(&3.0));
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
    fn json_decides_what_a_document_holds() {
        let store = MetricStore::new();
        let line = doc("5");
        let open = &line[..line.len() - 1];
        // A later `_aws` wins, as the last member of a name does in JSON: no metric.
        let later_aws = format!(r#"{open},"_aws":{{"Timestamp":1,"CloudWatchMetrics":[]}}}}"#);
        assert_eq!(ingest_line(&store, &later_aws), Ok(0));
        let stamp = (T * 1000).to_string();
        let leading_zero = line.replacen(&stamp, &format!("0{stamp}"), 1);
        let garbage = format!("{}x", &line[..line.find(r#","service""#).unwrap()]);
        for case in [leading_zero, garbage] {
            let got = ingest_line(&store, &case);
            assert!(matches!(got, Err(EmfError::NotJson(_))), "{case}: {got:?}");
        }
        assert!(store.list().is_empty(), "nothing put by those");
        // Whitespace around the document and inside it is JSON's.
        let spaced = format!(
            "  {}  ",
            line.replace(r#""Requests":1"#, r#""Requests" : 1"#)
        );
        assert_eq!(ingest_line(&store, &spaced), Ok(2));
    }

    #[test]
    fn members_are_read_as_json_values() {
        // Each value as a metric's and as a dimension's: how many metrics are put, or which
        // refusal.
        use EmfError::{Invalid, NotJson};
        let numbers = [
            "0",
            "-0",
            "7",
            "12.5",
            "1e3",
            "1E+3",
            "2.5e-3",
            "0.1",
            "-4.75",
            "9007199254740993",
        ];
        let strings = [
            r#""x""#,
            r#""""#,
            r#""items""#,
            r#""it\u0065ms""#,
            r#""a\"b""#,
        ];
        let invalid_json = [
            "01", "1.", ".5", "-", "1e", "1e+", "--1", "1e400", "-1e400", "1x", "\"a\tb\"",
            r#""open"#,
        ];
        let is_invalid = |got: &Result<usize, EmfError>| matches!(got, Err(Invalid(_)));
        let is_not_json = |got: &Result<usize, EmfError>| matches!(got, Err(NotJson(_)));
        let cases = |value: &str| {
            let as_metric = doc(value);
            let as_dimension =
                doc("3").replace(r#""service":"items""#, &format!(r#""service":{value}"#));
            let store = MetricStore::new();
            (
                ingest_line(&store, &as_metric),
                ingest_line(&MetricStore::new(), &as_dimension),
            )
        };
        for value in numbers {
            let (metric, dimension) = cases(value);
            assert_eq!(metric, Ok(2), "{value}");
            assert!(is_invalid(&dimension), "{value}: {dimension:?}");
        }
        for value in strings {
            let (metric, dimension) = cases(value);
            assert!(is_invalid(&metric), "{value}: {metric:?}");
            assert_eq!(dimension, Ok(2), "{value}");
        }
        for value in invalid_json {
            let (metric, dimension) = cases(value);
            assert!(is_not_json(&metric), "{value}: {metric:?}");
            assert!(is_not_json(&dimension), "{value}: {dimension:?}");
        }
        // An array of numbers is a metric's value; words and other shapes are not, and none
        // of them is a dimension's.
        for (value, metric_puts) in [
            (" 1", true),
            ("1 ", true),
            ("[1]", true),
            ("true", false),
            ("null", false),
            ("{}", false),
        ] {
            let (metric, dimension) = cases(value);
            if metric_puts {
                assert_eq!(metric, Ok(2), "{value}");
            } else {
                assert!(is_invalid(&metric), "{value}: {metric:?}");
            }
            assert!(is_invalid(&dimension), "{value}: {dimension:?}");
        }
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let store = MetricStore::new();
        let refusal = |line: &str| ingest_line(&store, line).unwrap_err().to_string();
        assert_eq!(
            refusal(&doc("\"x\"")),
            "invalid EMF document: metric `RequestLatency`: a metric value must be a number, an array or a Values/Counts object"
        );
        assert_eq!(
            refusal(&doc(r#"{"Values":[1],"Counts":[]}"#)),
            "invalid EMF document: metric `RequestLatency`: `Values` and `Counts` differ in length"
        );
        assert_eq!(
            refusal(&doc("4").replace(r#""service":"items","#, "")),
            "invalid EMF document: dimension `service` has no string value"
        );
        assert_eq!(
            refusal(r#"{"_aws":{"Timestamp":"now","CloudWatchMetrics":[]}}"#),
            "invalid EMF document: `_aws.Timestamp` must be milliseconds"
        );
        assert_eq!(
            refusal(r#"{"_aws":{"Timestamp":1}}"#),
            "invalid EMF document: `_aws.CloudWatchMetrics` must be an array"
        );
        assert_eq!(
            refusal(r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{}]}}"#),
            "invalid EMF document: a directive without `Namespace`"
        );
        assert_eq!(
            refusal(r#"{"level":"INFO"}"#),
            "no `_aws` metadata: not an EMF document"
        );
        assert!(refusal("plain text").starts_with("not JSON: "));
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
