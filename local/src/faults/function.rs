//! Faults of a function itself: a handler that is slow or panics, as a layer between the
//! telemetry layer and the router (so the telemetry sees the delay and the panic as it would
//! see the handler's own), and Lambda refusing an invocation (throttling), which the gateway
//! asks about before it invokes.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::Response;
use futures_util::future::{BoxFuture, Either};
use http::Request;
use tower::{Service, ServiceExt};

use super::{Faults, Kind, Target, injected};

/// `router` with the `slow` and `panic` faults of `target` around it, as a whole (`Router::layer`
/// would wrap each route, a boxed service and future more a request). The router's own panic
/// layer stays inside: an injected panic escapes it and fails the invocation.
pub fn around(
    router: axum::Router,
    faults: &Arc<Faults>,
    target: Target,
) -> Misbehave<axum::Router> {
    Misbehave {
        inner: router,
        faults: Arc::clone(faults),
        target,
    }
}

/// A function's handler with its faults. A request that no fault hits goes straight to the
/// handler, with nothing boxed or cloned: every invocation passes here, faults or not.
#[derive(Clone)]
pub struct Misbehave<S> {
    inner: S,
    faults: Arc<Faults>,
    target: Target,
}

impl<S, B> Service<Request<B>> for Misbehave<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let delay = self.faults.delay(self.target);
        let target = self.target;
        let panics = move || -> BoxFuture<'static, Result<Response, Infallible>> {
            // In the future, not here: the telemetry layer sees the panic as the handler's.
            Box::pin(async move { panic!("{}", injected(target, Kind::Panic)) })
        };
        let Some(delay) = delay else {
            if self.faults.fires(target, Kind::Panic) {
                return Either::Right(panics());
            }
            return Either::Left(self.inner.call(request));
        };
        let faults = Arc::clone(&self.faults);
        let inner = self.inner.clone();
        Either::Right(Box::pin(async move {
            tokio::time::sleep(delay).await;
            if faults.fires(target, Kind::Panic) {
                return panics().await;
            }
            inner.oneshot(request).await
        }))
    }
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
