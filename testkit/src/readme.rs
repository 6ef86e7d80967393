//! The commands the README and the other pages show, for the tests that run or check them as
//! written: the fenced `sh` blocks, and the inline code spans that start with a command word.
//!
//! [`shown_commands`] collects them, [`command_lines`] and [`simple_commands`] take a block
//! apart as the shell would, and [`line_class`] says what a test may do with each line:
//! run it on a twin, check it without running it, or check it offline because it needs a
//! service this machine has not.

use std::path::{Path, PathBuf};

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

mod class;
mod shell;

pub use class::{Class, line_class};
pub use shell::{command_lines, simple_commands};

/// The first ```` ```sh ```` block after the heading line `heading` (e.g. `"## Try it"`) of the
/// README.
pub fn sh_block_after(heading: &str) -> String {
    sh_block_after_in("README.md", heading)
}

/// The first ```` ```sh ```` block after the heading line `heading` of `file`, a path from the
/// repository's root (e.g. `sh_block_after_in("docs/operations.md", "## Re-emitting events")`).
pub fn sh_block_after_in(file: &str, heading: &str) -> String {
    let path = repo_root().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit sits in the workspace")
        .to_owned()
}

/// The twin's default address, the one the pages show.
pub const TWIN_URL: &str = "http://127.0.0.1:3000";

/// What an inline code span starts with (after any `NAME=value` settings) to be a command.
pub const COMMAND_WORDS: &[&str] = &[
    "cargo",
    "bash",
    "curl",
    "opsctl",
    "terraform",
    "aws",
    "python3",
    "git",
    "pip",
    "rustup",
];

/// The pages whose commands are held runnable: the README, `docs/`, `terraform/README.md` and
/// `runbooks/`, as paths from the repository's root.
pub fn command_pages() -> Vec<String> {
    let mut pages = vec!["README.md".to_owned(), "terraform/README.md".to_owned()];
    for dir in ["docs", "runbooks"] {
        let mut found: Vec<String> = std::fs::read_dir(repo_root().join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| {
                e.expect("a folder entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(".md"))
            .map(|name| format!("{dir}/{name}"))
            .collect();
        found.sort();
        pages.extend(found);
    }
    pages
}

/// A command a page shows: a fenced shell block (a script), or an inline code span.
#[derive(Clone, Debug)]
pub struct Shown {
    /// The page, a path from the repository's root.
    pub file: String,
    /// The heading it is under, e.g. `## Try it` (empty above the first one).
    pub heading: String,
    /// The span's line, or the line of the block's first line (after its fence); from 1.
    pub line: usize,
    /// The span's command, or the block's script.
    pub text: String,
    pub block: bool,
}

/// One command line of a shown command: the span, or a line of the block (continued lines
/// joined), with its own line number.
#[derive(Clone, Debug)]
pub struct CommandLine {
    pub file: String,
    pub line: usize,
    pub text: String,
}

impl CommandLine {
    /// Where it is, as `file:line`.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

impl Shown {
    /// Where it is, as `file:line`.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    pub fn lines(&self) -> Vec<CommandLine> {
        command_lines(&self.text)
            .into_iter()
            .map(|(offset, text)| CommandLine {
                file: self.file.clone(),
                line: self.line + offset,
                text,
            })
            .collect()
    }
}

/// Every command the [`command_pages`] show, in page order.
pub fn shown_commands() -> Vec<Shown> {
    command_pages()
        .iter()
        .flat_map(|file| shown_in(file))
        .collect()
}

fn shown_in(file: &str) -> Vec<Shown> {
    let path = repo_root().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut heading = String::new();
    let mut in_heading: Option<String> = None;
    let mut block: Option<(usize, String)> = None;
    for (event, range) in Parser::new_ext(&text, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                in_heading = Some(format!("{} ", "#".repeat(level as usize)));
            }
            Event::End(TagEnd::Heading(_)) => heading = in_heading.take().unwrap_or_default(),
            Event::Text(t) | Event::Code(t) if in_heading.is_some() => {
                in_heading.as_mut().expect("in a heading").push_str(&t);
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let language = info.split_whitespace().next().unwrap_or_default();
                if ["sh", "bash", "shell"].contains(&language) {
                    block = Some((line_of(range.start) + 1, String::new()));
                }
            }
            Event::Text(t) if block.is_some() => block.as_mut().expect("in a block").1.push_str(&t),
            Event::End(TagEnd::CodeBlock) => {
                if let Some((line, script)) = block.take() {
                    out.push(Shown {
                        file: file.to_owned(),
                        heading: heading.clone(),
                        line,
                        text: script,
                        block: true,
                    });
                }
            }
            Event::Code(code) if is_command_span(&code) => out.push(Shown {
                file: file.to_owned(),
                heading: heading.clone(),
                line: line_of(range.start),
                text: code.into_string(),
                block: false,
            }),
            _ => {}
        }
    }
    out
}

/// Whether `text`, after any `NAME=value` settings, starts with one of [`COMMAND_WORDS`] and
/// goes on: a word alone (`opsctl`, the `aws` adapters) names the tool or a module.
fn is_command_span(text: &str) -> bool {
    let mut words = text
        .split_whitespace()
        .skip_while(|word| shell::is_assignment(word));
    words
        .next()
        .is_some_and(|word| COMMAND_WORDS.contains(&word))
        && words.next().is_some()
}

/// The commands of every line of `shown` whose first word is `word`, each with its line.
pub fn commands_named<'a>(
    shown: &'a [Shown],
    word: &'a str,
) -> impl Iterator<Item = (CommandLine, Vec<String>)> + 'a {
    shown.iter().flat_map(Shown::lines).flat_map(move |line| {
        simple_commands(&line.text)
            .into_iter()
            .filter(|words| words[0] == word)
            .map(move |words| (line.clone(), words))
            .collect::<Vec<_>>()
    })
}
