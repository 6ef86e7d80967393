//! Test support shared by the crates' tests: moto's server mode, the real AWS wire protocol on
//! loopback, started on a free port and stopped when dropped; the stack's resources on it; and
//! the Lambda Runtime API, to run a built function binary as Lambda does.

pub mod aws;
pub mod iam;
pub mod moto;
pub mod readme;
pub mod runtime_api;
pub mod stream;

pub use moto::Moto;
