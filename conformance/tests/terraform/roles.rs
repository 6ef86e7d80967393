//! The pipeline's two roles as terraform/bootstrap renders them, for the tests that evaluate them.

use conformance::iam::{Decision, Request, evaluate};
use conformance::render;
use serde_json::Value as Json;

/// A policy document of the `ci` module, by its data block's name.
pub fn ci_doc(name: &str) -> &'static Json {
    &render::bootstrap()
        .document(&format!("module.ci.data.aws_iam_policy_document.{name}"))
        .json
}

/// The plan role's policies: the managed read policy.
pub fn plan() -> Vec<&'static Json> {
    vec![ci_doc("read")]
}

/// The apply role's policies: the managed read policy and its inline policy.
pub fn apply() -> Vec<&'static Json> {
    vec![ci_doc("read"), ci_doc("apply")]
}

/// The decision for a role holding `policies` (the pipeline's roles have no boundary).
pub fn decide(policies: &[&Json], request: &Request) -> Decision {
    evaluate(policies, None, request)
}
