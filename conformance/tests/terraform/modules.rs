//! What `terraform validate` would say about the modules' interfaces, checked without Terraform:
//! every module has its four files; every variable is typed and described; every module call
//! passes only declared variables and every required one; references to variables, locals and
//! module outputs resolve; every log group keeps logs 7 days.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hcl::Value;
use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};

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

/// The code without the `to` of import blocks: those name a called module's resources, not its
/// outputs (every_import_adopts_a_resource_the_stack_declares_by_the_name_it_gives checks them).
fn without_import_targets(code: &str) -> String {
    let mut in_import = false;
    code.lines()
        .filter(|line| {
            if *line == "import {" {
                in_import = true;
            } else if *line == "}" {
                in_import = false;
            }
            !(in_import && line.trim_start().starts_with("to "))
        })
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
        let code = without_import_targets(&module_code(&dir));
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

// ---------------------------------------------------------------- alarm notifications

#[test]
fn the_alarms_must_reach_someone_unless_told_otherwise() {
    let root = terraform_dir();
    let vars = variables(&root);
    assert!(
        !vars.contains_key("alarm_email"),
        "alarm_email (one optional address) is replaced by the lists"
    );
    let item_conditions = [
        (
            "alarm_emails",
            r#"alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])"#,
        ),
        (
            "alarm_https_endpoints",
            r#"alltrue([for u in var.alarm_https_endpoints : can(regex("^https://[^/\\s]+(/\\S*)?$", u))])"#,
        ),
        (
            "alarm_topic_arns",
            r#"alltrue([for t in var.alarm_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", t))])"#,
        ),
        (
            "ticket_emails",
            r#"alltrue([for e in var.ticket_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])"#,
        ),
        (
            "ticket_topic_arns",
            r#"alltrue([for t in var.ticket_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", t))])"#,
        ),
    ];
    let observability = module_dir("observability");
    let module_vars = variables(&observability);
    for (name, condition) in item_conditions {
        for (dir, vars) in [(&root, &vars), (&observability, &module_vars)] {
            let var = vars
                .get(name)
                .unwrap_or_else(|| panic!("{}: no variable {name}", dir.display()));
            let body = var.body();
            assert_eq!(source(attr(body, "type")), "list(string)", "{name}");
            assert_eq!(default_of(dir, name), Some(Value::Array(vec![])), "{name}");
            assert_eq!(
                attr(body, "nullable"),
                &hcl::Expression::Bool(false),
                "{name}"
            );
            let conditions: Vec<String> = blocks(body, "validation", &[])
                .map(|v| source(attr(v.body(), "condition")))
                .collect();
            assert!(
                conditions.iter().any(|c| c == condition),
                "{}: {name} validates each item: {conditions:?}",
                dir.display()
            );
            if name.ends_with("_topic_arns") {
                // CloudWatch takes 5 actions per state; the stack's own topic is one of them.
                assert!(
                    conditions
                        .iter()
                        .any(|c| c == &format!("length(var.{name}) <= 4")),
                    "{conditions:?}"
                );
            }
        }
    }

    // Nobody paged is refused unless asked for: evaluate the condition over each case.
    let nobody = vars
        .get("alarms_notify_nobody")
        .expect("variable alarms_notify_nobody");
    assert_eq!(source(attr(nobody.body(), "type")), "bool");
    assert_eq!(
        default_of(&root, "alarms_notify_nobody"),
        Some(Value::Bool(false))
    );
    let validations: Vec<&hcl::Block> = blocks(nobody.body(), "validation", &[]).collect();
    assert_eq!(validations.len(), 1);
    let condition = attr(validations[0].body(), "condition");
    let message = string(attr(validations[0].body(), "error_message"));
    for variable in [
        "ALARM_EMAILS",
        "ALARM_HTTPS_ENDPOINTS",
        "ALARM_TOPIC_ARNS",
        "alarms_notify_nobody",
    ] {
        assert!(message.contains(variable), "the message names {variable}");
    }
    let one = || Value::Array(vec![Value::from("x")]);
    let none = || Value::Array(vec![]);
    for (emails, https, topics, on_purpose, accepted) in [
        (none(), none(), none(), false, false),
        (none(), none(), none(), true, true),
        (one(), none(), none(), false, true),
        (none(), one(), none(), false, true),
        (none(), none(), one(), false, true),
        (one(), one(), one(), false, true),
    ] {
        let mut var = hcl::Map::new();
        var.insert("alarm_emails".into(), emails);
        var.insert("alarm_https_endpoints".into(), https);
        var.insert("alarm_topic_arns".into(), topics);
        var.insert("alarms_notify_nobody".into(), Value::Bool(on_purpose));
        let mut ctx = Context::new();
        ctx.declare_var("var", Value::Object(var.clone()));
        ctx.declare_func(
            "length",
            FuncDef::builder().param(ParamType::Any).build(tf_length),
        );
        ctx.declare_func(
            "concat",
            FuncDef::builder()
                .variadic_param(ParamType::Any)
                .build(tf_concat),
        );
        let result = condition
            .evaluate(&ctx)
            .unwrap_or_else(|e| panic!("{}: {e}", source(condition)));
        assert_eq!(result, Value::Bool(accepted), "{var:?}");
    }
}

fn tf_length(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Array(a) => Ok(Value::from(a.len() as u64)),
        Value::Object(o) => Ok(Value::from(o.len() as u64)),
        Value::String(s) => Ok(Value::from(s.chars().count() as u64)),
        other => Err(format!("length of {other:?}")),
    }
}

