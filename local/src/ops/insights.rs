//! A subset of CloudWatch Logs Insights, enough for the dashboards' log widgets: `SOURCE`,
//! `fields`, `filter` (`=`, `!=`, `<`, `>`, `like /regex/`, `ispresent(field)`, `and`, `or`),
//! `stats` (`count(*)`, `sum`, `avg`, `min`, `max`, `pct`, by fields and `bin(…)`), `sort` and
//! `limit`, with the `@timestamp`, `@log` and `@message` fields.
//!
//! Hand-written: no crate runs Insights queries. What it does not know is an error that names
//! it, never a guess.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use regex::Regex;
use serde_json::{Map, Value};

/// One log event: its group, time and parsed line.
pub struct Record {
    pub group: String,
    pub timestamp_ms: i64,
    pub line: Value,
}

/// A query's answer, as the Insights console shows it.
#[derive(Debug, serde::Serialize)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

#[derive(Debug)]
pub struct Query {
    pub sources: Vec<String>,
    commands: Vec<Command>,
}

#[derive(Debug)]
enum Command {
    Fields(Vec<String>),
    Filter(Cond),
    Stats { aggs: Vec<Agg>, by: Vec<Key> },
    Sort { field: String, descending: bool },
    Limit(usize),
}

#[derive(Debug)]
enum Cond {
    Any(Vec<Cond>),
    All(Vec<Cond>),
    Compare {
        field: String,
        op: Op,
        value: String,
        /// `value` as a number, when it is one: numbers compare as numbers.
        number: Option<f64>,
    },
    Like {
        field: String,
        pattern: Regex,
    },
    /// `ispresent(field)`: the line has the field.
    Present(String),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug)]
enum Func {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Pct(f64),
}

#[derive(Debug)]
struct Agg {
    func: Func,
    field: Option<String>,
    name: String,
}

#[derive(Debug)]
enum Key {
    Field(String),
    /// `bin(…)` of `@timestamp`, in milliseconds.
    Bin {
        ms: i64,
        name: String,
    },
}

/// The rows Insights holds once the query has run (all columns only the query narrows).
const DEFAULT_LIMIT: usize = 1000;

/// Splits `text` at each `sep` that is outside quotes, a `/regex/` and parentheses.
fn split_outside(text: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_regex = false;
    let mut depth = 0_i32;
    for c in text.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if in_regex {
            if c == '/' && !current.ends_with('\\') {
                in_regex = false;
            }
        } else if c == '"' || c == '\'' {
            quote = Some(c);
        } else if c == '/' && current.trim_end().to_ascii_lowercase().ends_with("like") {
            in_regex = true;
        } else if c == '(' {
            depth += 1;
        } else if c == ')' {
            depth -= 1;
        } else if c == sep && depth == 0 {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

fn unquote(s: &str) -> Result<String, String> {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return Ok(inner.to_owned());
        }
    }
    Err(format!("expected a quoted string, found `{s}`"))
}

pub fn parse(text: &str) -> Result<Query, String> {
    let mut sources = Vec::new();
    let mut commands = Vec::new();
    for part in split_outside(text, '|') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (word, rest) = part.split_once(char::is_whitespace).unwrap_or((part, ""));
        let rest = rest.trim();
        match word.to_ascii_lowercase().as_str() {
            "source" => sources.push(unquote(rest)?),
            "fields" | "display" => commands.push(Command::Fields(
                split_outside(rest, ',')
                    .iter()
                    .map(|f| f.trim().to_owned())
                    .collect(),
            )),
            "filter" => commands.push(Command::Filter(parse_cond(rest)?)),
            "stats" => commands.push(parse_stats(rest)?),
            "sort" => {
                let mut words = rest.split_whitespace();
                let field = words.next().ok_or("`sort` needs a field")?.to_owned();
                let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
                    None | Some("asc") => false,
                    Some("desc") => true,
                    Some(other) => return Err(format!("`sort`: unknown order `{other}`")),
                };
                commands.push(Command::Sort { field, descending });
            }
            "limit" => commands.push(Command::Limit(
                rest.parse()
                    .map_err(|_| format!("`limit {rest}`: not a number"))?,
            )),
            other => return Err(format!("the twin does not run `{other}` commands")),
        }
    }
    Ok(Query { sources, commands })
}

