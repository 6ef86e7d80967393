//! The items API: one router that serves in Lambda (through `lambda_http`) and in the local twin.
//!
//! Reading order: [`domain`] (what an item is and its limits), [`ports`] (what the API needs from
//! the outside world), [`router`] (the HTTP contract), [`idempotency`] (safe retries of creates),
//! then [`adapters`] (the outside world) and [`item_events`] (the table stream's consumer,
//! which publishes `ItemCreated`).

pub mod adapters;
pub mod cursor;
pub mod domain;
pub mod events;
pub mod idempotency;
pub mod item_events;
pub mod ports;
pub mod router;
pub mod settings;
pub mod table;

pub use router::{AppState, router};
