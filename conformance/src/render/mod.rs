//! The stack as Terraform would build it, rendered offline: the root module (the deployed
//! stack) and `terraform/bootstrap` (the pipeline's identity and state), each evaluated with
//! sample inputs into resource instances and the IAM policy documents they carry. No provider or
//! Terraform binary is involved: `evaluate` reads the HCL with hcl-rs, `computed` knows what AWS
//! assigns to each resource type. The tests hold these renderings to IAM's semantics (`crate::iam`)
//! and to the permission table; `render-policies` writes them out for the IAM linters.

pub mod computed;
pub mod evaluate;
pub mod functions;
pub mod policy_document;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use hcl::{Map, Value};

pub use computed::World;
pub use evaluate::{Document, Instance, Module};

/// The repository a sample pipeline deploys from.
pub const SAMPLE_REPOSITORY: &str = "octo-org/items-api";
/// The sample state bucket.
pub const SAMPLE_STATE_BUCKET: &str = "items-api-tfstate-123456789012";

/// Where a policy document is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A role's (or an on-call identity's) permissions: inline or managed.
    Identity,
    /// A managed policy used as a permissions boundary.
    Boundary,
    /// A role's trust policy.
    Trust,
    /// A resource-based policy (key, topic, log resource policy, bucket).
    Resource,
    /// Only a source of other documents (its statements are in them).
    Fragment,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct RenderedPolicy {
    pub stack: &'static str,
    pub address: String,
    pub kind: Kind,
    /// The addresses of the resources that carry it.
    pub attached_to: Vec<String>,
    pub document: serde_json::Value,
    pub reasons: BTreeMap<String, String>,
}

pub struct Stack {
    pub name: &'static str,
    pub world: World,
    pub module: Module,
}

fn sample_inputs(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// The deployed stack (terraform/), with sample values for its required variables.
pub fn root() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let dir = crate::repo_root().join("terraform");
        let world = World::sample();
        let inputs = sample_inputs(&[
            (
                "runbook_base_url",
                Value::from(format!("https://github.com/{SAMPLE_REPOSITORY}/blob/main")),
            ),
            (
                "alarm_emails",
                Value::Array(vec![Value::from("oncall@example.com")]),
            ),
            // The ticket topic's subscription is made too, so its permissions are held.
            (
                "ticket_emails",
                Value::Array(vec![Value::from("tickets@example.com")]),
            ),
        ]);
        let module = evaluate::module(&dir, &dir, &inputs, "", &world);
        Stack {
            name: "root",
            world,
            module,
        }
    })
}

/// The bootstrap stack (terraform/bootstrap): state bucket, OIDC provider, plan and apply roles.
pub fn bootstrap() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let dir = crate::repo_root().join("terraform/bootstrap");
        let world = World::sample();
        let inputs = sample_inputs(&[
            ("github_repository", Value::from(SAMPLE_REPOSITORY)),
            ("state_bucket", Value::from(SAMPLE_STATE_BUCKET)),
        ]);
        let module = evaluate::module(&dir, &dir, &inputs, "", &world);
        Stack {
            name: "bootstrap",
            world,
            module,
        }
    })
}

/// A rendered policy document of the deployed stack, by its Terraform address, e.g.
/// `module.functions.data.aws_iam_policy_document.function["items"]`.
pub fn root_policy(address: &str) -> serde_json::Value {
    root().document(address).json.clone()
}

impl Stack {
    pub fn instances(&self) -> Vec<&Instance> {
        self.module.all_instances()
    }

    pub fn instance(&self, address: &str) -> &Instance {
        self.instances()
            .into_iter()
            .find(|i| i.address == address)
            .unwrap_or_else(|| {
                panic!(
                    "{} stack: no resource {address}; rendered: {:?}",
                    self.name,
                    self.instances()
                        .iter()
                        .map(|i| &i.address)
                        .collect::<Vec<_>>()
                )
            })
    }

    /// An attribute of a resource instance, as a string.
    pub fn attr(&self, address: &str, key: &str) -> String {
        self.instance(address)
            .attrs
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{} stack: {address}.{key} is unknown", self.name))
            .to_owned()
    }

    pub fn document(&self, address: &str) -> &Document {
        self.module
            .all_documents()
            .into_iter()
            .find(|d| d.address == address)
            .unwrap_or_else(|| {
                panic!(
                    "{} stack: no policy document {address}; rendered: {:?}",
                    self.name,
                    self.module
                        .all_documents()
                        .iter()
                        .map(|d| &d.address)
                        .collect::<Vec<_>>()
                )
            })
    }

    /// Every rendered policy document with where it is used. `boundaries` are the ARNs used as
    /// permissions boundaries (by either stack).
    pub fn policies(&self, boundaries: &BTreeSet<String>) -> Vec<RenderedPolicy> {
        let instances = self.instances();
        let documents = self.module.all_documents();
        let mut out = Vec::new();
        for document in &documents {
            let text = serde_json::to_string(&document.json).expect("JSON");
            let mut kind = None;
            let mut attached_to = Vec::new();
            for instance in &instances {
                for (key, value) in &instance.attrs {
                    if value.as_str() != Some(text.as_str()) {
                        continue;
                    }
                    let this = match (instance.kind.as_str(), key.as_str()) {
                        ("aws_iam_role", "assume_role_policy") => Kind::Trust,
                        ("aws_iam_role_policy", "policy") => Kind::Identity,
                        ("aws_iam_policy", "policy") => {
                            let arn = instance.attrs.get("arn").and_then(Value::as_str);
                            if arn.is_some_and(|a| boundaries.contains(a)) {
                                Kind::Boundary
                            } else {
                                Kind::Identity
                            }
                        }
                        ("aws_kms_key", "policy")
                        | ("aws_sns_topic_policy", "policy")
                        | ("aws_s3_bucket_policy", "policy")
                        | ("aws_cloudwatch_log_resource_policy", "policy_document") => {
                            Kind::Resource
                        }
                        other => panic!(
                            "{}: policy document {} used as {other:?}: say what kind that is",
                            self.name, document.address
                        ),
                    };
                    assert!(
                        kind.is_none() || kind == Some(this),
                        "{} is used as two kinds",
                        document.address
                    );
                    kind = Some(this);
                    attached_to.push(instance.address.clone());
                }
            }
            let is_source = documents.iter().any(|d| d.sources.contains(&text));
            let kind = match kind {
                Some(k) => k,
                None if is_source => Kind::Fragment,
                None => panic!(
                    "{}: policy document {} is used by no resource",
                    self.name, document.address
                ),
            };
            // A document carries the reasons written beside its source documents' statements too.
            let mut reasons = document.reasons.clone();
            for source in &documents {
                let source_text = serde_json::to_string(&source.json).expect("JSON");
                if document.sources.contains(&source_text) {
                    reasons.extend(source.reasons.clone());
                }
            }
            out.push(RenderedPolicy {
                stack: self.name,
                address: document.address.clone(),
                kind,
                attached_to,
                document: document.json.clone(),
                reasons,
            });
        }
        out
    }

    /// The `permissions_boundary` of every role of the stack.
    pub fn boundaries(&self) -> BTreeSet<String> {
        self.instances()
            .into_iter()
            .filter(|i| i.kind == "aws_iam_role")
            .filter_map(|i| i.attrs.get("permissions_boundary"))
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }
}

/// Every policy document of both stacks, classified.
pub fn all_policies() -> Vec<RenderedPolicy> {
    let mut boundaries = root().boundaries();
    boundaries.extend(bootstrap().boundaries());
    let mut out = root().policies(&boundaries);
    out.extend(bootstrap().policies(&boundaries));
    out
}
