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

/// Reads EMF documents into a store, remembering the directives it has read: a function writes
/// the same `CloudWatchMetrics` in every document, so each is read (and its series found) once.
#[derive(Default)]
pub struct EmfReader {
    directives: fast::Directives,
}

impl EmfReader {
    /// [`ingest_line`] with the document's timestamp moved by `shift_ms` (the twin's clock
    /// offset).
    pub fn ingest_line_shifted(
        &self,
        store: &MetricStore,
        line: &str,
        shift_ms: i64,
    ) -> Result<usize, EmfError> {
        match fast::ingest(&self.directives, store, line.trim(), shift_ms) {
            Some(put) => Ok(put),
            None => ingest_any(store, line, shift_ms),
        }
    }

    /// [`ingest`] with every timestamp moved by `shift_ms`.
    pub fn ingest_shifted(&self, store: &MetricStore, text: &str, shift_ms: i64) -> usize {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| self.ingest_line_logged(store, line, shift_ms))
            .sum()
    }

    /// [`Self::ingest_line_shifted`], a document not taken logged as a warning (0 put).
    pub fn ingest_line_logged(&self, store: &MetricStore, line: &str, shift_ms: i64) -> usize {
        self.ingest_line_shifted(store, line, shift_ms)
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "EMF document not taken into the metric store");
                0
            })
    }
}

/// Puts every metric of one EMF document into `store`; returns how many metric values (per
/// dimension set) it put.
pub fn ingest_line(store: &MetricStore, line: &str) -> Result<usize, EmfError> {
    EmfReader::default().ingest_line_shifted(store, line, 0)
}

/// The common document read without building a JSON tree: members borrowed from the line,
/// each value a single number, the metadata's directives read once per distinct text (with the
/// series of each set of dimension values). Anything else (escaped names, arrays, value
/// objects, an invalid document) is left to [`ingest_any`], which also words the errors;
/// nothing is put unless the whole document is read.
///
/// A function's documents have a handful of members and it writes a few distinct directives:
/// lists scanned in order find them for less than hashing their names and texts would cost.
mod fast {
    use std::fmt;
    use std::sync::{Arc, Mutex};

    use serde::Deserialize;
    use serde::de::{MapAccess, Visitor};
    use serde_json::value::RawValue;

    use super::MetricStore;
    use crate::cloudwatch::store::MetricHandle;
    use crate::per_thread::PerThread;

