//! The items function's IAM policy, as Terraform renders it (`conformance::render`), held to what
//! the function does at run time, on moto with its IAM checks on, as an IAM user holding exactly
//! that policy:
//!
//! - sufficient: every AWS call of the function, through its own adapters, succeeds;
//! - minimal in actions: without any one of the policy's actions some call is refused, and calls
//!   beyond them are refused `AccessDenied`;
//! - scoped: each statement allows the resource the calls touched and not its neighbour.
//!
//! What moto 5.2.5 checks, from its source (`moto/core/authorization.py`
//! `ActionAuthenticatorMixin`, `moto/core/responses.py` `call_action`,
//! `moto/iam/access_control.py`), and so how each part is proven:
//!
//! - Actions: checked, named `<signing name>:<operation>`, for every service here. Proven on
//!   moto, with the policy given to moto as [`as_moto_checks_it`] says.
//! - Resources: not checked. Every request of DynamoDB, EventBridge, Secrets Manager, CloudWatch
//!   Logs and X-Ray is checked against the resource `*` (only IAM, STS and SQS name one), so a
//!   statement scoped to an ARN never applies on moto. moto cannot refuse any of these, and no
//!   assertion here expects it to:
//!   - `PutEvents` to another bus, `GetSecretValue` of another secret, any call on another table,
//!     log streams in another function's log group.
//!
//!   Instead the rendered policy, unwidened, is evaluated with IAM's rules (`conformance::iam`)
//!   against the ARNs moto gave the resources the calls touched, and their neighbours'.
//! - Actions inside a transaction: AWS authorizes each element of `TransactWriteItems` as its own
//!   action (a Put as `dynamodb:PutItem`); moto authorizes the call as
//!   `dynamodb:TransactWriteItems`. moto cannot tell a transaction of Puts from one holding a
//!   Delete or an Update: the policy given to moto allows `TransactWriteItems` where it allows
//!   `PutItem`, which is right for the adapter's transactions (Puts only).
//! - X-Ray's actions: moto names them after the URL (`xray:TraceSegments`,
//!   `xray:TelemetryRecords`): the policy given to moto has moto's name beside IAM's.
//! - Conditions: not evaluated for identity policies (moto takes every condition as met); the
//!   items policy has none, and a `Condition`, `NotAction`, `NotResource` or `Deny` in it stops
//!   this test rather than being checked wrongly (moto does honour an explicit `Deny`).
//! - Permissions boundaries: not applied by moto. The functions' boundary is held to their
//!   policies offline, in `tests/terraform/pipeline.rs`.
//! - A refusal comes back as IAM's XML error document with status 403 from every service, also
//!   to the JSON-protocol clients, whose SDK error then has no code: `testkit::iam::refusal`
//!   reads the raw answer (AWS answers those with JSON, `AccessDeniedException`).
//!
//! CloudWatch Logs and X-Ray are not called by the function's code: Lambda writes the function's
//! output to its log group with the role (`CreateLogStream`, `PutLogEvents`), and the X-Ray
//! daemon in the sandbox sends its traces (`PutTraceSegments`, `PutTelemetryRecords`). They are
//! called here as those do.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use conformance::iam::{Decision, Request, evaluate};
use conformance::render;
use functions::adapters::aws::dynamodb::attr;
use functions::adapters::aws::{AwsResources, app_state};
use functions::adapters::secret_document::{KeyEntry, SecretDocument};
use functions::domain::{Item, NewItem};
use functions::events::ItemCreated;
use functions::idempotency::{Fingerprint, IdempotencyKey, IdempotencyRecord};
use functions::ports::{Claim, CreatedWindow, PageRequest, StoreError};
use serde_json::{Value, json};
use testkit::Moto;
use testkit::aws as aws_env;
use testkit::iam::{Principal, Refusal, answer_refusal, refusal, signed};
use testkit::moto::{ACCOUNT_ID, REGION};

