//! Embedded stand-ins for the AWS services, real engines on one machine: redb for DynamoDB
//! ([`store`]), an event-pattern-matching bus for EventBridge with log-group files for its
//! CloudWatch Logs target ([`eventbridge`]), and a JSON file for the Secrets Manager secret
//! ([`config`]).

pub mod config;
pub mod eventbridge;
mod group_commit;
pub mod store;
