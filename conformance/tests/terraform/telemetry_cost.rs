//! What the stack logs and traces, held to what on-call reads (docs/cost.md): the access log
//! keeps each key something reads and no other; a log group is Infrequent Access only when
//! nothing that needs the Standard class reads it; Lambda writes JSON and its own records at the
//! level Terraform's variable says; a function whose traces a runbook reads is actively traced.

use std::collections::{BTreeMap, BTreeSet};

use hcl::Value;
use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use local::gateway::access_log::AccessLog;
use local::gateway::routes::Function;
use serde_json::Value as Json;

use crate::support::*;

fn repo_file(path: &str) -> String {
    read(&conformance::repo_root().join(path))
}

/// The files of a repository folder with the extension `ext`, sorted.
fn files(dir: &str, ext: &str) -> Vec<(String, String)> {
    let root = conformance::repo_root().join(dir);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("a readable folder entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                read(&p),
            )
        })
        .collect();
    out.sort();
    out
}

/// Each runbook's Logs Insights blocks: the kinds of log its fence names, and the query.
fn runbook_queries() -> Vec<(String, BTreeSet<String>, String)> {
    let mut out = Vec::new();
    for (name, text) in files("runbooks", "md") {
        for block in text.split("```logs-insights").skip(1) {
            let (fence, rest) = block.split_once('\n').expect("a fenced block");
            let query = rest.split("```").next().unwrap().to_owned();
            let kinds = fence.split_whitespace().map(str::to_owned).collect();
            out.push((name.clone(), kinds, query));
        }
    }
    out
}

/// Each dashboard widget: its dashboard, title and properties.
fn dashboard_widgets() -> Vec<(String, String, Json)> {
    let mut out = Vec::new();
    for (name, text) in files("dashboards", "json") {
        let body: Json = serde_json::from_str(&text).unwrap();
        for w in body["widgets"].as_array().into_iter().flatten() {
            let title = w["properties"]["title"].as_str().unwrap_or("").to_owned();
            out.push((name.clone(), title, w["properties"].clone()));
        }
    }
    out
}

/// The `SOURCE '…'` placeholders of a dashboard query.
fn sources(query: &str) -> BTreeSet<String> {
    query
        .split("SOURCE '")
        .skip(1)
        .map(|s| s.split('\'').next().unwrap().to_owned())
        .collect()
}

fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

#[test]
fn the_access_log_keeps_each_key_on_call_reads_and_no_other() {
    // Who reads the access log: the runbooks' and dashboards' queries, the twin's console
    // (which shows a request's line, dated by its requestTime) and its rehearsal of the queries.
    let mut readers: Vec<(String, String)> = runbook_queries()
        .into_iter()
        .filter(|(_, kinds, _)| kinds.contains("access-log"))
        .map(|(name, _, query)| (name, query))
        .collect();
    readers.extend(
        dashboard_widgets()
            .into_iter()
            .filter_map(|(name, title, p)| {
                let query = p["query"].as_str()?;
                sources(query)
                    .contains("${access_log_group}")
                    .then(|| (format!("{name}: {title}"), query.to_owned()))
            }),
    );
    readers.push((
        "the twin's console".into(),
        repo_file("local/src/ops/api.rs") + &repo_file("local/assets/ops.js"),
    ));
    readers.push((
        "local/tests/twin/access_log_queries.rs".into(),
        repo_file("local/tests/twin/access_log_queries.rs"),
    ));
    let keys = AccessLog::field_names();
    let unread: Vec<&String> = keys
        .iter()
        .filter(|k| !readers.iter().any(|(_, text)| has_word(text, k)))
        .collect();
    assert!(
        unread.is_empty(),
        "access-log keys nothing reads, paid for on every request: {unread:?}"
    );

    // The console shows only keys the line has.
    let ops = repo_file("local/assets/ops.js");
    let list = ops
        .split("const ACCESS_FIELDS = [")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .expect("ops.js lists the access log's fields");
    for field in list.split(',').map(|f| f.trim().trim_matches('"')) {
        assert!(
            keys.iter().any(|k| k == field),
            "ops.js shows `{field}`, which the access log no longer has"
        );
    }
}

