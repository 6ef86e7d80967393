//! EventBridge event patterns, parsed once and matched against event envelopes.
//!
//! The semantics follow the EventBridge user guide ("Event pattern syntax", "Arrays in event
//! patterns", "Content filtering", "Matching null values and empty strings") and the Event Ruler
//! library that implements them:
//! - a pattern mirrors the event's nesting; nested fields are AND-ed;
//! - a leaf is a non-empty array of match values, OR-ed;
//! - if the event value is an array, the leaf matches when any element matches, and objects
//!   inside event arrays are matched element by element (never mixing fields of two elements);
//! - fields the pattern does not name are ignored.
//!
//! `cidr` is recognised but not supported here: it is rejected rather than silently ignored.

use serde_json::{Map, Value};

/// Numeric matching is limited to this magnitude (Event Ruler: "-5.0e9 to +5.0e9 inclusive").
const NUMERIC_LIMIT: f64 = 5.0e9;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("event pattern is not valid JSON: {0}")]
    Json(String),
    #[error("at {path}: expected a JSON object of fields")]
    NotAnObject { path: String },
    #[error("at {path}: an object in a pattern must name at least one field")]
    EmptyObject { path: String },
    #[error("at {path}: a field must hold an array of match values or a nested object")]
    NotAnArray { path: String },
    #[error("at {path}: an array of match values must not be empty")]
    EmptyArray { path: String },
    #[error("at {path}: a match object must hold exactly one operator, found {found}")]
    MatchObject { path: String, found: usize },
    #[error("at {path}: unknown operator {operator:?}")]
    UnknownOperator { path: String, operator: String },
    #[error("at {path}: operator {operator:?} is not supported by the embedded bus")]
    Unsupported { path: String, operator: String },
    #[error("at {path}: invalid {operator:?} operand: {reason}")]
    InvalidOperand {
        path: String,
        operator: String,
        reason: String,
    },
    #[error("at {path}: bad numeric range: {reason}")]
    BadNumericRange { path: String, reason: String },
}

/// A parsed event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern {
    root: Node,
}

impl EventPattern {
    pub fn parse(json: &str) -> Result<EventPattern, PatternError> {
        let value: Value =
            serde_json::from_str(json).map_err(|e| PatternError::Json(e.to_string()))?;
        Ok(EventPattern {
            root: parse_node(&value, "$")?,
        })
    }

    /// Whether `event` (the full envelope: `source`, `detail-type`, `detail`, ...) matches.
    pub fn matches(&self, event: &Value) -> bool {
        node_matches(&self.root, Some(event))
    }
}

/// An object level of the pattern: every field must match, and every `$or` group must have one
/// matching alternative.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    fields: Vec<(String, Field)>,
    any_of: Vec<Vec<Node>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Nested(Node),
    Leaf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Exact(Literal),
    Prefix { value: String, ignore_case: bool },
    Suffix { value: String, ignore_case: bool },
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    AnythingBut(AnythingBut),
    Numeric(Range),
    Exists(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum AnythingBut {
    Values(Vec<Literal>),
    Prefix(String),
    Suffix(String),
    IgnoreCase(Vec<String>),
    Wildcard(Vec<Wildcard>),
}

/// Bounds as (value, inclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Range {
    lower: Option<(f64, bool)>,
    upper: Option<(f64, bool)>,
}

/// The literal pieces between unescaped `*`; one piece means no wildcard at all.
#[derive(Debug, Clone, PartialEq)]
struct Wildcard {
    pieces: Vec<String>,
}

// ---- parsing ----

