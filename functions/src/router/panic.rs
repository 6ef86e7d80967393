//! A panicking handler answers `500` as a problem with the request id, logged at ERROR, instead
//! of failing the invocation: the client can quote the id, and on-call finds the panic's line.
//! (tower-http's `CatchPanicLayer` cannot reach the request id, which lives in the request.)

use std::any::Any;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use http::Request;
use tower::{Layer, Service};

use super::context::RequestMeta;
use super::problem::Kind;

#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemOnPanicLayer;

impl<S> Layer<S> for ProblemOnPanicLayer {
    type Service = ProblemOnPanic<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProblemOnPanic { inner }
    }
}

#[derive(Debug, Clone)]
pub struct ProblemOnPanic<S> {
    inner: S,
}

fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-text panic")
}

impl<S, B> Service<Request<B>> for ProblemOnPanic<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let meta = RequestMeta::from_parts(&parts);
        // A panic while building the future is caught as well as one while polling it.
        let call = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.inner.call(Request::from_parts(parts, body))
        }));
        Box::pin(async move {
            let outcome = match call {
                Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                Err(payload) => Err(payload),
            };
            match outcome {
                Ok(result) => result,
                Err(payload) => {
                    tracing::error!(panic = message(&*payload), "handler panicked");
                    Ok(meta
                        .problem(Kind::Internal, "the request failed inside the API")
                        .into_response())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("index out of bounds");
    }

    #[tokio::test]
    async fn a_panic_is_a_500_problem_and_the_router_keeps_serving() {
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "fine" }))
            .layer(ProblemOnPanicLayer);
        let response = app
            .clone()
            .oneshot(
                Request::get("/boom")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["type"], "/problems/internal");
        assert!(problem.get("request_id").is_some());
        assert!(
            !problem["detail"]
                .as_str()
                .unwrap()
                .contains("index out of bounds"),
            "no internals leak"
        );
        let fine = app
            .oneshot(
                Request::get("/fine")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(fine.status(), 200);
    }
}