fn tf_concat(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for arg in args.iter() {
        match arg {
            Value::Array(a) => out.extend(a.iter().cloned()),
            other => return Err(format!("concat of {other:?}")),
        }
    }
    Ok(Value::Array(out))
}

#[test]
fn every_alarm_target_is_subscribed_and_told_of_alarm_and_ok() {
    let dir = module_dir("observability");
    let body = module_body(&dir);

    // The root passes the three lists through as they are.
    let root = module_body(&terraform_dir());
    let call = block(&root, "module", &["observability"]).body();
    for name in ["alarm_emails", "alarm_https_endpoints", "alarm_topic_arns"] {
        assert_eq!(source(attr(call, name)), format!("var.{name}"));
    }

    // The alarm topic's subscriptions (the ticket topic's are held in slos.rs).
    let subscriptions: Vec<&hcl::Block> =
        blocks(&body, "resource", &["aws_sns_topic_subscription"])
            .filter(|s| source(attr(s.body(), "topic_arn")) == "aws_sns_topic.alarms.arn")
            .collect();
    let by_protocol = |protocol: &str| {
        let found: Vec<&hcl::Block> = subscriptions
            .iter()
            .copied()
            .filter(|s| string(attr(s.body(), "protocol")) == protocol)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one subscription resource of protocol {protocol}"
        );
        found[0].body().clone()
    };
    assert_eq!(subscriptions.len(), 2, "e-mail and https, nothing else");
    let email = by_protocol("email");
    assert_eq!(source(attr(&email, "for_each")), "toset(var.alarm_emails)");
    let https = by_protocol("https");
    assert_eq!(
        source(attr(&https, "for_each")),
        "toset(var.alarm_https_endpoints)"
    );
    assert_eq!(
        attr(&https, "endpoint_auto_confirms"),
        &hcl::Expression::Bool(false),
        "an https endpoint confirms itself by visiting the SubscribeURL"
    );
    for subscription in [&email, &https] {
        assert_eq!(source(attr(subscription, "endpoint")), "each.value");
        assert_eq!(
            source(attr(subscription, "topic_arn")),
            "aws_sns_topic.alarms.arn"
        );
    }

    assert_eq!(
        source(&local(&dir, "alarm_targets")),
        "concat([aws_sns_topic.alarms.arn], var.alarm_topic_arns)"
    );
    // Which alarm notifies whom: alarms/*.json by their `notify`, the SLO alarms by severity
    // (both in slos.rs); nothing else notifies.
    let notifying: Vec<Vec<&str>> = body
        .blocks()
        .filter(|b| b.identifier() == "resource")
        .filter(|b| try_attr(b.body(), "alarm_actions").is_some())
        .map(label_strs)
        .collect();
    assert_eq!(
        notifying,
        [
            vec!["aws_cloudwatch_metric_alarm", "alarm"],
            vec!["aws_cloudwatch_metric_alarm", "slo_window"],
            vec!["aws_cloudwatch_composite_alarm", "slo"],
        ]
    );
}

