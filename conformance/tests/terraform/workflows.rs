//! The workflows and the observability files: pinned actions, OIDC and no stored keys, a plan
//! shown before anyone approves it and applied as saved, in production only, one apply at a
//! time; no expression pasted into a script; the zips Terraform points at, and a runbook for
//! every alarm.

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

/// Indentation of a line, in spaces.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Whether a line holds YAML (not blank, not only a comment).
fn is_content(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty() && !line.starts_with('#')
}

/// One entry of a block mapping: what follows `key:` on its line, and the lines nested under it.
struct Entry {
    value: String,
    body: String,
}

impl Entry {
    /// The entry as a scalar: its line, or its block (`|` kept line by line, `>` folded).
    fn scalar(&self) -> String {
        let lines = || {
            let base = self
                .body
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(indent)
                .min()
                .unwrap_or(0);
            self.body
                .lines()
                .map(move |l| l.get(base..).unwrap_or("").trim_end())
        };
        if self.value.starts_with('|') {
            lines().collect::<Vec<_>>().join("\n")
        } else if self.value.starts_with('>') {
            lines()
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            self.value.clone()
        }
    }

    /// The entry as a list of strings: `[a, b]` or `- a` lines.
    fn list(&self) -> Vec<String> {
        if let Some(flow) = self
            .value
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
        {
            return flow.split(',').map(|v| v.trim().to_owned()).collect();
        }
        if !self.value.is_empty() {
            return vec![self.value.clone()];
        }
        items(&self.body)
            .iter()
            .map(|item| item.trim().to_owned())
            .collect()
    }
}

/// The entries of a block mapping written as text, at its shallowest indentation, in order.
/// (No YAML parser in the tree; the workflows are plain block style, which this reads.)
fn entries(text: &str) -> Vec<(String, Entry)> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(base) = lines
        .iter()
        .filter(|l| is_content(l))
        .map(|l| indent(l))
        .min()
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if !is_content(line) || indent(line) != base {
            continue;
        }
        let (key, value) = line
            .trim()
            .split_once(':')
            .unwrap_or_else(|| panic!("not a mapping entry: {line:?}"));
        let mut body = Vec::new();
        while i < lines.len() && (!is_content(lines[i]) || indent(lines[i]) > base) {
            body.push(lines[i]);
            i += 1;
        }
        // Blank lines and comments before the next entry are not this one's.
        while body
            .last()
            .is_some_and(|l| l.trim().is_empty() || indent(l) <= base)
        {
            body.pop();
        }
        let entry = Entry {
            value: value.trim().to_owned(),
            body: body.join("\n"),
        };
        out.push((key.trim().trim_matches('"').to_owned(), entry));
    }
    out
}

/// The entry `key` of a block mapping, if it has one (and only one).
fn get(text: &str, key: &str) -> Option<Entry> {
    let mut found = entries(text).into_iter().filter(|(k, _)| k == key);
    let entry = found.next().map(|(_, e)| e);
    assert!(found.next().is_none(), "{key} twice");
    entry
}

fn need(text: &str, key: &str) -> Entry {
    get(text, key).unwrap_or_else(|| panic!("no {key}: in\n{text}"))
}

/// The items of a block sequence, each as the text of a mapping (its `- ` made spaces).
fn items(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let Some(base) = text.lines().filter(|l| is_content(l)).map(indent).min() else {
        return out;
    };
    for line in text.lines() {
        if is_content(line) && indent(line) == base {
            let rest = line.trim_start().strip_prefix('-').unwrap_or_else(|| {
                panic!("not a sequence item: {line:?}");
            });
            out.push(format!("{}{}", " ".repeat(base + 2), rest.trim_start()));
        } else if let Some(item) = out.last_mut() {
            item.push('\n');
            item.push_str(line);
        }
    }
    out
}

/// The deploy workflow's job `id`.
fn job(id: &str) -> String {
    need(&need(&workflow("deploy.yml"), "jobs").body, id).body
}

fn steps(job: &str) -> Vec<String> {
    items(&need(job, "steps").body)
}

