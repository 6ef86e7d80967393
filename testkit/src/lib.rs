//! Test support shared by the crates' tests: moto's server mode, the real AWS wire protocol on
//! loopback, started on a free port and stopped when dropped; and the stack's resources on it.

pub mod aws;
pub mod iam;
pub mod moto;
pub mod readme;

pub use moto::Moto;
