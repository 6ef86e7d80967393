//! Prints the cost model of `docs/cost.md`, to paste there: a million requests of each route on
//! AWS list prices.
fn main() {
    match perf::cost::Model::load(&perf::cost::default_dir()).and_then(|m| m.markdown()) {
        Ok(table) => print!("{table}"),
        Err(e) => {
            eprintln!("cost-model: {e}");
            std::process::exit(1);
        }
    }
}
