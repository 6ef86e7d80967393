//! What a test may do with each command a page shows, by rules on its words: run it on a twin,
//! check it without running it, or check offline what it names.

use std::collections::BTreeSet;

use super::TWIN_URL;
use super::shell::simple_commands;

/// The shell's own words and the tools every machine with a shell has: what a block may use
/// around its commands. Anything else (`jq`, say) is not on a fresh machine.
const PLUMBING: &[&str] = &[
    "awk", "cat", "cd", "date", "echo", "export", "grep", "head", "printf", "rm", "sed", "seq",
    "sleep", "sort", "tail", "tee", "tr", "true", "uniq", "wc",
];

/// What a test may do with a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Run it here: it talks to a running twin (or asks for `--help`, which needs nothing).
    Run,
    /// Local, but it serves until stopped, or runs tests, benchmarks or builds that take
    /// minutes: check what it names (scripts, packages, targets, flags), do not run it.
    Check,
    /// It needs what this machine does not have by design (AWS, Terraform's providers, PyPI,
    /// the repository's remote): check offline what it names (syntax, resource names,
    /// Terraform addresses and variables, pinned versions).
    Remote,
}

/// The class of a command line: that of its commands, `None` when it has only the shell's
/// plumbing (`done`, `grep … FILE`, `TWIN=…`), an error naming what no rule covers.
pub fn line_class(line: &str) -> Result<Option<Class>, String> {
    let mut classes = BTreeSet::new();
    for words in simple_commands(line) {
        if let Some(class) = command_class(&words)? {
            classes.insert(class);
        }
    }
    match classes.len() {
        0 | 1 => Ok(classes.pop_first()),
        _ => Err(format!("it mixes classes {classes:?}: show them apart")),
    }
}

/// The class of one simple command, by its first word.
fn command_class(words: &[String]) -> Result<Option<Class>, String> {
    let arg = |i: usize| words.get(i).map(String::as_str).unwrap_or_default();
    let has = |flag: &str| words.iter().any(|w| w == flag);
    let class = match arg(0) {
        "curl"
            if words
                .iter()
                .any(|w| w.contains("$TWIN") || w.contains(TWIN_URL)) =>
        {
            Class::Run
        }
        "curl" => return Err("curl to somewhere other than the twin ($TWIN)".into()),
        "cargo" => match arg(1) {
            "lambda" => Class::Remote,
            "run" => cargo_run_class(words),
            "test" | "bench" | "build" => Class::Check,
            other => return Err(format!("`cargo {other}`: no rule covers it")),
        },
        "bash" if arg(1).starts_with("scripts/") => Class::Check,
        "bash" => return Err("`bash` runs the repository's `scripts/` only".into()),
        "opsctl" if arg(1) == "reemit" && has("--api") => Class::Run,
        // The other commands read CloudWatch; a `reemit` without `--api` is a mention.
        "opsctl" => Class::Remote,
        "terraform" | "aws" | "git" | "pip" | "rustup" => Class::Remote,
        // An inline program: a filter in a pipeline.
        "python3" if arg(1) == "-c" => return Ok(None),
        // A static file server (the web client's page): it serves until stopped.
        "python3" if arg(1) == "-m" && arg(2) == "http.server" => Class::Check,
        word if PLUMBING.contains(&word) => return Ok(None),
        word => {
            return Err(format!(
                "`{word}`: no rule covers it (not a command the pages show, nor a tool every machine has)"
            ));
        }
    };
    Ok(Some(class))
}

/// `cargo run`: the twin serves (no subcommand, or `serve`) until stopped; its other
/// subcommands talk to a running twin, as `--help` needs none; another binary is checked.
fn cargo_run_class(words: &[String]) -> Class {
    let (cargo, program) = match words.iter().position(|w| w == "--") {
        Some(i) => (&words[..i], &words[i + 1..]),
        None => (words, &[][..]),
    };
    let another_binary = cargo
        .iter()
        .any(|w| ["-p", "--package", "--bin"].contains(&w.as_str()));
    let help = program.iter().any(|w| w == "--help" || w == "-h");
    let subcommand = program
        .first()
        .is_some_and(|w| !w.starts_with('-') && w != "serve");
    if another_binary {
        Class::Check
    } else if help || subcommand {
        Class::Run
    } else {
        Class::Check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_rules() {
        let class = |s: &str| line_class(s);
        assert_eq!(class("curl -s \"$TWIN/public\""), Ok(Some(Class::Run)));
        assert_eq!(
            class("TOKEN=$(cargo run --release -q -- token --user a)"),
            Ok(Some(Class::Run))
        );
        assert_eq!(class("cargo run --release -- --help"), Ok(Some(Class::Run)));
        assert_eq!(
            class("cargo run --release | tee /tmp/twin.log"),
            Ok(Some(Class::Check))
        );
        assert_eq!(
            class("cargo run -p perf --bin cost-model"),
            Ok(Some(Class::Check))
        );
        assert_eq!(
            class("DURATION=5s bash scripts/bench-load"),
            Ok(Some(Class::Check))
        );
        assert_eq!(class("opsctl reemit --api X"), Ok(Some(Class::Run)));
        assert_eq!(
            class("python3 -m http.server 8000 --directory examples/web"),
            Ok(Some(Class::Check))
        );
        assert_eq!(class("opsctl alarms"), Ok(Some(Class::Remote)));
        assert_eq!(
            class("V=$(terraform output x | awk '{print}')"),
            Ok(Some(Class::Remote))
        );
        assert_eq!(class("done"), Ok(None));
        assert!(class("curl -s | jq .").is_err());
        assert!(class("curl https://example.com").is_err());
        assert!(class("curl \"$TWIN\" && aws s3 ls").is_err());
    }
}
