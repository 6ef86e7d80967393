//! The cost model of `docs/cost.md` and the README is the model's output, and its assumptions
//! match the deployment.

use std::collections::BTreeMap;

use hcl::{Body, Expression};
use perf::cost::{LogClass, Model, Tracing, default_dir};

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

#[test]
fn the_cost_page_shows_the_models_table() {
    let table = Model::load(&default_dir()).unwrap().markdown().unwrap();
    let page = std::fs::read_to_string(repo().join("docs/cost.md")).unwrap();
    assert!(
        page.contains(&table),
        "docs/cost.md's cost model is stale; paste the output of `cargo run -p perf --bin cost-model`:\n{table}"
    );
}

#[test]
fn the_readme_shows_the_models_summary() {
    let table = Model::load(&default_dir())
        .unwrap()
        .readme_markdown()
        .unwrap();
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains(&table),
        "README.md's cost table is stale; paste the output of `cargo run -p perf --bin cost-model -- --readme`:\n{table}"
    );
}

/// A Terraform module's files, parsed into one body.
fn module(path: &str) -> Body {
    let dir = repo().join("terraform").join(path);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    let mut structures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        structures.extend(hcl::parse(&text).unwrap().into_inner());
    }
    structures.into_iter().collect()
}

/// The attribute `key` of the resource `kind.name` of a module.
fn resource_attr(body: &Body, kind: &str, name: &str, key: &str) -> Expression {
    body.blocks()
        .find(|b| {
            b.identifier() == "resource"
                && b.labels().len() == 2
                && b.labels()[0].as_str() == kind
                && b.labels()[1].as_str() == name
        })
        .unwrap_or_else(|| panic!("no resource {kind}.{name}"))
        .body()
        .attributes()
        .find(|a| a.key() == key)
        .unwrap_or_else(|| panic!("{kind}.{name} has no {key}"))
        .expr()
        .clone()
}

fn literal(expr: &Expression) -> &str {
    match expr {
        Expression::String(s) => s,
        other => panic!("not a string literal: {other:?}"),
    }
}

#[test]
fn the_model_prices_each_group_in_the_class_terraform_gives_it() {
    let model = Model::load(&default_dir()).unwrap();
    let classes = &model.assumptions.log_classes;
    let class = |module: &str, name: &str| {
        let expr = resource_attr(
            &self::module(&format!("modules/{module}")),
            "aws_cloudwatch_log_group",
            name,
            "log_group_class",
        );
        match literal(&expr) {
            "STANDARD" => LogClass::Standard,
            "INFREQUENT_ACCESS" => LogClass::InfrequentAccess,
            other => panic!("{other}"),
        }
    };
    assert_eq!(classes.access_log, class("api", "access"));
    assert_eq!(classes.function, class("functions", "function"));
    assert_eq!(classes.archive, class("events", "archive"));
}

#[test]
fn the_model_traces_each_function_as_terraform_does() {
    let model = Model::load(&default_dir()).unwrap();
    let body = module("modules/functions");
    let functions = body
        .blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes())
        .find(|a| a.key() == "functions")
        .expect("local.functions")
        .expr()
        .clone();
    let Expression::Object(functions) = functions else {
        panic!("local.functions is an object")
    };
    let terraform: BTreeMap<String, Tracing> = functions
        .iter()
        .map(|(key, f)| {
            let Expression::Object(f) = f else {
                panic!("{key:?}")
            };
            let mode = f
                .iter()
                .find(|(k, _)| k.to_string().trim_matches('"') == "tracing")
                .map(|(_, v)| literal(v).to_owned())
                .expect("each function says its tracing");
            let mode = match mode.as_str() {
                "Active" => Tracing::Active,
                "PassThrough" => Tracing::PassThrough,
                other => panic!("{other}"),
            };
            (key.to_string().trim_matches('"').to_owned(), mode)
        })
        .collect();
    assert_eq!(model.assumptions.tracing, terraform);
    // Each route's function is the one the API's route table sends it to.
    let api = std::fs::read_to_string(repo().join("terraform/modules/api/main.tf")).unwrap();
    for (route, r) in &model.assumptions.routes {
        let key: String = route.split(' ').take(2).collect::<Vec<_>>().join(" ");
        let expected = if key == "GET /public" {
            "public".to_owned()
        } else {
            let line = api
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("\"{key}\"")))
                .unwrap_or_else(|| panic!("no route {key} in modules/api"));
            line.split("function = \"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap()
                .to_owned()
        };
        assert_eq!(r.function, expected, "{route}");
    }
}

#[test]
fn the_model_counts_lambda_s_records_as_terraform_has_them_written() {
    let model = Model::load(&default_dir()).unwrap();
    let variables = std::fs::read_to_string(repo().join("terraform/variables.tf")).unwrap();
    let level = variables
        .split("variable \"lambda_system_log_level\"")
        .nth(1)
        .and_then(|b| b.lines().find_map(|l| l.trim().strip_prefix("default")))
        .and_then(|rest| rest.trim().strip_prefix('='))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .expect("lambda_system_log_level has a default");
    // At WARN Lambda writes no record for a successful invocation; at INFO or DEBUG it writes
    // START and REPORT for every one.
    assert_eq!(
        model.assumptions.platform_log_bytes == 0,
        level == "WARN",
        "lambda_system_log_level {level}, platform_log_bytes {}",
        model.assumptions.platform_log_bytes
    );
}

/// The default of a numeric variable of terraform/variables.tf.
fn terraform_default(name: &str) -> f64 {
    let variables = std::fs::read_to_string(repo().join("terraform/variables.tf")).unwrap();
    let block = variables
        .split(&format!("variable \"{name}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("terraform/variables.tf declares {name}"));
    block
        .lines()
        .find_map(|l| l.trim().strip_prefix("default"))
        .and_then(|rest| rest.trim().strip_prefix('='))
        .map(|v| v.trim().parse::<f64>().unwrap())
        .unwrap_or_else(|| panic!("{name} has a default"))
}

#[test]
fn the_model_prices_the_memory_terraform_deploys() {
    let model = Model::load(&default_dir()).unwrap();
    assert_eq!(
        f64::from(model.assumptions.memory_mb),
        terraform_default("lambda_memory_mb")
    );
}

#[test]
fn the_model_batches_the_stream_as_terraform_s_mapping_does() {
    let model = Model::load(&default_dir()).unwrap();
    let s = &model.assumptions.item_events;
    assert_eq!(
        f64::from(s.batch_size),
        terraform_default("item_events_batch_size")
    );
    assert_eq!(
        s.batching_window_seconds,
        terraform_default("item_events_batching_window_seconds")
    );
}

#[test]
fn every_measured_route_is_priced() {
    let model = Model::load(&default_dir()).unwrap();
    let priced: Vec<String> = model
        .costs()
        .unwrap()
        .into_iter()
        .map(|c| c.route)
        .collect();
    let measured: Vec<String> = model.measured.routes.keys().cloned().collect();
    assert_eq!(priced, measured);
}
