//! The SLO alarms of `terraform/modules/observability` against `local::slo`, the generator the
//! twin evaluates: the module's locals and resource attributes are evaluated with hcl-rs over
//! the repository's `slos/*.json`, and every name, rule, expression, period, threshold and
//! action must be what the Rust functions give.

use std::path::Path;

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::{Body, Expression, Value};
use local::slo::{self, BurnAlert, Severity, Slo, Window};

use crate::support::*;

const PREFIX: &str = "items-api";
const RUNBOOK_BASE_URL: &str = "https://github.com/example/items-api/blob/main";

fn slos_dir() -> std::path::PathBuf {
    conformance::repo_root().join("slos")
}

/// Terraform's `fileset(dir, "*.json")`: the file names, sorted.
fn tf_fileset(args: FuncArgs) -> Result<Value, String> {
    let (Value::String(dir), Value::String(pattern)) = (&args[0], &args[1]) else {
        return Err("fileset(dir, pattern)".into());
    };
    let ext = pattern
        .strip_prefix("*.")
        .ok_or_else(|| format!("only *.ext patterns: {pattern}"))?;
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{dir}: {e}"))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| Path::new(n).extension().is_some_and(|e| e == ext))
        .collect();
    names.sort();
    Ok(Value::Array(names.into_iter().map(Value::from).collect()))
}

fn tf_identity(args: FuncArgs) -> Result<Value, String> {
    Ok(args[0].clone())
}

/// `file(path)`, and `templatefile(path, vars)` without filling (the placeholders stay as
/// they are in the files; observability.rs holds the filled text to Terraform's templates).
fn tf_file(args: FuncArgs) -> Result<Value, String> {
    let Value::String(path) = &args[0] else {
        return Err("file(path)".into());
    };
    std::fs::read_to_string(path)
        .map(Value::from)
        .map_err(|e| format!("{path}: {e}"))
}

fn tf_jsondecode(args: FuncArgs) -> Result<Value, String> {
    let Value::String(text) = &args[0] else {
        return Err("jsondecode(string)".into());
    };
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    hcl::to_value(json).map_err(|e| e.to_string())
}

fn tf_flatten(args: FuncArgs) -> Result<Value, String> {
    fn into(value: &Value, out: &mut Vec<Value>) {
        match value {
            Value::Array(items) => items.iter().for_each(|v| into(v, out)),
            other => out.push(other.clone()),
        }
    }
    let mut out = Vec::new();
    into(&args[0], &mut out);
    Ok(Value::Array(out))
}

fn context() -> Context<'static> {
    let mut ctx = Context::new();
    let mut var = hcl::Map::new();
    var.insert("name".into(), Value::from(PREFIX));
    var.insert("runbook_base_url".into(), Value::from(RUNBOOK_BASE_URL));
    var.insert(
        "slos_dir".into(),
        Value::from(slos_dir().display().to_string()),
    );
    ctx.declare_var("var", Value::Object(var));
    let one = |f: fn(FuncArgs) -> Result<Value, String>| {
        FuncDef::builder().param(ParamType::Any).build(f)
    };
    ctx.declare_func("sort", one(tf_identity));
    ctx.declare_func("file", one(tf_file));
    ctx.declare_func("jsondecode", one(tf_jsondecode));
    ctx.declare_func("flatten", one(tf_flatten));
    ctx.declare_func(
        "fileset",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::String)
            .build(tf_fileset),
    );
    ctx.declare_func(
        "templatefile",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::Any)
            .build(tf_file),
    );
    ctx
}

fn eval(expr: &Expression, ctx: &Context) -> Value {
    expr.evaluate(ctx)
        .unwrap_or_else(|e| panic!("cannot evaluate {}: {e}", source(expr)))
}

/// `local.<names>` evaluated in order, each seeing the ones before.
fn eval_locals(dir: &Path, names: &[&str]) -> hcl::Map<String, Value> {
    let all = locals(dir);
    let mut done = hcl::Map::new();
    done.insert("placeholders".into(), Value::Object(hcl::Map::new()));
    for name in names {
        let mut ctx = context();
        ctx.declare_var("local", Value::Object(done.clone()));
        let expr = all.get(*name).unwrap_or_else(|| panic!("no local.{name}"));
        let value = eval(expr, &ctx);
        done.insert((*name).to_owned(), value);
    }
    done
}

fn number(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().expect("finite"),
        other => panic!("not a number: {other:?}"),
    }
}

fn text(value: &Value) -> &str {
    match value {
        Value::String(s) => s,
        other => panic!("not a string: {other:?}"),
    }
}