fn parse_node(value: &Value, path: &str) -> Result<Node, PatternError> {
    let object = value.as_object().ok_or_else(|| PatternError::NotAnObject {
        path: path.to_owned(),
    })?;
    if object.is_empty() {
        return Err(PatternError::EmptyObject {
            path: path.to_owned(),
        });
    }
    let mut node = Node {
        fields: Vec::new(),
        any_of: Vec::new(),
    };
    for (key, value) in object {
        let path = if path == "$" {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match value {
            // `"$or": [ {..}, {..} ]` is the documented OR across fields; as an object it is an
            // ordinary field name (Event Ruler keeps that for backward compatibility).
            Value::Array(alternatives) if key == "$or" => {
                if alternatives.len() < 2 {
                    return Err(PatternError::InvalidOperand {
                        path,
                        operator: "$or".into(),
                        reason: "needs at least two alternative objects".into(),
                    });
                }
                let parsed = alternatives
                    .iter()
                    .enumerate()
                    .map(|(i, alt)| parse_node(alt, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?;
                node.any_of.push(parsed);
            }
            Value::Array(items) => node
                .fields
                .push((key.clone(), Field::Leaf(parse_leaf(items, &path)?))),
            Value::Object(_) => node
                .fields
                .push((key.clone(), Field::Nested(parse_node(value, &path)?))),
            _ => return Err(PatternError::NotAnArray { path }),
        }
    }
    Ok(node)
}

fn parse_leaf(items: &[Value], path: &str) -> Result<Vec<Matcher>, PatternError> {
    if items.is_empty() {
        return Err(PatternError::EmptyArray {
            path: path.to_owned(),
        });
    }
    items.iter().map(|item| parse_matcher(item, path)).collect()
}

fn parse_matcher(item: &Value, path: &str) -> Result<Matcher, PatternError> {
    let object = match item {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Err(PatternError::NotAnArray {
                path: path.to_owned(),
            });
        }
        scalar => {
            return Ok(Matcher::Exact(
                literal(scalar).expect("a scalar is a literal"),
            ));
        }
    };
    let mut entries = object.iter();
    let (Some((operator, operand)), None) = (entries.next(), entries.next()) else {
        return Err(PatternError::MatchObject {
            path: path.to_owned(),
            found: object.len(),
        });
    };
    let bad = |reason: &str| PatternError::InvalidOperand {
        path: path.to_owned(),
        operator: operator.clone(),
        reason: reason.to_owned(),
    };
    match operator.as_str() {
        "prefix" | "suffix" => {
            let (value, ignore_case) = match operand {
                Value::String(s) => (s.clone(), false),
                Value::Object(inner) => (
                    ignore_case_operand(inner).ok_or_else(|| bad(IGNORE_CASE_SHAPE))?,
                    true,
                ),
                _ => return Err(bad("expected a string or {\"equals-ignore-case\": string}")),
            };
            Ok(if operator == "prefix" {
                Matcher::Prefix { value, ignore_case }
            } else {
                Matcher::Suffix { value, ignore_case }
            })
        }
        "equals-ignore-case" => match operand {
            Value::String(s) => Ok(Matcher::EqualsIgnoreCase(s.clone())),
            _ => Err(bad("expected a string")),
        },
        "wildcard" => match operand {
            Value::String(s) => Ok(Matcher::Wildcard(parse_wildcard(s).map_err(|r| bad(&r))?)),
            _ => Err(bad("expected a string")),
        },
        "anything-but" => Ok(Matcher::AnythingBut(
            parse_anything_but(operand).map_err(|r| bad(&r))?,
        )),
        "numeric" => Ok(Matcher::Numeric(parse_numeric(operand, path)?)),
        "exists" => match operand {
            Value::Bool(b) => Ok(Matcher::Exists(*b)),
            _ => Err(bad("expected true or false")),
        },
        "cidr" => Err(PatternError::Unsupported {
            path: path.to_owned(),
            operator: operator.clone(),
        }),
        _ => Err(PatternError::UnknownOperator {
            path: path.to_owned(),
            operator: operator.clone(),
        }),
    }
}

const IGNORE_CASE_SHAPE: &str = "expected {\"equals-ignore-case\": string}";

fn ignore_case_operand(inner: &Map<String, Value>) -> Option<String> {
    match (inner.len(), inner.get("equals-ignore-case")) {
        (1, Some(Value::String(s))) => Some(s.clone()),
        _ => None,
    }
}

fn literal(value: &Value) -> Option<Literal> {
    match value {
        Value::String(s) => Some(Literal::Str(s.clone())),
        Value::Number(n) => n.as_f64().map(Literal::Num),
        Value::Bool(b) => Some(Literal::Bool(*b)),
        Value::Null => Some(Literal::Null),
        _ => None,
    }
}

fn parse_anything_but(operand: &Value) -> Result<AnythingBut, String> {
    match operand {
        Value::String(_) | Value::Number(_) => Ok(AnythingBut::Values(vec![literal(operand).expect("scalar")])),
        // A list must be all strings or all numbers (the guide and Event Ruler).
        Value::Array(items) => {
            let all_strings = items.iter().all(Value::is_string);
            let all_numbers = items.iter().all(Value::is_number);
            if items.is_empty() || !(all_strings || all_numbers) {
                return Err("a list must be non-empty and hold only strings or only numbers".into());
            }
            Ok(AnythingBut::Values(items.iter().filter_map(literal).collect()))
        }
        Value::Object(inner) if inner.len() == 1 => {
            let (key, value) = inner.iter().next().expect("one entry");
            match (key.as_str(), value) {
                ("prefix", Value::String(s)) if !s.is_empty() => Ok(AnythingBut::Prefix(s.clone())),
                ("suffix", Value::String(s)) if !s.is_empty() => Ok(AnythingBut::Suffix(s.clone())),
                ("equals-ignore-case", v) => Ok(AnythingBut::IgnoreCase(string_or_strings(v)?)),
                ("wildcard", v) => Ok(AnythingBut::Wildcard(
                    string_or_strings(v)?.iter().map(|s| parse_wildcard(s)).collect::<Result<_, _>>()?,
                )),
                _ => Err(format!("unsupported anything-but form {key:?} (or an empty operand)")),
            }
        }
        _ => Err("expected a string, a number, a list, or a prefix/suffix/equals-ignore-case/wildcard object".into()),
    }
}

fn string_or_strings(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "expected strings".to_owned())
            })
            .collect(),
        _ => Err("expected a string or a non-empty list of strings".into()),
    }
}

