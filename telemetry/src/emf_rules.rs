//! What CloudWatch accepts in an EMF document, checked when a metric is recorded. A metric, a
//! label or a value that would break a rule is refused there, with one warning line (once per
//! metric and rule), and never reaches a document: CloudWatch drops a whole document that
//! breaks one, with every other metric in it.
//!
//! The rules, and where they are written:
//! - the EMF specification ("Specification: Embedded metric format", CloudWatch User Guide):
//!   at most 100 metric definitions per directive and 100 values per metric (the writer splits
//!   into more documents, [`crate::emf::write_documents`]), at most 30 dimension keys per set,
//!   a dimension's value a string of at most 1024 characters; its JSON schema: dimension keys
//!   of 1 to 250 characters, units from CloudWatch's list (the writer only writes those of
//!   [`crate::emf::unit_name`]), `StorageResolution` 1 or 60;
//! - the CloudWatch API reference, which the extracted metrics must meet: `MetricDatum` (a
//!   name of 1 to 255 characters; values within ±2^360, never NaN or an infinity) and
//!   `Dimension` (names and values ASCII, no ASCII control character, at least one
//!   non-whitespace character; a name does not start with `:`);
//! - JSON objects with one member per name: a metric or label named like a member the writer
//!   writes itself ([`WRITER_MEMBERS`]), or a label named like its own metric, or twice,
//!   would be a second member of that name.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::emf;

/// The members the writer puts on every document's root besides metrics and labels.
pub(crate) const WRITER_MEMBERS: &[&str] = &[
    "_aws",
    emf::SERVICE,
    emf::FUNCTION_NAME,
    emf::REQUEST_ID,
    emf::FUNCTION_REQUEST_ID,
];

/// `MetricDatum.MetricName`: 1 to 255 characters.
pub(crate) const MAX_METRIC_NAME_CHARS: usize = 255;
/// The EMF schema's `DimensionReference`: 1 to 250 characters (`Dimension.Name` allows 255).
pub(crate) const MAX_DIMENSION_NAME_CHARS: usize = 250;
/// The specification's target member of a dimension, and `Dimension.Value`: 1 to 1024.
pub(crate) const MAX_DIMENSION_VALUE_CHARS: usize = 1024;
/// `MetricDatum.Value` is within ±2^360. A histogram's `Sum` adds up to 100 distinct values
/// each counted up to 2^32 times, so a value is held to 2^320: the sum stays within 2^360.
pub(crate) const MAX_MAGNITUDE: f64 = 2.135_987_035_920_91e96; // 2^320
/// The smallest magnitude besides 0 that CloudWatch's references have named (2^-360).
pub(crate) const MIN_MAGNITUDE: f64 = 4.257_959_840_008_151e-109; // 2^-360

/// A metric's name, for every kind.
pub(crate) fn metric_name(name: &str) -> Result<(), &'static str> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_METRIC_NAME_CHARS {
        return Err("a metric name has 1 to 255 characters");
    }
    if name.chars().all(char::is_whitespace) {
        return Err("a metric name is not blank");
    }
    if WRITER_MEMBERS.contains(&name) {
        return Err("a metric is not named like a member the writer writes");
    }
    Ok(())
}

/// A label of metric `metric`, as a dimension: its key and value.
pub(crate) fn label(metric: &str, key: &str, value: &str) -> Result<(), &'static str> {
    if WRITER_MEMBERS.contains(&key) {
        return Err("a label is not named like a member the writer writes");
    }
    if key == metric {
        return Err("a label is not named like its metric");
    }
    if key.is_empty() || key.len() > MAX_DIMENSION_NAME_CHARS {
        return Err("a label name has 1 to 250 characters");
    }
    if key.starts_with(':') {
        return Err("a label name does not start with `:`");
    }
    ascii_text(key).map_err(|_| "a label name is ASCII, not blank, without control characters")?;
    dimension_value(value)
}

/// A dimension's value (a label's, the service's, the function's name).
pub(crate) fn dimension_value(value: &str) -> Result<(), &'static str> {
    if value.is_empty() || value.len() > MAX_DIMENSION_VALUE_CHARS {
        return Err("a dimension value has 1 to 1024 characters");
    }
    ascii_text(value)
        .map_err(|_| "a dimension value is ASCII, not blank, without control characters")
}

/// ASCII with at least one non-whitespace character and no control character (`Dimension`).
fn ascii_text(text: &str) -> Result<(), ()> {
    let ok = text.bytes().all(|b| b.is_ascii() && !b.is_ascii_control())
        && text.bytes().any(|b| !b.is_ascii_whitespace());
    if ok { Ok(()) } else { Err(()) }
}

