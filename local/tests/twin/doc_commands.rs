//! The commands the README and the pages of `docs/`, `terraform/` and `runbooks/` show that run
//! on a twin (`testkit::readme::Class::Run`), run as written against one twin of the test's
//! own; and the flags every command shows to the twin's binary and to `opsctl`, checked by
//! those binaries. `conformance/tests/doc_commands.rs` classes every command and checks the
//! rest; the README's walk-through is `walkthrough.rs`'s and is not run twice.
//!
//! A block runs whole, in `bash -euo pipefail`, less its lines of another class (a twin that
//! serves, a CloudWatch read), with what the reader has replaced by what the test has: see
//! [`Stage::as_run`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use local::auth::sigv4::LocalCredentials;
use regex::Regex;
use testkit::readme::{self, Class, Shown};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::common::{TwinProcess, binary};

/// What the reader has, and the test in its place.
struct Stage<'a> {
    twin: &'a TwinProcess,
    credentials: LocalCredentials,
}

impl Stage<'_> {
    /// `text` with the reader's twin, binaries, placeholders and patience replaced:
    /// - the twin's address (`http://127.0.0.1:3000`), by the test twin's;
    /// - `cargo run --release [-q] --`, the twin's binary, by the one built for the tests;
    /// - the file a serving twin's output is `tee`d to, by the file the test twin's goes to;
    /// - `opsctl reemit --api ANY` signs with the twin's key for the twin, as
    ///   docs/operations.md says to (`--region us-east-1 --access-key-id …`);
    /// - the window `{"from": "…", "to": "…"}`, by the last hour;
    /// - a rehearsal's traffic loop (`$(seq 1 600)`, `sleep 1`) makes two passes, at once.
    fn as_run(&self, text: &str, tee_file: Option<&str>) -> String {
        let url = &self.twin.url;
        let mut text = text.replace(readme::TWIN_URL, url);
        if let Some(file) = tee_file {
            text = text.replace(file, &self.twin.log_file.display().to_string());
        }
        let now = OffsetDateTime::now_utc();
        let at = |t: OffsetDateTime| t.format(&Rfc3339).expect("a time");
        let replacements = [
            (
                r"cargo run --release (-q )?--( |$)",
                format!("{} ", binary()),
            ),
            (
                r"opsctl reemit --api \S+",
                format!(
                    "opsctl reemit --region us-east-1 --access-key-id {} --api {url}",
                    self.credentials.access_key_id
                ),
            ),
            (
                r#""from": "…""#,
                format!(r#""from": "{}""#, at(now - Duration::from_secs(3600))),
            ),
            (
                r#""to": "…""#,
                format!(r#""to": "{}""#, at(now + Duration::from_secs(60))),
            ),
            (r"\$\(seq 1 [0-9]+\)", "$(seq 1 2)".to_owned()),
            (r"\bsleep [0-9.]+", "sleep 0".to_owned()),
        ];
        for (pattern, with) in replacements {
            text = Regex::new(pattern)
                .expect("a pattern")
                .replace_all(&text, regex::NoExpand(with.as_str()))
                .into_owned();
        }
        text
    }

    /// The script to run for `shown`: its lines of class `Run` and the shell's plumbing
    /// around them, as run; `None` when it has nothing to run.
    fn script(&self, shown: &Shown) -> Result<Option<String>, String> {
        let mut lines = Vec::new();
        let mut runs = false;
        let mut tee_file = None;
        for line in shown.lines() {
            match readme::line_class(&line.text) {
                Err(why) => return Err(format!("{}: {why}", line.at())),
                Ok(Some(Class::Run)) => {
                    runs = true;
                    lines.push(line.text);
                }
                Ok(None) => lines.push(line.text),
                // A twin serving (the test's serves instead: its output is the file `tee`
                // keeps), or AWS read: not run here.
                Ok(Some(_)) => tee_file = tee_file.or_else(|| tee_target(&line.text)),
            }
        }
        let tee_file = tee_file.as_deref();
        Ok(runs.then(|| self.as_run(&lines.join("\n"), tee_file)))
    }
}

/// `FILE` of `… | tee FILE`.
fn tee_target(line: &str) -> Option<String> {
    let after = line.split("| tee ").nth(1)?;
    after.split_whitespace().next().map(str::to_owned)
}

/// `opsctl`, built as the workspace builds it: a test can name only its own crate's binaries.
fn opsctl() -> &'static Path {
    static OPSCTL: OnceLock<PathBuf> = OnceLock::new();
    OPSCTL.get_or_init(|| {
        let out = std::process::Command::new(env!("CARGO"))
            .args(["build", "--locked", "-p", "opsctl", "--bin", "opsctl"])
            .args(["--message-format", "json"])
            .current_dir(readme::repo_root())
            .output()
            .expect("run cargo build");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the opsctl executable")
    })
}

