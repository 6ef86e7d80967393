//! Least privilege, checked: no IAM statement allows a wildcard action; a `*` resource only where
//! AWS offers no narrower one, said in a comment in the statement; a Deny may name wildcards
//! (it only takes away), with a comment too; the functions' roles allow the exact actions of
//! their adapters on the exact resources. The pipeline's roles are `pipeline.rs`'.

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
    deny: bool,
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
                let deny = match try_attr(s, "effect").map(string) {
                    None | Some("Allow") => false,
                    Some("Deny") => true,
                    Some(other) => panic!("{}: effect {other}", file.display()),
                };
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
                    deny,
                    actions: list("actions"),
                    resources: list("resources"),
                    sid,
                });
                for principals in blocks(s, "principals", &[]) {
                    let ids = source(attr(principals.body(), "identifiers"));
                    assert!(
                        deny || !ids.contains("\"*\""),
                        "{}: a wildcard principal in an Allow",
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
        let comment = s.text.lines().any(|l| l.trim_start().starts_with('#'));
        for action in &s.actions {
            assert!(
                !action.contains('*') || (s.deny && comment),
                "{} {}: wildcard action {action} (only a Deny may have one, with a comment saying why)",
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