fn loaded() -> (Vec<Slo>, Vec<BurnAlert>) {
    let (slos, policy) =
        slo::load(&slos_dir(), |t| Ok(t.to_owned())).unwrap_or_else(|e| panic!("{e}"));
    assert!(!slos.is_empty() && !policy.alerts.is_empty());
    (slos, policy.alerts)
}

fn resource_body<'a>(body: &'a Body, kind: &str, name: &str) -> &'a Body {
    body.blocks()
        .find(|b| b.identifier() == "resource" && label_strs(b) == [kind, name])
        .unwrap_or_else(|| panic!("no resource {kind}.{name}"))
        .body()
}

fn field<'a>(value: &'a Value, key: &str) -> &'a Value {
    match value {
        Value::Object(map) => map.get(key).unwrap_or_else(|| panic!("no {key}")),
        other => panic!("not an object: {other:?}"),
    }
}

/// The `metric_query` blocks of an alarm, static ones by `id`.
fn static_query<'a>(alarm: &'a Body, id: &str) -> &'a Body {
    blocks(alarm, "metric_query", &[])
        .map(hcl::Block::body)
        .find(|b| try_attr(b, "id").is_some_and(|e| source(e) == format!("\"{id}\"")))
        .unwrap_or_else(|| panic!("no metric_query {id}"))
}

#[test]
fn slo_window_and_composite_alarms_are_the_ones_local_slo_generates() {
    let dir = module_dir("observability");
    let body = module_body(&dir);
    let (slos, alerts) = loaded();
    let evaluated = eval_locals(&dir, &["slo_policy", "slos", "slo_alerts", "slo_windows"]);

    // The same objectives, from the same files, burn-rates.json left out.
    let Value::Array(tf_slos) = &evaluated["slos"] else {
        panic!("local.slos is a list")
    };
    let tf_names: Vec<&str> = tf_slos.iter().map(|s| text(field(s, "name"))).collect();
    let names: Vec<&str> = slos.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(tf_names, names);

    let Value::Object(pairs) = &evaluated["slo_alerts"] else {
        panic!("local.slo_alerts is a map")
    };
    let Value::Object(windows) = &evaluated["slo_windows"] else {
        panic!("local.slo_windows is a map")
    };
    assert_eq!(pairs.len(), slos.len() * alerts.len());
    assert_eq!(windows.len(), 2 * pairs.len());

    let window_alarm = resource_body(&body, "aws_cloudwatch_metric_alarm", "slo_window");
    let composite = resource_body(&body, "aws_cloudwatch_composite_alarm", "slo");
    assert_eq!(source(attr(window_alarm, "for_each")), "local.slo_windows");
    assert_eq!(source(attr(composite, "for_each")), "local.slo_alerts");
    for actions in ["alarm_actions", "ok_actions"] {
        assert_eq!(
            source(attr(window_alarm, actions)),
            "[]",
            "window alarms notify nobody"
        );
        assert_eq!(
            source(attr(composite, actions)),
            "local.notify_targets[each.value.alert.severity]"
        );
    }

    let mut window_names = hcl::Map::new();
    for slo in &slos {
        for alert in &alerts {
            for window in Window::BOTH {
                let key = format!("{}-{}-{}", slo.name, alert.name, window.as_str());
                let each_value = windows
                    .get(&key)
                    .unwrap_or_else(|| panic!("local.slo_windows has no {key}"));
                let mut each = hcl::Map::new();
                each.insert("key".to_owned(), Value::from(key.clone()));
                each.insert("value".to_owned(), each_value.clone());
                let mut ctx = context();
                ctx.declare_var("each", Value::Object(each));
                let want = slo.window_alarm(alert, window);
                let get = |name: &str| eval(attr(window_alarm, name), &ctx);

                let name = get("alarm_name");
                assert_eq!(
                    text(&name),
                    format!("{PREFIX}-{}", want["name"].as_str().unwrap())
                );
                window_names.insert(key.clone(), {
                    let mut m = hcl::Map::new();
                    m.insert("alarm_name".to_owned(), name.clone());
                    Value::Object(m)
                });
                assert_eq!(
                    text(&get("alarm_description")),
                    format!(
                        "{} Runbook: {RUNBOOK_BASE_URL}/{}",
                        want["description"].as_str().unwrap(),
                        slo.runbook
                    )
                );
                assert_eq!(number(&get("threshold")), alert.burn_rate);
                assert_eq!(number(&get("evaluation_periods")), 1.0);
                assert_eq!(number(&get("datapoints_to_alarm")), 1.0);
                assert_eq!(
                    text(&get("comparison_operator")),
                    want["comparison"].as_str().unwrap()
                );
                assert_eq!(
                    text(&get("treat_missing_data")),
                    want["treat_missing_data"].as_str().unwrap()
                );

                // The generated queries: good, total and burn, then the SLI's over the window.
                let queries = want["metrics"].as_array().unwrap();
                for id in slo::RESERVED_IDS {
                    let tf = static_query(window_alarm, id);
                    let q = queries.iter().find(|q| q["Id"] == id).unwrap();
                    assert_eq!(
                        text(&eval(attr(tf, "expression"), &ctx)),
                        q["Expression"].as_str().unwrap(),
                        "{key}: {id}"
                    );
                    assert_eq!(
                        attr(tf, "return_data"),
                        &Expression::Bool(q["ReturnData"].as_bool().unwrap())
                    );
                }
                let dynamic = blocks(window_alarm, "dynamic", &["metric_query"])
                    .next()
                    .expect("dynamic metric_query");
                assert_eq!(
                    source(attr(dynamic.body(), "for_each")),
                    "each.value.slo.sli.metrics"
                );
                let content = block(dynamic.body(), "content", &[]).body();
                let metric = block(content, "metric", &[]).body();
                let period = number(&eval(attr(metric, "period"), &ctx));
                assert_eq!(period, want["period"].as_f64().unwrap(), "{key}");
                for q in queries.iter().filter(|q| q.get("MetricStat").is_some()) {
                    assert_eq!(q["MetricStat"]["Period"].as_f64(), Some(period));
                }
                assert_eq!(
                    source(attr(metric, "stat")),
                    "metric_query.value.MetricStat.Stat"
                );
            }
        }
    }

    for slo in &slos {
        for alert in &alerts {
            let key = format!("{}-{}", slo.name, alert.name);
            let mut each = hcl::Map::new();
            each.insert("key".to_owned(), Value::from(key.clone()));
            each.insert("value".to_owned(), pairs[&key].clone());
            let mut ctx = context();
            ctx.declare_var("each", Value::Object(each));
            let mut resources = hcl::Map::new();
            resources.insert("slo_window".to_owned(), Value::Object(window_names.clone()));
            ctx.declare_var("aws_cloudwatch_metric_alarm", Value::Object(resources));
            let get = |name: &str| eval(attr(composite, name), &ctx);
            assert_eq!(
                text(&get("alarm_name")),
                format!(
                    "{PREFIX}-{}",
                    slo::composite_alarm_name(&slo.name, &alert.name)
                )
            );
            assert_eq!(
                text(&get("alarm_rule")),
                slo::composite_alarm_rule(PREFIX, &slo.name, &alert.name)
            );
            assert_eq!(
                text(&get("alarm_description")),
                format!(
                    "{} Runbook: {RUNBOOK_BASE_URL}/{}",
                    slo.composite_description(alert),
                    slo.runbook
                )
            );
        }
    }
}

