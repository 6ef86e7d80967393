//! IAM's policy evaluation, for identity policies and permissions boundaries, as AWS documents
//! it ("Policy evaluation logic"): an explicit Deny in any policy wins; otherwise the request
//! needs an Allow in the identity policies and, when the principal has a permissions boundary,
//! in the boundary too. Actions match case-insensitively with `*` and `?` wildcards; resource
//! ARNs match case-sensitively with the same wildcards. Condition operators are the ones the
//! stack's policies use; any other is refused loudly rather than guessed.

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// One request to authorize: an action on a resource, with the request's condition keys.
#[derive(Clone, Debug)]
pub struct Request {
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(action: &str, resource: &str) -> Self {
        Request {
            action: action.to_owned(),
            resource: resource.to_owned(),
            context: BTreeMap::new(),
        }
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.context
            .entry(key.to_owned())
            .or_default()
            .push(value.to_owned());
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// `*` any run of characters, `?` any one character.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if ignore_case {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn list(value: Option<&Json>) -> Vec<String> {
    match value {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(items)) => items
            .iter()
            .map(|i| i.as_str().expect("a string in a policy list").to_owned())
            .collect(),
        None => Vec::new(),
        Some(other) => panic!("not a policy list: {other}"),
    }
}

/// ARNs compare by their six parts; a pattern's wildcards stay within... AWS matches the whole
/// string for ArnLike, part by part: here the whole string, which is equivalent for patterns
/// whose wildcards sit in the resource part (all of the stack's).
fn arn_like(pattern: &str, arn: &str) -> bool {
    wildcard_match(pattern, arn, false)
}

fn condition_holds(operator: &str, key: &str, wanted: &[String], request: &Request) -> bool {
    let (operator, if_exists) = match operator.strip_suffix("IfExists") {
        Some(op) => (op, true),
        None => (operator, false),
    };
    let (set, operator) = if let Some(op) = operator.strip_prefix("ForAnyValue:") {
        ("any", op)
    } else if let Some(op) = operator.strip_prefix("ForAllValues:") {
        ("all", op)
    } else {
        ("single", operator)
    };
    let present = request.context.get(key);
    if operator == "Null" {
        let is_null = present.is_none();
        return wanted.iter().any(|w| (w == "true") == is_null);
    }
    let Some(values) = present else {
        // A missing key: negated operators hold, others do not, unless …IfExists; ForAllValues
        // holds on an empty set.
        let negated = operator.contains("Not");
        return if_exists || negated || set == "all";
    };
    let matches_one = |value: &str| -> bool {
        wanted.iter().any(|w| match operator {
            "StringEquals" | "ArnEquals" | "StringNotEquals" | "ArnNotEquals" => w == value,
            "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => w.eq_ignore_ascii_case(value),
            "StringLike" | "StringNotLike" => wildcard_match(w, value, false),
            "ArnLike" | "ArnNotLike" => arn_like(w, value),
            "Bool" => w.eq_ignore_ascii_case(value),
            other => panic!("condition operator {other} is not modelled"),
        })
    };
    let negated = operator.contains("Not");
    let each = |value: &String| matches_one(value) != negated;
    match set {
        "all" => values.iter().all(each),
        _ => values.iter().any(each),
    }
}

/// Whether `value` is named by the statement's `key` (e.g. Action) or not excluded by its
/// `not_key` (NotAction); a statement has one of the two.
fn names(statement: &Json, key: &str, not_key: &str, value: &str, ignore_case: bool) -> bool {
    let named = |patterns: &Json| {
        list(Some(patterns))
            .iter()
            .any(|p| wildcard_match(p, value, ignore_case))
    };
    match (statement.get(key), statement.get(not_key)) {
        (Some(patterns), _) => named(patterns),
        (None, Some(excluded)) => !named(excluded),
        (None, None) => false,
    }
}

fn statement_applies(statement: &Json, request: &Request) -> bool {
    if !names(statement, "Action", "NotAction", &request.action, true)
        || !names(
            statement,
            "Resource",
            "NotResource",
            &request.resource,
            false,
        )
    {
        return false;
    }
    match statement.get("Condition") {
        None => true,
        Some(Json::Object(by_operator)) => by_operator.iter().all(|(operator, keys)| {
            keys.as_object()
                .expect("a condition's keys")
                .iter()
                .all(|(key, values)| condition_holds(operator, key, &list(Some(values)), request))
        }),
        Some(other) => panic!("not a condition block: {other}"),
    }
}

fn statements(document: &Json) -> Vec<&Json> {
    match document.get("Statement") {
        Some(Json::Array(items)) => items.iter().collect(),
        Some(one @ Json::Object(_)) => vec![one],
        _ => panic!("a policy document without statements: {document}"),
    }
}

