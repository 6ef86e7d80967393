//! CloudWatch Embedded Metric Format documents, written straight into a buffer.
//!
//! One document per dimension set and per 100 metrics; a histogram with more than 100
//! distinct values goes on in the next document of the same set. Nothing is dropped to keep
//! a limit. Histogram values are sorted and counted: distinct values alone are written as
//! EMF's number or array of numbers; with repeats, as the `Values`/`Counts` object (with
//! `Min`, `Max`, `Count`, `Sum`) that CloudWatch also accepts and that AWS's own EMF
//! writers (the CloudWatch agent, the ADOT EMF exporter) use, so that 1 000 equal
//! latencies cost one value, not 1 000.
//!
//! Why not `metrics_cloudwatch_embedded` (0.10): one process-wide collector, so the
//! request ids set as properties and the values recorded would mix concurrent invocations
//! (a process serving several at once); histograms past 100 values between flushes are dropped;
//! more than 100 metrics are written in one document (CloudWatch rejects it); and there is
//! no `StorageResolution`.

use std::fmt::{self, Write};

use crate::json;

/// At most this many metric definitions per directive, and values per metric.
pub(crate) const MAX_METRICS: usize = 100;
pub(crate) const MAX_VALUES: usize = 100;
/// 30 dimensions per set, `service` included.
pub(crate) const MAX_DIMENSIONS: usize = 30;

/// The dimension every document has (as Powertools names it).
pub(crate) const SERVICE: &str = "service";
/// The cold start document's other dimension.
pub(crate) const FUNCTION_NAME: &str = "function_name";
/// The request's ids, written as properties (never dimensions): API Gateway's, else Lambda's.
pub(crate) const REQUEST_ID: &str = "request_id";
pub(crate) const FUNCTION_REQUEST_ID: &str = "function_request_id";

/// What every document of one flush shares.
pub(crate) struct Context<'a> {
    pub namespace: &'a str,
    pub timestamp_ms: u64,
    /// Members written on every document and never as dimensions, already encoded as
    /// `,"key":value` pairs (the request ids).
    pub properties: &'a str,
}

/// One metric's value as recorded during the invocation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Count(u64),
    /// A gauge, or a histogram's only value.
    Number(f64),
    /// Distinct values, ascending, each with how many times it was recorded.
    Distribution(Vec<(f64, u32)>),
}

impl Value {
    /// How many documents the value needs.
    fn pieces(&self) -> usize {
        match self {
            Value::Count(_) => 1,
            Value::Number(v) => usize::from(v.is_finite()),
            Value::Distribution(d) => d.len().div_ceil(MAX_VALUES),
        }
    }
}

/// Sorts `values` and counts repeats: what [`Value::Distribution`] holds.
pub(crate) fn distribution(mut values: Vec<f64>) -> Vec<(f64, u32)> {
    values.retain(|v| v.is_finite());
    values.sort_unstable_by(f64::total_cmp);
    let mut out: Vec<(f64, u32)> = Vec::with_capacity(values.len());
    for v in values {
        match out.last_mut() {
            Some((last, n)) if *last == v => *n += 1,
            _ => out.push((v, 1)),
        }
    }
    out
}

#[derive(Clone)]
pub(crate) struct Metric<'a> {
    pub name: &'a str,
    /// A CloudWatch unit name (`Count`, `Milliseconds`…), or none.
    pub unit: Option<&'static str>,
    pub high_resolution: bool,
    pub value: Value,
}

