//! The README's command blocks, for the tests that run them as written.

/// The first ```` ```sh ```` block after the heading line `heading` (e.g. `"## Try it"`).
pub fn sh_block_after(heading: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let section = readme
        .split(&format!("\n{heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no `{heading}` section in the README"));
    let block = section
        .split("```sh\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no sh block under `{heading}`"));
    block.split("\n```").next().unwrap_or_default().to_owned()
}