/// The `run:` scripts of a job's steps, in order.
fn scripts(job: &str) -> Vec<String> {
    steps(job)
        .iter()
        .filter_map(|step| get(step, "run").map(|run| run.scalar()))
        .collect()
}

/// Where in a job's steps the first one matching `is` stands.
fn position(job: &str, what: &str, is: impl Fn(&str) -> bool) -> usize {
    steps(job)
        .iter()
        .position(|step| is(step))
        .unwrap_or_else(|| panic!("no step {what}"))
}

/// The steps of a job that use `action` (owner/name), with their `with:` inputs.
fn uses(job: &str, action: &str) -> Vec<String> {
    steps(job)
        .into_iter()
        .filter(|step| {
            get(step, "uses").is_some_and(|u| u.value.starts_with(&format!("{action}@")))
        })
        .collect()
}

fn input(step: &str, name: &str) -> Option<String> {
    get(&get(step, "with")?.body, name).map(|e| e.scalar())
}

/// The one role a job assumes.
fn role_of(job: &str) -> String {
    let steps = uses(job, "aws-actions/configure-aws-credentials");
    assert_eq!(steps.len(), 1, "one role per job");
    input(&steps[0], "role-to-assume").expect("role-to-assume")
}

fn permissions(text: &str) -> Vec<(String, String)> {
    entries(&need(text, "permissions").body)
        .into_iter()
        .map(|(k, e)| (k, e.value))
        .collect()
}

fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn deploying_uses_oidc_and_no_stored_keys() {
    for (path, text) in workflows() {
        for forbidden in [
            "aws-access-key-id",
            "aws-secret-access-key",
            "AWS_SECRET_ACCESS_KEY",
            "secrets.AWS",
            // The one deploy role is two now: a plan role and an apply role.
            "AWS_DEPLOY_ROLE_ARN",
        ] {
            assert!(!text.contains(forbidden), "{}: {forbidden}", path.display());
        }
    }
    let deploy = workflow("deploy.yml");
    for needed in [
        "terraform fmt -check -recursive",
        "bash .ci/run",
        "branches: [main]",
    ] {
        assert!(deploy.contains(needed), "deploy.yml lacks {needed:?}");
    }
    // The workflow grants reading only; the token is asked for by the jobs that assume a role,
    // each for itself, and by no other.
    assert_eq!(permissions(&deploy), pairs(&[("contents", "read")]));
    let jobs = entries(&need(&deploy, "jobs").body);
    for (id, job) in &jobs {
        let assumes = !uses(&job.body, "aws-actions/configure-aws-credentials").is_empty();
        assert_eq!(
            job.body.contains("id-token: write"),
            assumes,
            "job {id}: id-token: write exactly when it assumes a role"
        );
        if assumes {
            assert_eq!(
                permissions(&job.body),
                pairs(&[("contents", "read"), ("id-token", "write")]),
                "job {id}"
            );
        }
    }
    assert_eq!(role_of(&job("plan")), "${{ vars.AWS_PLAN_ROLE_ARN }}");
    assert_eq!(role_of(&job("apply")), "${{ vars.AWS_APPLY_ROLE_ARN }}");
    // The apply job's environment is the one the apply role trusts by default.
    assert_eq!(
        default_of(&module_dir("ci"), "github_environment"),
        Some(hcl::Value::from(need(&job("apply"), "environment").value))
    );
}

