//! Adapters behind the ports: the embedded stand-ins of the local twin (feature `embedded`).
//! and the AWS adapters (feature `aws`): DynamoDB, EventBridge, Secrets Manager.

pub mod secret_document;

#[cfg(feature = "aws")]
pub mod aws;

#[cfg(feature = "embedded")]
pub mod embedded;