/// A function's log group, as Terraform names it.
fn log_group(function: &str) -> String {
    let address = format!(r#"module.functions.aws_cloudwatch_log_group.function["{function}"]"#);
    render::root().attr(&address, "name")
}
/// Neighbours of the stack's resources, which the policy must not reach.
const OTHER_TABLE: &str = "items-archive";
const OTHER_BUS: &str = "default";
const OTHER_SECRET: &str = "items-api/other";

/// The items function's policy document as Terraform renders it, with moto's account and region
/// and the stack's default names.
fn items_policy() -> Value {
    render::root_policy(r#"module.functions.data.aws_iam_policy_document.function["items"]"#)
}

/// Where moto names an action otherwise than IAM: (IAM's action, moto's name for the call).
const MOTO_ACTION_NAMES: &[(&str, &str)] = &[
    // The adapter's transactions hold Puts only (see the file's documentation).
    ("dynamodb:PutItem", "dynamodb:TransactWriteItems"),
    ("xray:PutTraceSegments", "xray:TraceSegments"),
    ("xray:PutTelemetryRecords", "xray:TelemetryRecords"),
];

/// A statement's `Action` or `Resource` as a list.
fn list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().expect("a string").to_owned())
            .collect(),
        other => panic!("not a string or a list of strings: {other}"),
    }
}

/// The Allow statements of a document; anything whose meaning moto would get wrong (Deny is
/// honoured, but conditions are not evaluated; NotAction, NotResource) stops the test.
fn allow_statements(policy: &Value) -> Vec<&serde_json::Map<String, Value>> {
    let statements = policy["Statement"]
        .as_array()
        .expect("a list of statements");
    statements
        .iter()
        .map(|s| {
            let s = s.as_object().expect("a statement object");
            assert_eq!(
                s["Effect"], "Allow",
                "only Allow statements are handled: {s:?}"
            );
            for key in ["Condition", "NotAction", "NotResource", "Principal"] {
                assert!(!s.contains_key(key), "`{key}` is not handled: {s:?}");
            }
            s
        })
        .collect()
}