/// A curl configuration for single commands: the twin must answer them with a 2xx. (The
/// blocks' loops print the status they get, `503` included, and go on.)
fn curl_home(dir: &Path) -> PathBuf {
    let home = dir.join("curl-home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".curlrc"), "fail-with-body\n").unwrap();
    home
}

#[tokio::test]
async fn the_commands_shown_run_on_a_twin() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(&dir.path().join("twin"), &[]);
    let credentials = LocalCredentials::load_or_create(&twin.data_dir).expect("the twin's key");
    let secret = credentials.secret_access_key.clone();
    let stage = Stage {
        twin: &twin,
        credentials,
    };
    let curl_home = curl_home(dir.path());
    let opsctl_dir = opsctl().parent().expect("a folder").to_owned();
    let path = format!(
        "{}:{}",
        opsctl_dir.display(),
        std::env::var("PATH").unwrap()
    );
    let walkthrough = readme::sh_block_after("## Try it");

    let mut failures = Vec::new();
    let mut ran = 0;
    for shown in readme::shown_commands() {
        if shown.block && shown.text.trim_end() == walkthrough.trim_end() {
            continue;
        }
        let script = match stage.script(&shown) {
            Ok(Some(script)) => script,
            Ok(None) => continue,
            Err(why) => {
                failures.push(why);
                continue;
            }
        };
        ran += 1;
        let mut command = tokio::process::Command::new("bash");
        command
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(readme::repo_root())
            .env("TWIN", &twin.url)
            .env("TWIN_URL", &twin.url)
            .env("TWIN_DATA_DIR", &twin.data_dir)
            .env("PATH", &path)
            .env("OPSCTL_SECRET_ACCESS_KEY", &secret)
            // No profile or instance role of the machine: opsctl signs with the twin's key.
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .kill_on_drop(true);
        if !shown.block {
            command.env("CURL_HOME", &curl_home);
        }
        let output = tokio::time::timeout(Duration::from_secs(60), command.output()).await;
        match output {
            Ok(Ok(out)) if out.status.success() => {}
            Ok(Ok(out)) => failures.push(format!(
                "{}: {}{}\n--- as run:\n{script}\n--- stdout:\n{}\n--- stderr:\n{}",
                shown.at(),
                out.status,
                // curl's own status for an HTTP error under `fail-with-body`.
                if out.status.code() == Some(22) {
                    " (curl: the twin answered with an HTTP error)"
                } else {
                    ""
                },
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
            Ok(Err(e)) => failures.push(format!("{}: bash: {e}", shown.at())),
            Err(_) => failures.push(format!(
                "{}: still running after 60 s:\n{script}",
                shown.at()
            )),
        }
        // A fault a command injected would stay for the next ones.
        twin.clear_faults().await;
    }
    assert!(
        failures.is_empty(),
        "commands shown that do not run as written:\n\n{}",
        failures.join("\n\n")
    );
    assert!(ran >= 20, "ran the commands shown ({ran})");
}

/// Every `cargo run` of the twin and every `opsctl` command shown, whatever its class, with
/// `--help` after its arguments: clap answers with the help only once every subcommand, flag
/// and value before it is accepted. (`[--flag VALUE]` is a synopsis's optional flag.)
#[test]
fn the_twin_and_opsctl_take_the_flags_shown() {
    let shown = readme::shown_commands();
    let twin_runs = readme::commands_named(&shown, "cargo").filter_map(|(line, words)| {
        let dashes = words.iter().position(|w| w == "--");
        let cargo = &words[..dashes.unwrap_or(words.len())];
        let twin = cargo[1] == "run" && !cargo.iter().any(|w| w == "-p" || w == "--bin");
        twin.then(|| {
            let args = dashes.map_or(&[][..], |i| &words[i + 1..]).to_vec();
            (line, Path::new(binary()), args)
        })
    });
    let opsctl_runs = readme::commands_named(&shown, "opsctl")
        .map(|(line, words)| (line, opsctl(), words[1..].to_vec()));
    let mut problems = Vec::new();
    let mut checked = 0;
    for (line, program, args) in twin_runs.chain(opsctl_runs) {
        checked += 1;
        let args = args
            .iter()
            .map(|a| a.trim_start_matches('[').trim_end_matches(']'));
        let out = std::process::Command::new(program)
            .args(args)
            .arg("--help")
            .output()
            .expect("run the binary");
        if !out.status.success() {
            problems.push(format!(
                "{}: `{}`: {}",
                line.at(),
                line.text,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "flags the binaries refuse:\n{}",
        problems.join("\n")
    );
    assert!(checked >= 20, "found the commands ({checked})");
}
