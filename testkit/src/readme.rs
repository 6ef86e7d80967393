//! The command blocks of the README and of `docs/`, for the tests that run them as written.

/// The first ```` ```sh ```` block after the heading line `heading` (e.g. `"## Try it"`) of the
/// README.
pub fn sh_block_after(heading: &str) -> String {
    sh_block_after_in("README.md", heading)
}

/// The first ```` ```sh ```` block after the heading line `heading` of `file`, a path from the
/// repository's root (e.g. `sh_block_after_in("docs/operations.md", "## Re-emitting events")`).
pub fn sh_block_after_in(file: &str, heading: &str) -> String {
    let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let section = text
        .split(&format!("\n{heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no `{heading}` section in {file}"));
    let block = section
        .split("```sh\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no sh block under `{heading}` in {file}"));
    block.split("\n```").next().unwrap_or_default().to_owned()
}