/// A value of a gauge or a histogram (a counter's whole numbers always fit).
pub(crate) fn value(v: f64) -> Result<(), &'static str> {
    if !v.is_finite() {
        return Err("a value is a finite number");
    }
    let magnitude = v.abs();
    if magnitude > MAX_MAGNITUDE || (magnitude != 0.0 && magnitude < MIN_MAGNITUDE) {
        return Err("a value's magnitude is 0 or within 2^-360 to 2^320");
    }
    Ok(())
}

/// A CloudWatch namespace (`Namespace` of `PutMetricData`, the concepts page): 1 to 255
/// characters from letters, digits, `.`, `-`, `_`, `/`, `#`, `:` and space, at least one not
/// a space, and not `AWS/…`, which is AWS's own.
pub(crate) fn namespace(ns: &str) -> Result<(), &'static str> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b".-_/#: ".contains(&b);
    if ns.is_empty()
        || ns.len() > 255
        || !ns.bytes().all(allowed)
        || ns.bytes().all(|b| b == b' ')
        || ns.starts_with("AWS/")
    {
        return Err("a namespace has 1 to 255 of A-Z a-z 0-9 . - _ / # : and space, not AWS/");
    }
    Ok(())
}

/// Refusals warned about so far: each `(metric, label, rule)` is warned about once. Capped so
/// that names made up at run time cannot grow it without end; past the cap, refusals are
/// still made, and no longer written about.
static WARNED: Mutex<Option<HashSet<Refusal>>> = Mutex::new(None);
/// `(metric, label or "", rule)`.
type Refusal = (Box<str>, Box<str>, &'static str);
const MAX_WARNED: usize = 1024;

/// One warning line for a refusal, the first time it is made.
pub(crate) fn warn_once(metric: &str, label: Option<&str>, rule: &'static str) {
    let first = {
        let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
        let warned = warned.get_or_insert_with(HashSet::new);
        warned.len() < MAX_WARNED
            && warned.insert((metric.into(), label.unwrap_or("").into(), rule))
    };
    if first {
        match label {
            Some(label) => {
                tracing::warn!(metric, label, rule, "EMF label refused: it is not written")
            }
            None => tracing::warn!(metric, rule, "EMF metric refused: it is not written"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_magnitudes_are_the_powers_of_two_they_say() {
        assert_eq!(MAX_MAGNITUDE, 2f64.powi(320));
        assert_eq!(MIN_MAGNITUDE, 2f64.powi(-360));
        // 100 values at the limit, each counted u32::MAX times, sum within CloudWatch's 2^360.
        assert!(MAX_MAGNITUDE * 100.0 * f64::from(u32::MAX) < 2f64.powi(360));
    }

    #[test]
    fn metric_names() {
        assert!(metric_name("ItemsCreated").is_ok());
        assert!(
            metric_name(&"é".repeat(255)).is_ok(),
            "characters, not bytes"
        );
        for bad in ["", " \t", &"m".repeat(256), "_aws", "service", "request_id"] {
            assert!(metric_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn labels() {
        assert!(label("M", "table", "items-table").is_ok());
        assert!(label("M", &"k".repeat(250), &"v".repeat(1024)).is_ok());
        for (key, value) in [
            ("service", "x"),
            ("function_name", "x"),
            ("function_request_id", "x"),
            ("M", "x"),
            ("", "x"),
            (&"k".repeat(251), "x"),
            (":key", "x"),
            ("clé", "x"),
            ("   ", "x"),
            ("tab\tkey", "x"),
            ("k", ""),
            ("k", " "),
            ("k", "é"),
            ("k", "line\nbreak"),
            ("k", &"v".repeat(1025)),
        ] {
            assert!(label("M", key, value).is_err(), "{key:?}={value:?}");
        }
    }

    #[test]
    fn values() {
        for ok in [
            0.0,
            -0.0,
            1.5,
            -3e90,
            MAX_MAGNITUDE,
            MIN_MAGNITUDE,
            -MIN_MAGNITUDE,
        ] {
            assert!(value(ok).is_ok(), "{ok}");
        }
        for bad in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -1e97,
            1e-300,
            5e-324,
        ] {
            assert!(value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn namespaces() {
        for ok in ["ItemsApi", "My App/v1.2#x:y_z-w", &"n".repeat(255)] {
            assert!(namespace(ok).is_ok(), "{ok}");
        }
        for bad in ["", " ", "AWS/Lambda", "é", "a\nb", "a*b", &"n".repeat(256)] {
            assert!(namespace(bad).is_err(), "{bad:?}");
        }
    }
}
