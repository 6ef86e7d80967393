//! Facts that live in the code and that the Terraform code repeats: each test fails when the two
//! drift apart.

use std::collections::BTreeSet;

use functions::adapters::aws::dynamodb::attr;
use functions::adapters::secret_document::{DEFAULT_TTL, MIN_SECRET_BYTES, SecretDocument};
use functions::router::routes;
use functions::settings::env;
use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::{Expression, Value};
use local::gateway::access_log::AccessLog;
use local::names;
use local::settings::ServeArgs;

use crate::support::*;

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

fn function_environment(function: &str) -> BTreeSet<String> {
    let functions = local(&module_dir("functions"), "functions");
    let environment = object_field(object_field(&functions, function), "environment");
    object(environment).into_iter().map(|(k, _)| k).collect()
}

#[test]
fn the_items_function_gets_every_variable_it_requires_and_only_known_ones() {
    let items = function_environment("items");
    let required = set(env::REQUIRED.iter().copied());
    assert!(
        items.is_superset(&required),
        "the items function misses {:?}",
        required.difference(&items).collect::<Vec<_>>()
    );
    let known = set([
        env::TABLE,
        env::EVENT_BUS,
        env::SECRET_ID,
        env::METRICS_NAMESPACE,
        env::SERVICE_NAME,
        env::SECRET_TTL,
        "LOG_LEVEL",
    ]);
    assert!(
        items.is_subset(&known),
        "the items function gets variables no code reads: {:?}",
        items.difference(&known).collect::<Vec<_>>()
    );
}

#[test]
fn the_public_function_gets_no_aws_resource() {
    let public = function_environment("public");
    // Its telemetry reads the service name, the log level and the metrics namespace; it links no
    // AWS client, so it is told of no table, bus or secret.
    let allowed = set([env::SERVICE_NAME, env::METRICS_NAMESPACE, "LOG_LEVEL"]);
    assert!(public.is_subset(&allowed), "public gets {public:?}");
    assert!(public.contains(env::SERVICE_NAME) && public.contains("LOG_LEVEL"));
}

#[test]
fn there_is_one_function_per_lambda_binary() {
    let functions = local(&module_dir("functions"), "functions");
    let keys: BTreeSet<String> = object(&functions).into_iter().map(|(k, _)| k).collect();
    let cargo = read(&conformance::repo_root().join("functions/Cargo.toml"));
    let mut bins = BTreeSet::new();
    let mut in_bin = false;
    for line in cargo.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(name) = line.strip_prefix("name = ") {
            bins.insert(name.trim_matches('"').to_owned());
        }
    }
    assert_eq!(
        keys, bins,
        "functions module keys vs [[bin]] of functions/Cargo.toml"
    );
}

#[test]
fn the_functions_are_provided_al2023_bootstrap_zips() {
    let dir = module_dir("functions");
    let body = module_body(&dir);
    let function = block(&body, "resource", &["aws_lambda_function", "function"]).body();
    assert_eq!(string(attr(function, "runtime")), "provided.al2023");
    assert_eq!(string(attr(function, "handler")), "bootstrap");
    assert_eq!(
        source(attr(function, "architectures")),
        "[var.architecture]"
    );
    assert_eq!(default_of(&dir, "architecture"), Some(Value::from("arm64")));
    assert_eq!(
        source(attr(function, "filename")),
        "\"${var.artifacts_dir}/${each.key}/bootstrap.zip\""
    );
    let depends_on = source(attr(function, "depends_on"));
    assert!(
        depends_on.contains("aws_cloudwatch_log_group.function"),
        "the log groups are made before the functions: {depends_on}"
    );
    // cargo lambda's layout: target/lambda/<binary>/bootstrap.zip.
    assert_eq!(
        default_of(&terraform_dir(), "artifacts_dir"),
        Some(Value::from("../target/lambda"))
    );
}