#[test]
fn plans_run_on_pull_requests_and_main_outside_any_environment() {
    let deploy = workflow("deploy.yml");
    let on = need(&deploy, "on").body;
    assert_eq!(need(&on, "pull_request").body.trim(), "branches: [main]");
    assert_eq!(need(&on, "push").body.trim(), "branches: [main]");

    let plan = job("plan");
    // An environment would make the token's subject environment:NAME, which the plan role
    // does not trust (it trusts pull_request and ref:refs/heads/main).
    assert!(
        get(&plan, "environment").is_none(),
        "the plan job has an environment"
    );
    assert!(!plan.contains("AWS_APPLY_ROLE_ARN"));
    let needs = need(&plan, "needs").list();
    assert!(
        needs.contains(&"test".to_owned()) && needs.contains(&"build".to_owned()),
        "{needs:?}"
    );
    // Forks' pull requests get no OIDC token; other branches' dispatches no trusted subject.
    let condition = need(&plan, "if").scalar();
    for part in [
        "github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name == github.repository",
        "github.event_name != 'pull_request' && github.ref == 'refs/heads/main'",
    ] {
        assert!(condition.contains(part), "plan if: {condition}");
    }
    let zips = uses(&plan, "actions/download-artifact");
    assert_eq!(zips.len(), 1);
    assert_eq!(input(&zips[0], "name").as_deref(), Some("lambda-zips"));
}

#[test]
fn the_plan_is_saved_shown_in_the_summary_and_uploaded() {
    let plan = job("plan");
    let is_plan =
        |step: &str| get(step, "run").is_some_and(|r| r.scalar().starts_with("terraform plan"));
    let command = scripts(&plan)
        .into_iter()
        .find(|s| s.starts_with("terraform plan"))
        .expect("a terraform plan step");
    for flag in ["-out=tfplan", "-input=false", "-lock-timeout="] {
        assert!(command.contains(flag), "{command}: no {flag}");
    }

    let writes_summary = |step: &str| {
        get(step, "run").is_some_and(|r| r.scalar().contains(">> \"$GITHUB_STEP_SUMMARY\""))
    };
    let summary = scripts(&plan)
        .into_iter()
        .find(|s| s.contains(">> \"$GITHUB_STEP_SUMMARY\""))
        .expect("a step writing the job summary");
    for needed in [
        "terraform show -no-color tfplan",
        "<details>",
        "</details>",
        "terraform show -json tfplan",
        "jq",
        "to add",
        "to change",
        "to destroy",
        "LOCK_FILE_GENERATED",
        "terraform providers lock -platform=linux_amd64 -platform=linux_arm64 -platform=darwin_arm64",
    ] {
        assert!(summary.contains(needed), "the summary lacks {needed:?}");
    }

    // The artifact: the saved plan, the lock file it was made with, and its commit.
    let uploads = uses(&plan, "actions/upload-artifact");
    assert_eq!(uploads.len(), 1);
    assert_eq!(
        input(&uploads[0], "name").as_deref(),
        Some("terraform-plan")
    );
    let folder = input(&uploads[0], "path")
        .expect("path")
        .replace("${{ runner.temp }}", "$RUNNER_TEMP");
    let folder = folder.trim_end_matches('/');
    let all = scripts(&plan).join("\n");
    for needed in [
        format!("cp tfplan \"{folder}/tfplan\""),
        format!("cp .terraform.lock.hcl \"{folder}/"),
        format!("echo \"$GITHUB_SHA\" > \"{folder}/commit\""),
        format!("sha256sum target/lambda/*/bootstrap.zip) > \"{folder}/"),
    ] {
        assert!(all.contains(&needed), "the plan job lacks {needed:?}");
    }
    let planned = position(&plan, "terraform plan", is_plan);
    let summarised = position(&plan, "writing the summary", writes_summary);
    let uploaded = position(&plan, "uploading", |s| {
        get(s, "uses").is_some_and(|u| u.value.starts_with("actions/upload-artifact@"))
    });
    assert!(planned < summarised && summarised < uploaded);

    // The plan's variables, the alarm targets as JSON lists.
    let env = need(&plan, "env").body;
    for (name, value) in [
        ("TF_VAR_alarm_emails", "${{ vars.ALARM_EMAILS || '[]' }}"),
        (
            "TF_VAR_alarm_https_endpoints",
            "${{ vars.ALARM_HTTPS_ENDPOINTS || '[]' }}",
        ),
        (
            "TF_VAR_alarm_topic_arns",
            "${{ vars.ALARM_TOPIC_ARNS || '[]' }}",
        ),
        // Tickets: the SLOs' drift alerts and the alarms kept as tickets.
        ("TF_VAR_ticket_emails", "${{ vars.TICKET_EMAILS || '[]' }}"),
        (
            "TF_VAR_ticket_topic_arns",
            "${{ vars.TICKET_TOPIC_ARNS || '[]' }}",
        ),
        (
            "TF_VAR_runbook_base_url",
            "${{ github.server_url }}/${{ github.repository }}/blob/${{ github.sha }}",
        ),
        ("TF_VAR_region", "${{ vars.AWS_REGION }}"),
    ] {
        assert_eq!(need(&env, name).value, value, "{name}");
    }
    assert!(get(&env, "TF_VAR_alarm_email").is_none());
}