// ---------------------------------------------------------------- routes without authorization

/// The text of `resource "<kind>" "<name>" { … }` in a module (to read its comments).
fn resource_text(dir: &Path, kind: &str, name: &str) -> String {
    let head = format!("resource \"{kind}\" \"{name}\" {{");
    for file in tf_files(dir) {
        let text = read(&file);
        if let Some(start) = text.find(&head) {
            let end = text[start..]
                .find("\n}\n")
                .map(|i| start + i + 3)
                .unwrap_or(text.len());
            return text[start..end].to_owned();
        }
    }
    panic!("{}: no {head}", dir.display());
}

#[test]
fn only_get_public_answers_without_authorization_and_no_skip_covers_a_set_of_routes() {
    // A skip of CKV_AWS_309 ("a route has an authorizer") on a resource with for_each or count
    // would silence it for every route added there later.
    for dir in module_dirs() {
        let body = module_body(&dir);
        for resource in blocks(&body, "resource", &[]) {
            let labels = label_strs(resource);
            let repeated = try_attr(resource.body(), "for_each").is_some()
                || try_attr(resource.body(), "count").is_some();
            if repeated {
                let text = resource_text(&dir, labels[0], labels[1]);
                assert!(
                    !text.contains("CKV_AWS_309"),
                    "{}: {labels:?} has for_each or count and skips CKV_AWS_309",
                    dir.display()
                );
            }
        }
    }

    let dir = module_dir("api");
    let body = module_body(&dir);
    let routes: Vec<&hcl::Block> = blocks(&body, "resource", &["aws_apigatewayv2_route"]).collect();
    let mut unauthorized = Vec::new();
    for route in &routes {
        let route_body = route.body();
        if try_attr(route_body, "for_each").is_some() {
            // Every route of the set is authorized, and a plan refuses one that is not.
            assert_eq!(source(attr(route_body, "for_each")), "local.routes");
            for (key, entry) in object(&local(&dir, "routes")) {
                let authorization = string(object_field(entry, "authorization"));
                assert!(
                    ["JWT", "AWS_IAM"].contains(&authorization),
                    "{key} is {authorization}: only GET /public answers without authorization"
                );
            }
            let lifecycle = block(route_body, "lifecycle", &[]).body();
            let conditions: Vec<String> = blocks(lifecycle, "precondition", &[])
                .map(|p| source(attr(p.body(), "condition")))
                .collect();
            assert_eq!(
                conditions,
                ["contains([\"JWT\", \"AWS_IAM\"], each.value.authorization)"]
            );
        } else if string(attr(route_body, "authorization_type")) == "NONE" {
            unauthorized.push(string(attr(route_body, "route_key")).to_owned());
            let labels = label_strs(route);
            let text = resource_text(&dir, labels[0], labels[1]);
            assert!(
                text.contains("#checkov:skip=CKV_AWS_309:GET /public "),
                "the public route's skip says why: {text}"
            );
        }
    }
    assert_eq!(unauthorized, ["GET /public"]);
}

// ---------------------------------------------------------------- adopting existing resources

fn tf_toset(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Array(a) => {
            let mut items: Vec<String> = a
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or(format!("{v:?}")))
                .collect::<Result<_, _>>()?;
            items.sort();
            items.dedup();
            Ok(Value::Array(items.into_iter().map(Value::from).collect()))
        }
        other => Err(format!("toset of {other:?}")),
    }
}

