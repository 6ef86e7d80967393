//! The local twin: one process that plays API Gateway (HTTP API), Lambda, Cognito, EventBridge,
//! DynamoDB and CloudWatch Logs in front of the items API, on embedded engines.
//!
//! Reading order: [`twin`] (what is assembled), [`gateway`] (what API Gateway does), [`auth`]
//! (the JWT authorizer and the local issuer), [`twin_api`] (the twin's own routes, `/_twin/`),
//! [`names`] (the names of the stand-ins' resources).

pub mod auth;
pub mod client;
pub mod cloudwatch;
pub mod faults;
pub mod gateway;
pub mod html;
pub mod media_type;
pub mod names;
pub mod ops;
pub mod output;
pub(crate) mod per_thread;
pub mod settings;
pub use slo;
pub mod slo_dashboard;
pub mod sqs;
pub mod stream;
pub mod twin;
pub mod twin_api;
pub mod web_app;
pub mod xray_daemon;
