//! Every command the README and the pages of `docs/`, `terraform/` and `runbooks/` show, held
//! to what exists. Each has one class, by the rules of `testkit::readme::line_class`: run on
//! a twin (`local/tests/twin/doc_commands.rs` runs those, and checks the flags shown to the
//! twin and `opsctl` with their own binaries), checked without running (it serves until stopped
//! or takes minutes), or checked offline (it needs AWS, Terraform's providers, PyPI). Here,
//! whatever its class: the shell can parse it, the scripts and cargo packages and targets it
//! names exist and cargo takes its flags, and the AWS names, Terraform addresses, variables and
//! pinned versions it shows are the stack's.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use conformance::render;
use testkit::readme::{self, Class, CommandLine, Shown};

fn shown() -> Vec<Shown> {
    readme::shown_commands()
}

/// `problems`, if any, one a line, under `what`.
fn assert_none(what: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

#[test]
fn every_command_shown_has_one_class() {
    let shown = shown();
    let mut count: BTreeMap<Class, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for line in shown.iter().flat_map(Shown::lines) {
        match readme::line_class(&line.text) {
            Ok(Some(class)) => *count.entry(class).or_default() += 1,
            Ok(None) => {}
            Err(why) => problems.push(format!("{}: `{}`: {why}", line.at(), line.text)),
        }
    }
    assert_none("commands no rule covers", &problems);
    // The pages show commands of every class: the collection did find them.
    for (class, at_least) in [(Class::Run, 15), (Class::Check, 15), (Class::Remote, 30)] {
        let n = count.get(&class).copied().unwrap_or_default();
        assert!(n >= at_least, "{n} commands of class {class:?}: {count:?}");
    }
}

#[test]
fn every_command_shown_parses_as_shell() {
    let problems: Vec<String> = shown()
        .iter()
        .filter_map(|shown| {
            let out = Command::new("bash")
                .args(["-n", "-c", &shown.text])
                .output()
                .expect("run bash -n");
            (!out.status.success())
                .then(|| format!("{}: {}", shown.at(), String::from_utf8_lossy(&out.stderr)))
        })
        .collect();
    assert_none("commands bash cannot parse", &problems);
}

#[test]
fn the_scripts_shown_exist_and_parse() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for (line, words) in readme::commands_named(&shown(), "bash") {
        let script = readme::repo_root().join(&words[1]);
        checked += 1;
        let Ok(meta) = std::fs::metadata(&script) else {
            problems.push(format!("{}: no script {}", line.at(), words[1]));
            continue;
        };
        if std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 == 0 {
            problems.push(format!("{}: {} is not executable", line.at(), words[1]));
        }
        let out = Command::new("bash")
            .arg("-n")
            .arg(&script)
            .output()
            .unwrap();
        if !out.status.success() {
            problems.push(format!(
                "{}: bash -n {}: {}",
                line.at(),
                words[1],
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert_none("scripts", &problems);
    assert!(checked >= 8, "found the scripts shown ({checked})");
}

/// The workspace as cargo sees it: each package's targets by kind, and the default members'.
struct Workspace {
    targets: BTreeMap<String, BTreeSet<(String, String)>>,
    default_members: Vec<String>,
}

fn workspace() -> Workspace {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(readme::repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut targets = BTreeMap::new();
    let mut names_by_id = BTreeMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap().to_owned();
        names_by_id.insert(package["id"].as_str().unwrap().to_owned(), name.clone());
        let kinds = package["targets"].as_array().unwrap().iter().flat_map(|t| {
            t["kind"].as_array().unwrap().iter().map(|kind| {
                let (kind, name) = (kind.as_str().unwrap(), t["name"].as_str().unwrap());
                (kind.to_owned(), name.to_owned())
            })
        });
        targets.insert(name, kinds.collect());
    }
    let default_members = metadata["workspace_default_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| names_by_id[id.as_str().unwrap()].clone())
        .collect();
    Workspace {
        targets,
        default_members,
    }
}

#[test]
fn the_cargo_commands_shown_name_packages_and_targets_that_exist() {
    let workspace = workspace();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (line, words) in readme::commands_named(&shown(), "cargo") {
        checked += 1;
        let at = line.at();
        let cargo_args: Vec<&str> = words[1..]
            .iter()
            .map(String::as_str)
            .take_while(|w| *w != "--")
            .collect();
        let value_of = |flag: &str| -> Option<&str> {
            let i = cargo_args.iter().position(|w| *w == flag)?;
            cargo_args.get(i + 1).copied()
        };
        let packages: Vec<String> = match value_of("-p").or(value_of("--package")) {
            Some(p) => vec![p.to_owned()],
            None => workspace.default_members.clone(),
        };
        for package in &packages {
            let Some(targets) = workspace.targets.get(package) else {
                problems.push(format!("{at}: no package {package}"));
                continue;
            };
            for (flag, kind) in [("--bin", "bin"), ("--bench", "bench"), ("--test", "test")] {
                if let Some(name) = value_of(flag)
                    && !targets.contains(&(kind.to_owned(), name.to_owned()))
                {
                    problems.push(format!(
                        "{at}: package {package} has no {kind} target {name}"
                    ));
                }
            }
        }
        // cargo-lambda is PyPI's, not on this machine; cargo's own commands say whether they
        // take the flags shown (clap answers `--help` once every flag before it is known).
        if cargo_args[0] != "lambda" {
            let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(&cargo_args)
                .arg("--help")
                .current_dir(readme::repo_root())
                .output()
                .unwrap();
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                problems.push(format!("{at}: cargo refuses `{}`: {stderr}", line.text));
            }
        }
    }
    assert_none("cargo commands", &problems);
    assert!(checked >= 15, "found the cargo commands shown ({checked})");
}

/// Every string attribute of every resource of both stacks: names, ids and ARNs.
fn stack_values() -> BTreeSet<String> {
    [render::root(), render::bootstrap()]
        .iter()
        .flat_map(|stack| stack.instances())
        .flat_map(|instance| instance.attrs.values())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// A value the reader puts in: `OWNER`, `ITEM_ID`, `$TOPIC`.
fn is_placeholder(value: &str) -> bool {
    value.contains('$')
        || value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The AWS CLI's options whose values name a resource of the stack (`--log-group-names` takes
/// several, `--log-group-name-prefix` the start of one).
const NAME_OPTIONS: &[&str] = &[
    "--alarm-name",
    "--event-bus-name",
    "--function-name",
    "--log-group-name",
    "--log-group-name-prefix",
    "--log-group-names",
    "--name",
    "--queue-name",
    "--role-name",
    "--rule",
    "--secret-id",
    "--table-name",
];

/// The resource part of an ARN (`archive/items-api`), and its service.
fn arn_resource(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, _, _) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    Some((service, parts.next()?))
}

/// The ARNs written in `text`, up to a quote, comma, space or bracket.
fn arns_in(text: &str) -> Vec<&str> {
    text.match_indices("arn:aws:")
        .map(|(i, _)| {
            let rest = &text[i..];
            let end = rest.find(['"', '\'', ',', ' ', ']']).unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn the_aws_commands_shown_use_the_stacks_names() {
    let values = stack_values();
    let arns: BTreeSet<(&str, &str)> = values.iter().filter_map(|v| arn_resource(v)).collect();
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut check = |line: &CommandLine, what: &str, ok: bool| {
        checked += 1;
        if !ok {
            problems.push(format!("{}: {what} is no name the stack gives", line.at()));
        }
    };
    for (line, words) in readme::commands_named(&shown(), "aws") {
        for (i, word) in words.iter().enumerate() {
            if NAME_OPTIONS.contains(&word.as_str()) {
                let taken = words[i + 1..].iter().take_while(|w| !w.starts_with("--"));
                for value in taken.filter(|v| !is_placeholder(v)) {
                    let ok = if word.ends_with("-prefix") {
                        values.iter().any(|name| name.starts_with(value.as_str()))
                    } else {
                        values.contains(value)
                    };
                    check(&line, &format!("{word} {value}"), ok);
                }
            }
            for arn in arns_in(word) {
                let ok = arn_resource(arn).is_some_and(|r| arns.contains(&r));
                check(&line, arn, ok);
            }
            if word == "--entries" {
                let entries: serde_json::Value = serde_json::from_str(&words[i + 1])
                    .unwrap_or_else(|e| panic!("{}: --entries is not JSON: {e}", line.at()));
                for entry in entries.as_array().into_iter().flatten() {
                    let bus = entry["EventBusName"].as_str().unwrap_or_default();
                    check(&line, &format!("EventBusName {bus}"), values.contains(bus));
                }
            }
        }
    }
    assert_none("AWS commands", &problems);
    assert!(checked >= 20, "found the names shown ({checked})");
}

/// The variables declared in the `.tf` files of `dir`.
fn variables(dir: &str) -> BTreeSet<String> {
    let dir = readme::repo_root().join(dir);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .flat_map(|path| {
            let body = hcl::parse(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            body.blocks()
                .filter(|b| b.identifier() == "variable")
                .filter_map(|b| b.labels().first().map(|l| l.as_str().to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_terraform_commands_shown_name_resources_and_variables_that_exist() {
    let stacks = [render::root(), render::bootstrap()];
    let instances: Vec<_> = stacks.iter().flat_map(|s| s.instances()).collect();
    let mut declared = variables("terraform");
    declared.extend(variables("terraform/bootstrap"));
    let mut problems = Vec::new();
    let mut checked = 0;
    for (line, words) in readme::commands_named(&shown(), "terraform") {
        let at = line.at();
        for (i, word) in words.iter().enumerate() {
            if let Some(setting) = word.strip_prefix("-var=") {
                checked += 1;
                let name = setting.split('=').next().unwrap_or_default();
                if !declared.contains(name) {
                    problems.push(format!("{at}: no variable {name}"));
                }
            }
            if word.starts_with("module.") {
                checked += 1;
                let Some(instance) = instances.iter().find(|i| i.address == *word) else {
                    problems.push(format!("{at}: no resource {word}"));
                    continue;
                };
                // `terraform import ADDRESS ID`: the id is what AWS knows it by.
                if words[1] == "import"
                    && let Some(id) = words.get(i + 1).filter(|id| !is_placeholder(id))
                    && !instance
                        .attrs
                        .values()
                        .any(|v| v.as_str() == Some(id.as_str()))
                {
                    problems.push(format!("{at}: {word} is not known as {id}"));
                }
            }
        }
    }
    assert_none("Terraform commands", &problems);
    assert!(
        checked >= 8,
        "found the addresses and variables shown ({checked})"
    );
}

/// `pip install NAME==VERSION` shows the version `scripts/offline-checks` installs (its
/// `NAME_VERSION=` setting, upper case, `-` as `_`).
#[test]
fn the_pip_installs_shown_pin_the_scripts_versions() {
    let script = std::fs::read_to_string(readme::repo_root().join("scripts/offline-checks"))
        .expect("scripts/offline-checks");
    let mut problems = Vec::new();
    let mut checked = 0;
    for (line, words) in readme::commands_named(&shown(), "pip") {
        for (name, version) in words.iter().filter_map(|w| w.split_once("==")) {
            checked += 1;
            let setting = format!(
                "{}_VERSION={version}",
                name.to_uppercase().replace('-', "_")
            );
            if !script.lines().any(|l| l.starts_with(&setting)) {
                problems.push(format!(
                    "{}: {name}=={version}, but scripts/offline-checks has no {setting}",
                    line.at()
                ));
            }
        }
    }
    assert_none("pip installs", &problems);
    assert!(checked >= 2, "found the pinned installs shown ({checked})");
}