/// Writes the documents for `metrics`, which all share the dimensions `dimensions`
/// (`(key, value)`, at most [`MAX_DIMENSIONS`]), one per line. Names, labels and values were
/// held to CloudWatch's rules when recorded ([`crate::emf_rules`]).
pub(crate) fn write_documents(
    out: &mut String,
    cx: &Context<'_>,
    dimensions: &[(&str, &str)],
    metrics: &[Metric<'_>],
) -> fmt::Result {
    write_documents_onto(out, cx, None, dimensions, metrics)
}

/// [`write_documents`], the first document going on from `head`: the members of a JSON
/// object (`{"timestamp":…` without its closing brace) that already holds the dimensions'
/// members and the properties, each with the value the document would give it. Nothing is
/// written, not even `head`, when there is no metric.
pub(crate) fn write_documents_onto(
    out: &mut String,
    cx: &Context<'_>,
    mut head: Option<&str>,
    dimensions: &[(&str, &str)],
    metrics: &[Metric<'_>],
) -> fmt::Result {
    let rounds = metrics.iter().map(|m| m.value.pieces()).max().unwrap_or(0);
    if rounds == 1 && metrics.len() <= MAX_METRICS && metrics.iter().all(|m| m.value.pieces() == 1)
    {
        // The usual flush: one document, nothing to split.
        return document(out, cx, head, dimensions, metrics.iter(), 0);
    }
    let mut round: Vec<&Metric<'_>> = Vec::new();
    for piece in 0..rounds {
        round.clear();
        round.extend(metrics.iter().filter(|m| m.value.pieces() > piece));
        for chunk in round.chunks(MAX_METRICS) {
            document(
                out,
                cx,
                head.take(),
                dimensions,
                chunk.iter().copied(),
                piece,
            )?;
        }
    }
    Ok(())
}

/// One document: `metrics`, each with its `piece`-th part of values; after `head`'s members
/// when there is one.
fn document<'m>(
    out: &mut String,
    cx: &Context<'_>,
    head: Option<&str>,
    dimensions: &[(&str, &str)],
    metrics: impl Iterator<Item = &'m Metric<'m>> + Clone,
    piece: usize,
) -> fmt::Result {
    match head {
        Some(head) => {
            out.push_str(head);
            out.push_str(",\"_aws\":{\"Timestamp\":");
        }
        None => out.push_str("{\"_aws\":{\"Timestamp\":"),
    }
    write!(out, "{},\"CloudWatchMetrics\":", cx.timestamp_ms)?;
    declaration(out, cx.namespace, dimensions, metrics.clone())?;
    out.push('}');
    if head.is_none() {
        for (key, value) in dimensions {
            out.push(',');
            json::string(out, key)?;
            out.push(':');
            json::string(out, value)?;
        }
        out.push_str(cx.properties);
    }
    for metric in metrics {
        out.push(',');
        json::string(out, metric.name)?;
        out.push(':');
        match &metric.value {
            Value::Count(n) => write!(out, "{n}")?,
            Value::Number(v) => number(out, *v)?,
            Value::Distribution(all) => {
                let start = piece * MAX_VALUES;
                let part = &all[start..all.len().min(start + MAX_VALUES)];
                values(out, part)?;
            }
        }
    }
    out.push_str("}\n");
    Ok(())
}

/// The `CloudWatchMetrics` array of a document: `metrics` declared with `dimensions`' keys.
fn declaration<'m>(
    out: &mut String,
    namespace: &str,
    dimensions: &[(&str, &str)],
    metrics: impl Iterator<Item = &'m Metric<'m>>,
) -> fmt::Result {
    out.push_str("[{\"Namespace\":");
    json::string(out, namespace)?;
    out.push_str(",\"Dimensions\":[[");
    for (i, (key, _)) in dimensions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::string(out, key)?;
    }
    out.push_str("]],\"Metrics\":[");
    for (i, metric) in metrics.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"Name\":");
        json::string(out, metric.name)?;
        if let Some(unit) = metric.unit {
            out.push_str(",\"Unit\":");
            json::string(out, unit)?;
        }
        if metric.high_resolution {
            out.push_str(",\"StorageResolution\":1");
        }
        out.push('}');
    }
    out.push_str("]}]");
    Ok(())
}

fn values(out: &mut String, part: &[(f64, u32)]) -> fmt::Result {
    if part.iter().all(|(_, n)| *n == 1) {
        if let [(v, _)] = part {
            return number(out, *v);
        }
        out.push('[');
        list(out, part.iter().map(|(v, _)| *v))?;
        return out.write_char(']');
    }
    out.push_str("{\"Values\":[");
    list(out, part.iter().map(|(v, _)| *v))?;
    out.push_str("],\"Counts\":[");
    list(out, part.iter().map(|(_, n)| f64::from(*n)))?;
    let (count, sum) = part.iter().fold((0u64, 0.0), |(c, s), (v, n)| {
        (c + u64::from(*n), s + v * f64::from(*n))
    });
    out.push_str("],\"Min\":");
    number(out, part[0].0)?;
    out.push_str(",\"Max\":");
    number(out, part[part.len() - 1].0)?;
    write!(out, ",\"Count\":{count},\"Sum\":")?;
    number(out, sum)?;
    out.write_char('}')
}

fn list(out: &mut String, values: impl Iterator<Item = f64>) -> fmt::Result {
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        number(out, v)?;
    }
    Ok(())
}

/// A finite number as JSON: the shortest form that reads back the same, `3` rather than
/// `3.0`, with an exponent only for very large or small magnitudes.
fn number(out: &mut String, v: f64) -> fmt::Result {
    let magnitude = v.abs();
    if magnitude != 0.0 && !(1e-6..1e16).contains(&magnitude) {
        write!(out, "{v:e}")
    } else {
        json::number(out, v)
    }
}

