//! The pipeline's permissions, derived: `terraform/modules/ci/permissions.json` says, for every
//! resource type of the configuration, which IAM actions the AWS provider calls to create, read,
//! update, tag and delete it, and on what. These tests fill that table in for every resource the
//! stack renders and prove, with IAM's semantics, that the apply role allows each of those
//! requests, that the plan role allows exactly the reads, and that neither allows anything
//! outside the table: no action it does not name, no resource pattern no row needs, and no
//! resource of another stack, account or region, except where the table says why.

use std::collections::{BTreeMap, BTreeSet};

use conformance::iam::{Decision, Request};
use conformance::render::{self, Instance, World};
use serde_json::Value as Json;

use crate::roles::{apply, decide, plan};
use crate::support::*;

const PHASES: [&str; 5] = ["create", "read", "update", "tag", "delete"];

fn table() -> Json {
    let path = module_dir("ci").join("permissions.json");
    serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Clone, Debug)]
struct Entry {
    action: String,
    /// An ARN template, or "*".
    resource: String,
    context: Vec<(String, String)>,
}

fn entries(row: &Json, phase: &str) -> Vec<Entry> {
    let default = row["resource"].as_str().unwrap_or("*").to_owned();
    row.get(phase)
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| match item {
                    Json::String(action) => Entry {
                        action: action.clone(),
                        resource: default.clone(),
                        context: Vec::new(),
                    },
                    Json::Object(o) => Entry {
                        action: o["action"].as_str().expect("an action").to_owned(),
                        resource: o
                            .get("resource")
                            .and_then(Json::as_str)
                            .unwrap_or(&default)
                            .to_owned(),
                        context: o
                            .get("context")
                            .and_then(Json::as_object)
                            .map(|c| {
                                c.iter()
                                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    },
                    other => panic!("a table entry is an action or an object: {other}"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `${partition}`, `${region}`, `${account}` and `${<attribute>}` of the instance.
fn fill(template: &str, instance: &Instance, world: &World) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${") + start;
        let key = &rest[start + 2..end];
        let value = match key {
            "partition" => world.partition.clone(),
            "region" => world.region.clone(),
            "account" => world.account.clone(),
            "boundary" => {
                render::bootstrap().attr("module.ci.aws_iam_policy.workload_boundary", "arn")
            }
            attr => instance
                .attrs
                .get(attr)
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| {
                    panic!(
                        "{}: attribute {attr} of the template {template} is unknown",
                        instance.address
                    )
                })
                .to_owned(),
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Each request the provider makes for one instance, by phase.
fn requests_for(instance: &Instance, row: &Json, world: &World) -> Vec<(&'static str, Request)> {
    let mut out = Vec::new();
    for phase in PHASES {
        for entry in entries(row, phase) {
            let resource = if entry.resource == "*" {
                "*".to_owned()
            } else {
                fill(&entry.resource, instance, world)
            };
            let mut request = Request::new(&entry.action, &resource);
            for (k, v) in &entry.context {
                request = request.with(k, &fill(v, instance, world));
            }
            out.push((phase, request));
        }
    }
    out
}

fn row_of<'a>(table: &'a Json, kind: &str) -> &'a Json {
    table["resources"]
        .get(kind)
        .unwrap_or_else(|| panic!("permissions.json has no row for {kind}"))
}

/// Every request the pipeline makes for the deployed stack, by phase.
fn stack_requests() -> Vec<(String, &'static str, Request)> {
    let table = table();
    let stack = render::root();
    let mut out = Vec::new();
    for instance in stack.instances() {
        if instance.kind.starts_with("random_") {
            continue; // the random provider calls no AWS API
        }
        let row = row_of(&table, &instance.kind);
        for (phase, request) in requests_for(instance, row, &stack.world) {
            out.push((instance.address.clone(), phase, request));
        }
    }
    // The data sources the deployed stack reads (the bootstrap's are the administrator's).
    let mut used = BTreeSet::new();
    for dir in module_dirs() {
        if ["bootstrap", "ci", "state"]
            .iter()
            .any(|d| dir.ends_with(d))
        {
            continue;
        }
        for b in blocks(&module_body(&dir), "data", &[]) {
            used.insert(label_strs(b)[0].to_owned());
        }
    }
    for kind in used {
        for entry in entries(&table["data_sources"][&kind], "read") {
            assert!(
                entry.resource == "*" || !entry.resource.contains("${"),
                "data.{kind}: a template needs an instance"
            );
            out.push((
                format!("data.{kind}"),
                "read",
                Request::new(&entry.action, &entry.resource),
            ));
        }
    }
    assert!(
        out.len() > 100,
        "the stack's requests are rendered ({})",
        out.len()
    );
    out
}

/// The backend's own requests: the state object, its lock object beside it, and the bucket.
fn backend_requests() -> Vec<(&'static str, Request)> {
    let bucket = format!("arn:aws:s3:::{}", render::SAMPLE_STATE_BUCKET);
    let state = format!("{bucket}/items-api/terraform.tfstate");
    let lock = format!("{state}.tflock");
    vec![
        ("read", Request::new("s3:ListBucket", &bucket)),
        ("read", Request::new("s3:GetObject", &state)),
        ("read", Request::new("s3:GetObject", &lock)),
        ("read", Request::new("s3:PutObject", &lock)),
        ("read", Request::new("s3:DeleteObject", &lock)),
        ("update", Request::new("s3:PutObject", &state)),
    ]
}

#[test]
fn every_resource_type_and_data_source_has_a_row_with_its_sources() {
    let table = table();
    let mut used_resources = BTreeSet::new();
    let mut used_data = BTreeSet::new();
    for dir in module_dirs() {
        let body = module_body(&dir);
        for b in blocks(&body, "resource", &[]) {
            let kind = label_strs(b)[0];
            if !kind.starts_with("random_") {
                used_resources.insert(kind.to_owned());
            }
        }
        for b in blocks(&body, "data", &[]) {
            used_data.insert(label_strs(b)[0].to_owned());
        }
    }
    let rows: BTreeSet<String> = table["resources"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let data_rows: BTreeSet<String> = table["data_sources"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        rows, used_resources,
        "rows of permissions.json vs resource types of terraform/"
    );
    assert!(
        used_data.is_subset(&data_rows),
        "data sources without a row: {:?}",
        used_data.difference(&data_rows).collect::<Vec<_>>()
    );
    let sources = table["sources"].as_object().unwrap();
    for (kind, row) in table["resources"]
        .as_object()
        .unwrap()
        .iter()
        .chain(table["data_sources"].as_object().unwrap())
    {
        let ids: Vec<&str> = row["sources"]
            .as_array()
            .map(|a| a.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        let calls_aws = PHASES.iter().any(|phase| !entries(row, phase).is_empty());
        let has_aws = !calls_aws || ids.iter().any(|id| id.starts_with("sar:"));
        assert!(has_aws, "{kind}: no Service Authorization Reference source");
        assert!(!ids.is_empty(), "{kind}: no source");
        for id in ids {
            let url = sources
                .get(id)
                .and_then(Json::as_str)
                .unwrap_or_else(|| panic!("{kind}: unknown source {id}"));
            assert!(url.starts_with("https://"), "{id}: {url}");
        }
    }
}

#[test]
fn the_apply_role_allows_every_request_the_provider_makes() {
    let mut missing = Vec::new();
    for (address, phase, request) in stack_requests() {
        if decide(&apply(), &request) != Decision::Allow {
            missing.push(format!(
                "{address} {phase}: {} on {}",
                request.action, request.resource
            ));
        }
    }
    for (phase, request) in backend_requests() {
        if decide(&apply(), &request) != Decision::Allow {
            missing.push(format!(
                "backend {phase}: {} on {}",
                request.action, request.resource
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "the apply role is refused:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_plan_role_allows_the_reads_and_nothing_more() {
    let mut all = stack_requests();
    all.extend(
        backend_requests()
            .into_iter()
            .map(|(p, r)| ("backend".to_owned(), p, r)),
    );
    let reads: BTreeSet<String> = all
        .iter()
        .filter(|(_, phase, _)| *phase == "read")
        .map(|(_, _, r)| r.action.to_lowercase())
        .collect();
    let mut wrong = Vec::new();
    for (address, phase, request) in &all {
        let allowed = decide(&plan(), request) == Decision::Allow;
        if *phase == "read" && !allowed {
            wrong.push(format!(
                "refused {address}: {} on {}",
                request.action, request.resource
            ));
        }
        if *phase != "read" && !reads.contains(&request.action.to_lowercase()) && allowed {
            wrong.push(format!(
                "allowed {address} {phase}: {} on {}",
                request.action, request.resource
            ));
        }
    }
    assert!(wrong.is_empty(), "the plan role:\n{}", wrong.join("\n"));
}

/// The same ARN in another account, another region, and for another stack's resource.
fn foreign(arn: &str) -> Vec<(&'static str, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() < 6 {
        return Vec::new();
    }
    let mut out = Vec::new();
    if !parts[4].is_empty() {
        let mut other = parts.clone();
        other[4] = "210987654321";
        out.push(("another account", other.join(":")));
    }
    if !parts[3].is_empty() {
        let mut other = parts.clone();
        other[3] = "eu-west-3";
        out.push(("another region", other.join(":")));
    }
    let resource = parts[5];
    let renamed = if resource.contains("items-api") {
        resource.replacen("items-api", "other-app", 1)
    } else {
        let cut = resource.rfind(['/', ':']).map(|i| i + 1).unwrap_or(0);
        format!("{}zz{}", &resource[..cut], &resource[cut..])
    };
    let mut other = parts.clone();
    other[5] = &renamed;
    out.push(("another stack's resource", other.join(":")));
    out
}

#[test]
fn the_pipeline_roles_allow_nothing_outside_the_table() {
    let table = table();
    let scope = table["scope"].as_object().unwrap();
    let requests = stack_requests();
    let mut needed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, _, r) in &requests {
        needed
            .entry(r.action.to_lowercase())
            .or_default()
            .push(r.resource.clone());
    }
    for (_, r) in backend_requests() {
        needed
            .entry(r.action.to_lowercase())
            .or_default()
            .push(r.resource.clone());
    }
    let mut wrong = Vec::new();
    for (role, policies) in [("apply", apply()), ("plan", plan())] {
        for s in policies
            .iter()
            .flat_map(|p| p["Statement"].as_array().unwrap())
        {
            if s["Effect"] != "Allow" {
                continue;
            }
            let sid = s["Sid"].as_str().unwrap_or("?");
            for action in s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
            {
                let Some(arns) = needed.get(&action.to_lowercase()) else {
                    wrong.push(format!("{role} {sid}: {action} is in no row"));
                    continue;
                };
                for pattern in s["Resource"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap())
                {
                    let used = arns
                        .iter()
                        .any(|arn| conformance::iam::wildcard_match(pattern, arn, false));
                    if !used {
                        wrong.push(format!(
                            "{role} {sid}: {action} on {pattern}, which no row needs"
                        ));
                    }
                }
            }
        }
        for (address, _, request) in &requests {
            if request.resource == "*" || decide(&policies, request) != Decision::Allow {
                continue;
            }
            for (what, arn) in foreign(&request.resource) {
                let mut probe = request.clone();
                probe.resource = arn.clone();
                if decide(&policies, &probe) != Decision::Allow {
                    continue;
                }
                let excused =
                    what == "another stack's resource" && scope.contains_key(&request.action);
                if !excused {
                    wrong.push(format!(
                        "{role}: {} on {arn} ({what}; for {address})",
                        request.action
                    ));
                }
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "outside the table:\n{}", wrong.join("\n"));
}

#[test]
fn the_pipeline_cannot_change_what_bootstrap_made() {
    let table = table();
    let stack = render::bootstrap();
    let mut wrong = Vec::new();
    let boundary = stack.attr("module.ci.aws_iam_policy.workload_boundary", "arn");
    for instance in stack.instances() {
        let row = row_of(&table, &instance.kind);
        let reads: BTreeSet<String> = entries(row, "read").into_iter().map(|e| e.action).collect();
        // Refused even when the request carries the workload boundary.
        let mut instance = instance.clone();
        instance
            .attrs
            .entry("permissions_boundary".to_owned())
            .or_insert_with(|| boundary.clone().into());
        for (phase, request) in requests_for(&instance, row, &stack.world) {
            // A read the provider also makes while changing the resource changes nothing.
            if phase == "read" || reads.contains(&request.action) || request.resource == "*" {
                continue;
            }
            for (role, policies) in [("apply", apply()), ("plan", plan())] {
                if decide(&policies, &request) == Decision::Allow {
                    wrong.push(format!(
                        "{role} may {phase} {}: {} on {}",
                        instance.address, request.action, request.resource
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