#[test]
fn the_function_timeout_and_secret_ttl_defaults_are_the_code_s() {
    let dir = module_dir("functions");
    let twin_timeout = ServeArgs::default().function_timeout as f64;
    assert_eq!(default_number(&dir, "timeout"), twin_timeout);
    assert_eq!(
        default_number(&terraform_dir(), "lambda_timeout_seconds"),
        twin_timeout
    );
    assert_eq!(
        default_number(&dir, "config_secret_ttl_seconds"),
        DEFAULT_TTL.as_secs() as f64
    );
}

#[test]
fn the_table_keys_are_the_adapter_s_attributes() {
    let dir = module_dir("data");
    let body = module_body(&dir);
    let table = block(&body, "resource", &["aws_dynamodb_table", "items"]).body();
    assert_eq!(string(attr(table, "hash_key")), attr::OWNER);
    assert_eq!(string(attr(table, "range_key")), attr::ID);
    assert_eq!(string(attr(table, "billing_mode")), "PAY_PER_REQUEST");
    let attributes: BTreeSet<(String, String)> = blocks(table, "attribute", &[])
        .map(|b| {
            (
                string(attr(b.body(), "name")).to_owned(),
                string(attr(b.body(), "type")).to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [(attr::OWNER, "S"), (attr::ID, "S")]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    assert_eq!(attributes, expected, "only key attributes are declared");

    let ttl = block(table, "ttl", &[]).body();
    assert_eq!(string(attr(ttl, "attribute_name")), "expires_at");
    for item_attribute in [
        attr::OWNER,
        attr::ID,
        attr::NAME,
        attr::DESCRIPTION,
        attr::CREATED_AT,
    ] {
        assert_ne!(
            item_attribute, "expires_at",
            "items never set the TTL attribute"
        );
    }
    let text = read(&dir.join("main.tf"));
    assert!(
        text.contains("Idempotency records"),
        "the TTL attribute's purpose is said"
    );
    let pitr = block(table, "point_in_time_recovery", &[]).body();
    assert_eq!(attr(pitr, "enabled"), &Expression::Bool(true));
}

#[test]
fn the_rule_reads_the_twin_s_event_pattern_file() {
    let root = terraform_dir();
    let body = module_body(&root);
    let events = block(&body, "module", &["events"]).body();
    let pattern = attr(events, "item_created_pattern");
    let Expression::FuncCall(call) = pattern else {
        panic!("item_created_pattern is not file(…): {}", source(pattern));
    };
    assert_eq!(call.name.name.as_str(), "file");
    let path = source(&call.args[0]);
    assert_eq!(
        path,
        "\"${local.repository_root}/events/item-created.rule.json\""
    );
    assert_eq!(
        source(&local(&root, "repository_root")),
        "\"${path.root}/..\""
    );

    let file = read(&conformance::repo_root().join("events/item-created.rule.json"));
    assert_eq!(file, functions::events::ITEM_CREATED_RULE_PATTERN);
    let json: serde_json::Value = serde_json::from_str(&file).expect("the pattern is JSON");
    assert_eq!(
        json,
        serde_json::json!({
            "source": [functions::events::SOURCE],
            "detail-type": [functions::events::ITEM_CREATED],
        })
    );

    let module = module_body(&module_dir("events"));
    let rule = block(
        &module,
        "resource",
        &["aws_cloudwatch_event_rule", "item_created"],
    )
    .body();
    assert_eq!(
        source(attr(rule, "event_pattern")),
        "var.item_created_pattern"
    );
}

/// Every route of the API as (route key, function, authorization): the for_each set of
/// `aws_apigatewayv2_route.route` (local.routes) and each route resource of its own.
fn route_table() -> Vec<(String, String, String)> {
    let dir = module_dir("api");
    let routes = local(&dir, "routes");
    let mut table: Vec<(String, String, String)> = object(&routes)
        .into_iter()
        .map(|(key, route)| {
            (
                key,
                string(object_field(route, "function")).to_owned(),
                string(object_field(route, "authorization")).to_owned(),
            )
        })
        .collect();
    let body = module_body(&dir);
    let prefix = "\"integrations/${aws_apigatewayv2_integration.function[\"";
    for route in blocks(&body, "resource", &["aws_apigatewayv2_route"]) {
        let route = route.body();
        if try_attr(route, "for_each").is_some() {
            continue;
        }
        let target = source(attr(route, "target"));
        let function = target
            .strip_prefix(prefix)
            .and_then(|t| t.strip_suffix("\"].id}\""))
            .unwrap_or_else(|| panic!("target {target} is not one of the functions"));
        table.push((
            string(attr(route, "route_key")).to_owned(),
            function.to_owned(),
            string(attr(route, "authorization_type")).to_owned(),
        ));
        assert!(
            try_attr(route, "authorizer_id").is_none(),
            "a route of its own is the public one, without an authorizer"
        );
    }
    table
}

#[test]
fn the_api_has_exactly_the_router_s_routes_with_their_authorization() {
    let mut expected: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (method, path) in routes::PUBLIC {
        let function = if *path == "/public" {
            "public"
        } else {
            "items"
        };
        expected.insert((format!("{method} {path}"), function.into(), "NONE".into()));
    }
    for (method, path) in routes::JWT {
        expected.insert((format!("{method} {path}"), "items".into(), "JWT".into()));
    }
    expected.insert((
        format!("ANY {}{{proxy+}}", routes::IAM_PREFIX),
        "items".into(),
        "AWS_IAM".into(),
    ));
    let table = route_table();
    let actual: BTreeSet<(String, String, String)> = table.iter().cloned().collect();
    assert_eq!(actual.len(), table.len(), "a route is declared twice");
    assert_eq!(actual, expected);

    let body = module_body(&module_dir("api"));
    let route = block(&body, "resource", &["aws_apigatewayv2_route", "route"]).body();
    assert_eq!(source(attr(route, "for_each")), "local.routes");
    assert_eq!(source(attr(route, "route_key")), "each.key");
    assert_eq!(
        source(attr(route, "target")),
        "\"integrations/${aws_apigatewayv2_integration.function[each.value.function].id}\""
    );
    assert_eq!(
        source(attr(route, "authorization_type")),
        "each.value.authorization"
    );
    assert_eq!(
        source(attr(route, "authorizer_id")),
        "each.value.authorization == \"JWT\" ? aws_apigatewayv2_authorizer.jwt.id : null"
    );
    let authorizer = block(&body, "resource", &["aws_apigatewayv2_authorizer", "jwt"]).body();
    assert_eq!(string(attr(authorizer, "authorizer_type")), "JWT");
    assert_eq!(
        strings(attr(authorizer, "identity_sources")),
        ["$request.header.Authorization"]
    );
}

#[test]
fn stage_throttling_defaults_are_the_twin_s_and_always_set() {
    let twin = ServeArgs::default();
    for dir in [terraform_dir(), module_dir("api")] {
        assert_eq!(
            default_number(&dir, "throttle_rate"),
            twin.throttle_rate,
            "{}",
            dir.display()
        );
        assert_eq!(
            default_number(&dir, "throttle_burst"),
            f64::from(twin.throttle_burst),
            "{}",
            dir.display()
        );
    }
    let root = module_body(&terraform_dir());
    let api = block(&root, "module", &["api"]).body();
    assert_eq!(source(attr(api, "throttle_rate")), "var.throttle_rate");
    assert_eq!(source(attr(api, "throttle_burst")), "var.throttle_burst");

    let body = module_body(&module_dir("api"));
    let stage = block(&body, "resource", &["aws_apigatewayv2_stage", "default"]).body();
    let settings = block(stage, "default_route_settings", &[]).body();
    assert_eq!(
        source(attr(settings, "throttling_rate_limit")),
        "var.throttle_rate"
    );
    assert_eq!(
        source(attr(settings, "throttling_burst_limit")),
        "var.throttle_burst"
    );
    assert_eq!(
        attr(settings, "detailed_metrics_enabled"),
        &Expression::Bool(true)
    );
    assert!(
        blocks(stage, "route_settings", &[]).next().is_none(),
        "per-route settings would need their own limits"
    );
}

#[test]
fn the_access_log_keys_are_the_twin_s() {
    let twin: BTreeSet<String> = AccessLog::field_names().into_iter().collect();

    let format = local(&module_dir("api"), "access_log_format");
    let entries = object(&format);
    let terraform: BTreeSet<String> = entries.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(terraform, twin);
    for (key, value) in &entries {
        assert!(
            string(value).starts_with("$context."),
            "{key}: {}",
            source(value)
        );
    }
    let by_key = |k: &str| string(object_field(&format, k)).to_owned();
    assert_eq!(by_key("requestId"), "$context.requestId");
    assert_eq!(by_key("authorizerError"), "$context.authorizer.error");
    assert_eq!(by_key("status"), "$context.status");

    let body = module_body(&module_dir("api"));
    let stage = block(&body, "resource", &["aws_apigatewayv2_stage", "default"]).body();
    let logs = block(stage, "access_log_settings", &[]).body();
    assert_eq!(
        source(attr(logs, "format")),
        "jsonencode(local.access_log_format)"
    );
}

#[test]
fn default_names_are_the_twin_s() {
    let root = terraform_dir();
    let names_expr = local(&root, "names");
    let value = eval_with_defaults(&root, &names_expr);
    let get = |k: &str| {
        value
            .as_object()
            .and_then(|o| o.get(k))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("local.names.{k}"))
            .to_owned()
    };
    assert_eq!(get("event_bus"), names::EVENT_BUS);
    assert_eq!(get("item_created_rule"), names::ITEM_CREATED_RULE);
    assert_eq!(get("archive_log_group"), names::ARCHIVE_LOG_GROUP);
    assert_eq!(get("items_table"), names::ITEMS_TABLE);
    assert_eq!(get("config_secret"), names::CONFIG_SECRET);

    // …and the modules are given these names.
    let body = module_body(&root);
    let given =
        |module: &str, arg: &str| source(attr(block(&body, "module", &[module]).body(), arg));
    assert_eq!(given("events", "bus_name"), "local.names.event_bus");
    assert_eq!(
        given("events", "item_created_rule_name"),
        "local.names.item_created_rule"
    );
    assert_eq!(
        given("events", "archive_log_group_name"),
        "local.names.archive_log_group"
    );
    assert_eq!(given("data", "table_name"), "local.names.items_table");
    assert_eq!(given("config", "secret_name"), "local.names.config_secret");
}

fn jsonencode(args: FuncArgs) -> Result<Value, String> {
    serde_json::to_string(&args[0])
        .map(Value::from)
        .map_err(|e| e.to_string())
}

#[test]
fn the_generated_secret_is_a_valid_secret_document() {
    let dir = module_dir("config");
    let document = local(&dir, "initial_document");

    let key_bytes = default_number(&dir, "key_bytes");
    assert!(
        key_bytes >= MIN_SECRET_BYTES as f64,
        "key_bytes default {key_bytes}"
    );
    let body = module_body(&dir);
    let random = block(&body, "resource", &["random_bytes", "cursor_key"]).body();
    assert_eq!(source(attr(random, "length")), "var.key_bytes");

    // Evaluate the document as Terraform would, with random_bytes' base64 output.
    use base64::Engine;
    let fake = base64::engine::general_purpose::STANDARD.encode(vec![7u8; key_bytes as usize]);
    let mut ctx = Context::new();
    let mut cursor_key = hcl::Map::new();
    cursor_key.insert("base64".to_owned(), Value::from(fake));
    let mut random_bytes = hcl::Map::new();
    random_bytes.insert("cursor_key".to_owned(), Value::Object(cursor_key));
    ctx.declare_var("random_bytes", Value::Object(random_bytes));
    ctx.declare_func(
        "jsonencode",
        FuncDef::builder().param(ParamType::Any).build(jsonencode),
    );
    let json = match document.evaluate(&ctx).expect("the document evaluates") {
        Value::String(s) => s,
        other => panic!("not a string: {other:?}"),
    };
    let parsed: SecretDocument = serde_json::from_str(&json).expect("the SecretDocument shape");
    assert_eq!(parsed.cursor_keys.len(), 1);
    SecretDocument::parse(&json).expect("a document the functions accept");

    let version = block(
        &body,
        "resource",
        &["aws_secretsmanager_secret_version", "initial"],
    )
    .body();
    assert_eq!(
        source(attr(version, "secret_string")),
        "local.initial_document"
    );
}

#[test]
fn terraform_s_secret_version_keeps_a_label_of_its_own_through_rotations() {
    let dir = module_dir("config");
    let body = module_body(&dir);
    let version = block(
        &body,
        "resource",
        &["aws_secretsmanager_secret_version", "initial"],
    )
    .body();
    // AWSCURRENT: the first version is the one the functions read. The stack's label: once
    // rotations have moved AWSCURRENT and AWSPREVIOUS away, a version without a label is one
    // the provider may find gone and put again, the retired key current once more.
    assert_eq!(
        source(attr(version, "version_stages")),
        "[\"AWSCURRENT\", local.stage]"
    );
    let stage = local(&dir, "stage");
    let stage = string(&stage);
    assert_eq!(
        stage,
        testkit::aws::TERRAFORM_STAGE,
        "the label the rotation test on moto checks"
    );
    assert!(
        !stage.starts_with("AWS"),
        "AWSCURRENT, AWSPREVIOUS and AWSPENDING move with every rotation"
    );
    // Neither a rotation's value nor its labels are Terraform's to put back.
    let lifecycle = block(version, "lifecycle", &[]).body();
    let ignored: BTreeSet<String> = match attr(lifecycle, "ignore_changes") {
        Expression::Array(items) => items.iter().map(source).collect(),
        other => panic!("ignore_changes is not a list: {}", source(other)),
    };
    assert_eq!(ignored, set(["secret_string", "version_stages"]));
}

#[test]
fn the_item_events_function_gets_its_bus_and_telemetry_only() {
    let item_events = function_environment("item-events");
    assert_eq!(
        item_events,
        set([
            env::EVENT_BUS,
            env::METRICS_NAMESPACE,
            env::SERVICE_NAME,
            "LOG_LEVEL"
        ]),
        "the stream consumer publishes on the bus and reads no table, secret or anything else"
    );
    let functions = local(&module_dir("functions"), "functions");
    let environment = object_field(object_field(&functions, "item-events"), "environment");
    assert_eq!(
        string(object_field(environment, env::SERVICE_NAME)),
        functions::item_events::SERVICE,
        "its metrics and logs are under service item-events"
    );
    assert_eq!(functions::item_events::SERVICE, "item-events");
    // Rendered: the function name every dashboard, alarm and runbook uses.
    let stack = conformance::render::root();
    let address = "module.functions.aws_lambda_function.function[\"item-events\"]";
    assert_eq!(
        stack.attr(address, "function_name"),
        "items-api-item-events"
    );
    assert_eq!(stack.attr(address, "runtime"), "provided.al2023");
}

#[test]
fn only_the_api_s_functions_get_integrations() {
    let functions = local(&module_dir("functions"), "functions");
    let triggers: BTreeSet<(String, String)> = object(&functions)
        .into_iter()
        .map(|(k, f)| (k, string(object_field(f, "trigger")).to_owned()))
        .collect();
    assert_eq!(
        triggers,
        BTreeSet::from([
            ("item-events".to_owned(), "stream".to_owned()),
            ("items".to_owned(), "api".to_owned()),
            ("public".to_owned(), "api".to_owned()),
        ])
    );
    let stack = conformance::render::root();
    let integrations: BTreeSet<String> = stack
        .instances()
        .into_iter()
        .filter(|i| i.kind == "aws_apigatewayv2_integration" || i.kind == "aws_lambda_permission")
        .map(|i| i.address.clone())
        .collect();
    assert!(!integrations.is_empty());
    assert!(
        integrations.iter().all(|a| !a.contains("item-events")),
        "the stream consumer is no route's target: {integrations:?}"
    );
}

/// The root variables of the event source mapping, with the defaults the twin's flags copy.
const MAPPING_VARIABLES: [(&str, &str, f64); 4] = [
    ("batch_size", "item_events_batch_size", 100.0),
    (
        "batching_window_seconds",
        "item_events_batching_window_seconds",
        1.0,
    ),
    (
        "maximum_retry_attempts",
        "item_events_maximum_retry_attempts",
        10.0,
    ),
    (
        "maximum_record_age_seconds",
        "item_events_maximum_record_age_seconds",
        3600.0,
    ),
];

fn floor(args: FuncArgs) -> Result<Value, String> {
    let n = args[0].as_f64().ok_or("floor of a non-number")?;
    Ok(Value::from(n.floor()))
}

/// Whether each validation of a root variable accepts `value`.
fn accepts(variable: &str, value: f64) -> bool {
    let variables = variables(&terraform_dir());
    let block = &variables[variable];
    let mut var = hcl::Map::new();
    var.insert(variable.to_owned(), Value::from(value));
    let mut ctx = Context::new();
    ctx.declare_var("var", Value::Object(var));
    ctx.declare_func(
        "floor",
        FuncDef::builder().param(ParamType::Any).build(floor),
    );
    let validations: Vec<_> = blocks(block.body(), "validation", &[]).collect();
    assert!(!validations.is_empty(), "{variable} is validated");
    validations.iter().all(|v| {
        attr(v.body(), "condition")
            .evaluate(&ctx)
            .unwrap_or_else(|e| panic!("{variable}: the condition does not evaluate: {e}"))
            == Value::Bool(true)
    })
}

#[test]
fn the_mapping_s_variables_take_lambda_s_ranges_and_the_agreed_defaults() {
    let root = terraform_dir();
    // The twin's flags have the variables' names and defaults.
    let twin = ServeArgs::default().item_events;
    let twin_defaults = [
        f64::from(twin.item_events_batch_size),
        f64::from(twin.item_events_batching_window_seconds),
        twin.item_events_maximum_retry_attempts as f64,
        twin.item_events_maximum_record_age_seconds as f64,
    ];
    for ((_, variable, default), twin) in MAPPING_VARIABLES.into_iter().zip(twin_defaults) {
        assert_eq!(default_number(&root, variable), default, "{variable}");
        assert_eq!(twin, default, "the twin's --{}", variable.replace('_', "-"));
        let block = &variables(&root)[variable];
        assert_eq!(source(attr(block.body(), "type")), "number", "{variable}");
        assert!(!string(attr(block.body(), "description")).is_empty());
    }
    // CreateEventSourceMapping's documented ranges for a DynamoDB stream.
    let cases: [(&str, &[f64], &[f64]); 4] = [
        (
            "item_events_batch_size",
            &[1.0, 100.0, 10000.0],
            &[0.0, 10001.0, 1.5],
        ),
        (
            "item_events_batching_window_seconds",
            &[0.0, 1.0, 300.0],
            &[-1.0, 301.0, 0.5],
        ),
        (
            "item_events_maximum_retry_attempts",
            &[-1.0, 0.0, 10000.0],
            &[-2.0, 10001.0, 2.5],
        ),
        (
            "item_events_maximum_record_age_seconds",
            &[-1.0, 60.0, 3600.0, 604800.0],
            &[0.0, 59.0, 604801.0, -2.0, 60.5],
        ),
    ];
    for (variable, good, bad) in cases {
        for v in good {
            assert!(accepts(variable, *v), "{variable} refuses {v}");
        }
        for v in bad {
            assert!(!accepts(variable, *v), "{variable} accepts {v}");
        }
    }
}

#[test]
fn the_mapping_reads_the_stream_with_the_filter_file_and_lambda_s_failure_handling() {
    // The table's stream carries each item as written.
    let data = module_body(&module_dir("data"));
    let table = block(&data, "resource", &["aws_dynamodb_table", "items"]).body();
    assert_eq!(attr(table, "stream_enabled"), &Expression::Bool(true));
    assert_eq!(string(attr(table, "stream_view_type")), "NEW_IMAGE");

    // The root hands the module the ONE filter file and the four variables.
    let root = module_body(&terraform_dir());
    let call = block(&root, "module", &["functions"]).body();
    assert_eq!(
        source(attr(call, "item_events_filter")),
        "file(\"${local.repository_root}/events/item-events.filter.json\")"
    );
    assert_eq!(
        source(attr(call, "table_stream_arn")),
        "module.data.stream_arn"
    );
    let mapping = attr(call, "item_events_mapping");
    for (field, variable, _) in MAPPING_VARIABLES {
        assert_eq!(
            source(object_field(mapping, field)),
            format!("var.{variable}")
        );
    }

    let file = read(&conformance::repo_root().join("events/item-events.filter.json"));
    let filter: serde_json::Value = serde_json::from_str(&file).expect("the filter is JSON");
    assert_eq!(
        filter,
        serde_json::json!({
            "eventName": ["INSERT"],
            "dynamodb": {"NewImage": {"fingerprint": {"S": [{"exists": false}]}}},
        })
    );

    // As Terraform renders it: one filter, that pattern; Lambda's failure handling.
    let stack = conformance::render::root();
    let address = "module.functions.aws_lambda_event_source_mapping.item_events";
    let esm = &stack.instance(address).attrs;
    let text = |k: &str| stack.attr(address, k);
    assert_eq!(
        text("event_source_arn"),
        stack.attr("module.data.aws_dynamodb_table.items", "stream_arn")
    );
    assert_eq!(
        text("function_name"),
        stack.attr(
            "module.functions.aws_lambda_function.function[\"item-events\"]",
            "arn"
        )
    );
    assert_eq!(text("starting_position"), "TRIM_HORIZON");
    assert_eq!(esm["bisect_batch_on_function_error"], Value::Bool(true));
    assert_eq!(
        esm["function_response_types"],
        Value::Array(vec![Value::from("ReportBatchItemFailures")])
    );
    let number = |k: &str| esm[k].as_f64().unwrap_or_else(|| panic!("{k} is unknown"));
    assert_eq!(number("batch_size"), 100.0);
    assert_eq!(number("maximum_batching_window_in_seconds"), 1.0);
    assert_eq!(number("maximum_retry_attempts"), 10.0);
    assert_eq!(number("maximum_record_age_in_seconds"), 3600.0);

    let block_of = |v: &Value, k: &str| -> Value {
        match v.as_object().and_then(|o| o.get(k)) {
            Some(Value::Array(items)) if items.len() == 1 => items[0].clone(),
            Some(other @ Value::Object(_)) => other.clone(),
            other => panic!("{address}: {k} is {other:?}"),
        }
    };
    let field = |v: &Value, k: &str| -> String {
        v.as_object()
            .and_then(|o| o.get(k))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{address}: {k} is unknown"))
            .to_owned()
    };
    let whole = Value::Object(esm.clone());
    let filter_block = block_of(&block_of(&whole, "filter_criteria"), "filter");
    let pattern: serde_json::Value =
        serde_json::from_str(&field(&filter_block, "pattern")).expect("the pattern is JSON");
    assert_eq!(pattern, filter);
    let on_failure = block_of(&block_of(&whole, "destination_config"), "on_failure");
    assert_eq!(
        field(&on_failure, "destination_arn"),
        stack.attr("module.functions.aws_sqs_queue.item_events_dlq", "arn")
    );

    // The dead-letter queue: encrypted, 14 days, named for the function.
    let dlq = &stack
        .instance("module.functions.aws_sqs_queue.item_events_dlq")
        .attrs;
    assert_eq!(dlq["name"].as_str(), Some("items-api-item-events-dlq"));
    assert_eq!(dlq["sqs_managed_sse_enabled"], Value::Bool(true));
    assert_eq!(dlq["message_retention_seconds"].as_f64(), Some(1209600.0));
}
