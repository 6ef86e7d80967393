//! Writes every IAM policy document the stack renders (root and bootstrap), one JSON file each,
//! into the folder given: what the IAM linters of scripts/offline-checks read.
//!
//! Usage: render-policies <out dir>

use std::path::PathBuf;

fn slug(address: &str) -> String {
    address
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .trim_matches('_')
        .to_owned()
}

fn main() {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: render-policies <out dir>");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&out).expect("create the output folder");
    let mut written = 0;
    for policy in conformance::render::all_policies() {
        if policy.kind == conformance::render::Kind::Fragment {
            continue; // its statements are in the documents that use it
        }
        let path = out.join(format!("{}-{}.json", policy.stack, slug(&policy.address)));
        let text = serde_json::to_string_pretty(&policy).expect("JSON");
        std::fs::write(&path, text + "\n").expect("write a rendered policy");
        written += 1;
    }
    println!("render-policies: {written} documents in {}", out.display());
}