/// The stack's log groups: resource address, the placeholder dashboards use for it, and the kind
/// a runbook's fence names it by.
const GROUPS: [(&str, &str, &[&str], &str); 3] = [
    ("api", "access", &["${access_log_group}"], "access-log"),
    ("events", "archive", &["${archive_log_group}"], "archive"),
    (
        "functions",
        "function",
        &[
            "${items_log_group}",
            "${public_log_group}",
            "${item_events_log_group}",
        ],
        "function-log",
    ),
];

/// Why a group must stay in the Standard class: what reads it that the Infrequent Access class
/// does not serve, or that needs it queried with Standard groups (docs/cost.md, Log classes).
fn needs_standard(module: &str, placeholders: &[&str], kind: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    if module == "functions" {
        reasons.push("carries the functions' EMF documents, which become metrics".to_owned());
    }
    for (name, title, p) in dashboard_widgets() {
        if let Some(query) = p["query"].as_str() {
            let read = sources(query);
            if placeholders.iter().any(|g| read.contains(*g))
                && read.iter().any(|g| !placeholders.contains(&g.as_str()))
            {
                reasons.push(format!("{name}: `{title}` queries it with other groups"));
            }
        }
        let metrics = p["metrics"].to_string();
        if metrics.contains("\"AWS/Logs\"") && placeholders.iter().any(|g| metrics.contains(g)) {
            reasons.push(format!("{name}: `{title}` draws its AWS/Logs metrics"));
        }
    }
    for (name, kinds, _) in runbook_queries() {
        if kinds.contains(kind) && kinds.len() > 1 {
            reasons.push(format!("{name}: a query reads it with {kinds:?}"));
        }
    }
    for file in all_tf_files() {
        let text = code_without_comments(&read(&file));
        for filter in [
            "aws_cloudwatch_log_metric_filter",
            "aws_cloudwatch_log_subscription_filter",
        ] {
            if text.contains(&format!("resource \"{filter}\"")) {
                reasons.push(format!("{} has a {filter}", file.display()));
            }
        }
    }
    reasons
}

#[test]
fn a_log_group_is_infrequent_access_only_when_nothing_needs_standard() {
    for (module, name, placeholders, kind) in GROUPS {
        let body = module_body(&module_dir(module));
        let labels = ["aws_cloudwatch_log_group", name];
        let group = block(&body, "resource", &labels).body();
        let class = string(attr(group, "log_group_class"));
        let reasons = needs_standard(module, placeholders, kind);
        match class {
            "STANDARD" => assert!(
                !reasons.is_empty(),
                "{module}'s {name} group is Standard, and nothing needs it to be: docs/cost.md's \
                 log-class decision is out of date"
            ),
            "INFREQUENT_ACCESS" => assert!(
                reasons.is_empty(),
                "{module}'s {name} group is Infrequent Access, but: {reasons:#?}"
            ),
            other => panic!("{module}'s {name} group: unknown class {other}"),
        }
    }
}

fn contains(args: FuncArgs) -> Result<Value, String> {
    let list = args[0].as_array().ok_or("contains of a non-list")?;
    Ok(Value::Bool(list.contains(&args[1])))
}

fn context(var: &str, value: &str) -> Context<'static> {
    let mut vars = hcl::Map::new();
    vars.insert(var.to_owned(), Value::from(value));
    let mut ctx = Context::new();
    ctx.declare_var("var", Value::Object(vars));
    ctx.declare_func(
        "contains",
        FuncDef::builder()
            .param(ParamType::Any)
            .param(ParamType::Any)
            .build(contains),
    );
    ctx
}

/// Whether every validation of `variable` in `dir` accepts the string `value`.
fn accepts(dir: &std::path::Path, variable: &str, value: &str) -> bool {
    let block = &variables(dir)[variable];
    let ctx = context(variable, value);
    let validations: Vec<_> = blocks(block.body(), "validation", &[]).collect();
    assert!(!validations.is_empty(), "{variable} is validated");
    validations
        .iter()
        .all(|v| attr(v.body(), "condition").evaluate(&ctx).unwrap() == Value::Bool(true))
}

