//! Adapters behind the ports: the embedded stand-ins of the local twin (feature `embedded`).
//! The AWS adapters (DynamoDB, EventBridge, Secrets Manager) join them here.

pub mod secret_document;

#[cfg(feature = "embedded")]
pub mod embedded;
