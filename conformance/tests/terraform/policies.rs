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
fn the_function_roles_allow_exactly_what_their_adapters_call() {
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

    // The stream consumer: the stream it is mapped to, its bus, its dead-letter queue.
    check(
        "ItemsStream",
        &[
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
        ],
        &["var.table_stream_arn"],
    );
    check("ListStreams", &["dynamodb:ListStreams"], &["\"*\""]);
    check(
        "PublishItemCreated",
        &["events:PutEvents"],
        &["var.event_bus_arn"],
    );
    check(
        "DeadLetterQueue",
        &["sqs:SendMessage"],
        &["aws_sqs_queue.item_events_dlq.arn"],
    );
    assert_eq!(
        by_sid.len(),
        10,
        "no other statement in the functions' roles"
    );

    // Each function gets its own statements and no other's.
    let body = module_body(&module_dir("functions"));
    let doc = block(&body, "data", &["aws_iam_policy_document", "function"]).body();
    assert_eq!(
        source(attr(doc, "source_policy_documents")),
        "[for key, json in local.own_policies : json if key == each.key]"
    );
    let own = local(&module_dir("functions"), "own_policies");
    let own: BTreeMap<String, String> = object(&own)
        .into_iter()
        .map(|(k, v)| (k, source(v)))
        .collect();
    assert_eq!(
        own,
        BTreeMap::from([
            (
                "items".to_owned(),
                "data.aws_iam_policy_document.items.json".to_owned()
            ),
            (
                "item-events".to_owned(),
                "data.aws_iam_policy_document.item_events.json".to_owned()
            ),
        ])
    );
    let rendered = |key: &str| {
        conformance::render::root_policy(&format!(
            "module.functions.data.aws_iam_policy_document.function[\"{key}\"]"
        ))
        .to_string()
    };
    assert!(rendered("items").contains("dynamodb:PutItem"));
    assert!(!rendered("items").contains("dynamodb:GetRecords"));
    assert!(!rendered("items").contains("sqs:SendMessage"));
    assert!(rendered("item-events").contains("dynamodb:GetRecords"));
    assert!(!rendered("item-events").contains("dynamodb:PutItem"));
    assert!(!rendered("item-events").contains("secretsmanager:"));
    assert!(!rendered("public").contains("dynamodb:"));
    assert!(!rendered("public").contains("events:"));
}
