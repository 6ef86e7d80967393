//! Performance harnesses. [`runtime_api`] runs a function binary as a separate process behind
//! the Lambda Runtime API, so its init and invocations are timed the way Lambda times them.

pub mod cost;
pub mod measure;
/// The Runtime API lives in `testkit`, which the functions' tests share.
pub use testkit::runtime_api;
