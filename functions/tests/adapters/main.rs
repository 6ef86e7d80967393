//! The adapters' contract suites: the same cases against the embedded stand-ins and against the
//! AWS adapters on moto's server (the real SDK over the real wire protocol, on loopback), and
//! the AWS adapters' fault handling through the SDK's own mock tooling.

mod bus_contract;
mod config_contract;
mod faults;
mod reemit;
mod replay_route;
mod store_contract;
#[path = "../support/mod.rs"]
mod support;
mod sweep_contract;
