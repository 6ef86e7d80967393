//! The cost model of `docs/cost.md` is the model's output, and its assumptions match the deployment.

use perf::cost::{Model, default_dir};

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