/// Tokens of a condition: words, quoted strings, `/regex/`, operators.
fn tokens(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' || c == '/' {
            let end = chars[i + 1..]
                .iter()
                .position(|d| *d == c)
                .ok_or_else(|| format!("an unclosed {c} in `{text}`"))?;
            out.push(chars[i..=i + 1 + end].iter().collect());
            i += end + 2;
        } else if "=!<>".contains(c) {
            let two = chars.get(i + 1) == Some(&'=');
            out.push(chars[i..i + 1 + usize::from(two)].iter().collect());
            i += 1 + usize::from(two);
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !"=!<>\"'".contains(chars[i]) {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        }
    }
    Ok(out)
}

fn parse_cond(text: &str) -> Result<Cond, String> {
    let tokens = tokens(text)?;
    let mut any = Vec::new();
    let mut all = Vec::new();
    let mut i = 0;
    loop {
        let field = tokens
            .get(i)
            .ok_or_else(|| format!("`filter {text}`: incomplete"))?;
        if let Some(present) = field
            .strip_prefix("ispresent(")
            .and_then(|f| f.strip_suffix(')'))
        {
            all.push(Cond::Present(present.trim().to_owned()));
            i += 1;
        } else {
            all.push(parse_comparison(text, &tokens, i)?);
            i += 3;
        }
        match tokens.get(i).map(|t| t.to_ascii_lowercase()).as_deref() {
            None => break,
            Some("and") => {}
            Some("or") => any.push(Cond::All(std::mem::take(&mut all))),
            Some(other) => return Err(format!("`filter {text}`: unexpected `{other}`")),
        }
        i += 1;
    }
    any.push(Cond::All(all));
    Ok(Cond::Any(any))
}

/// `field op value` at `tokens[i..]`.
fn parse_comparison(text: &str, tokens: &[String], i: usize) -> Result<Cond, String> {
    let field = &tokens[i];
    let op = tokens.get(i + 1).map(String::as_str);
    let value = tokens
        .get(i + 2)
        .ok_or_else(|| format!("`filter {text}`: incomplete"))?;
    let cond = if op.is_some_and(|o| o.eq_ignore_ascii_case("like")) {
        let pattern = match value.strip_prefix('/').and_then(|v| v.strip_suffix('/')) {
            Some(p) => p.to_owned(),
            None => regex::escape(&unquote(value)?),
        };
        Cond::Like {
            field: field.clone(),
            pattern: Regex::new(&pattern).map_err(|e| format!("`{value}`: {e}"))?,
        }
    } else {
        let op = match op {
            Some("=") => Op::Eq,
            Some("!=") => Op::Ne,
            Some("<") => Op::Lt,
            Some("<=") => Op::Le,
            Some(">") => Op::Gt,
            Some(">=") => Op::Ge,
            other => return Err(format!("`filter {text}`: unknown operator {other:?}")),
        };
        let value = unquote(value).unwrap_or_else(|_| value.clone());
        Cond::Compare {
            field: field.clone(),
            op,
            number: value.parse().ok(),
            value,
        }
    };
    Ok(cond)
}

/// `5m`, `1h`, `30s` in milliseconds.
fn duration_ms(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let n: i64 = text[..split]
        .parse()
        .map_err(|_| format!("`{text}`: not a duration"))?;
    let unit = match &text[split..] {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => return Err(format!("`{text}`: unknown unit `{other}`")),
    };
    Ok(n * unit)
}