/// The CloudWatch name of a `metrics` unit; `None` where CloudWatch has no such unit.
pub(crate) fn unit_name(unit: metrics::Unit) -> Option<&'static str> {
    use metrics::Unit;
    Some(match unit {
        Unit::Count => "Count",
        Unit::Percent => "Percent",
        Unit::Seconds => "Seconds",
        Unit::Milliseconds => "Milliseconds",
        Unit::Microseconds => "Microseconds",
        Unit::Bytes => "Bytes",
        Unit::Kibibytes => "Kilobytes",
        Unit::Mebibytes => "Megabytes",
        Unit::Gibibytes => "Gigabytes",
        Unit::Tebibytes => "Terabytes",
        Unit::BitsPerSecond => "Bits/Second",
        Unit::KilobitsPerSecond => "Kilobits/Second",
        Unit::MegabitsPerSecond => "Megabits/Second",
        Unit::GigabitsPerSecond => "Gigabits/Second",
        Unit::TerabitsPerSecond => "Terabits/Second",
        Unit::CountPerSecond => "Count/Second",
        Unit::Nanoseconds => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value as Json, json};

    fn cx() -> Context<'static> {
        Context {
            namespace: "ItemsApi",
            timestamp_ms: 1_795_252_502_000,
            properties: ",\"request_id\":\"r-1\"",
        }
    }

    fn docs(dimensions: &[(&str, &str)], metrics: &[Metric<'_>]) -> Vec<Json> {
        let mut out = String::new();
        write_documents(&mut out, &cx(), dimensions, metrics).unwrap();
        assert!(out.ends_with('\n') || out.is_empty());
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn metric(name: &str, value: Value) -> Metric<'_> {
        Metric {
            name,
            unit: Some("Count"),
            high_resolution: false,
            value,
        }
    }

    #[test]
    fn one_document_with_everything_at_the_top_level() {
        let mut latency = metric("Latency", Value::Distribution(distribution(vec![2.5, 1.0])));
        latency.unit = Some("Milliseconds");
        latency.high_resolution = true;
        let docs = docs(
            &[("service", "items"), ("table", "t")],
            &[metric("Hits", Value::Count(3)), latency],
        );
        assert_eq!(
            docs,
            [json!({
                "_aws": {
                    "Timestamp": 1_795_252_502_000_u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "ItemsApi",
                        "Dimensions": [["service", "table"]],
                        "Metrics": [
                            {"Name": "Hits", "Unit": "Count"},
                            {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1}
                        ]
                    }]
                },
                "service": "items",
                "table": "t",
                "request_id": "r-1",
                "Hits": 3,
                "Latency": [1, 2.5]
            })]
        );
    }

    #[test]
    fn repeated_values_are_counted() {
        let d = distribution(vec![3.0, 1.0, 3.0, f64::NAN, 3.0]);
        assert_eq!(d, [(1.0, 1), (3.0, 3)]);
        let docs = docs(&[], &[metric("L", Value::Distribution(d))]);
        assert_eq!(
            docs[0]["L"],
            json!({"Values": [1, 3], "Counts": [1, 3], "Min": 1, "Max": 3, "Count": 4, "Sum": 10})
        );
        assert_eq!(
            docs[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
    }

    #[test]
    fn numbers_are_short_and_valid_json() {
        let mut out = String::new();
        for v in [0.0, 3.0, -1.5, 0.1, 1e20, 1e-9, 123_456.789] {
            out.clear();
            number(&mut out, v).unwrap();
            assert_eq!(out.parse::<f64>().unwrap(), v, "{out}");
            assert!(serde_json::from_str::<f64>(&out).is_ok(), "{out}");
        }
        out.clear();
        number(&mut out, 3.0).unwrap();
        assert_eq!(out, "3");
    }

    #[test]
    fn a_gauge_that_is_not_a_number_is_left_out() {
        assert!(docs(&[], &[metric("G", Value::Number(f64::NAN))]).is_empty());
        assert_eq!(docs(&[], &[metric("G", Value::Number(0.25))])[0]["G"], 0.25);
    }

    #[test]
    fn names_that_need_escaping_are_escaped() {
        let docs = docs(
            &[("k\"ey", "va\\lue")],
            &[metric("Odd \"name\"", Value::Count(1))],
        );
        assert_eq!(docs[0]["Odd \"name\""], 1);
        assert_eq!(docs[0]["k\"ey"], "va\\lue");
    }

    #[test]
    fn every_unit_written_is_one_cloudwatch_knows() {
        // The units of the EMF schema's `MetricUnit` pattern.
        const CLOUDWATCH: &[&str] = &[
            "Seconds",
            "Microseconds",
            "Milliseconds",
            "Bytes",
            "Kilobytes",
            "Megabytes",
            "Gigabytes",
            "Terabytes",
            "Bits",
            "Kilobits",
            "Megabits",
            "Gigabits",
            "Terabits",
            "Percent",
            "Count",
            "Bytes/Second",
            "Kilobytes/Second",
            "Megabytes/Second",
            "Gigabytes/Second",
            "Terabytes/Second",
            "Bits/Second",
            "Kilobits/Second",
            "Megabits/Second",
            "Gigabits/Second",
            "Terabits/Second",
            "Count/Second",
            "None",
        ];
        use metrics::Unit;
        for unit in [
            Unit::Count,
            Unit::Percent,
            Unit::Seconds,
            Unit::Milliseconds,
            Unit::Microseconds,
            Unit::Nanoseconds,
            Unit::Tebibytes,
            Unit::Gibibytes,
            Unit::Mebibytes,
            Unit::Kibibytes,
            Unit::Bytes,
            Unit::TerabitsPerSecond,
            Unit::GigabitsPerSecond,
            Unit::MegabitsPerSecond,
            Unit::KilobitsPerSecond,
            Unit::BitsPerSecond,
            Unit::CountPerSecond,
        ] {
            if let Some(name) = unit_name(unit) {
                assert!(CLOUDWATCH.contains(&name), "{unit:?} as {name}");
            }
        }
    }
}