#[test]
fn pages_and_tickets_reach_their_own_topics_and_causes_reach_nobody() {
    let dir = module_dir("observability");
    let body = module_body(&dir);
    let targets = local(&dir, "notify_targets");
    let by_key: Vec<(String, String)> = object(&targets)
        .into_iter()
        .map(|(k, v)| (k, source(v)))
        .collect();
    assert_eq!(
        by_key,
        [
            ("page".to_owned(), "local.alarm_targets".to_owned()),
            ("ticket".to_owned(), "local.ticket_targets".to_owned()),
            ("none".to_owned(), "[]".to_owned()),
        ]
    );
    assert_eq!(
        source(&local(&dir, "ticket_targets")),
        "concat([aws_sns_topic.tickets.arn], var.ticket_topic_arns)"
    );
    let alarm = resource_body(&body, "aws_cloudwatch_metric_alarm", "alarm");
    for actions in ["alarm_actions", "ok_actions"] {
        assert_eq!(
            source(attr(alarm, actions)),
            "local.notify_targets[each.value.notify]"
        );
    }
    // Every severity of the policy is a key of notify_targets, and a page is never a ticket.
    let (_, alerts) = loaded();
    for alert in &alerts {
        let key = match alert.severity {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        };
        assert!(by_key.iter().any(|(k, _)| k == key));
    }
    let tickets = resource_body(&body, "aws_sns_topic", "tickets");
    assert_eq!(
        source(attr(tickets, "kms_master_key_id")),
        "aws_kms_key.alarms.arn"
    );
    // The root passes the ticket targets through.
    let root = module_body(&terraform_dir());
    let call = block(&root, "module", &["observability"]).body();
    for name in ["ticket_emails", "ticket_topic_arns"] {
        assert_eq!(source(attr(call, name)), format!("var.{name}"));
    }
    assert_eq!(
        source(attr(call, "slos_dir")),
        "\"${local.repository_root}/slos\""
    );
}