fn effect_of(documents: &[&Json], request: &Request) -> Decision {
    let mut allowed = false;
    for document in documents {
        for statement in statements(document) {
            if !statement_applies(statement, request) {
                continue;
            }
            match statement.get("Effect").and_then(Json::as_str) {
                Some("Deny") => return Decision::ExplicitDeny,
                Some("Allow") => allowed = true,
                other => panic!("a statement's Effect is {other:?}"),
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// The decision for a principal holding `identity` policies and, maybe, a `boundary`.
pub fn evaluate(identity: &[&Json], boundary: Option<&Json>, request: &Request) -> Decision {
    let mut all: Vec<&Json> = identity.to_vec();
    all.extend(boundary);
    if effect_of(&all, request) == Decision::ExplicitDeny {
        return Decision::ExplicitDeny;
    }
    if effect_of(identity, request) != Decision::Allow {
        return Decision::ImplicitDeny;
    }
    match boundary {
        Some(b) if effect_of(&[b], request) != Decision::Allow => Decision::ImplicitDeny,
        _ => Decision::Allow,
    }
}

/// Every action named in Allow statements of `document` (as written).
pub fn allowed_actions(document: &Json) -> Vec<String> {
    statements(document)
        .into_iter()
        .filter(|s| s.get("Effect").and_then(Json::as_str) == Some("Allow"))
        .flat_map(|s| list(s.get("Action")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("s3:Get*", "s3:GetObject", true));
        assert!(wildcard_match("S3:GETOBJECT", "s3:GetObject", true));
        assert!(!wildcard_match("s3:Get*", "s3:PutObject", true));
        assert!(wildcard_match(
            "arn:aws:iam::1:role/a-*-function",
            "arn:aws:iam::1:role/a-items-function",
            false
        ));
        assert!(!wildcard_match(
            "arn:aws:iam::1:role/a-*-function",
            "arn:aws:iam::1:role/a-deploy",
            false
        ));
        assert!(wildcard_match("a?c", "abc", false));
        assert!(!wildcard_match("a?c", "ac", false));
        assert!(
            !wildcard_match("arn:aws:s3:::B", "arn:aws:s3:::b", false),
            "ARNs are case-sensitive"
        );
    }

    #[test]
    fn deny_wins_and_boundaries_cap() {
        let allow = json!({"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]});
        let deny = json!({"Statement": [{"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "arn:aws:iam::1:role/me"}]});
        let boundary =
            json!({"Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]});
        let delete_me = Request::new("iam:DeleteRole", "arn:aws:iam::1:role/me");
        let delete_other = Request::new("iam:DeleteRole", "arn:aws:iam::1:role/other");
        assert_eq!(
            evaluate(&[&allow, &deny], None, &delete_me),
            Decision::ExplicitDeny
        );
        assert_eq!(
            evaluate(&[&allow, &deny], None, &delete_other),
            Decision::Allow
        );
        assert_eq!(
            evaluate(&[&allow], Some(&boundary), &delete_other),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(
                &[&allow],
                Some(&boundary),
                &Request::new("iam:GetRole", "x")
            ),
            Decision::Allow
        );
        assert_eq!(
            evaluate(&[&boundary], None, &delete_other),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn conditions() {
        let pass = json!({"Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}]});
        let request = Request::new("iam:PassRole", "arn:aws:iam::1:role/r");
        assert_eq!(
            evaluate(&[&pass], None, &request),
            Decision::ImplicitDeny,
            "a missing key fails StringEquals"
        );
        assert_eq!(
            evaluate(
                &[&pass],
                None,
                &request
                    .clone()
                    .with("iam:PassedToService", "lambda.amazonaws.com")
            ),
            Decision::Allow
        );
        assert_eq!(
            evaluate(
                &[&pass],
                None,
                &request
                    .clone()
                    .with("iam:PassedToService", "ec2.amazonaws.com")
            ),
            Decision::ImplicitDeny
        );
        let deny_other = json!({"Statement": [{"Effect": "Deny", "Action": "iam:CreateRole", "Resource": "*",
            "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": "arn:b"}}}]});
        let create = Request::new("iam:CreateRole", "arn:aws:iam::1:role/r");
        assert_eq!(
            evaluate(&[&deny_other], None, &create),
            Decision::ExplicitDeny,
            "a missing key satisfies StringNotEquals"
        );
        assert_eq!(
            evaluate(
                &[&deny_other],
                None,
                &create.clone().with("iam:PermissionsBoundary", "arn:b")
            ),
            Decision::ImplicitDeny
        );
        let like = json!({"Statement": [{"Effect": "Allow", "Action": "x:Y", "Resource": "*",
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:1:rule/*"}}}]});
        assert_eq!(
            evaluate(
                &[&like],
                None,
                &Request::new("x:Y", "r")
                    .with("aws:SourceArn", "arn:aws:events:us-east-1:1:rule/a")
            ),
            Decision::Allow
        );
        assert_eq!(
            evaluate(
                &[&like],
                None,
                &Request::new("x:Y", "r")
                    .with("aws:SourceArn", "arn:aws:events:us-east-1:2:rule/a")
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn not_action_and_not_resource() {
        let deny_all_but = json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "NotAction": ["s3:GetObject"], "NotResource": ["arn:aws:s3:::b/*"]}]});
        assert_eq!(
            evaluate(
                &[&deny_all_but],
                None,
                &Request::new("s3:GetObject", "arn:aws:s3:::c/k")
            ),
            Decision::Allow
        );
        assert_eq!(
            evaluate(
                &[&deny_all_but],
                None,
                &Request::new("s3:PutObject", "arn:aws:s3:::c/k")
            ),
            Decision::ExplicitDeny
        );
        assert_eq!(
            evaluate(
                &[&deny_all_but],
                None,
                &Request::new("s3:PutObject", "arn:aws:s3:::b/k")
            ),
            Decision::Allow
        );
    }
}
