//! What `terraform validate` would say about the modules' interfaces, checked without Terraform:
//! every module has its four files; every variable is typed and described; every module call
//! passes only declared variables and every required one; references to variables, locals and
//! module outputs resolve; every log group keeps logs 7 days.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hcl::Value;

use crate::support::*;

fn words_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(i) = text[start..].find(prefix) {
        let at = start + i;
        let before = if at == 0 { b' ' } else { bytes[at - 1] };
        let end = at + prefix.len();
        if !(before.is_ascii_alphanumeric() || before == b'_' || before == b'.') {
            let name: String = text[end..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
        start = end;
    }
    out
}

fn module_code(dir: &Path) -> String {
    tf_files(dir)
        .iter()
        .map(|f| code_without_comments(&read(f)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_module_has_its_four_files() {
    for dir in module_dirs() {
        if dir == terraform_dir() || dir.ends_with("bootstrap") {
            for file in ["main.tf", "variables.tf", "outputs.tf", "versions.tf"] {
                assert!(dir.join(file).is_file(), "{} has no {file}", dir.display());
            }
            continue;
        }
        let names: BTreeSet<String> = tf_files(&dir)
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let expected: BTreeSet<String> = ["main.tf", "outputs.tf", "variables.tf", "versions.tf"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(names, expected, "{}", dir.display());
    }
}

#[test]
fn every_variable_is_typed_and_described_and_every_output_described() {
    for dir in module_dirs() {
        for (name, var) in variables(&dir) {
            let body = var.body();
            assert!(
                try_attr(body, "type").is_some(),
                "{}: variable {name} has no type",
                dir.display()
            );
            let description = try_attr(body, "description")
                .map(|d| string(d).to_owned())
                .unwrap_or_default();
            assert!(
                !description.is_empty(),
                "{}: variable {name} has no description",
                dir.display()
            );
            for validation in blocks(body, "validation", &[]) {
                assert!(try_attr(validation.body(), "condition").is_some());
                assert!(try_attr(validation.body(), "error_message").is_some());
            }
        }
        let body = module_body(&dir);
        for output in blocks(&body, "output", &[]) {
            let description = try_attr(output.body(), "description").map(|d| string(d).to_owned());
            assert!(
                description.is_some_and(|d| !d.is_empty()),
                "{}: output {} has no description",
                dir.display(),
                label_strs(output)[0]
            );
        }
    }
}

#[test]
fn module_calls_match_the_modules_variables_and_outputs() {
    const META: [&str; 5] = ["source", "count", "for_each", "depends_on", "providers"];
    for dir in [terraform_dir(), terraform_dir().join("bootstrap")] {
        let body = module_body(&dir);
        let code = module_code(&dir);
        let mut called = BTreeSet::new();
        for call in blocks(&body, "module", &[]) {
            let name = label_strs(call)[0].to_owned();
            let source_path = string(attr(call.body(), "source"));
            let module = dir.join(source_path);
            assert!(
                module.is_dir(),
                "module {name}: no folder {}",
                module.display()
            );
            let declared = variables(&module);
            let given: BTreeSet<String> = call
                .body()
                .attributes()
                .map(|a| a.key().to_owned())
                .filter(|k| !META.contains(&k.as_str()))
                .collect();
            for arg in &given {
                assert!(
                    declared.contains_key(arg),
                    "module {name}: no variable {arg} in {source_path}"
                );
            }
            for (var, block) in &declared {
                if try_attr(block.body(), "default").is_none() {
                    assert!(
                        given.contains(var),
                        "module {name}: required variable {var} not given"
                    );
                }
            }
            let outputs: BTreeSet<String> = blocks(&module_body(&module), "output", &[])
                .map(|o| label_strs(o)[0].to_owned())
                .collect();
            let used = words_after(&code, &format!("module.{name}."));
            for output in &used {
                assert!(
                    outputs.contains(output),
                    "module.{name}.{output}: no such output in {source_path}"
                );
            }
            called.insert(name);
        }
        for used in words_after(&code, "module.") {
            assert!(
                called.contains(&used),
                "{}: module.{used} is not called",
                dir.display()
            );
        }
    }
}

#[test]
fn references_to_variables_locals_and_resources_resolve() {
    for dir in module_dirs() {
        let code = module_code(&dir);
        let body = module_body(&dir);
        let declared_vars: BTreeSet<String> = variables(&dir).into_keys().collect();
        for var in words_after(&code, "var.") {
            assert!(
                declared_vars.contains(&var),
                "{}: var.{var} is not declared",
                dir.display()
            );
        }
        let declared_locals: BTreeSet<String> = locals(&dir).into_keys().collect();
        for name in words_after(&code, "local.") {
            assert!(
                declared_locals.contains(&name),
                "{}: local.{name} is not defined",
                dir.display()
            );
        }
        let resources: BTreeSet<String> = blocks(&body, "resource", &[])
            .map(|b| label_strs(b).join("."))
            .collect();
        let data: BTreeSet<String> = blocks(&body, "data", &[])
            .map(|b| label_strs(b).join("."))
            .collect();
        for name in words_after(&code, "data.") {
            let refs = words_after(&code, &format!("data.{name}."));
            for r in refs {
                assert!(
                    data.contains(&format!("{name}.{r}")),
                    "{}: data.{name}.{r} is not declared",
                    dir.display()
                );
            }
        }
        for prefix in ["aws_", "random_"] {
            for kind in words_after(&code, prefix) {
                let kind = format!("{prefix}{kind}");
                for name in words_after(&code, &format!("{kind}.")) {
                    assert!(
                        resources.contains(&format!("{kind}.{name}")),
                        "{}: {kind}.{name} is not declared",
                        dir.display()
                    );
                }
            }
        }
    }
}

#[test]
fn every_log_group_keeps_its_logs_seven_days() {
    for dir in module_dirs() {
        let body = module_body(&dir);
        for group in blocks(&body, "resource", &["aws_cloudwatch_log_group"]) {
            let retention = source(attr(group.body(), "retention_in_days"));
            assert_eq!(
                retention,
                "var.log_retention_days",
                "{}: {:?}",
                dir.display(),
                label_strs(group)
            );
        }
        if variables(&dir).contains_key("log_retention_days") {
            assert_eq!(
                default_of(&dir, "log_retention_days"),
                Some(Value::from(7)),
                "{}",
                dir.display()
            );
        }
    }
    // The root passes its own (7 by default) to every module with log groups.
    let root = module_body(&terraform_dir());
    for call in blocks(&root, "module", &[]) {
        let module = terraform_dir().join(string(attr(call.body(), "source")));
        if variables(&module).contains_key("log_retention_days") {
            assert_eq!(
                source(attr(call.body(), "log_retention_days")),
                "var.log_retention_days",
                "module {}",
                label_strs(call)[0]
            );
        }
    }
}

#[test]
fn the_state_backend_is_s3_with_its_own_lock_file() {
    for dir in [terraform_dir(), terraform_dir().join("bootstrap")] {
        let body = parse(&dir.join("versions.tf"));
        let terraform = block(&body, "terraform", &[]).body();
        let backend = block(terraform, "backend", &["s3"]).body();
        assert_eq!(attr(backend, "use_lockfile"), &hcl::Expression::Bool(true));
        assert!(
            try_attr(backend, "bucket").is_none(),
            "the bucket is given at init"
        );
        assert!(
            try_attr(backend, "key").is_none(),
            "the key is given at init"
        );
    }
}

/// `terraformProviders` of conformance/offline/package.json: the provider versions whose
/// schemas scripts/offline-checks validates the code against (terraform.mjs checks that the
/// installed bindings carry exactly these).
fn validated_provider_versions() -> BTreeMap<String, String> {
    let path = conformance::repo_root().join("conformance/offline/package.json");
    let json: serde_json::Value = serde_json::from_str(&read(&path)).expect("package.json is JSON");
    json["terraformProviders"]
        .as_object()
        .expect("package.json states terraformProviders")
        .iter()
        .map(|(name, version)| {
            (
                name.clone(),
                version.as_str().expect("a version string").to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_module_pins_exactly_the_providers_the_schema_check_validates() {
    let validated = validated_provider_versions();
    assert_eq!(
        validated.keys().map(String::as_str).collect::<Vec<_>>(),
        ["aws", "random"],
        "package.json states the version of each provider terraform.mjs reads a schema of"
    );
    let sources = BTreeMap::from([("aws", "hashicorp/aws"), ("random", "hashicorp/random")]);
    let mut required_versions = BTreeSet::new();
    for dir in module_dirs() {
        let body = parse(&dir.join("versions.tf"));
        let terraform = block(&body, "terraform", &[]).body();
        required_versions.insert(source(attr(terraform, "required_version")));
        let providers = block(terraform, "required_providers", &[]).body();
        for a in providers.attributes() {
            let value = eval_with_defaults(&dir, a.expr());
            let field = |k: &str| {
                value
                    .as_object()
                    .and_then(|o| o.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            let name = a.key();
            assert_eq!(
                field("source"),
                *sources
                    .get(name)
                    .unwrap_or_else(|| panic!("{}: provider {name}", dir.display())),
                "{}",
                dir.display()
            );
            // Exactly, not a range: a range lets `terraform init` pick a provider whose schema
            // nothing here has checked.
            assert_eq!(
                Some(&field("version")),
                validated.get(name),
                "{}: provider {name} is pinned to another version than the one \
                 scripts/offline-checks validates (conformance/offline/package.json)",
                dir.display()
            );
        }
    }
    // 1.11: the S3 backend's lock file (use_lockfile) is generally available from 1.11, an
    // experiment in 1.10; import blocks with for_each (imports.tf) need 1.7 and validations
    // that read other variables 1.9, both below it.
    assert_eq!(
        required_versions.into_iter().collect::<Vec<_>>(),
        ["\">= 1.11.0\""],
        "every module requires Terraform 1.11, where use_lockfile is generally available"
    );

    // The same package versions in package.json and in the lock file that npm ci installs.
    let offline = conformance::repo_root().join("conformance/offline");
    let package: serde_json::Value =
        serde_json::from_str(&read(&offline.join("package.json"))).unwrap();
    let lock: serde_json::Value =
        serde_json::from_str(&read(&offline.join("package-lock.json"))).unwrap();
    for binding in ["@cdktf/provider-aws", "@cdktf/provider-random"] {
        let wanted = package["dependencies"][binding].as_str().expect(binding);
        let locked = lock["packages"][format!("node_modules/{binding}")]["version"]
            .as_str()
            .expect(binding);
        assert_eq!(wanted, locked, "{binding}: package.json and its lock file");
        // When scripts/offline-checks has installed them, the bindings' own metadata names the
        // provider version they were generated from.
        let installed = conformance::repo_root()
            .join(".cache/npm-tf/node_modules")
            .join(binding)
            .join("package.json");
        if let Ok(text) = std::fs::read_to_string(&installed) {
            let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
            if meta["version"].as_str() == Some(locked) {
                let provider = binding.trim_start_matches("@cdktf/provider-");
                assert_eq!(
                    meta["cdktf"]["provider"]["version"].as_str(),
                    validated.get(provider).map(String::as_str),
                    "{binding} {locked} is generated from another {provider} provider"
                );
            }
        }
    }
}