/// The policy as moto can check it: every resource `*` (moto checks every call against `*`),
/// and moto's own name beside each action it names otherwise. Actions are kept exactly.
fn as_moto_checks_it(policy: &Value) -> Value {
    let statements: Vec<Value> = allow_statements(policy)
        .into_iter()
        .map(|s| {
            let mut actions = list(&s["Action"]);
            for (iam, moto) in MOTO_ACTION_NAMES {
                if actions.iter().any(|a| a == iam) {
                    actions.push((*moto).to_owned());
                }
            }
            json!({ "Effect": "Allow", "Action": actions, "Resource": "*" })
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Secrets Manager ends a secret's ARN with `-` and six characters drawn when the secret is
/// made, so moto's differ from the ones the rendering assumed for the stack's secret: a secret
/// ARN of moto's is compared with those six replaced by the rendering's.
fn as_rendered(arn: &str) -> String {
    let rendered = render::root().attr("module.config.aws_secretsmanager_secret.config", "arn");
    match arn.split_once(":secret:") {
        Some(_) => format!(
            "{}{}",
            &arn[..arn.len() - 7],
            &rendered[rendered.len() - 7..]
        ),
        None => arn.to_owned(),
    }
}

/// Whether `policy` allows `action` on `resource` (a resource as moto named it), by IAM's rules.
fn allows(policy: &Value, action: &str, resource: &str) -> bool {
    let request = Request::new(action, &as_rendered(resource));
    evaluate(&[policy], None, &request) == Decision::Allow
}

/// The ARNs moto gave the resources the calls touch, and their neighbours'.
struct Arns {
    table: String,
    other_table: String,
    bus: String,
    other_bus: String,
    secret: String,
    other_secret: String,
    log_group: String,
    other_log_group: String,
}

fn secret_document(key_id: &str) -> String {
    use base64::Engine;
    serde_json::to_string(&SecretDocument {
        cursor_keys: vec![KeyEntry {
            id: key_id.into(),
            secret_b64: base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        }],
    })
    .unwrap()
}

/// The stack's resources and their neighbours, made with moto's unchecked set-up key.
async fn set_up(sdk: &aws_config::SdkConfig) -> Arns {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    aws_env::create_table(sdk, attr::OWNER, attr::ID).await;
    let table_arn = |name: &'static str| {
        let dynamodb = dynamodb.clone();
        async move {
            dynamodb
                .describe_table()
                .table_name(name)
                .send()
                .await
                .unwrap()
                .table()
                .and_then(|t| t.table_arn())
                .unwrap()
                .to_owned()
        }
    };
    let table = table_arn(aws_env::TABLE).await;
    dynamodb
        .create_table()
        .table_name(OTHER_TABLE)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let other_table = table_arn(OTHER_TABLE).await;
    let bus = events
        .create_event_bus()
        .name(aws_env::BUS)
        .send()
        .await
        .unwrap()
        .event_bus_arn()
        .unwrap()
        .to_owned();
    let other_bus = events
        .describe_event_bus()
        .name(OTHER_BUS)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let secret_arn = |name: &str, value: String| {
        let secrets = secrets.clone();
        let name = name.to_owned();
        async move {
            secrets
                .create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .unwrap()
                .arn()
                .unwrap()
                .to_owned()
        }
    };
    let secret = secret_arn(aws_env::SECRET, secret_document("k1")).await;
    let other_secret = secret_arn(OTHER_SECRET, secret_document("other")).await;
    let mut groups = Vec::new();
    // The public function's log group is the neighbour of the items function's.
    for name in [log_group("items"), log_group("public")] {
        logs.create_log_group()
            .log_group_name(&name)
            .send()
            .await
            .unwrap();
        let described = logs
            .describe_log_groups()
            .log_group_name_prefix(&name)
            .send()
            .await
            .unwrap();
        let group = described
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name.as_str()))
            .unwrap();
        groups.push(group.log_group_arn().unwrap().to_owned());
    }
    Arns {
        table,
        other_table,
        bus,
        other_bus,
        secret,
        other_secret,
        log_group: groups[0].clone(),
        other_log_group: groups[1].clone(),
    }
}

/// What went wrong, all of it: one refused call does not hide the next.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn ok<T, E: std::fmt::Debug>(&mut self, call: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.0.push(format!("{call} failed: {e:?}"));
                None
            }
        }
    }

    fn check(&mut self, call: &str, holds: bool, what: impl std::fmt::Display) {
        if !holds {
            self.0.push(format!("{call}: {what}"));
        }
    }

    /// `refused` must be moto's AccessDenied of `action` for this principal.
    fn denied(&mut self, principal: &Principal, action: &str, refused: Option<Refusal>) {
        let expected = format!(
            "User: {} is not authorized to perform: {action}",
            principal.arn
        );
        match refused {
            Some(r) if r.status == 403 && r.code == "AccessDenied" && r.message == expected => {}
            other => self.0.push(format!(
                "{action} is outside the policy: expected AccessDenied, got {other:?}"
            )),
        }
    }

    fn assert_none(self, what: &str) {
        assert!(self.0.is_empty(), "{what}:\n  {}", self.0.join("\n  "));
    }
}

/// The SDK call's refusal, or `None` for a success or another failure.
fn refused<T, E>(
    result: Result<
        T,
        aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
) -> Option<Refusal> {
    result.err().and_then(|e| refusal(&e))
}

