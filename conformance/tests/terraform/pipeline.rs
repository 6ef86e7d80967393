//! The pipeline's identity, rendered from terraform/bootstrap and evaluated with IAM's semantics
//! (`conformance::iam`): the plan role reads and locks; the apply role changes the stack but
//! cannot escalate: every role the stack makes carries the workload boundary, roles are made or
//! given permissions only with it, only the stack's function roles are passed and only to
//! Lambda, and neither the pipeline's roles nor the boundary can be changed by the pipeline.

use std::collections::BTreeSet;

use conformance::iam::{Decision, Request, evaluate};
use conformance::render::{self, Kind, SAMPLE_REPOSITORY};

use crate::roles::{apply, ci_doc, decide, plan};
use serde_json::{Value as Json, json};

const CI: &str = "module.ci.";

fn boundary() -> &'static Json {
    ci_doc("workload_boundary")
}

fn boundary_arn() -> String {
    render::bootstrap().attr(&format!("{CI}aws_iam_policy.workload_boundary"), "arn")
}

fn role_arn(name: &str) -> String {
    render::bootstrap().attr(&format!("{CI}aws_iam_role.{name}"), "arn")
}

fn function_role(key: &str) -> String {
    render::root().attr(
        &format!("module.functions.aws_iam_role.function[\"{key}\"]"),
        "arn",
    )
}

#[test]
fn the_roles_are_attached_as_rendered() {
    let bootstrap = render::bootstrap();
    assert_eq!(
        bootstrap.attr(&format!("{CI}aws_iam_policy.read"), "policy"),
        serde_json::to_string(ci_doc("read")).unwrap()
    );
    assert_eq!(
        bootstrap.attr(&format!("{CI}aws_iam_role_policy.apply"), "policy"),
        serde_json::to_string(ci_doc("apply")).unwrap()
    );
    let read_arn = bootstrap.attr(&format!("{CI}aws_iam_policy.read"), "arn");
    for role in ["plan", "apply"] {
        let attachment = bootstrap.instance(&format!(
            "{CI}aws_iam_role_policy_attachment.read[\"{role}\"]"
        ));
        assert_eq!(
            attachment.attrs["policy_arn"].as_str(),
            Some(read_arn.as_str())
        );
        assert_eq!(
            attachment.attrs["role"].as_str(),
            Some(
                bootstrap
                    .attr(&format!("{CI}aws_iam_role.{role}"), "name")
                    .as_str()
            )
        );
    }
    let roles: Vec<_> = bootstrap
        .instances()
        .into_iter()
        .filter(|i| i.kind.starts_with("aws_iam_"))
        .map(|i| i.address.clone())
        .collect();
    assert_eq!(
        roles,
        [
            "module.ci.aws_iam_openid_connect_provider.github[0]",
            "module.ci.aws_iam_role.plan",
            "module.ci.aws_iam_role.apply",
            "module.ci.aws_iam_policy.workload_boundary",
            "module.ci.aws_iam_policy.read",
            "module.ci.aws_iam_role_policy_attachment.read[\"plan\"]",
            "module.ci.aws_iam_role_policy_attachment.read[\"apply\"]",
            "module.ci.aws_iam_role_policy.apply",
        ],
        "the pipeline's roles and policies, and nothing else"
    );
}