#[test]
fn the_apply_job_applies_the_saved_plan_of_main_in_production() {
    let apply = job("apply");
    assert_eq!(need(&apply, "environment").value, "production");
    assert!(!apply.contains("AWS_PLAN_ROLE_ARN"));
    let needs = need(&apply, "needs").list();
    assert!(needs.contains(&"plan".to_owned()), "{needs:?}");
    // Main only: never on a pull request, and nothing or-ed in.
    let condition = need(&apply, "if").scalar();
    assert!(
        condition.contains("github.event_name != 'pull_request'")
            && condition.contains("github.ref == 'refs/heads/main'")
            && !condition.contains("||"),
        "apply if: {condition}"
    );

    // It applies the saved plan and makes none of its own; a saved plan takes no variables.
    let scripts = scripts(&apply);
    assert!(scripts.iter().all(|s| !s.contains("terraform plan")));
    let mut env: Vec<String> = get(&apply, "env")
        .map(|env| entries(&env.body).into_iter().map(|(k, _)| k).collect())
        .unwrap_or_default();
    for step in steps(&apply) {
        if let Some(step_env) = get(&step, "env") {
            env.extend(entries(&step_env.body).into_iter().map(|(k, _)| k));
        }
    }
    assert!(
        env.iter().all(|name| !name.starts_with("TF_VAR_")),
        "apply sets Terraform variables: {env:?}"
    );
    assert!(scripts.iter().all(|s| !s.contains("TF_VAR_")));
    let applies: Vec<&String> = scripts
        .iter()
        .filter(|s| s.contains("terraform apply"))
        .collect();
    assert_eq!(applies.len(), 1);
    assert_eq!(
        applies[0].split_whitespace().last(),
        Some("tfplan"),
        "{}",
        applies[0]
    );

    // The plan's commit, zips and lock file.
    let checkout = uses(&apply, "actions/checkout");
    assert_eq!(checkout.len(), 1);
    assert_eq!(
        input(&checkout[0], "ref").as_deref(),
        Some("${{ github.sha }}")
    );
    let downloads: Vec<Option<String>> = uses(&apply, "actions/download-artifact")
        .iter()
        .map(|step| input(step, "name"))
        .collect();
    assert_eq!(
        downloads,
        [
            Some("lambda-zips".to_owned()),
            Some("terraform-plan".to_owned())
        ]
    );
    let checks = |step: &str| {
        get(step, "run").is_some_and(|r| {
            let s = r.scalar();
            s.contains("/commit\")") && s.contains("!= \"$GITHUB_SHA\"")
        })
    };
    let check = scripts
        .iter()
        .find(|s| s.contains("/commit\")") && s.contains("!= \"$GITHUB_SHA\""))
        .expect("a step comparing the plan's commit with this run's");
    for needed in [
        "exit 1",
        "git rev-parse HEAD",
        "sha256sum --check",
        "cmp .terraform.lock.hcl",
        "terraform.lock.hcl\" .terraform.lock.hcl",
    ] {
        assert!(check.contains(needed), "the check lacks {needed:?}");
    }
    let checked = position(&apply, "checking the plan", checks);
    let inited = position(&apply, "terraform init", |s| {
        get(s, "run").is_some_and(|r| r.scalar().starts_with("terraform init"))
    });
    let applied = position(&apply, "terraform apply", |s| {
        get(s, "run").is_some_and(|r| r.scalar().starts_with("terraform apply"))
    });
    assert!(checked < inited && inited < applied);
}