fn parse_stats(text: &str) -> Result<Command, String> {
    let lower = text.to_ascii_lowercase();
    let (aggs, by) = match lower.rfind(" by ") {
        Some(at) => (&text[..at], Some(&text[at + 4..])),
        None => (text, None),
    };
    let aggs = split_outside(aggs, ',')
        .iter()
        .map(|a| {
            let a = a.trim();
            let (call, name) = match a.to_ascii_lowercase().rfind(" as ") {
                Some(at) => (a[..at].trim(), a[at + 4..].trim().to_owned()),
                None => (a, a.to_owned()),
            };
            let open = call
                .find('(')
                .ok_or_else(|| format!("`{call}`: not a function"))?;
            let args: Vec<String> = split_outside(
                call[open + 1..]
                    .strip_suffix(')')
                    .ok_or("an unclosed `(`")?,
                ',',
            )
            .iter()
            .map(|s| s.trim().to_owned())
            .collect();
            let field = args.first().filter(|f| *f != "*" && !f.is_empty()).cloned();
            let func = match call[..open].trim().to_ascii_lowercase().as_str() {
                "count" => Func::Count,
                "sum" => Func::Sum,
                "avg" => Func::Avg,
                "min" => Func::Min,
                "max" => Func::Max,
                "pct" => Func::Pct(
                    args.get(1)
                        .and_then(|p| p.parse().ok())
                        .ok_or_else(|| format!("`{call}`: pct needs a percentile"))?,
                ),
                other => return Err(format!("the twin does not run `{other}()`")),
            };
            Ok(Agg { func, field, name })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let by = by
        .map(|by| {
            split_outside(by, ',')
                .iter()
                .map(|k| {
                    let k = k.trim();
                    match k.strip_prefix("bin(").and_then(|r| r.strip_suffix(')')) {
                        Some(d) => Ok(Key::Bin {
                            ms: duration_ms(d)?,
                            name: k.to_owned(),
                        }),
                        None => Ok(Key::Field(k.to_owned())),
                    }
                })
                .collect::<Result<Vec<_>, String>>()
        })
        .transpose()?
        .unwrap_or_default();
    Ok(Command::Stats { aggs, by })
}

/// A row while the query runs: a log event (its `@` fields made only when asked for), or a
/// `stats` result.
enum Row<'a> {
    Event(&'a Record),
    Computed {
        timestamp_ms: i64,
        fields: Map<String, Value>,
    },
}

impl Row<'_> {
    fn timestamp_ms(&self) -> i64 {
        match self {
            Row::Event(r) => r.timestamp_ms,
            Row::Computed { timestamp_ms, .. } => *timestamp_ms,
        }
    }

    fn get(&self, field: &str) -> Option<Cow<'_, Value>> {
        match self {
            Row::Event(r) => match field {
                "@timestamp" => Some(Cow::Owned(format_time(r.timestamp_ms).into())),
                "@log" => Some(Cow::Owned(r.group.clone().into())),
                "@message" => Some(Cow::Owned(r.line.to_string().into())),
                _ => get(r.line.as_object()?, field).map(Cow::Borrowed),
            },
            Row::Computed { fields, .. } => get(fields, field).map(Cow::Borrowed),
        }
    }
}

/// A field of a row: the key as written, else a path through objects (`detail.item_id`).
fn get<'a>(row: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    if let Some(v) = row.get(field) {
        return Some(v);
    }
    let mut parts = field.split('.');
    let mut v = row.get(parts.next()?)?;
    for part in parts {
        v = v.get(part)?;
    }
    Some(v)
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn as_number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.parse().ok())
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => as_text(a).cmp(&as_text(b)),
    }
}

fn holds(cond: &Cond, row: &Row) -> bool {
    match cond {
        Cond::Any(all) => all.iter().any(|c| holds(c, row)),
        Cond::All(all) => all.iter().all(|c| holds(c, row)),
        Cond::Like { field, pattern } => row
            .get(field)
            .is_some_and(|v| pattern.is_match(&as_text(&v))),
        Cond::Present(field) => row.get(field).is_some_and(|v| !v.is_null()),
        Cond::Compare {
            field,
            op,
            value,
            number,
        } => {
            let Some(v) = row.get(field) else {
                return false;
            };
            let order = match (as_number(&v), number) {
                (Some(x), Some(y)) => x.total_cmp(y),
                _ => match v.as_ref() {
                    Value::String(s) => s.as_str().cmp(value),
                    other => other.to_string().cmp(value),
                },
            };
            match op {
                Op::Eq => order == Ordering::Equal,
                Op::Ne => order != Ordering::Equal,
                Op::Lt => order == Ordering::Less,
                Op::Le => order != Ordering::Greater,
                Op::Gt => order == Ordering::Greater,
                Op::Ge => order != Ordering::Less,
            }
        }
    }
}

