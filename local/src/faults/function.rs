//! Faults of a function itself: a handler that is slow or panics, as a layer between the
//! telemetry layer and the router (so the telemetry sees the delay and the panic as it would
//! see the handler's own), and Lambda refusing an invocation (throttling), which the gateway
//! asks about before it invokes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

use super::{Faults, Kind, Target, injected};

async fn misbehave(
    State((faults, target)): State<(Arc<Faults>, Target)>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(delay) = faults.delay(target) {
        tokio::time::sleep(delay).await;
    }
    if faults.fires(target, Kind::Panic) {
        // Outside the router's own panic handling, so the invocation fails as a crash does.
        panic!("{}", injected(target, Kind::Panic));
    }
    next.run(request).await
}

/// `router` with the `slow` and `panic` faults of `target` around it. The router's own panic
/// layer stays inside: an injected panic escapes it and fails the invocation.
pub fn around(router: axum::Router, faults: &Arc<Faults>, target: Target) -> axum::Router {
    router.layer(middleware::from_fn_with_state(
        (Arc::clone(faults), target),
        misbehave,
    ))
}

/// The function a gateway route invokes, as a fault target.
pub fn target_of(function: crate::gateway::routes::Function) -> Target {
    match function {
        crate::gateway::routes::Function::Public => Target::Public,
        crate::gateway::routes::Function::Items => Target::Items,
    }
}

/// Whether Lambda refuses this invocation of `target` (its reserved concurrency is used up).
pub fn throttled(faults: &Faults, target: Target) -> bool {
    faults.fires(target, Kind::Throttle)
}
