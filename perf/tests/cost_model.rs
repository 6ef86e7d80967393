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

#[test]
fn the_model_prices_the_memory_terraform_deploys() {
    let model = Model::load(&default_dir()).unwrap();
    let variables = std::fs::read_to_string(repo().join("terraform/variables.tf")).unwrap();
    let block = variables
        .split("variable \"lambda_memory_mb\"")
        .nth(1)
        .expect("terraform/variables.tf declares lambda_memory_mb");
    let default = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("default"))
        .and_then(|rest| rest.trim().strip_prefix('='))
        .map(|v| v.trim().parse::<u32>().unwrap())
        .expect("lambda_memory_mb has a default");
    assert_eq!(model.assumptions.memory_mb, default);
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