/// Insights' way of writing a time: `2026-11-22 01:02:03.456`.
pub fn format_time(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

fn aggregate(func: &Func, values: &mut [f64], count: usize) -> Value {
    let number = |v: Option<f64>| v.map_or(Value::Null, Value::from);
    match func {
        Func::Count => Value::from(count),
        Func::Sum => Value::from(values.iter().sum::<f64>()),
        Func::Avg => {
            number((!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64))
        }
        Func::Min => number(values.iter().copied().reduce(f64::min)),
        Func::Max => number(values.iter().copied().reduce(f64::max)),
        Func::Pct(p) => {
            values.sort_by(f64::total_cmp);
            let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
            number(values.get(rank.saturating_sub(1)).copied())
        }
    }
}

fn stats<'a>(rows: Vec<Row<'a>>, aggs: &[Agg], by: &[Key]) -> Vec<Row<'a>> {
    let mut groups: BTreeMap<Vec<String>, (Vec<Value>, Vec<&Row>)> = BTreeMap::new();
    for row in &rows {
        let keys: Vec<Value> = by
            .iter()
            .map(|k| match k {
                Key::Field(f) => row.get(f).map_or(Value::Null, Cow::into_owned),
                Key::Bin { ms, .. } => {
                    Value::from(row.timestamp_ms() - row.timestamp_ms().rem_euclid(*ms))
                }
            })
            .collect();
        let sort_key = keys.iter().map(as_text).collect();
        groups
            .entry(sort_key)
            .or_insert_with(|| (keys, Vec::new()))
            .1
            .push(row);
    }
    groups
        .into_values()
        .map(|(keys, members)| {
            let mut fields = Map::new();
            let mut timestamp_ms = 0;
            for (key, value) in by.iter().zip(keys) {
                match key {
                    Key::Field(f) => {
                        fields.insert(f.clone(), value);
                    }
                    Key::Bin { name, .. } => {
                        timestamp_ms = value.as_i64().unwrap_or_default();
                        fields.insert(name.clone(), Value::from(format_time(timestamp_ms)));
                    }
                }
            }
            for agg in aggs {
                let mut values: Vec<f64> = match &agg.field {
                    Some(f) => members
                        .iter()
                        .filter_map(|r| r.get(f).and_then(|v| as_number(&v)))
                        .collect(),
                    None => Vec::new(),
                };
                let count = match &agg.field {
                    Some(f) => members.iter().filter(|r| r.get(f).is_some()).count(),
                    None => members.len(),
                };
                fields.insert(agg.name.clone(), aggregate(&agg.func, &mut values, count));
            }
            Row::Computed {
                timestamp_ms,
                fields,
            }
        })
        .collect()
}

