//! The HTTP contract of the API (the design's route table), one router for Lambda and the twin.

mod context;
mod internal;
mod items;
pub mod panic;
pub mod problem;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

pub use context::{Caller, RequestMeta};
use problem::Kind;

use crate::ports::{Config, EventBus, ItemStore};

/// The routes and the authorization each needs at the gateway. The gateway (API Gateway's
/// routes in Terraform, the twin's gateway) is configured from this one table.
pub mod routes {
    /// The paths, named once: this table and the routers below use them.
    pub const PUBLIC_PATH: &str = "/public";
    pub const ITEMS_PATH: &str = "/items";
    pub const ITEM_PATH: &str = "/items/{id}";
    pub const REPLAY_PATH: &str = "/internal/events/replay";

    /// No authorization.
    pub const PUBLIC: &[(&str, &str)] = &[("GET", PUBLIC_PATH)];
    /// JWT authorizer (Cognito ID token).
    pub const JWT: &[(&str, &str)] = &[
        ("POST", ITEMS_PATH),
        ("GET", ITEMS_PATH),
        ("GET", ITEM_PATH),
    ];
    /// IAM (SigV4) authorizer, every method: the gateway routes `ANY /internal/{proxy+}`.
    pub const IAM_PREFIX: &str = "/internal/";
    /// The operator routes under [`IAM_PREFIX`] that the router serves.
    pub const IAM: &[(&str, &str)] = &[("POST", REPLAY_PATH)];
}

/// The OpenAPI document of the API (`functions/openapi.json`); a conformance test holds it to
/// the route table and the limits, and the twin serves it.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// The ports the handlers use.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn ItemStore>,
    pub bus: Arc<dyn EventBus>,
    pub config: Arc<dyn Config>,
}

/// The body of `GET /public`: `{"ok":true}`.
#[derive(serde::Serialize)]
struct Public {
    ok: bool,
}

// A struct, not a `serde_json::Value`: no map and key to build and drop on every request.
async fn public() -> axum::Json<Public> {
    axum::Json(Public { ok: true })
}

async fn not_found(meta: RequestMeta) -> problem::Problem {
    meta.problem(Kind::NotFound, "no such route")
}

async fn method_not_allowed(meta: RequestMeta) -> problem::Problem {
    meta.problem(
        Kind::MethodNotAllowed,
        "this route does not take that method",
    )
}

/// The router of the items function. `GET /public` needs no state; the `public` Lambda serves
/// it from [`public_router`] without linking any store or bus.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(routes::PUBLIC_PATH, get(public))
        .route(routes::ITEMS_PATH, get(items::list).post(items::create))
        .route(routes::ITEM_PATH, get(items::get))
        .route(routes::REPLAY_PATH, post(internal::replay))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(state)
        .layer(panic::ProblemOnPanicLayer)
}

/// The router of the `public` function: `GET /public` only.
pub fn public_router() -> Router {
    Router::new()
        .route(routes::PUBLIC_PATH, get(public))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        // Makes each handler a route now: until a router is given its state, axum builds the
        // route of a handler (and wraps it in every layer) again on every request.
        .with_state(())
        .layer(panic::ProblemOnPanicLayer)
}