#[test]
fn applies_never_overlap_and_are_never_cancelled() {
    let deploy = workflow("deploy.yml");
    assert!(!deploy.contains("cancel-in-progress: true"));
    // The apply job's own group: a fixed name, shared by every run.
    let group = need(&job("apply"), "concurrency").body;
    let name = need(&group, "group").value;
    assert!(!name.is_empty() && !name.contains("${{"), "group: {name}");
    assert_eq!(need(&group, "cancel-in-progress").value, "false");
    // The workflow's: cancels only pull requests' runs, and main's runs share one group.
    let group = need(&deploy, "concurrency").body;
    let cancel = need(&group, "cancel-in-progress").value;
    assert!(
        cancel == "false" || cancel == "${{ github.event_name == 'pull_request' }}",
        "cancel-in-progress: {cancel}"
    );
    let name = need(&group, "group").value;
    for per_run in ["github.sha", "github.run_", "github.event.after"] {
        assert!(!name.contains(per_run), "group: {name}");
    }
}

#[test]
fn init_keeps_the_committed_lock_file() {
    let is_init = |s: &String| {
        s.lines()
            .any(|l| l.trim_start().starts_with("terraform init"))
    };
    let plan = scripts(&job("plan"))
        .into_iter()
        .find(is_init)
        .expect("the plan job's init");
    let (with_file, without) = plan
        .split_once("if [[ -f .terraform.lock.hcl ]]; then")
        .and_then(|(_, rest)| rest.split_once("else"))
        .expect("init asks whether the lock file exists");
    assert!(with_file.contains("-lockfile=readonly"), "{plan}");
    assert!(
        !without
            .split("fi")
            .next()
            .unwrap_or("")
            .contains("-lockfile")
    );
    assert!(plan.contains("terraform init -input=false \"${lockfile[@]}\""));
    // The apply job's lock file is the plan's, or the commit's and then the same: read-only.
    let apply = scripts(&job("apply"))
        .into_iter()
        .find(is_init)
        .expect("the apply job's init");
    assert!(apply.starts_with("terraform init -input=false -lockfile=readonly"));
    // And no other init anywhere.
    let inits: Vec<String> = entries(&need(&workflow("deploy.yml"), "jobs").body)
        .iter()
        .flat_map(|(_, job)| scripts(&job.body))
        .flat_map(|s| s.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| line.trim_start().starts_with("terraform init"))
        .collect();
    assert_eq!(inits.len(), 2, "{inits:?}");
}

#[test]
fn no_script_interpolates_an_expression() {
    // ${{ }} is pasted into the script before the shell reads it: values go through env.
    for (path, text) in workflows() {
        for (id, job) in entries(&need(&text, "jobs").body) {
            for script in scripts(&job.body) {
                assert!(
                    !script.contains("${{"),
                    "{} job {id}: {script}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn no_checkout_keeps_the_token() {
    for (path, text) in workflows() {
        for (id, job) in entries(&need(&text, "jobs").body) {
            for step in uses(&job.body, "actions/checkout") {
                assert_eq!(
                    input(&step, "persist-credentials").as_deref(),
                    Some("false"),
                    "{} job {id}",
                    path.display()
                );
            }
        }
    }
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

/// The functions a `for function in …; do` loop of `text` goes through.
fn zip_loop(text: &str, whose: &str) -> BTreeSet<String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("for function in "))
        .unwrap_or_else(|| panic!("{whose}: no `for function in …` loop over the zips"));
    line.trim_start_matches("for function in ")
        .trim_end_matches("; do")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_zips_checked_are_the_functions_terraform_deploys() {
    let functions = local(&module_dir("functions"), "functions");
    let keys: BTreeSet<String> = object(&functions).into_iter().map(|(k, _)| k).collect();
    assert_eq!(zip_loop(&workflow("deploy.yml"), "deploy.yml"), keys);
    let script = read(&conformance::repo_root().join("scripts/offline-checks"));
    assert_eq!(zip_loop(&script, "scripts/offline-checks"), keys);
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
