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

use super::problem::{Kind, Problem};

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

/// What the problem of a panic needs from the request, taken before it moves on: its id and
/// its path, in one allocation (every request pays for it, few panic).
struct PanicContext {
    text: String,
    id_len: usize,
}

impl PanicContext {
    fn of<B>(request: &Request<B>) -> Self {
        let id = telemetry::RequestIds::request_id_of(request.extensions());
        let path = request.uri().path();
        let mut text = String::with_capacity(id.len() + path.len());
        text.push_str(id);
        text.push_str(path);
        Self {
            text,
            id_len: id.len(),
        }
    }

    fn problem(&self, kind: Kind, detail: &str) -> Problem {
        let (id, path) = self.text.split_at(self.id_len);
        Problem::new(kind, detail, id).with_instance(path)
    }
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
        let context = PanicContext::of(&request);
        // A panic while building the future is caught as well as one while polling it.
        let call = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request)));
        Box::pin(async move {
            let outcome = match call {
                Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                Err(payload) => Err(payload),
            };
            match outcome {
                Ok(result) => result,
                Err(payload) => {
                    tracing::error!(panic = message(&*payload), "handler panicked");
                    Ok(context
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
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
    use lambda_http::request::RequestContext;
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
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.request_id = Some("req-7".into());
        let request = lambda_http::RequestExt::with_request_context(
            Request::get("/boom")
                .body(axum::body::Body::empty())
                .unwrap(),
            RequestContext::ApiGatewayV2(context),
        );
        let response = app.clone().oneshot(request).await.unwrap();
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
        assert_eq!(problem["request_id"], "req-7");
        assert_eq!(problem["instance"], "/boom");
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
