//! The items API: one router that serves in Lambda (through `lambda_http`) and in the local twin.
//!
//! Reading order: [`domain`] (what an item is and its limits), [`ports`] (what the API needs from
//! the outside world), [`router`] (the HTTP contract), [`idempotency`] (safe retries of creates),
//! then [`adapters`] (the outside world).

pub mod adapters;
pub mod cursor;
pub mod domain;
pub mod events;
pub mod idempotency;
pub mod ports;
pub mod router;
pub mod settings;

pub use router::{AppState, router};