/// `*` matches any run of characters; `\*` is a literal star and `\\` a literal backslash; any
/// other escape and consecutive stars are rejected (Event Ruler's documented wildcard rules).
fn parse_wildcard(text: &str) -> Result<Wildcard, String> {
    let mut pieces = vec![String::new()];
    let mut chars = text.chars();
    let mut previous_was_star = false;
    while let Some(c) = chars.next() {
        let star = c == '*';
        match c {
            '*' if previous_was_star => {
                return Err("consecutive wildcard characters are not allowed".into());
            }
            '*' => pieces.push(String::new()),
            '\\' => match chars.next() {
                Some(e @ ('*' | '\\')) => pieces.last_mut().expect("non-empty").push(e),
                _ => return Err("a backslash may only escape '*' or '\\'".into()),
            },
            c => pieces.last_mut().expect("non-empty").push(c),
        }
        previous_was_star = star;
    }
    Ok(Wildcard { pieces })
}

fn parse_numeric(operand: &Value, path: &str) -> Result<Range, PatternError> {
    let bad = |reason: &str| PatternError::BadNumericRange {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let items = operand
        .as_array()
        .ok_or_else(|| bad("expected [op, number] or [op, number, op, number]"))?;
    if items.len() != 2 && items.len() != 4 {
        return Err(bad("expected [op, number] or [op, number, op, number]"));
    }
    let mut range = Range {
        lower: None,
        upper: None,
    };
    for pair in items.chunks(2) {
        let op = pair[0]
            .as_str()
            .ok_or_else(|| bad("an operator must be a string"))?;
        let n = pair[1]
            .as_f64()
            .ok_or_else(|| bad("an operand must be a JSON number"))?;
        if n.abs() > NUMERIC_LIMIT {
            return Err(bad("operands are limited to -5.0e9..=5.0e9"));
        }
        let (slot, inclusive) = match op {
            "=" if items.len() == 2 => {
                range = Range {
                    lower: Some((n, true)),
                    upper: Some((n, true)),
                };
                continue;
            }
            "=" => return Err(bad("\"=\" cannot be combined with another bound")),
            ">" => (&mut range.lower, false),
            ">=" => (&mut range.lower, true),
            "<" => (&mut range.upper, false),
            "<=" => (&mut range.upper, true),
            other => return Err(bad(&format!("unknown operator {other:?}"))),
        };
        if slot.is_some() {
            return Err(bad("a range needs one lower and one upper bound"));
        }
        *slot = Some((n, inclusive));
    }
    if let (Some((low, _)), Some((high, _))) = (range.lower, range.upper)
        && items.len() == 4
        && low >= high
    {
        return Err(bad("the lower bound must be below the upper bound"));
    }
    Ok(range)
}

// ---- matching ----

fn node_matches(node: &Node, value: Option<&Value>) -> bool {
    match value {
        Some(Value::Object(object)) => object_matches(node, Some(object)),
        // Objects inside an event array are tried one element at a time, so a match never
        // combines fields from different elements (Event Ruler's array-consistent matching).
        Some(Value::Array(_)) => {
            let mut objects = Vec::new();
            collect_objects(value, &mut objects);
            if objects.is_empty() {
                object_matches(node, None)
            } else {
                objects.iter().any(|o| object_matches(node, Some(o)))
            }
        }
        // Missing, or a scalar where the pattern expects fields: none of its fields exist.
        _ => object_matches(node, None),
    }
}

fn object_matches(node: &Node, object: Option<&Map<String, Value>>) -> bool {
    let fields = node.fields.iter().all(|(key, field)| {
        let value = object.and_then(|o| o.get(key));
        match field {
            Field::Nested(inner) => node_matches(inner, value),
            Field::Leaf(matchers) => leaf_matches(matchers, value),
        }
    });
    fields
        && node
            .any_of
            .iter()
            .all(|alternatives| alternatives.iter().any(|alt| object_matches(alt, object)))
}

fn collect_objects<'a>(value: Option<&'a Value>, out: &mut Vec<&'a Map<String, Value>>) {
    match value {
        Some(Value::Object(o)) => out.push(o),
        Some(Value::Array(items)) => items.iter().for_each(|v| collect_objects(Some(v), out)),
        _ => {}
    }
}

