//! The Terraform code (terraform/) and the deploy workflow held to the code: routes, names,
//! environment variables, key attributes, event pattern, throttling, access log format and the
//! secret's shape each have one home in the code, and these tests fail when Terraform drifts.
//! Parsing, formatting, provider schemas, checkov and actionlint are scripts/offline-checks'.

mod code_ties;
mod modules;
mod permissions;
mod pipeline;
mod policies;
mod roles;
mod slos;
mod support;
mod telemetry_cost;
mod web_client;
mod workflows;
