//! The deploy workflow and the observability files: pinned actions, OIDC and no stored keys,
//! the zips Terraform points at, and a runbook for every alarm.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::support::*;

fn workflow(name: &str) -> String {
    read(
        &conformance::repo_root()
            .join(".github/workflows")
            .join(name),
    )
}

fn workflows() -> Vec<(PathBuf, String)> {
    let dir = conformance::repo_root().join(".github/workflows");
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .expect(".github/workflows exists")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| {
            let text = read(&p);
            (p, text)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_action_is_pinned_to_a_commit() {
    for (path, text) in workflows() {
        for line in text.lines() {
            let Some(uses) = line.trim().trim_start_matches("- ").strip_prefix("uses: ") else {
                continue;
            };
            let (action, rest) = uses
                .split_once('@')
                .unwrap_or_else(|| panic!("{}: {uses}", path.display()));
            let sha = rest.split_whitespace().next().unwrap_or("");
            assert!(
                sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "{}: {action} is not pinned to a commit: {rest}",
                path.display()
            );
            assert!(
                rest.contains("# v"),
                "{}: {action}: say the version in a comment",
                path.display()
            );
        }
    }
}

#[test]
fn deploying_uses_oidc_and_no_stored_keys() {
    for (path, text) in workflows() {
        for forbidden in [
            "aws-access-key-id",
            "aws-secret-access-key",
            "AWS_SECRET_ACCESS_KEY",
            "secrets.AWS",
        ] {
            assert!(!text.contains(forbidden), "{}: {forbidden}", path.display());
        }
    }
    let deploy = workflow("deploy.yml");
    for needed in [
        "id-token: write",
        "role-to-assume: ${{ vars.AWS_DEPLOY_ROLE_ARN }}",
        "environment: production",
        "terraform fmt -check -recursive",
        "terraform init",
        "terraform plan -out=tfplan",
        "terraform apply tfplan",
        "bash .ci/run",
        "branches: [main]",
    ] {
        assert!(deploy.contains(needed), "deploy.yml lacks {needed:?}");
    }
    // The workflow's environment is the one the deploy role trusts by default.
    assert_eq!(
        default_of(&module_dir("ci"), "github_environment"),
        Some(hcl::Value::from("production"))
    );
}

#[test]
fn the_workflow_builds_the_zips_terraform_deploys() {
    let deploy = workflow("deploy.yml");
    assert!(
        deploy.contains("cargo lambda build --release --arm64 --output-format zip -p functions")
    );
    assert!(deploy.contains("path: target/lambda/*/bootstrap.zip"));
    assert!(deploy.contains("path: target/lambda\n"));
    assert!(deploy.contains("working-directory: terraform"));
}

#[test]
fn every_alarm_has_its_runbook() {
    let root = conformance::repo_root();
    let Ok(entries) = std::fs::read_dir(root.join("alarms")) else {
        return; // No alarms yet: the observability module makes none.
    };
    for entry in entries {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = read(&path);
        // ${placeholders} are strings inside the JSON, so the file parses as it is.
        let alarm: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let runbook = alarm["runbook"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no runbook", path.display()));
        assert!(
            runbook.starts_with("runbooks/") && runbook.ends_with(".md"),
            "{}: {runbook}",
            path.display()
        );
        assert!(
            root.join(runbook).is_file(),
            "{}: {runbook} does not exist",
            path.display()
        );
        for key in [
            "name",
            "description",
            "evaluation_periods",
            "threshold",
            "comparison",
        ] {
            assert!(alarm.get(key).is_some(), "{}: no {key}", path.display());
        }
        assert!(
            alarm.get("metric").is_some() != alarm.get("metrics").is_some(),
            "{}: metric or metrics",
            path.display()
        );
    }
}

/// The `${name}`s of a template file.
fn placeholders_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').expect("a closed ${");
        out.insert(after[..end].to_owned());
        rest = &after[end..];
    }
    out
}

#[test]
fn terraform_fills_every_placeholder_of_the_dashboards_and_alarms() {
    let root = module_body(&terraform_dir());
    let call = block(&root, "module", &["observability"]).body();
    let mut filled: BTreeSet<String> = object(attr(call, "placeholders"))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let merged = local(&module_dir("observability"), "placeholders");
    let hcl::Expression::FuncCall(merge) = &merged else {
        panic!("local.placeholders is not merge(…): {}", source(&merged));
    };
    assert_eq!(source(&merge.args[0]), "var.placeholders");
    filled.extend(object(&merge.args[1]).into_iter().map(|(k, _)| k));
    assert_eq!(
        source(object_field(&merge.args[1], "alarm_prefix")),
        "var.name"
    );

    let repo = conformance::repo_root();
    for dir in ["dashboards", "alarms"] {
        let Ok(entries) = std::fs::read_dir(repo.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("an entry").path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            for name in placeholders_in(&read(&path)) {
                assert!(
                    filled.contains(&name),
                    "{}: Terraform does not fill ${{{name}}}",
                    path.display()
                );
            }
        }
    }

    // Alarms are named <alarm_prefix>-<name>, as the dashboards' alarm ARNs expect.
    let module = module_body(&module_dir("observability"));
    let alarm = block(
        &module,
        "resource",
        &["aws_cloudwatch_metric_alarm", "alarm"],
    )
    .body();
    assert_eq!(
        source(attr(alarm, "alarm_name")),
        "\"${var.name}-${each.value.name}\""
    );
}
