//! Embedded stand-ins for the AWS services, real engines on one machine: redb for DynamoDB,
//! an event-pattern-matching bus for EventBridge, log-group files for CloudWatch Logs, and a
//! JSON file for the Secrets Manager secret.

pub mod archive;
pub mod bus;
pub mod config;
mod group_commit;
pub mod pattern;
pub mod store;
