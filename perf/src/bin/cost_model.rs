//! Prints the cost model of `docs/cost.md`, to paste there: a million requests of each route on
//! AWS list prices. With `--readme`, the README's short table.
fn main() {
    let readme = std::env::args().nth(1).as_deref() == Some("--readme");
    let table = perf::cost::Model::load(&perf::cost::default_dir()).and_then(|m| {
        if readme {
            m.readme_markdown()
        } else {
            m.markdown()
        }
    });
    match table {
        Ok(table) => print!("{table}"),
        Err(e) => {
            eprintln!("cost-model: {e}");
            std::process::exit(1);
        }
    }
}