/// Rows in the order of `field`'s values; rows without it last.
fn by_field(a: &Row, b: &Row, field: &str) -> Ordering {
    match (a.get(field), b.get(field)) {
        (Some(x), Some(y)) => compare(&x, &y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

impl Query {
    /// Runs the query over `records` (the caller picks them by source and time).
    pub fn run(&self, records: &[Record]) -> Table {
        let mut rows: Vec<Row> = records
            .iter()
            .filter(|r| self.sources.is_empty() || self.sources.contains(&r.group))
            .map(Row::Event)
            .collect();
        let mut columns: Option<Vec<String>> = None;
        let mut limit = DEFAULT_LIMIT;
        for command in &self.commands {
            match command {
                Command::Fields(f) => columns = Some(f.clone()),
                Command::Filter(cond) => rows.retain(|r| holds(cond, r)),
                Command::Stats { aggs, by } => {
                    rows = stats(rows, aggs, by);
                    let mut names: Vec<String> = by
                        .iter()
                        .map(|k| match k {
                            Key::Field(f) => f.clone(),
                            Key::Bin { name, .. } => name.clone(),
                        })
                        .collect();
                    names.extend(aggs.iter().map(|a| a.name.clone()));
                    columns = Some(names);
                }
                Command::Sort { field, descending } => rows.sort_by(|a, b| {
                    let order = match (a, b) {
                        // Events by time without writing their times out.
                        (Row::Event(x), Row::Event(y)) if field == "@timestamp" => {
                            x.timestamp_ms.cmp(&y.timestamp_ms)
                        }
                        _ => by_field(a, b, field),
                    };
                    if *descending { order.reverse() } else { order }
                }),
                Command::Limit(n) => limit = limit.min(*n),
            }
        }
        let columns =
            columns.unwrap_or_else(|| vec!["@timestamp".to_owned(), "@message".to_owned()]);
        let rows = rows
            .into_iter()
            .take(limit)
            .map(|r| {
                columns
                    .iter()
                    .map(|c| r.get(c).map_or(Value::Null, Cow::into_owned))
                    .collect()
            })
            .collect();
        Table { columns, rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(group: &str, at: i64, line: Value) -> Record {
        Record {
            group: group.into(),
            timestamp_ms: at,
            line,
        }
    }

    fn access(at: i64, id: &str, status: &str) -> Record {
        record(
            "/aws/apigateway/items-api",
            at,
            json!({"requestId": id, "status": status, "routeKey": "GET /public"}),
        )
    }

    #[test]
    fn filter_by_value_and_regex_then_sort_and_limit() {
        let records = [
            access(1_000, "a", "200"),
            access(2_000, "b", "503"),
            access(3_000, "c", "500"),
            record("/aws/lambda/items-api-items", 4_000, json!({"status": 500})),
        ];
        let q = parse(
            "SOURCE '/aws/apigateway/items-api' | fields @timestamp, requestId, status \
             | filter status like /^5/ | sort @timestamp desc | limit 1",
        )
        .unwrap();
        let table = q.run(&records);
        assert_eq!(table.columns, ["@timestamp", "requestId", "status"]);
        assert_eq!(
            table.rows,
            vec![vec![json!(format_time(3_000)), json!("c"), json!("500")]]
        );
        // A number in the line equals the quoted number of the query, as in Insights.
        let q = parse("filter status = \"500\" or requestId = \"a\"").unwrap();
        assert_eq!(q.run(&records).rows.len(), 3);
        let q = parse("filter status = \"500\" and requestId = \"c\"").unwrap();
        assert_eq!(q.run(&records).rows.len(), 1);
        // `ispresent`: lines that have the field, whatever its value.
        let q = parse("filter ispresent(requestId) and status like /^5/").unwrap();
        assert_eq!(q.run(&records).rows.len(), 2);
        let q = parse("filter ispresent(nothing) or requestId = \"a\"").unwrap();
        assert_eq!(q.run(&records).rows.len(), 1);
    }

    #[test]
    fn stats_count_by_bin_and_by_field_with_percentiles() {
        let records: Vec<Record> = (0..10)
            .map(|i| {
                record(
                    "g",
                    i * 30_000,
                    json!({"status": if i < 7 { 200 } else { 429 }, "latency_ms": i}),
                )
            })
            .collect();
        let q = parse("filter status = \"429\" | stats count(*) as throttled by bin(1m)").unwrap();
        let table = q.run(&records);
        assert_eq!(table.columns, ["bin(1m)", "throttled"]);
        // 429s at 210 s, 240 s, 270 s: one in minute 3, two in minute 4.
        assert_eq!(
            table.rows,
            vec![
                vec![json!(format_time(180_000)), json!(1)],
                vec![json!(format_time(240_000)), json!(2)],
            ]
        );
        let q = parse("stats count(*) as n, pct(latency_ms, 50) as p50, max(latency_ms) by status")
            .unwrap();
        let table = q.run(&records);
        assert_eq!(table.columns, ["status", "n", "p50", "max(latency_ms)"]);
        assert_eq!(
            table.rows[0],
            vec![json!(200), json!(7), json!(3.0), json!(6.0)]
        );
        assert_eq!(
            table.rows[1],
            vec![json!(429), json!(3), json!(8.0), json!(9.0)]
        );
    }

    #[test]
    fn nested_fields_sources_and_errors() {
        let records = [
            record(
                "archive",
                5,
                json!({"detail": {"item_id": "i1", "request_id": "r1"}}),
            ),
            record(
                "other",
                6,
                json!({"detail": {"item_id": "i2", "request_id": "r1"}}),
            ),
        ];
        let q = parse("SOURCE 'archive' | fields detail.item_id | filter detail.request_id = 'r1'")
            .unwrap();
        assert_eq!(q.run(&records).rows, vec![vec![json!("i1")]]);
        assert!(parse("parse @message 'x'").unwrap_err().contains("parse"));
        assert!(parse("filter a ~ 'b'").is_err());
        assert!(parse("stats median(x)").is_err());
        assert!(parse("filter a like /unclosed").is_err());
    }
}
