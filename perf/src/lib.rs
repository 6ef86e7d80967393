//! Performance harnesses. [`runtime_api`] runs a function binary as a separate process behind
//! the Lambda Runtime API, so its init and invocations are timed the way Lambda times them.

pub mod cost;
pub mod measure;
pub mod runtime_api;