#[test]
fn the_functions_log_json_with_lambda_s_records_at_the_variable_s_level() {
    let dir = module_dir("functions");
    let body = module_body(&dir);
    let function = block(&body, "resource", &["aws_lambda_function", "function"]).body();
    let logging = block(function, "logging_config", &[]).body();
    assert_eq!(string(attr(logging, "log_format")), "JSON");
    assert_eq!(
        source(attr(logging, "log_group")),
        "aws_cloudwatch_log_group.function[each.key].name"
    );
    assert_eq!(
        source(attr(logging, "system_log_level")),
        "var.system_log_level"
    );
    assert_eq!(
        source(attr(logging, "application_log_level")),
        "local.application_log_level"
    );

    // WARN by default at both levels of the stack, and passed down.
    let root = terraform_dir();
    assert_eq!(
        default_of(&root, "lambda_system_log_level"),
        Some(Value::from("WARN"))
    );
    assert_eq!(
        default_of(&dir, "system_log_level"),
        Some(Value::from("WARN"))
    );
    let main = module_body(&root);
    let functions = block(&main, "module", &["functions"]).body();
    assert_eq!(
        source(attr(functions, "system_log_level")),
        "var.lambda_system_log_level"
    );
    for (dir, variable) in [
        (&root, "lambda_system_log_level"),
        (&dir, "system_log_level"),
    ] {
        for level in ["DEBUG", "INFO", "WARN"] {
            assert!(accepts(dir, variable, level), "{variable} refuses {level}");
        }
        for level in ["ERROR", "FATAL", "warn", ""] {
            assert!(!accepts(dir, variable, level), "{variable} takes {level}");
        }
    }

    // Lambda never filters the functions' lines above INFO: a line without a level (an EMF
    // document) is INFO to it, and a metric must never be dropped.
    let level = local(&dir, "application_log_level");
    for (log_level, want) in [
        ("TRACE", "TRACE"),
        ("DEBUG", "DEBUG"),
        ("INFO", "INFO"),
        ("WARN", "INFO"),
        ("ERROR", "INFO"),
    ] {
        let got = level.evaluate(&context("log_level", log_level)).unwrap();
        assert_eq!(got, Value::from(want), "LOG_LEVEL {log_level}");
    }
}

/// The functions whose traces a runbook reads: `service("items-api-<function>")`.
fn traced_in_runbooks() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, text) in files("runbooks", "md") {
        for part in text.split("service(\"items-api-").skip(1) {
            out.insert(part.split('"').next().unwrap().to_owned());
        }
    }
    out
}

#[test]
fn a_function_whose_traces_on_call_reads_is_actively_traced() {
    let dir = module_dir("functions");
    let functions = local(&dir, "functions");
    let tracing: BTreeMap<String, String> = object(&functions)
        .into_iter()
        .map(|(key, f)| (key, string(object_field(f, "tracing")).to_owned()))
        .collect();
    for (key, mode) in &tracing {
        assert!(
            ["Active", "PassThrough"].contains(&mode.as_str()),
            "{key}: {mode}"
        );
    }
    let read = traced_in_runbooks();
    assert!(
        read.contains("items") && read.contains("item-events"),
        "{read:?}"
    );
    for function in &read {
        assert_eq!(
            tracing.get(function).map(String::as_str),
            Some("Active"),
            "a runbook reads {function}'s traces"
        );
    }
    // No runbook reads public's traces, and an HTTP API sends no trace header: PassThrough
    // records none and costs none (docs/cost.md, X-Ray).
    assert!(!read.contains("public"));
    assert_eq!(tracing["public"], "PassThrough");

    let body = module_body(&dir);
    let function = block(&body, "resource", &["aws_lambda_function", "function"]).body();
    let config = block(function, "tracing_config", &[]).body();
    assert_eq!(source(attr(config, "mode")), "each.value.tracing");

    // The twin's gateway traces each function as Lambda does here.
    for function in [Function::Public, Function::Items] {
        assert_eq!(
            function.tracing().name(),
            tracing[function.name()],
            "the twin's {}",
            function.name()
        );
    }
}

#[test]
fn the_string_helpers_read_what_they_should() {
    assert!(has_word("fields ip, routeKey", "ip"));
    assert!(!has_word("fields ipAddress", "ip"));
    assert_eq!(
        sources("SOURCE 'a' | SOURCE 'b' | fields x"),
        ["a".to_owned(), "b".to_owned()].into_iter().collect()
    );
}
