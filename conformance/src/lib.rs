//! Checks that keep the repository's other artefacts (Terraform, dashboards, alarms, runbooks,
//! documents) true to the code: each fact has one home in the code, and these tests hold the
//! rest to it. The checks are the tests under `tests/`; this library holds what they share.

pub mod iam;
pub mod render;

use std::path::PathBuf;

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("conformance sits in the workspace")
        .to_owned()
}