fn tf_tostring(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::String(s) => Ok(Value::from(s.clone())),
        Value::Number(n) => Ok(Value::from(n.to_string())),
        Value::Bool(b) => Ok(Value::from(b.to_string())),
        other => Err(format!("tostring of {other:?}")),
    }
}

/// The root's `var` with every default, `adopt_existing` set as given (what Terraform's
/// optional attributes make of it).
fn root_vars(adopt: (bool, Option<&str>, bool)) -> Value {
    let mut var = match var_defaults(&terraform_dir()) {
        Value::Object(map) => map,
        other => panic!("{other:?}"),
    };
    let mut adopt_existing = hcl::Map::new();
    adopt_existing.insert("table".into(), Value::Bool(adopt.0));
    adopt_existing.insert(
        "user_pool_id".into(),
        adopt.1.map(Value::from).unwrap_or(Value::Null),
    );
    adopt_existing.insert("log_groups".into(), Value::Bool(adopt.2));
    var.insert("adopt_existing".into(), Value::Object(adopt_existing));
    Value::Object(var)
}

fn context_with(var: &Value, local: &hcl::Map<String, Value>) -> Context<'static> {
    let mut ctx = Context::new();
    ctx.declare_var("var", var.clone());
    ctx.declare_var("local", Value::Object(local.clone()));
    ctx.declare_func(
        "toset",
        FuncDef::builder().param(ParamType::Any).build(tf_toset),
    );
    ctx.declare_func(
        "tostring",
        FuncDef::builder().param(ParamType::Any).build(tf_tostring),
    );
    ctx
}

/// The locals of a module that evaluate from `var` alone (others refer to resources).
fn evaluable_locals(dir: &Path, var: &Value) -> hcl::Map<String, Value> {
    let all = locals(dir);
    let mut done = hcl::Map::new();
    loop {
        let before = done.len();
        for (name, expr) in &all {
            if !done.contains_key(name)
                && let Ok(value) = expr.evaluate(&context_with(var, &done))
            {
                done.insert(name.clone(), value);
            }
        }
        if done.len() == before {
            return done;
        }
    }
}

/// The `var` a called module sees: each argument the root gives that evaluates from the root's
/// variables and locals (others, such as module outputs, stand as a placeholder), then defaults.
fn module_vars(call: &hcl::Block, module: &Path, root_var: &Value) -> Value {
    let root_locals = evaluable_locals(&terraform_dir(), root_var);
    let root_ctx = context_with(root_var, &root_locals);
    let mut var = hcl::Map::new();
    for name in variables(module).keys() {
        let value = match try_attr(call.body(), name) {
            Some(expr) => expr
                .evaluate(&root_ctx)
                .unwrap_or_else(|_| Value::from(format!("<{name}>"))),
            None => default_of(module, name).unwrap_or(Value::Null),
        };
        var.insert(name.clone(), value);
    }
    Value::Object(var)
}

fn for_each_keys(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().expect("a set of strings").to_owned())
            .collect(),
        Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("for_each of {other:?}"),
    }
}