#[test]
fn each_role_trusts_only_its_own_subjects() {
    let trust = |role: &str| -> Json {
        let text =
            render::bootstrap().attr(&format!("{CI}aws_iam_role.{role}"), "assume_role_policy");
        serde_json::from_str(&text).unwrap()
    };
    let subjects = |doc: &Json| -> (BTreeSet<String>, Json) {
        let statements = doc["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1, "{doc}");
        let s = &statements[0];
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(s["Action"], json!(["sts:AssumeRoleWithWebIdentity"]));
        let conditions = s["Condition"]["StringEquals"].clone();
        assert_eq!(
            conditions["token.actions.githubusercontent.com:aud"],
            json!(["sts.amazonaws.com"])
        );
        assert_eq!(
            s["Condition"].as_object().unwrap().len(),
            1,
            "only exact matches, no StringLike on the subject: {doc}"
        );
        let subs = conditions["token.actions.githubusercontent.com:sub"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        (subs, s["Principal"].clone())
    };
    let (plan_subjects, plan_principal) = subjects(&trust("plan"));
    let (apply_subjects, apply_principal) = subjects(&trust("apply"));
    assert_eq!(
        plan_subjects,
        BTreeSet::from([
            format!("repo:{SAMPLE_REPOSITORY}:pull_request"),
            format!("repo:{SAMPLE_REPOSITORY}:ref:refs/heads/main"),
        ])
    );
    assert_eq!(
        apply_subjects,
        BTreeSet::from([format!("repo:{SAMPLE_REPOSITORY}:environment:production")])
    );
    let oidc = json!({"Federated": ["arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"]});
    assert_eq!(plan_principal, oidc);
    assert_eq!(apply_principal, oidc);
}

#[test]
fn every_role_the_stack_makes_carries_the_workload_boundary() {
    let roles: Vec<_> = render::root()
        .instances()
        .into_iter()
        .filter(|i| i.kind == "aws_iam_role")
        .collect();
    assert!(roles.len() >= 2, "the functions' roles are rendered");
    for role in roles {
        assert_eq!(
            role.attrs
                .get("permissions_boundary")
                .and_then(|v| v.as_str()),
            Some(boundary_arn().as_str()),
            "{} has no workload boundary",
            role.address
        );
    }
}

/// Every concrete (action, resource) an identity policy allows, with its wildcards filled in.
fn grants(policy: &Json) -> Vec<Request> {
    let mut out = Vec::new();
    for s in policy["Statement"].as_array().unwrap() {
        if s["Effect"] != "Allow" {
            continue;
        }
        for action in s["Action"].as_array().unwrap() {
            for resource in s["Resource"].as_array().unwrap() {
                let resource = resource.as_str().unwrap().replace('*', "x");
                out.push(Request::new(action.as_str().unwrap(), &resource));
            }
        }
    }
    out
}

#[test]
fn the_boundary_holds_what_the_functions_do_and_caps_anything_more() {
    for key in ["items", "public", "item-events"] {
        let policy = render::root_policy(&format!(
            "module.functions.data.aws_iam_policy_document.function[\"{key}\"]"
        ));
        let requests = grants(&policy);
        assert!(!requests.is_empty());
        for request in requests {
            assert_eq!(
                evaluate(&[&policy], Some(boundary()), &request),
                Decision::Allow,
                "{key}: the boundary takes {request:?} away"
            );
        }
    }
    // A role given every action on everything by a pipeline gone wrong gets no further.
    let admin = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let table = render::root().attr("module.data.aws_dynamodb_table.items", "arn");
    for request in [
        Request::new("iam:CreateUser", "arn:aws:iam::123456789012:user/x"),
        Request::new("iam:AttachRolePolicy", &function_role("items")),
        Request::new("sts:AssumeRole", &role_arn("apply")),
        Request::new("dynamodb:DeleteTable", &table),
        Request::new(
            "dynamodb:GetItem",
            "arn:aws:dynamodb:us-east-1:123456789012:table/other",
        ),
        Request::new(
            "s3:GetObject",
            "arn:aws:s3:::items-api-tfstate-123456789012/items-api/terraform.tfstate",
        ),
        Request::new(
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:other/config-AbCdEf",
        ),
        Request::new(
            "events:PutEvents",
            "arn:aws:events:us-east-1:123456789012:event-bus/default",
        ),
        Request::new(
            "lambda:InvokeFunction",
            "arn:aws:lambda:us-east-1:123456789012:function:items-api-items",
        ),
    ] {
        assert_eq!(
            evaluate(&[&admin], Some(boundary()), &request),
            Decision::ImplicitDeny,
            "the boundary lets {request:?} through"
        );
    }
}

#[test]
fn the_apply_role_makes_and_changes_roles_only_under_the_boundary() {
    let new_role = "arn:aws:iam::123456789012:role/items-api-extra-function";
    let boundary = boundary_arn();
    let admin_policy = "arn:aws:iam::aws:policy/AdministratorAccess";
    for action in [
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:PutRolePermissionsBoundary",
    ] {
        let request = Request::new(action, new_role);
        assert_eq!(
            decide(
                &apply(),
                &request.clone().with("iam:PermissionsBoundary", &boundary)
            ),
            Decision::Allow,
            "{action} with the boundary"
        );
        assert_ne!(
            decide(&apply(), &request),
            Decision::Allow,
            "{action} without a boundary"
        );
        assert_ne!(
            decide(
                &apply(),
                &request
                    .clone()
                    .with("iam:PermissionsBoundary", admin_policy)
            ),
            Decision::Allow,
            "{action} with another boundary"
        );
    }
    // The stack attaches no managed policy to its roles: the pipeline may not either.
    for action in ["iam:AttachRolePolicy", "iam:DetachRolePolicy"] {
        let request = Request::new(action, new_role).with("iam:PermissionsBoundary", &boundary);
        assert_ne!(decide(&apply(), &request), Decision::Allow, "{action}");
    }
    for role in [function_role("items"), new_role.to_owned()] {
        assert_ne!(
            decide(
                &apply(),
                &Request::new("iam:DeleteRolePermissionsBoundary", &role)
            ),
            Decision::Allow,
            "a boundary taken off {role}"
        );
    }
    // Roles outside the stack's names, even with the boundary.
    for role in [
        "arn:aws:iam::123456789012:role/admin",
        "arn:aws:iam::123456789012:role/other-app-items-function",
    ] {
        assert_ne!(
            decide(
                &apply(),
                &Request::new("iam:CreateRole", role).with("iam:PermissionsBoundary", &boundary)
            ),
            Decision::Allow,
            "{role}"
        );
    }
}

#[test]
fn the_apply_role_cannot_change_the_pipeline_or_the_boundary() {
    let boundary = boundary_arn();
    for target in [role_arn("plan"), role_arn("apply")] {
        for action in [
            "iam:PutRolePolicy",
            "iam:AttachRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRole",
            "iam:PutRolePermissionsBoundary",
            "iam:TagRole",
        ] {
            let with_boundary =
                Request::new(action, &target).with("iam:PermissionsBoundary", &boundary);
            assert_eq!(
                decide(&apply(), &with_boundary),
                Decision::ExplicitDeny,
                "{action} on {target}"
            );
        }
    }
    for action in [
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
        "iam:DeletePolicy",
        "iam:DeletePolicyVersion",
        "iam:TagPolicy",
    ] {
        assert_eq!(
            decide(&apply(), &Request::new(action, &boundary)),
            Decision::ExplicitDeny,
            "{action} on the boundary"
        );
    }
    for request in [
        Request::new("iam:CreateUser", "arn:aws:iam::123456789012:user/x"),
        Request::new("iam:CreateAccessKey", "arn:aws:iam::123456789012:user/x"),
        Request::new(
            "iam:CreatePolicy",
            "arn:aws:iam::123456789012:policy/anything",
        ),
        Request::new(
            "iam:CreateOpenIDConnectProvider",
            "arn:aws:iam::123456789012:oidc-provider/x",
        ),
        Request::new("iam:AttachUserPolicy", "arn:aws:iam::123456789012:user/x"),
        Request::new("sts:AssumeRole", &role_arn("plan")),
    ] {
        assert_ne!(decide(&apply(), &request), Decision::Allow, "{request:?}");
    }
}

#[test]
fn only_the_stacks_function_roles_are_passed_and_only_to_lambda() {
    let pass = |role: &str, service: &str| {
        decide(
            &apply(),
            &Request::new("iam:PassRole", role).with("iam:PassedToService", service),
        )
    };
    for key in ["items", "public", "item-events"] {
        assert_eq!(
            pass(&function_role(key), "lambda.amazonaws.com"),
            Decision::Allow
        );
        for service in [
            "ec2.amazonaws.com",
            "ecs-tasks.amazonaws.com",
            "apigateway.amazonaws.com",
        ] {
            assert_ne!(
                pass(&function_role(key), service),
                Decision::Allow,
                "to {service}"
            );
        }
    }
    for role in [
        role_arn("apply"),
        role_arn("plan"),
        "arn:aws:iam::123456789012:role/admin".to_owned(),
        "arn:aws:iam::123456789012:role/other-app-items-function".to_owned(),
    ] {
        assert_ne!(
            pass(&role, "lambda.amazonaws.com"),
            Decision::Allow,
            "{role}"
        );
    }
}

#[test]
fn the_plan_role_reads_the_stack_and_the_state_and_writes_only_the_lock() {
    let state = format!(
        "arn:aws:s3:::{}/items-api/terraform.tfstate",
        render::SAMPLE_STATE_BUCKET
    );
    let lock = format!("{state}.tflock");
    assert_eq!(
        decide(&plan(), &Request::new("s3:GetObject", &state)),
        Decision::Allow
    );
    assert_ne!(
        decide(&plan(), &Request::new("s3:PutObject", &state)),
        Decision::Allow
    );
    assert_ne!(
        decide(&plan(), &Request::new("s3:DeleteObject", &state)),
        Decision::Allow
    );
    for action in ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] {
        assert_eq!(
            decide(&plan(), &Request::new(action, &lock)),
            Decision::Allow,
            "{action} on the lock"
        );
    }
    assert_eq!(
        decide(&apply(), &Request::new("s3:PutObject", &state)),
        Decision::Allow
    );
    // Every action only the apply role has is refused to the plan role, on whatever resource
    // the apply role may use it.
    let read: BTreeSet<String> = conformance::iam::allowed_actions(ci_doc("read"))
        .into_iter()
        .collect();
    let mut writes = 0;
    for s in ci_doc("apply")["Statement"].as_array().unwrap() {
        if s["Effect"] != "Allow" {
            continue;
        }
        for action in s["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
        {
            if read.contains(action) {
                continue;
            }
            writes += 1;
            for resource in s["Resource"].as_array().unwrap() {
                let resource = resource.as_str().unwrap().replace('*', "x");
                let mut request = Request::new(action, &resource);
                if let Some(conditions) = s.get("Condition") {
                    for by_key in conditions.as_object().unwrap().values() {
                        for (key, values) in by_key.as_object().unwrap() {
                            request = request.with(key, values[0].as_str().unwrap());
                        }
                    }
                }
                assert_eq!(decide(&apply(), &request), Decision::Allow, "{request:?}");
                assert_ne!(
                    decide(&plan(), &request),
                    Decision::Allow,
                    "the plan role may {request:?}"
                );
            }
        }
    }
    assert!(writes > 50, "found the apply role's writes ({writes})");
}

/// IAM's quotas: a role's inline policies together at most 10,240 characters, a managed policy
/// at most 6,144, white space not counted.
#[test]
fn the_policies_fit_iams_size_quotas() {
    let size = |doc: &Json| {
        serde_json::to_string(doc)
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .count()
    };
    for policy in render::all_policies() {
        let limit = match (policy.kind, policy.attached_to.first().map(String::as_str)) {
            (Kind::Identity, Some(a)) if a.contains("aws_iam_role_policy") => 10_240,
            (Kind::Identity | Kind::Boundary, _) => 6_144,
            (Kind::Trust, _) => 2_048,
            _ => continue,
        };
        let n = size(&policy.document);
        assert!(
            n <= limit,
            "{} {}: {n} characters, IAM takes {limit}",
            policy.stack,
            policy.address
        );
    }
}

#[test]
fn the_item_events_role_reaches_its_stream_bus_and_queue_and_nothing_beside_them() {
    let stack = render::root();
    let policy = render::root_policy(
        r#"module.functions.data.aws_iam_policy_document.function["item-events"]"#,
    );
    let table = stack.attr("module.data.aws_dynamodb_table.items", "arn");
    let stream = stack.attr("module.data.aws_dynamodb_table.items", "stream_arn");
    let bus = stack.attr("module.events.aws_cloudwatch_event_bus.items", "arn");
    let dlq = stack.attr("module.functions.aws_sqs_queue.item_events_dlq", "arn");
    let decide_both = |request: &Request| {
        let alone = evaluate(&[&policy], None, request);
        let bounded = evaluate(&[&policy], Some(boundary()), request);
        assert_eq!(alone, bounded, "the boundary changes {request:?}");
        alone
    };
    // What the event source mapping and the function do, with the function's role.
    for request in [
        Request::new("dynamodb:DescribeStream", &stream),
        Request::new("dynamodb:GetShardIterator", &stream),
        Request::new("dynamodb:GetRecords", &stream),
        Request::new("dynamodb:ListStreams", "*"),
        Request::new("events:PutEvents", &bus),
        Request::new("sqs:SendMessage", &dlq),
    ] {
        assert_eq!(decide_both(&request), Decision::Allow, "{request:?}");
    }
    // Nothing of the table itself, no other stream, bus or queue, and not its own queue's
    // messages (on-call redrives them, not the function).
    let other_stream = stream.replace("table/items/", "table/items-archive/");
    assert_ne!(other_stream, stream);
    for request in [
        Request::new("dynamodb:GetRecords", &other_stream),
        Request::new("dynamodb:GetItem", &table),
        Request::new("dynamodb:PutItem", &table),
        Request::new("dynamodb:Scan", &table),
        Request::new(
            "events:PutEvents",
            &bus.replace("event-bus/items-api", "event-bus/default"),
        ),
        Request::new(
            "sqs:SendMessage",
            &dlq.replace("items-api-item-events-dlq", "items-api-other"),
        ),
        Request::new("sqs:ReceiveMessage", &dlq),
        Request::new("sqs:DeleteMessage", &dlq),
        Request::new("secretsmanager:GetSecretValue", "*"),
    ] {
        assert_ne!(decide_both(&request), Decision::Allow, "{request:?}");
    }
}