    #[derive(Deserialize)]
    struct Metadata<'a> {
        #[serde(rename = "Timestamp")]
        timestamp: i64,
        #[serde(rename = "CloudWatchMetrics", borrow)]
        directives: &'a RawValue,
    }

    /// A document: its `_aws` metadata read as the members are, the other members borrowed.
    struct Document<'a> {
        metadata: Option<Metadata<'a>>,
        members: Vec<(&'a str, &'a RawValue)>,
    }

    impl<'a> Document<'a> {
        /// A member's value; of repeated names the last, as a JSON object keeps.
        fn get(&self, name: &str) -> Option<&'a RawValue> {
            self.members
                .iter()
                .rev()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
        }
    }

    impl<'de> Deserialize<'de> for Document<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Members;
            impl<'de> Visitor<'de> for Members {
                type Value = Document<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("an EMF document")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    let mut document = Document {
                        metadata: None,
                        members: Vec::with_capacity(8),
                    };
                    while let Some(key) = map.next_key::<&'de str>()? {
                        if key == "_aws" {
                            document.metadata = Some(map.next_value()?);
                        } else {
                            document.members.push((key, map.next_value()?));
                        }
                    }
                    Ok(document)
                }
            }
            deserializer.deserialize_map(Members)
        }
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

    /// One `CloudWatchMetrics` text, read.
    pub(super) struct Read {
        /// Every dimension name the sets use, in order of first use.
        keys: Vec<String>,
        /// Per (directive, set, metric) put: the namespace, the set as indexes into `keys`,
        /// the metric's name, unit and resolution.
        puts: Vec<Put>,
        /// The series of `puts`, by the dimension values (one per key), found once.
        series: Mutex<Vec<Series>>,
    }

    /// The dimension values (one per key) and the series of every put for them.
    type Series = (Vec<Box<str>>, Arc<[MetricHandle]>);

    struct Put {
        namespace: String,
        set: Vec<usize>,
        name: String,
        unit: Option<String>,
        high_resolution: bool,
    }

    /// The directives read so far, with their text. Bounded: a twin's functions write a few.
    /// Each thread keeps its own (and its own series found for them): every request's
    /// document is matched here, and a list both workers lock and share counts in would
    /// move between their cores on every request.
    #[derive(Default)]
    pub(super) struct Directives(PerThread<Vec<(Box<str>, Arc<Read>)>>);

    const MAX_DIRECTIVES: usize = 256;

    /// Keeps `entry` in a bounded list: a full list starts again (what a stream of ever
    /// different texts or values would otherwise grow without end).
    fn remember<T>(list: &mut Vec<T>, entry: T) {
        if list.len() >= MAX_DIRECTIVES {
            list.clear();
        }
        list.push(entry);
    }

    /// How a function's documents begin: `{"_aws":{"Timestamp":` then digits, then this, then
    /// the directives' text and the metadata's `}`.
    const HEAD: &str = r#"{"_aws":{"Timestamp":"#;
    const DIRECTIVES_KEY: &str = r#","CloudWatchMetrics":"#;

    impl Directives {
        /// A document that begins as the telemetry crate writes it, with a directives text read
        /// before: its timestamp, the directives and the rest of the line after the metadata
        /// (`,"member":…}`). The text is compared byte for byte with one already parsed and
        /// valid, so the part of the line that is most of its length is not parsed again.
        pub(super) fn known_head<'l>(&self, line: &'l str) -> Option<(i64, Arc<Read>, &'l str)> {
            let rest = line.strip_prefix(HEAD)?;
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            // JSON allows no leading zero; anything else unusual is left to the full parse.
            if digits == 0 || digits > 18 || (digits > 1 && rest.starts_with('0')) {
                return None;
            }
            let timestamp = rest[..digits].parse().ok()?;
            let rest = rest[digits..].strip_prefix(DIRECTIVES_KEY)?;
            let all = self.0.mine();
            all.iter().find_map(|(text, read)| {
                // A text is one whole JSON array: what follows it is the metadata's end.
                let after = rest.strip_prefix(&**text)?.strip_prefix('}')?;
                Some((timestamp, Arc::clone(read), after))
            })
        }

        fn read(&self, text: &str) -> Option<Arc<Read>> {
            {
                let all = self.0.mine();
                if let Some((_, read)) = all.iter().find(|(known, _)| **known == *text) {
                    return Some(Arc::clone(read));
                }
            }
            let directives: Vec<Directive> = serde_json::from_str(text).ok()?;
            let mut keys: Vec<String> = Vec::new();
            let mut puts = Vec::new();
            for directive in &directives {
                for set in &directive.dimensions {
                    let set: Vec<usize> = set
                        .iter()
                        .map(|key| match keys.iter().position(|k| k == key) {
                            Some(i) => i,
                            None => {
                                keys.push((*key).to_owned());
                                keys.len() - 1
                            }
                        })
                        .collect();
                    for metric in &directive.metrics {
                        puts.push(Put {
                            namespace: directive.namespace.to_owned(),
                            set: set.clone(),
                            name: metric.name.to_owned(),
                            unit: metric.unit.map(str::to_owned),
                            high_resolution: metric.storage_resolution == Some(1),
                        });
                    }
                }
            }
            let read = Arc::new(Read {
                keys,
                puts,
                series: Mutex::default(),
            });
            remember(&mut self.0.mine(), (text.into(), Arc::clone(&read)));
            Some(read)
        }
    }

    impl Read {
        /// The series of every put for these dimension values (one per key).
        fn series(&self, store: &MetricStore, values: &[&str]) -> Arc<[MetricHandle]> {
            let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
            let known = series
                .iter()
                .find(|(known, _)| known.iter().map(AsRef::as_ref).eq(values.iter().copied()));
            if let Some((_, handles)) = known {
                return Arc::clone(handles);
            }
            let handles: Arc<[MetricHandle]> = self
                .puts
                .iter()
                .map(|put| {
                    let dimensions: Vec<(&str, &str)> = put
                        .set
                        .iter()
                        .map(|&i| (self.keys[i].as_str(), values[i]))
                        .collect();
                    store.handle(&put.namespace, &put.name, &dimensions)
                })
                .collect();
            let values = values.iter().map(|v| Box::from(*v)).collect();
            remember(&mut series, (values, Arc::clone(&handles)));
            handles
        }

        /// Reads a document's dimension values and metric values through `get` (a member by
        /// name), `text` and `number` (its value as a plain string, as a number), and puts
        /// them; `None` for a document to leave to the tree. A declared metric without a
        /// value is skipped, as CloudWatch does.
        fn read_and_put<'a, M: Copy>(
            &self,
            store: &MetricStore,
            timestamp: i64,
            get: impl Fn(&str) -> Option<M>,
            text: impl Fn(M) -> Option<&'a str>,
            number: impl Fn(M) -> Option<f64>,
        ) -> Option<usize> {
            let mut values = Vec::with_capacity(self.keys.len());
            for key in &self.keys {
                values.push(text(get(key)?)?);
            }
            let mut numbers = Vec::with_capacity(self.puts.len());
            for put in &self.puts {
                numbers.push(match get(&put.name) {
                    Some(value) => Some(number(value)?),
                    None => None,
                });
            }
            let handles = self.series(store, &values);
            let mut put = 0;
            for ((spec, handle), number) in self.puts.iter().zip(handles.iter()).zip(numbers) {
                if let Some(number) = number {
                    let unit = spec.unit.as_deref();
                    handle.put(timestamp, &[(number, 1)], unit, spec.high_resolution);
                    put += 1;
                }
            }
            Some(put)
        }
    }

    /// A JSON string without escapes, as the text between its quotes; anything else is left
    /// to the tree.
    fn plain_string(value: &RawValue) -> Option<&str> {
        let text = value.get().strip_prefix('"')?.strip_suffix('"')?;
        (!text.contains('\\')).then_some(text)
    }

    /// One member's value as [`flat_members`] reads it.
    #[derive(Clone, Copy)]
    pub(super) enum Flat<'a> {
        /// A string without escapes: the text between its quotes.
        Text(&'a str),
        /// A JSON number, as written.
        Number(&'a str),
    }

    /// The members after a known metadata (`,"name":value…}`, the rest of the line), when
    /// each name is a string without escapes and each value such a string or a number: all a
    /// function's documents hold. Anything else (whitespace, escapes, arrays, objects, words,
    /// invalid JSON) is `None`, for the parser.
    ///
    /// serde_json's reading of the same members was most of what reading a document cost
    /// (about 5k instructions of a `GET /public`'s 74k); a request writes one.
    pub(super) fn flat_members(mut rest: &str) -> Option<Vec<(&str, Flat<'_>)>> {
        let mut members = Vec::with_capacity(8);
        loop {
            if rest == "}" {
                return Some(members);
            }
            let (name, after) = plain_quoted(rest.strip_prefix(',')?)?;
            let after = after.strip_prefix(':')?;
            let (value, after) = if after.starts_with('"') {
                let (text, after) = plain_quoted(after)?;
                (Flat::Text(text), after)
            } else {
                let length = number_length(after.as_bytes())?;
                (Flat::Number(&after[..length]), &after[length..])
            };
            members.push((name, value));
            rest = after;
        }
    }

    /// A leading `"…"` without escapes or control characters: its text and what follows it.
    fn plain_quoted(text: &str) -> Option<(&str, &str)> {
        let body = text.strip_prefix('"')?;
        let end = first_special(body.as_bytes())?;
        (body.as_bytes()[end] == b'"').then(|| (&body[..end], &body[end + 1..]))
    }

    /// Where the first `"`, `\` or control byte of `bytes` is: eight bytes at a time, as the
    /// members' strings are most of what is read.
    pub(super) fn first_special(bytes: &[u8]) -> Option<usize> {
        const ONES: u64 = u64::from_le_bytes([1; 8]);
        const HIGH: u64 = ONES * 0x80;
        // The bytes of `x` below `n` (Bit Twiddling Hacks' `hasless`): a byte above one that is
        // may be marked too, but the lowest mark is exact.
        let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
        let mut at = 0;
        while let Some(word) = bytes.get(at..at + 8) {
            let x = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            let marks = below(x, 0x20)
                | below(x ^ (ONES * u64::from(b'"')), 1)
                | below(x ^ (ONES * u64::from(b'\\')), 1);
            if marks != 0 {
                return Some(at + marks.trailing_zeros() as usize / 8);
            }
            at += 8;
        }
        bytes[at..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .map(|i| at + i)
    }

    /// The length of the JSON number `text` starts with: `-?(0|[1-9][0-9]*)(\.[0-9]+)?
    /// ([eE][+-]?[0-9]+)?`.
    fn number_length(text: &[u8]) -> Option<usize> {
        let digits = |from: usize| {
            text[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let mut at = usize::from(text.first() == Some(&b'-'));
        match digits(at) {
            0 => return None,
            n if n > 1 && text[at] == b'0' => return None,
            n => at += n,
        }
        if text.get(at) == Some(&b'.') {
            match digits(at + 1) {
                0 => return None,
                n => at += 1 + n,
            }
        }
        if matches!(text.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(text.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            match digits(at) {
                0 => return None,
                n => at += n,
            }
        }
        Some(at)
    }

    /// A document whose metadata is a known text and whose members are all flat: read
    /// without a parser.
    fn ingest_flat(
        read: &Read,
        store: &MetricStore,
        timestamp: i64,
        members: &[(&str, Flat<'_>)],
    ) -> Option<usize> {
        // Of repeated names the last, as a JSON object keeps.
        let get = |name: &str| {
            members
                .iter()
                .rev()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
        };
        // A second `_aws` member wins in JSON (the last of a name): the full parse reads it.
        if get("_aws").is_some() {
            return None;
        }
        read.read_and_put(
            store,
            timestamp,
            get,
            |value| match value {
                Flat::Text(text) => Some(text),
                Flat::Number(_) => None,
            },
            |value| match value {
                Flat::Number(text) => number(text),
                Flat::Text(_) => None,
            },
        )
    }

    /// A JSON number as the store takes it; out of range (`1e400`) is left to the tree, which
    /// words the error.
    fn number(text: &str) -> Option<f64> {
        text.parse::<f64>().ok().filter(|n| n.is_finite())
    }

    pub(super) fn ingest(
        directives: &Directives,
        store: &MetricStore,
        line: &str,
        shift_ms: i64,
    ) -> Option<usize> {
        let known;
        let (document, timestamp, read) = match directives.known_head(line) {
            Some((timestamp, read, rest)) => {
                if let Some(members) = flat_members(rest) {
                    return ingest_flat(&read, store, timestamp + shift_ms, &members);
                }
                // The members alone, as an object of their own.
                known = match rest.strip_prefix(',') {
                    Some(members) => {
                        let mut object = String::with_capacity(members.len() + 1);
                        object.push('{');
                        object.push_str(members);
                        object
                    }
                    None if rest == "}" => String::from("{}"),
                    None => return None,
                };
                let document: Document = serde_json::from_str(&known).ok()?;
                // A second `_aws` member wins in JSON (the last of a name): the full parse reads it.
                if document.metadata.is_some() {
                    return None;
                }
                (document, timestamp, read)
            }
            None => {
                let document: Document = serde_json::from_str(line).ok()?;
                let metadata = document.metadata.as_ref()?;
                let read = directives.read(metadata.directives.get())?;
                let timestamp = metadata.timestamp;
                (document, timestamp, read)
            }
        };
        // A valid JSON value (the parser checked it) that Rust reads as a number is a JSON
        // number: the other kinds are quoted, bracketed or words it refuses.
        read.read_and_put(
            store,
            timestamp + shift_ms,
            |name| document.get(name),
            plain_string,
            |value| number(value.get()),
        )
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
    EmfReader::default().ingest_shifted(store, text, shift_ms)
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
    fn a_repeated_member_counts_as_its_last_value_on_either_path() {
        // The fast path reads numbers; an array takes the tree path: both keep the last value.
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
    fn one_reader_keeps_each_document_on_its_own_dimension_values() {
        let store = MetricStore::new();
        let reader = EmfReader::default();
        for (service, value) in [("items", "4"), ("public", "5"), ("items", "6")] {
            let line =
                doc(value).replace(r#""service":"items""#, &format!(r#""service":"{service}""#));
            assert_eq!(reader.ingest_line_shifted(&store, &line, 0).unwrap(), 2);
        }
        // A declared metric without a value is skipped, by the remembered directives too.
        let partial = doc("7").replace(r#","RequestLatency":7"#, "");
        assert_eq!(reader.ingest_line_shifted(&store, &partial, 0).unwrap(), 1);
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
    fn a_known_directives_text_reads_the_same_as_a_new_one() {
        let reader = EmfReader::default();
        let store = MetricStore::new();
        // The first document parses the text; the next are read from it by their bytes.
        assert!(reader.directives.known_head(&doc("4")).is_none());
        for value in ["4", "6"] {
            assert_eq!(
                reader.ingest_line_shifted(&store, &doc(value), 0).unwrap(),
                2
            );
            let line = doc(value);
            let (timestamp, _, rest) = reader.directives.known_head(&line).unwrap();
            assert_eq!(timestamp, T * 1000);
            assert!(rest.starts_with(r#","service":"items""#), "{rest}");
        }
        assert_eq!(
            reader
                .ingest_line_shifted(&store, &doc("[1, 2]"), 0)
                .unwrap(),
            2
        );
        let start = T - T % 60;
        let sum = || store.statistic(&latency(), Statistic::Sum, start, start + 60, 60);
        assert_eq!(sum().get(&start), Some(&13.0));
        // What the bytes alone cannot vouch for goes to the full parse, with its answer.
        let line = doc("5");
        let open = &line[..line.len() - 1];
        let later_aws = format!(r#"{open},"_aws":{{"Timestamp":1,"CloudWatchMetrics":[]}}}}"#);
        let stamp = (T * 1000).to_string();
        let leading_zero = line.replacen(&stamp, &format!("0{stamp}"), 1);
        let garbage = format!("{}x", &line[..line.find(r#","service""#).unwrap()]);
        // A later `_aws` wins, as the last member of a name does in JSON: no metric.
        assert_eq!(reader.ingest_line_shifted(&store, &later_aws, 0), Ok(0));
        for case in [leading_zero, garbage] {
            let got = reader.ingest_line_shifted(&store, &case, 0);
            assert!(matches!(got, Err(EmfError::NotJson(_))), "{case}: {got:?}");
        }
        assert_eq!(sum().get(&start), Some(&13.0), "nothing put by those");
    }
    /// The word-wise search finds what a byte-wise one does, wherever the byte is and
    /// whatever comes after it (bytes above a found one may be marked too).
    #[test]
    fn the_first_special_byte_is_found_as_byte_by_byte() {
        let by_bytes = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        let alphabet = [
            b'a',
            b'"',
            b'\\',
            0,
            0x1f,
            0x20,
            0x21,
            0x7f,
            0x80,
            0xff,
            b'!',
            0x5c ^ 1,
        ];
        let mut rng = fastrand::Rng::with_seed(9);
        for _ in 0..50_000 {
            let bytes: Vec<u8> = (0..rng.usize(0..24))
                .map(|_| {
                    if rng.usize(..4) == 0 {
                        alphabet[rng.usize(..alphabet.len())]
                    } else {
                        b'a'
                    }
                })
                .collect();
            assert_eq!(fast::first_special(&bytes), by_bytes(&bytes), "{bytes:?}");
        }
    }

    #[test]
    fn flat_members_read_as_the_tree_reads_them() {
        // Each value as a metric's and as a dimension's: a reader that knows the metadata
        // reads plain members itself; whatever it reads must match the tree's reading.
        let values = [
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
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "1e+",
            "--1",
            "1e400",
            "-1e400",
            "1x",
            "true",
            "null",
            "[1]",
            "{}",
            " 1",
            "1 ",
            r#""x""#,
            r#""""#,
            r#""items""#,
            r#""it\u0065ms""#,
            "\"a\tb\"",
            r#""a\"b""#,
            r#""open"#,
        ];
        let mut flat = 0;
        for value in values {
            let as_metric = doc(value);
            let as_dimension =
                doc("3").replace(r#""service":"items""#, &format!(r#""service":{value}"#));
            for line in [as_metric, as_dimension] {
                let (fast_store, tree_store) = (MetricStore::new(), MetricStore::new());
                // A reader finds its series once, in one store: a reader per store, made to
                // know the metadata by a document that puts nothing.
                let reader = EmfReader::default();
                let nothing = doc("1").replace(r#","Requests":1,"RequestLatency":1"#, "");
                assert_eq!(reader.ingest_line_shifted(&fast_store, &nothing, 0), Ok(0));
                let fast = reader.ingest_line_shifted(&fast_store, &line, 0);
                let tree = ingest_any(&tree_store, &line, 0);
                assert_eq!(fast.is_ok(), tree.is_ok(), "{line}: {fast:?} {tree:?}");
                assert_eq!(fast.as_ref().ok(), tree.as_ref().ok(), "{line}");
                assert_eq!(
                    format!("{:?}", fast_store.list()),
                    format!("{:?}", tree_store.list()),
                    "{line}"
                );
                let start = T - T % 60;
                for id in fast_store.list().into_iter().map(|(id, _)| id) {
                    for stat in [Statistic::Sum, Statistic::SampleCount] {
                        assert_eq!(
                            fast_store.statistic(&id, stat, start, start + 60, 60),
                            tree_store.statistic(&id, stat, start, start + 60, 60),
                            "{line}"
                        );
                    }
                }
                let rest = reader.directives.known_head(&line).map(|(_, _, rest)| rest);
                flat += usize::from(rest.and_then(fast::flat_members).is_some());
            }
        }
        // The 12 valid JSON numbers and the 3 strings without escapes, in either place.
        assert_eq!(flat, (12 + 3) * 2, "flat readings");
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