#[test]
fn every_import_adopts_a_resource_the_stack_declares_by_the_name_it_gives() {
    let root = terraform_dir();
    let body = module_body(&root);
    let imports: Vec<&hcl::Block> = blocks(&body, "import", &[]).collect();
    let nothing = root_vars((false, None, false));
    let pool = "us-east-1_AbCdEf123";
    let everything = root_vars((true, Some(pool), true));
    let root_locals = evaluable_locals(&root, &everything);

    // The default adopts nothing: Terraform's optional attributes of `{}`.
    let adopt = variables(&root)
        .remove("adopt_existing")
        .expect("variable adopt_existing");
    assert_eq!(
        source(attr(adopt.body(), "type")),
        "object({ table = optional(bool, false), user_pool_id = optional(string), log_groups = optional(bool, false) })"
    );
    assert_eq!(
        default_of(&root, "adopt_existing"),
        Some(Value::Object(hcl::Map::new()))
    );

    let mut adopted = BTreeSet::new();
    for import in imports {
        let import_body = import.body();
        let for_each = attr(import_body, "for_each");
        let to = source(attr(import_body, "to"));
        let none = for_each
            .evaluate(&context_with(&nothing, &evaluable_locals(&root, &nothing)))
            .expect("for_each evaluates");
        assert!(
            for_each_keys(&none).is_empty(),
            "{to}: imported although adopt_existing asks for nothing"
        );
        let all = for_each_keys(
            &for_each
                .evaluate(&context_with(&everything, &root_locals))
                .expect("for_each evaluates"),
        );
        assert!(!all.is_empty(), "{to}: adopt_existing never imports it");

        // module.<call>.<type>.<name>, maybe [each.key].
        let (address, index) = match to.split_once('[') {
            Some((address, index)) => (address, Some(index.trim_end_matches(']'))),
            None => (to.as_str(), None),
        };
        let parts: Vec<&str> = address.split('.').collect();
        let [module_word, call_name, kind, name] = parts[..] else {
            panic!("{to}: not module.<call>.<type>.<name>");
        };
        assert_eq!(module_word, "module", "{to}");
        let call_labels = [call_name];
        let call = block(&body, "module", &call_labels);
        let module = root.join(string(attr(call.body(), "source")));
        let module_body = module_body(&module);
        let resource_labels = [kind, name];
        let resource = block(&module_body, "resource", &resource_labels);
        let var = module_vars(call, &module, &everything);
        let module_locals = evaluable_locals(&module, &var);

        let resource_keys = try_attr(resource.body(), "for_each").map(|expr| {
            for_each_keys(
                &expr
                    .evaluate(&context_with(&var, &module_locals))
                    .unwrap_or_else(|e| panic!("{to}: the resource's for_each: {e}")),
            )
        });
        match (index, &resource_keys) {
            (None, None) => {
                assert_eq!(all.len(), 1, "{to}: one instance, one import");
            }
            (Some("each.key"), Some(keys)) => {
                for key in &all {
                    assert!(keys.contains(key), "{to}: no instance {key:?} in {keys:?}");
                }
            }
            _ => panic!("{to}: the index does not match the resource's for_each"),
        }

        for key in &all {
            let mut each = hcl::Map::new();
            each.insert("key".to_owned(), Value::from(key.clone()));
            each.insert("value".to_owned(), Value::from(key.clone()));
            let mut ctx = context_with(&everything, &root_locals);
            ctx.declare_var("each", Value::Object(each.clone()));
            let id = attr(import_body, "id")
                .evaluate(&ctx)
                .unwrap_or_else(|e| panic!("{to}: id: {e}"));
            // What the provider imports by: the name this stack gives, or the pool's id.
            let expected = if kind == "aws_cognito_user_pool" {
                Value::from(pool)
            } else {
                let mut ctx = context_with(&var, &module_locals);
                ctx.declare_var("each", Value::Object(each));
                attr(resource.body(), "name")
                    .evaluate(&ctx)
                    .unwrap_or_else(|e| panic!("{to}: the resource's name: {e}"))
            };
            assert_eq!(id, expected, "{to} [{key}]");
            adopted.insert(format!("{address} {}", id.as_str().unwrap_or_default()));
        }
    }
    assert_eq!(
        adopted.into_iter().collect::<Vec<_>>(),
        [
            "module.api.aws_cloudwatch_log_group.access /aws/apigateway/items-api".to_owned(),
            format!("module.auth.aws_cognito_user_pool.users {pool}"),
            "module.data.aws_dynamodb_table.items items".to_owned(),
            "module.events.aws_cloudwatch_log_group.archive /aws/events/items-api".to_owned(),
            "module.functions.aws_cloudwatch_log_group.function /aws/lambda/items-api-item-events"
                .to_owned(),
            "module.functions.aws_cloudwatch_log_group.function /aws/lambda/items-api-items"
                .to_owned(),
            "module.functions.aws_cloudwatch_log_group.function /aws/lambda/items-api-public"
                .to_owned(),
        ]
    );
}
