//! Least privilege, checked: no IAM statement has a wildcard action; a `*` resource only where AWS
//! offers no narrower one, said in a comment in the statement; the functions' roles allow the
//! exact actions of their adapters on the exact resources; the deploy role trusts one
//! repository's environment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::*;

/// Each `statement { … }` of a file as text, by its sid.
fn statement_texts(path: &Path) -> BTreeMap<String, String> {
    let text = read(path);
    let mut out = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "statement {" {
            let mut depth = 0i32;
            let mut block = Vec::new();
            for line in &lines[i..] {
                depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
                block.push(*line);
                if depth == 0 {
                    break;
                }
            }
            let sid = block
                .iter()
                .find_map(|l| {
                    l.trim().strip_prefix("sid").map(|rest| {
                        rest.trim_start_matches([' ', '='])
                            .trim_matches('"')
                            .to_owned()
                    })
                })
                .unwrap_or_else(|| {
                    panic!("{}:{}: a statement without a sid", path.display(), i + 1)
                });
            assert!(
                out.insert(sid.clone(), block.join("\n")).is_none(),
                "{}: sid {sid} twice",
                path.display()
            );
            i += block.len();
        } else {
            i += 1;
        }
    }
    out
}

struct Statement {
    file: String,
    sid: String,
    actions: Vec<String>,
    resources: Vec<String>,
    text: String,
}

fn statements() -> Vec<Statement> {
    let mut out = Vec::new();
    for file in all_tf_files() {
        let body = parse(&file);
        let texts = statement_texts(&file);
        for doc in blocks(&body, "data", &["aws_iam_policy_document"]) {
            for statement in blocks(doc.body(), "statement", &[]) {
                let s = statement.body();
                for forbidden in ["not_actions", "not_resources", "not_principals"] {
                    assert!(
                        try_attr(s, forbidden).is_none(),
                        "{}: {forbidden}",
                        file.display()
                    );
                }
                if let Some(effect) = try_attr(s, "effect") {
                    assert_eq!(
                        string(effect),
                        "Allow",
                        "{}: only Allow statements",
                        file.display()
                    );
                }
                let sid = string(attr(s, "sid")).to_owned();
                let list = |key: &str| -> Vec<String> {
                    match try_attr(s, key) {
                        Some(hcl::Expression::Array(items)) => items.iter().map(source).collect(),
                        Some(other) => vec![source(other)],
                        None => Vec::new(),
                    }
                };
                out.push(Statement {
                    file: file.display().to_string(),
                    text: texts
                        .get(&sid)
                        .cloned()
                        .unwrap_or_else(|| panic!("{}: no text for {sid}", file.display())),
                    actions: list("actions"),
                    resources: list("resources"),
                    sid,
                });
                for principals in blocks(s, "principals", &[]) {
                    let ids = source(attr(principals.body(), "identifiers"));
                    assert!(
                        !ids.contains("\"*\""),
                        "{}: a wildcard principal",
                        file.display()
                    );
                }
            }
        }
    }
    assert!(out.len() > 10, "found the policy documents");
    out
}

#[test]
fn no_wildcard_actions_and_wildcard_resources_only_with_a_reason() {
    for s in statements() {
        for action in &s.actions {
            assert!(
                !action.contains('*'),
                "{} {}: wildcard action {action}",
                s.file,
                s.sid
            );
        }
        if s.resources.iter().any(|r| r == "\"*\"") {
            let comment = s.text.lines().any(|l| l.trim_start().starts_with('#'));
            assert!(
                comment,
                "{} {}: a \"*\" resource needs a comment saying why no narrower one exists",
                s.file, s.sid
            );
        }
    }
}

#[test]
fn the_items_role_allows_exactly_what_its_adapters_call() {
    let file = module_dir("functions").join("main.tf");
    let by_sid: BTreeMap<String, Statement> = statements()
        .into_iter()
        .filter(|s| s.file == file.display().to_string())
        .map(|s| (s.sid.clone(), s))
        .collect();
    let check = |sid: &str, actions: &[&str], resources: &[&str]| {
        let s = &by_sid[sid];
        let quoted = |v: &[&str]| {
            v.iter()
                .map(|a| format!("\"{a}\""))
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(
            s.actions.iter().cloned().collect::<BTreeSet<_>>(),
            quoted(actions),
            "{sid}"
        );
        assert_eq!(
            s.resources.iter().cloned().collect::<BTreeSet<_>>(),
            resources
                .iter()
                .map(|r| r.to_string())
                .collect::<BTreeSet<_>>(),
            "{sid}"
        );
    };
    check(
        "ItemsTable",
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:Scan",
        ],
        &["var.table_arn"],
    );
    check("ItemEvents", &["events:PutEvents"], &["var.event_bus_arn"]);
    check(
        "ConfigSecret",
        &["secretsmanager:GetSecretValue"],
        &["var.config_secret_arn"],
    );
    check(
        "Traces",
        &["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
        &["\"*\""],
    );
    check(
        "OwnLogGroup",
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        &["\"${aws_cloudwatch_log_group.function[each.key].arn}:*\""],
    );
    check("LambdaAssumes", &["sts:AssumeRole"], &[]);
    assert_eq!(
        by_sid.len(),
        6,
        "no other statement in the functions' roles"
    );

    // Only the items function gets the items statements.
    let body = module_body(&module_dir("functions"));
    let doc = block(&body, "data", &["aws_iam_policy_document", "function"]).body();
    assert_eq!(
        source(attr(doc, "source_policy_documents")),
        "each.key == \"items\" ? [data.aws_iam_policy_document.items.json] : []"
    );
}

#[test]
fn the_deploy_role_trusts_one_repository_environment_and_cannot_change_itself() {
    let dir = module_dir("ci");
    assert_eq!(
        source(&local(&dir, "subject")),
        "\"repo:${var.github_repository}:environment:${var.github_environment}\""
    );
    let body = module_body(&dir);
    let trust = block(&body, "data", &["aws_iam_policy_document", "trust"]).body();
    let statement = block(trust, "statement", &[]).body();
    let conditions: BTreeMap<String, (String, String)> = blocks(statement, "condition", &[])
        .map(|c| {
            let b = c.body();
            (
                string(attr(b, "variable")).to_owned(),
                (
                    string(attr(b, "test")).to_owned(),
                    source(attr(b, "values")),
                ),
            )
        })
        .collect();
    assert_eq!(
        conditions["token.actions.githubusercontent.com:sub"],
        ("StringEquals".to_owned(), "[local.subject]".to_owned())
    );
    assert_eq!(
        conditions["token.actions.githubusercontent.com:aud"],
        (
            "StringEquals".to_owned(),
            "[\"sts.amazonaws.com\"]".to_owned()
        )
    );
    // The roles the deploy role manages end in -function; its own name may not.
    let arns = local(&dir, "arn");
    let roles = source(object_field(&arns, "function_roles"));
    assert!(roles.ends_with("-*-function\""), "{roles}");
    let role_name = variables(&dir)["role_name"].clone();
    let validation = block(role_name.body(), "validation", &[]).body();
    assert!(source(attr(validation, "condition")).contains("\"-function\""));
}