/// The leaf values of a field: the value itself, or the scalars of an array. Objects are
/// intermediate nodes, not leaves ("exists" only works on leaf nodes).
fn collect_leaves<'a>(value: Option<&'a Value>, out: &mut Vec<&'a Value>) {
    match value {
        None | Some(Value::Object(_)) => {}
        Some(Value::Array(items)) => items.iter().for_each(|v| collect_leaves(Some(v), out)),
        Some(scalar) => out.push(scalar),
    }
}

fn leaf_matches(matchers: &[Matcher], value: Option<&Value>) -> bool {
    let mut leaves = Vec::new();
    collect_leaves(value, &mut leaves);
    matchers.iter().any(|m| match m {
        Matcher::Exists(wanted) => leaves.is_empty() != *wanted,
        m => leaves.iter().any(|v| m.matches(v)),
    })
}

impl Matcher {
    fn matches(&self, value: &Value) -> bool {
        let text = value.as_str();
        match self {
            Matcher::Exact(literal) => literal.equals(value),
            Matcher::Prefix {
                value: p,
                ignore_case,
            } => text.is_some_and(|s| {
                if *ignore_case {
                    lower(s).starts_with(&lower(p))
                } else {
                    s.starts_with(p.as_str())
                }
            }),
            Matcher::Suffix {
                value: p,
                ignore_case,
            } => text.is_some_and(|s| {
                if *ignore_case {
                    lower(s).ends_with(&lower(p))
                } else {
                    s.ends_with(p.as_str())
                }
            }),
            Matcher::EqualsIgnoreCase(p) => text.is_some_and(|s| lower(s) == lower(p)),
            Matcher::Wildcard(w) => text.is_some_and(|s| w.matches(s)),
            Matcher::Numeric(range) => value.as_f64().is_some_and(|n| range.contains(n)),
            Matcher::AnythingBut(but) => !but.excludes(value),
            Matcher::Exists(_) => unreachable!("exists is decided on the whole field"),
        }
    }
}

impl AnythingBut {
    /// String-only forms never exclude a non-string value.
    fn excludes(&self, value: &Value) -> bool {
        let text = value.as_str();
        match self {
            AnythingBut::Values(values) => values.iter().any(|l| l.equals(value)),
            AnythingBut::Prefix(p) => text.is_some_and(|s| s.starts_with(p.as_str())),
            AnythingBut::Suffix(p) => text.is_some_and(|s| s.ends_with(p.as_str())),
            AnythingBut::IgnoreCase(values) => {
                text.is_some_and(|s| values.iter().any(|v| lower(v) == lower(s)))
            }
            AnythingBut::Wildcard(patterns) => {
                text.is_some_and(|s| patterns.iter().any(|w| w.matches(s)))
            }
        }
    }
}

impl Literal {
    /// Strings and numbers never equal each other; numbers compare by value (`300` == `3e2`).
    fn equals(&self, value: &Value) -> bool {
        match (self, value) {
            (Literal::Str(a), Value::String(b)) => a == b,
            (Literal::Num(a), Value::Number(b)) => b.as_f64() == Some(*a),
            (Literal::Bool(a), Value::Bool(b)) => a == b,
            (Literal::Null, Value::Null) => true,
            _ => false,
        }
    }
}

impl Range {
    fn contains(&self, n: f64) -> bool {
        // Values beyond the documented limit are outside every numeric range.
        n.abs() <= NUMERIC_LIMIT
            && self
                .lower
                .is_none_or(|(b, inclusive)| if inclusive { n >= b } else { n > b })
            && self
                .upper
                .is_none_or(|(b, inclusive)| if inclusive { n <= b } else { n < b })
    }
}