fn item(owner: &str, name: &str) -> Item {
    Item::create(
        owner,
        NewItem {
            name: name.into(),
            description: Some("described".into()),
        },
    )
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Every AWS call of the items function, through its own adapters as `app_state` builds them
/// (every method of its ports, each branch that reaches AWS), plus Lambda's and the X-Ray
/// daemon's calls with its role.
/// `run` tells this run's owner and log stream from other runs'.
async fn every_call_of_the_function(
    moto: &Moto,
    principal: &Principal,
    arns: &Arns,
    run: &str,
) -> Findings {
    let sdk = &principal.sdk_config(moto).await;
    let mut f = Findings::default();
    // The cold start: the secret by the ARN Terraform passes (CONFIG_SECRET_ID).
    let resources = AwsResources {
        table: aws_env::TABLE.into(),
        event_bus: aws_env::BUS.into(),
        secret_id: arns.secret.clone(),
        secret_ttl: Duration::from_secs(300),
    };
    let Some(state) = f.ok(
        "app_state (secretsmanager:GetSecretValue)",
        app_state(sdk, &resources).await,
    ) else {
        return f;
    };
    if let Some(keys) = f.ok("cursor_keys", state.config.cursor_keys().await) {
        f.check("cursor_keys", keys.current.id == "k1", "the secret's key");
    }
    let store = &state.store;

    // PutItem (conditional), then its condition failing; GetItem; Query with and without a cursor.
    let alice = &format!("{run}-alice");
    let a = item(alice, "a");
    let b = item(alice, "b");
    f.ok("put (dynamodb:PutItem)", store.put(&a).await);
    f.ok("put (dynamodb:PutItem)", store.put(&b).await);
    f.check(
        "put of a taken key (dynamodb:PutItem)",
        matches!(store.put(&a).await, Err(StoreError::AlreadyExists)),
        "AlreadyExists",
    );
    let got = f.ok("get (dynamodb:GetItem)", store.get(alice, a.id).await);
    f.check("get", got == Some(Some(a.clone())), "the item put");
    let page = |before| PageRequest { limit: 10, before };
    let listed = f.ok("list (dynamodb:Query)", store.list(alice, page(None)).await);
    f.check(
        "list",
        listed.is_some_and(|p| p.items == vec![b.clone(), a.clone()]),
        "newest first",
    );
    let listed = f.ok(
        "list after a cursor (dynamodb:Query)",
        store.list(alice, page(Some(b.id))).await,
    );
    f.check(
        "list after a cursor",
        listed.is_some_and(|p| p.items == vec![a.clone()]),
        "the older item",
    );

    // Idempotent creates: the transaction (Puts), a replay that meets the stored record, the
    // record read (GetItem).
    let t = now();
    let key = IdempotencyKey::parse(b"key-1").unwrap();
    let c = item(alice, "c");
    let record =
        IdempotencyRecord::begin(alice, key.clone(), Fingerprint::of(alice, b"c"), c.id, t);
    let claim = f.ok(
        "put_with_record (dynamodb:TransactWriteItems of Puts = dynamodb:PutItem)",
        store.put_with_record(&c, &record, t).await,
    );
    f.check("put_with_record", claim == Some(Claim::Created), "Created");
    let replay = item(alice, "c again");
    let replay_record = IdempotencyRecord::begin(
        alice,
        key.clone(),
        Fingerprint::of(alice, b"c"),
        replay.id,
        t,
    );
    let claim = f.ok(
        "put_with_record, replayed (dynamodb:TransactWriteItems)",
        store.put_with_record(&replay, &replay_record, t).await,
    );
    f.check(
        "put_with_record, replayed",
        claim == Some(Claim::Existing(record.clone())),
        "the stored record",
    );
    let read = f.ok(
        "record (dynamodb:GetItem)",
        store.record(alice, &key, t).await,
    );
    f.check("record", read == Some(Some(record.clone())), "the record");

    // The operator replay's sweep across owners (Scan), and its events.
    let window = CreatedWindow {
        from: time::OffsetDateTime::now_utc() - time::Duration::minutes(5),
        to: time::OffsetDateTime::now_utc() + time::Duration::minutes(5),
    };
    let swept = f.ok(
        "created_between (dynamodb:Scan)",
        store.created_between(&window, None, 100).await,
    );
    f.check(
        "created_between",
        swept.is_some_and(|s| {
            let ids: BTreeSet<_> = s.items.iter().map(|i| i.id).collect();
            s.next.is_none() && [a.id, b.id, c.id].iter().all(|id| ids.contains(id))
        }),
        "this run's three items",
    );

    // ItemCreated to the stack's bus (PutEvents), one and a batch.
    let events: Vec<_> = [&a, &b, &c]
        .iter()
        .map(|i| ItemCreated::new(i, "request-id", None).to_bus_event(i))
        .collect();
    f.ok(
        "publish (events:PutEvents)",
        state.bus.publish(&events[..1]).await,
    );
    f.ok(
        "publish a batch (events:PutEvents)",
        state.bus.publish(&events).await,
    );

    // Lambda writing the function's output to its log group.
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let stream = &format!("2026/01/01/[$LATEST]{run}");
    f.ok(
        "logs:CreateLogStream",
        logs.create_log_stream()
            .log_group_name(log_group("items"))
            .log_stream_name(stream)
            .send()
            .await,
    );
    f.ok(
        "logs:PutLogEvents",
        logs.put_log_events()
            .log_group_name(log_group("items"))
            .log_stream_name(stream)
            .log_events(
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(now() * 1000)
                    .message("{\"level\":\"INFO\"}")
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );

    // The X-Ray daemon sending the function's segments and its own telemetry.
    let segment = json!({
        "name": "items-api-items",
        "id": "70de5b6f19ff9a0a",
        "trace_id": "1-581cf771-a006649127e371903a2de979",
        "start_time": 1.0,
        "end_time": 2.0
    });
    for (action, path, body) in [
        (
            "xray:PutTraceSegments",
            "/TraceSegments",
            json!({ "TraceSegmentDocuments": [segment.to_string()] }),
        ),
        (
            "xray:PutTelemetryRecords",
            "/TelemetryRecords",
            json!({ "TelemetryRecords": [{ "Timestamp": 1_795_300_000 }] }),
        ),
    ] {
        let answer = signed(
            moto,
            &principal.credentials,
            "xray",
            path,
            "application/json",
            &body.to_string(),
        );
        f.check(action, answer.status == 200, format!("refused: {answer:?}"));
    }
    f
}

/// Calls the function must not be able to make, each refused by moto as AccessDenied. The
/// destructive ones come last, so that a policy that let one through spoils no other check.
async fn calls_outside_the_policy(
    moto: &Moto,
    principal: &Principal,
    sdk: &aws_config::SdkConfig,
) -> Findings {
    let mut f = Findings::default();
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let key = |owner: &str| {
        [
            (attr::OWNER.to_owned(), AttributeValue::S(owner.into())),
            (attr::ID.to_owned(), AttributeValue::S("id".into())),
        ]
        .into_iter()
        .collect::<std::collections::HashMap<_, _>>()
    };

    let r = dynamodb
        .update_item()
        .table_name(aws_env::TABLE)
        .set_key(Some(key("alice")))
        .update_expression("SET #n = :n")
        .expression_attribute_names("#n", attr::NAME)
        .expression_attribute_values(":n", AttributeValue::S("x".into()))
        .send()
        .await;
    f.denied(principal, "dynamodb:UpdateItem", refused(r));
    let r = dynamodb
        .batch_write_item()
        .request_items(
            aws_env::TABLE,
            vec![
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(key("mallory")))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            ],
        )
        .send()
        .await;
    f.denied(principal, "dynamodb:BatchWriteItem", refused(r));
    let r = dynamodb
        .describe_table()
        .table_name(aws_env::TABLE)
        .send()
        .await;
    f.denied(principal, "dynamodb:DescribeTable", refused(r));
    let r = dynamodb
        .delete_item()
        .table_name(aws_env::TABLE)
        .set_key(Some(key("alice")))
        .send()
        .await;
    f.denied(principal, "dynamodb:DeleteItem", refused(r));

    // Rules and targets would route the stack's events elsewhere.
    let r = events
        .put_rule()
        .name("copy-everything")
        .event_bus_name(aws_env::BUS)
        .event_pattern(r#"{"source": ["items.api"]}"#)
        .send()
        .await;
    f.denied(principal, "events:PutRule", refused(r));
    let r = events
        .put_targets()
        .rule(aws_env::RULE)
        .event_bus_name(aws_env::BUS)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("elsewhere")
                .arn(format!(
                    "arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/{OTHER_BUS}"
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await;
    f.denied(principal, "events:PutTargets", refused(r));

    let r = secrets
        .put_secret_value()
        .secret_id(aws_env::SECRET)
        .secret_string(secret_document("mallory"))
        .send()
        .await;
    f.denied(principal, "secretsmanager:PutSecretValue", refused(r));
    let r = secrets
        .describe_secret()
        .secret_id(aws_env::SECRET)
        .send()
        .await;
    f.denied(principal, "secretsmanager:DescribeSecret", refused(r));

    // Lambda must not make a group of its own (without retention) nor change the stack's.
    let r = logs
        .create_log_group()
        .log_group_name("/aws/lambda/items-api-items-2")
        .send()
        .await;
    f.denied(principal, "logs:CreateLogGroup", refused(r));
    let r = logs
        .put_retention_policy()
        .log_group_name(log_group("items"))
        .retention_in_days(1)
        .send()
        .await;
    f.denied(principal, "logs:PutRetentionPolicy", refused(r));
    let r = logs
        .filter_log_events()
        .log_group_name(log_group("public"))
        .send()
        .await;
    f.denied(principal, "logs:FilterLogEvents", refused(r));

    // Widening its own permissions.
    let answer = signed(
        moto,
        &principal.credentials,
        "iam",
        "/",
        "application/x-www-form-urlencoded; charset=utf-8",
        "Action=PutRolePolicy&Version=2010-05-08&RoleName=items-api-items-function\
         &PolicyName=more&PolicyDocument=%7B%7D",
    );
    f.denied(principal, "iam:PutRolePolicy", answer_refusal(&answer));

    // Last: the destructive ones.
    let r = secrets
        .delete_secret()
        .secret_id(aws_env::SECRET)
        .force_delete_without_recovery(true)
        .send()
        .await;
    f.denied(principal, "secretsmanager:DeleteSecret", refused(r));
    let r = logs
        .delete_log_group()
        .log_group_name(log_group("items"))
        .send()
        .await;
    f.denied(principal, "logs:DeleteLogGroup", refused(r));
    let r = events.delete_event_bus().name(aws_env::BUS).send().await;
    f.denied(principal, "events:DeleteEventBus", refused(r));
    let r = dynamodb
        .delete_table()
        .table_name(aws_env::TABLE)
        .send()
        .await;
    f.denied(principal, "dynamodb:DeleteTable", refused(r));
    f
}

/// The resource half, which moto does not check: the rendered policy (not widened) allows each
/// of the function's actions on the resource moto's call touched, and not on its neighbour.
fn scoped_to_the_resources_touched(policy: &Value, arns: &Arns) -> Findings {
    let mut f = Findings::default();
    let stream = |group: &str| format!("{group}:log-stream:2026/01/01/[$LATEST]0123456789abcdef");
    let cases: Vec<(&[&str], String, String)> = vec![
        (
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:Scan",
            ],
            arns.table.clone(),
            arns.other_table.clone(),
        ),
        (
            &["events:PutEvents"],
            arns.bus.clone(),
            arns.other_bus.clone(),
        ),
        (
            &["secretsmanager:GetSecretValue"],
            arns.secret.clone(),
            arns.other_secret.clone(),
        ),
        (
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            stream(&arns.log_group),
            stream(&arns.other_log_group),
        ),
    ];
    for (actions, own, neighbour) in cases {
        for action in actions {
            f.check(
                action,
                allows(policy, action, &own),
                format!("not allowed on {own}"),
            );
            f.check(
                action,
                !allows(policy, action, &neighbour),
                format!("allowed on another resource, {neighbour}"),
            );
        }
    }
    // X-Ray's Put actions have no resource type: `*` is the only resource they take.
    for action in ["xray:PutTraceSegments", "xray:PutTelemetryRecords"] {
        f.check(action, allows(policy, action, "*"), "not allowed");
    }
    f
}

/// `policy` without `action`; a statement left with no action goes.
fn without(policy: &Value, action: &str) -> Value {
    let statements: Vec<Value> = allow_statements(policy)
        .into_iter()
        .filter_map(|s| {
            let actions: Vec<String> = list(&s["Action"])
                .into_iter()
                .filter(|a| a != action)
                .collect();
            let mut s = s.clone();
            s.insert("Action".into(), json!(actions));
            (!actions.is_empty()).then_some(Value::Object(s))
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

#[tokio::test]
async fn the_items_policy_is_sufficient_and_minimal_at_run_time() {
    let policy = items_policy();
    let actions: BTreeSet<String> = allow_statements(&policy)
        .into_iter()
        .flat_map(|s| list(&s["Action"]))
        .collect();
    let moto = Moto::start();
    let setup = aws_env::sdk_config(&moto).await;
    let arns = set_up(&setup).await;
    // Every principal is made before the checks go on: IAM's own calls are checked after.
    let principal = Principal::create(&moto, "items-function", &as_moto_checks_it(&policy));
    let short_of_one: Vec<(String, Principal)> = actions
        .iter()
        .enumerate()
        .map(|(n, action)| {
            let name = format!("items-function-without-{n}");
            let policy = as_moto_checks_it(&without(&policy, action));
            (action.clone(), Principal::create(&moto, &name, &policy))
        })
        .collect();
    moto.enforce_iam();

    // The checks are on: the set-up key is no IAM user's, and is refused now.
    let r = aws_sdk_dynamodb::Client::new(&setup)
        .list_tables()
        .send()
        .await;
    assert_eq!(
        refused(r).map(|r| r.code).as_deref(),
        Some("InvalidClientTokenId"),
        "moto's IAM checks are off"
    );

    let mut all = Findings::default();
    let mut add = |what: &str, f: Findings| {
        all.0
            .extend(f.0.into_iter().map(|m| format!("{what}: {m}")));
    };
    // Minimal in actions, both ways: none of the policy's can go (without it, some call of the
    // function is refused), and calls beyond them are refused. The runs are independent (their
    // own owners and log streams): they go at once.
    let (moto, arns) = (Arc::new(moto), Arc::new(arns));
    let principal = Arc::new(principal);
    let mut runs = tokio::task::JoinSet::new();
    let full = Arc::clone(&principal);
    let (m, a) = (Arc::clone(&moto), Arc::clone(&arns));
    runs.spawn(async move {
        (
            None,
            every_call_of_the_function(&m, &full, &a, "full").await,
        )
    });
    for (n, (action, short)) in short_of_one.into_iter().enumerate() {
        let (m, a, action) = (Arc::clone(&moto), Arc::clone(&arns), action.clone());
        runs.spawn(async move {
            let run = every_call_of_the_function(&m, &short, &a, &format!("without-{n}")).await;
            (Some(action), run)
        });
    }
    while let Some(run) = runs.join_next().await {
        match run.expect("a run of the function's calls") {
            (None, findings) => add("a call of the function was refused", findings),
            (Some(action), findings) if findings.0.is_empty() => add(
                "an action no call needs",
                Findings(vec![format!("without {action}, every call still succeeds")]),
            ),
            (Some(_), _) => {}
        }
    }
    let sdk = principal.sdk_config(&moto).await;
    add(
        "a call outside the policy was not refused",
        calls_outside_the_policy(&moto, &principal, &sdk).await,
    );
    add(
        "a statement's resources",
        scoped_to_the_resources_touched(&policy, &arns),
    );
    all.assert_none("the items policy at run time");
}
