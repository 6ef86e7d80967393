//! The twin driven over HTTP, as a client and an attacker would: one test binary, many twins.

mod access_log_queries;
mod alarms;
mod browser;
mod common;
mod concurrency;
mod contract;
mod doc_commands;
mod durability;
mod hostile_input;
mod idempotency;
mod internal;
mod load;
mod metric_contract;
mod moto_flow;
mod moto_stream;
mod oidc;
mod ops_console;
mod safety;
mod schemathesis;
mod slo_rehearsals;
mod stream_events;
mod tokens;
mod walkthrough;
mod web_app;