impl Wildcard {
    fn matches(&self, s: &str) -> bool {
        let (first, rest) = self.pieces.split_first().expect("at least one piece");
        let Some((last, middle)) = rest.split_last() else {
            return s == first;
        };
        if s.len() < first.len() + last.len()
            || !s.starts_with(first.as_str())
            || !s.ends_with(last.as_str())
        {
            return false;
        }
        // Between the fixed ends, taking each piece at its leftmost place is optimal for `*`.
        let mut window = &s[first.len()..s.len() - last.len()];
        for piece in middle {
            match window.find(piece.as_str()) {
                Some(at) => window = &window[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pattern(json: &str) -> EventPattern {
        EventPattern::parse(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn matches(p: &str, event: Value) -> bool {
        pattern(p).matches(&event)
    }

    /// The example event of the guide's "Event pattern syntax" page, with extra detail fields.
    fn ec2_event() -> Value {
        json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "EC2 Instance State-change Notification",
            "source": "aws.ec2",
            "account": "111122223333",
            "time": "2017-12-22T18:43:48Z",
            "region": "us-west-1",
            "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
            "detail": {
                "instance-id": "i-1234567890abcdef0",
                "state": "terminated",
                "c-count": 5,
                "x-limit": 301.8,
                "eventVersion": "",
                "responseElements": null,
                "enabled": true
            }
        })
    }

    // "Event pattern syntax": fields are AND-ed, nested objects mirror the event, other fields
    // are ignored.
    #[test]
    fn nested_fields_are_anded_and_unnamed_fields_ignored() {
        let p = r#"{"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"],
                    "detail": {"state": ["terminated"]}}"#;
        assert!(matches(p, ec2_event()));
        let mut other = ec2_event();
        other["detail"]["state"] = json!("running");
        assert!(!matches(p, other));
    }

    // "the event must contain all the field names listed in the event pattern".
    #[test]
    fn a_missing_field_does_not_match() {
        assert!(!matches(r#"{"detail": {"nope": ["x"]}}"#, ec2_event()));
        assert!(!matches(r#"{"nope": {"deeper": ["x"]}}"#, ec2_event()));
    }

    // "Matching event values": the values of a leaf are OR-ed.
    #[test]
    fn leaf_values_are_ored() {
        assert!(matches(
            r#"{"source": ["aws.fargate", "aws.ec2"]}"#,
            ec2_event()
        ));
        assert!(!matches(
            r#"{"source": ["aws.fargate", "aws.s3"]}"#,
            ec2_event()
        ));
    }

    // "Arrays in event patterns": an event array matches if the intersection is non-empty.
    #[test]
    fn event_arrays_match_on_any_element() {
        let event = json!({"resources": ["arn:a", "arn:b"]});
        assert!(matches(
            r#"{"resources": ["arn:x", "arn:b"]}"#,
            event.clone()
        ));
        assert!(!matches(r#"{"resources": ["arn:x"]}"#, event));
    }

    // Event Ruler "JSON Array Matching": objects in arrays are matched per element; fields from
    // different elements never combine.
    #[test]
    fn objects_in_event_arrays_match_element_by_element() {
        let event = json!({"employees": [
            {"firstName": "John", "lastName": "Doe"},
            {"firstName": "Anna", "lastName": "Smith"},
            {"firstName": "Peter", "lastName": "Jones"}
        ]});
        assert!(matches(
            r#"{"employees": {"firstName": ["Anna"]}}"#,
            event.clone()
        ));
        assert!(matches(
            r#"{"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}"#,
            event.clone()
        ));
        assert!(!matches(
            r#"{"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}"#,
            event
        ));
    }

    // "Matching null values and empty strings": both can be matched, and are not interchangeable.
    #[test]
    fn null_and_empty_string_are_distinct() {
        assert!(matches(
            r#"{"detail": {"eventVersion": [""]}}"#,
            ec2_event()
        ));
        assert!(matches(
            r#"{"detail": {"responseElements": [null]}}"#,
            ec2_event()
        ));
        assert!(!matches(
            r#"{"detail": {"eventVersion": [null]}}"#,
            ec2_event()
        ));
        assert!(!matches(
            r#"{"detail": {"responseElements": [""]}}"#,
            ec2_event()
        ));
    }

    // "Matching event field values": all JSON types match exactly; strings are case-sensitive
    // and a string never equals a number or a boolean.
    #[test]
    fn exact_values_respect_json_types() {
        assert!(matches(r#"{"detail": {"enabled": [true]}}"#, ec2_event()));
        assert!(!matches(
            r#"{"detail": {"enabled": ["true"]}}"#,
            ec2_event()
        ));
        assert!(!matches(r#"{"detail": {"c-count": ["5"]}}"#, ec2_event()));
        assert!(!matches(r#"{"source": ["AWS.EC2"]}"#, ec2_event()));
    }

    // Numbers are compared by value: 301.8 == 3.018e2 (Event Ruler "Numeric matching" example).
    #[test]
    fn numbers_compare_numerically() {
        assert!(matches(
            r#"{"detail": {"x-limit": [3.018e2]}}"#,
            ec2_event()
        ));
        assert!(matches(r#"{"detail": {"c-count": [5.0]}}"#, ec2_event()));
        assert!(!matches(r#"{"detail": {"c-count": [6]}}"#, ec2_event()));
    }

    // "Prefix matching" / "Suffix matching", also with equals-ignore-case; string values only.
    #[test]
    fn prefix_and_suffix() {
        assert!(matches(
            r#"{"time": [{"prefix": "2017-12-22"}]}"#,
            ec2_event()
        ));
        assert!(!matches(
            r#"{"time": [{"prefix": "2017-10-02"}]}"#,
            ec2_event()
        ));
        assert!(matches(
            r#"{"detail": {"instance-id": [{"suffix": "def0"}]}}"#,
            ec2_event()
        ));
        assert!(matches(
            r#"{"source": [{"prefix": {"equals-ignore-case": "AWS."}}]}"#,
            ec2_event()
        ));
        assert!(matches(
            r#"{"source": [{"suffix": {"equals-ignore-case": "EC2"}}]}"#,
            ec2_event()
        ));
        assert!(!matches(r#"{"source": [{"suffix": "EC2"}]}"#, ec2_event()));
        assert!(!matches(
            r#"{"detail": {"c-count": [{"prefix": "5"}]}}"#,
            ec2_event()
        ));
    }

    // "Equals-ignore-case matching" works on strings only.
    #[test]
    fn equals_ignore_case() {
        assert!(matches(
            r#"{"detail": {"state": [{"equals-ignore-case": "TERMINATED"}]}}"#,
            ec2_event()
        ));
        assert!(!matches(
            r#"{"detail": {"state": [{"equals-ignore-case": "running"}]}}"#,
            ec2_event()
        ));
        assert!(!matches(
            r#"{"detail": {"enabled": [{"equals-ignore-case": "TRUE"}]}}"#,
            ec2_event()
        ));
    }

    // "Anything-but matching": single string or number, or a list of strings or of numbers;
    // arrays match when some element is not excluded; a missing field does not match.
    #[test]
    fn anything_but_values() {
        assert!(matches(
            r#"{"detail": {"state": [{"anything-but": "initializing"}]}}"#,
            ec2_event()
        ));
        assert!(!matches(
            r#"{"detail": {"state": [{"anything-but": "terminated"}]}}"#,
            ec2_event()
        ));
        assert!(!matches(
            r#"{"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}"#,
            ec2_event()
        ));
        assert!(matches(
            r#"{"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}"#,
            ec2_event()
        ));
        assert!(!matches(
            r#"{"detail": {"c-count": [{"anything-but": 5}]}}"#,
            ec2_event()
        ));
        assert!(matches(
            r#"{"p": [{"anything-but": [100, 500]}]}"#,
            json!({"p": [100, 50]})
        ));
        assert!(!matches(
            r#"{"p": [{"anything-but": [100, 500]}]}"#,
            json!({"p": [100, 500]})
        ));
        assert!(!matches(
            r#"{"missing": [{"anything-but": "x"}]}"#,
            ec2_event()
        ));
    }

    // "Anything-but" applied to prefix, suffix, equals-ignore-case and wildcard.
    #[test]
    fn anything_but_forms() {
        assert!(!matches(
            r#"{"region": [{"anything-but": {"prefix": "us-"}}]}"#,
            ec2_event()
        ));
        assert!(matches(
            r#"{"region": [{"anything-but": {"prefix": "eu-"}}]}"#,
            ec2_event()
        ));
        assert!(matches(
            r#"{"f": [{"anything-but": {"suffix": ".png"}}]}"#,
            json!({"f": "a.jpg"})
        ));
        assert!(!matches(
            r#"{"f": [{"anything-but": {"suffix": ".png"}}]}"#,
            json!({"f": "a.png"})
        ));
        let ignore_case =
            r#"{"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "INIT"]}}]}"#;
        assert!(!matches(ignore_case, json!({"state": "init"})));
        assert!(matches(ignore_case, json!({"state": "running"})));
        let wildcard = r#"{"p": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#;
        assert!(!matches(wildcard, json!({"p": "/usr/lib/x"})));
        assert!(matches(wildcard, json!({"p": "/usr/bin/x"})));
    }

    // "Exists matching": presence of a leaf; exists:false matches a missing field, including
    // under a missing parent; an object is not a leaf; null is a present value.
    #[test]
    fn exists() {
        assert!(matches(
            r#"{"detail": {"state": [{"exists": true}]}}"#,
            ec2_event()
        ));
        assert!(!matches(
            r#"{"detail": {"state": [{"exists": false}]}}"#,
            ec2_event()
        ));
        assert!(matches(
            r#"{"detail": {"nope": [{"exists": false}]}}"#,
            ec2_event()
        ));
        assert!(!matches(
            r#"{"detail": {"nope": [{"exists": true}]}}"#,
            ec2_event()
        ));
        assert!(matches(
            r#"{"nope": {"deeper": [{"exists": false}]}}"#,
            ec2_event()
        ));
        assert!(matches(
            r#"{"detail": {"responseElements": [{"exists": true}]}}"#,
            ec2_event()
        ));
        let nested = json!({"detail": {"c-count": {"c1": 100}}});
        assert!(matches(
            r#"{"detail": {"c-count": [{"exists": false}]}}"#,
            nested.clone()
        ));
        assert!(!matches(
            r#"{"detail": {"c-count": [{"exists": true}]}}"#,
            nested
        ));
    }

    // "Numeric matching": ranges on JSON numbers only, within +/-5.0e9.
    #[test]
    fn numeric_ranges() {
        let p = r#"{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}"#;
        assert!(matches(p, ec2_event()));
        assert!(!matches(p, json!({"detail": {"c-count": 0}})));
        assert!(!matches(p, json!({"detail": {"c-count": 5.000001}})));
        assert!(!matches(p, json!({"detail": {"c-count": "3"}})));
        assert!(matches(
            r#"{"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}}"#,
            ec2_event()
        ));
        assert!(matches(
            r#"{"n": [{"numeric": ["<", 10]}]}"#,
            json!({"n": -4})
        ));
        assert!(matches(
            r#"{"n": [{"numeric": [">=", 10]}]}"#,
            json!({"n": 10})
        ));
        assert!(!matches(
            r#"{"n": [{"numeric": [">", 0]}]}"#,
            json!({"n": 6.0e9})
        ));
        assert!(matches(
            r#"{"n": [{"numeric": [">", 10]}]}"#,
            json!({"n": [1, 20]})
        ));
    }

    // "Wildcard matching": `*` matches zero or more characters, `\*` is a literal star.
    #[test]
    fn wildcards() {
        let p = r#"{"f": [{"wildcard": "dir/*.png"}]}"#;
        assert!(matches(p, json!({"f": "dir/a.png"})));
        assert!(matches(p, json!({"f": "dir/.png"})));
        assert!(!matches(p, json!({"f": "other/a.png"})));
        assert!(matches(
            r#"{"f": [{"wildcard": "*Title*"}]}"#,
            json!({"f": "A Title here"})
        ));
        assert!(matches(
            r#"{"f": [{"wildcard": "a*b*a"}]}"#,
            json!({"f": "aba"})
        ));
        assert!(!matches(
            r#"{"f": [{"wildcard": "a*b*a"}]}"#,
            json!({"f": "ab"})
        ));
        assert!(matches(
            r#"{"f": [{"wildcard": "a\\*b"}]}"#,
            json!({"f": "a*b"})
        ));
        assert!(!matches(
            r#"{"f": [{"wildcard": "a\\*b"}]}"#,
            json!({"f": "axb"})
        ));
        assert!(matches(
            r#"{"f": [{"wildcard": "no-star"}]}"#,
            json!({"f": "no-star"})
        ));
        assert!(!matches(r#"{"f": [{"wildcard": "*"}]}"#, json!({"f": 1})));
    }

    // The "$or" primitive: OR across fields, alongside AND-ed fields.
    #[test]
    fn or_across_fields() {
        let p = r#"{"source": ["aws.ec2"], "$or": [{"region": ["eu-west-1"]}, {"detail": {"state": ["terminated"]}}]}"#;
        assert!(matches(p, ec2_event()));
        let mut other = ec2_event();
        other["detail"]["state"] = json!("running");
        assert!(!matches(p, other));
    }

    #[test]
    fn the_item_created_rule_pattern_parses_and_matches() {
        let p = pattern(crate::events::ITEM_CREATED_RULE_PATTERN);
        assert!(
            p.matches(&json!({"source": "items.api", "detail-type": "ItemCreated", "detail": {}}))
        );
        assert!(!p.matches(
            &json!({"source": "items.other", "detail-type": "ItemCreated", "detail": {}})
        ));
        assert!(
            !p.matches(&json!({"source": "items.api", "detail-type": "ItemDeleted", "detail": {}}))
        );
    }

    fn error(json: &str) -> PatternError {
        EventPattern::parse(json).expect_err(json)
    }

    // The guide: "the value to match is in a JSON array"; patterns are JSON objects.
    #[test]
    fn rejects_malformed_structure() {
        assert!(matches!(error("not json"), PatternError::Json(_)));
        assert!(matches!(
            error(r#"["a"]"#),
            PatternError::NotAnObject { .. }
        ));
        assert!(matches!(error("{}"), PatternError::EmptyObject { .. }));
        assert!(matches!(
            error(r#"{"detail": {}}"#),
            PatternError::EmptyObject { .. }
        ));
        assert!(matches!(
            error(r#"{"source": "items.api"}"#),
            PatternError::NotAnArray { .. }
        ));
        assert!(matches!(
            error(r#"{"source": 5}"#),
            PatternError::NotAnArray { .. }
        ));
        assert!(matches!(
            error(r#"{"source": [["a"]]}"#),
            PatternError::NotAnArray { .. }
        ));
        assert!(matches!(
            error(r#"{"source": []}"#),
            PatternError::EmptyArray { .. }
        ));
        assert!(matches!(
            error(r#"{"$or": [{"a": ["b"]}]}"#),
            PatternError::InvalidOperand { .. }
        ));
    }

    #[test]
    fn rejects_bad_operators() {
        assert!(matches!(
            error(r#"{"a": [{"startsWith": "x"}]}"#),
            PatternError::UnknownOperator { .. }
        ));
        assert!(matches!(
            error(r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#),
            PatternError::MatchObject { .. }
        ));
        assert!(matches!(
            error(r#"{"a": [{}]}"#),
            PatternError::MatchObject { .. }
        ));
        assert!(matches!(
            error(r#"{"a": [{"cidr": "10.0.0.0/24"}]}"#),
            PatternError::Unsupported { .. }
        ));
        assert!(matches!(
            error(r#"{"a": [{"prefix": 5}]}"#),
            PatternError::InvalidOperand { .. }
        ));
        assert!(matches!(
            error(r#"{"a": [{"prefix": {"other": "x"}}]}"#),
            PatternError::InvalidOperand { .. }
        ));
        assert!(matches!(
            error(r#"{"a": [{"exists": "yes"}]}"#),
            PatternError::InvalidOperand { .. }
        ));
        assert!(matches!(
            error(r#"{"a": [{"equals-ignore-case": 1}]}"#),
            PatternError::InvalidOperand { .. }
        ));
        // Anything-but lists hold only strings or only numbers; no booleans or nulls.
        assert!(matches!(
            error(r#"{"a": [{"anything-but": ["x", 1]}]}"#),
            PatternError::InvalidOperand { .. }
        ));
        assert!(matches!(
            error(r#"{"a": [{"anything-but": []}]}"#),
            PatternError::InvalidOperand { .. }
        ));
        assert!(matches!(
            error(r#"{"a": [{"anything-but": null}]}"#),
            PatternError::InvalidOperand { .. }
        ));
        assert!(matches!(
            error(r#"{"a": [{"anything-but": {"prefix": ""}}]}"#),
            PatternError::InvalidOperand { .. }
        ));
        // Wildcards: no consecutive stars, and only `\*` and `\\` escapes.
        assert!(matches!(
            error(r#"{"a": [{"wildcard": "a**b"}]}"#),
            PatternError::InvalidOperand { .. }
        ));
        assert!(matches!(
            error(r#"{"a": [{"wildcard": "a\\nb"}]}"#),
            PatternError::InvalidOperand { .. }
        ));
    }

    #[test]
    fn rejects_bad_numeric_ranges() {
        for bad in [
            r#"{"a": [{"numeric": []}]}"#,
            r#"{"a": [{"numeric": [">"]}]}"#,
            r#"{"a": [{"numeric": [">", "5"]}]}"#,
            r#"{"a": [{"numeric": ["~", 5]}]}"#,
            r#"{"a": [{"numeric": [">", 5, ">", 6]}]}"#,
            r#"{"a": [{"numeric": [">", 5, "<", 5]}]}"#,
            r#"{"a": [{"numeric": [">", 6, "<", 5]}]}"#,
            r#"{"a": [{"numeric": ["=", 5, "<", 6]}]}"#,
            r#"{"a": [{"numeric": [">", 0, "<", 5, ">", 1]}]}"#,
            r#"{"a": [{"numeric": [">", 6e9]}]}"#,
            r#"{"a": [{"numeric": 5}]}"#,
        ] {
            assert!(
                matches!(error(bad), PatternError::BadNumericRange { .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_name_the_field() {
        let message = error(r#"{"detail": {"state": []}}"#).to_string();
        assert!(message.contains("detail.state"), "{message}");
    }
}
