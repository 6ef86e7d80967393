//! A panicking handler answers `500` as a problem with the request id, logged at ERROR, instead
//! of failing the invocation: the client can quote the id, and on-call finds the panic's line.
//! (tower-http's `CatchPanicLayer` cannot reach the request id, which lives in the request.)

use std::any::Any;
use std::convert::Infallible;
use std::future::{Future, Ready};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use futures_util::future::{CatchUnwind, Either};
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

    /// The answer to a panic: logged at ERROR, a `500` problem with the request's id.
    fn answer(&self, payload: &(dyn Any + Send)) -> Response {
        tracing::error!(panic = message(payload), "handler panicked");
        self.problem(Kind::Internal, "the request failed inside the API")
            .into_response()
    }
}

impl<S, B> Service<Request<B>> for ProblemOnPanic<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    /// A named future rather than a boxed one: every request passes here.
    type Future = Either<Ready<Result<Response, Infallible>>, Caught<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let context = PanicContext::of(&request);
        // A panic while building the future is caught as well as one while polling it.
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(future) => Either::Right(Caught {
                inner: AssertUnwindSafe(future).catch_unwind(),
                context: Some(context),
            }),
            Err(payload) => Either::Left(std::future::ready(Ok(context.answer(&*payload)))),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's future, a panic in it answered as a problem.
    pub struct Caught<F> {
        #[pin]
        inner: CatchUnwind<AssertUnwindSafe<F>>,
        context: Option<PanicContext>,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Caught<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        Poll::Ready(match ready!(this.inner.poll(cx)) {
            Ok(result) => result,
            Err(payload) => match this.context.take() {
                Some(context) => Ok(context.answer(&*payload)),
                // Polled again after its answer: a caller's bug, not a request's.
                None => std::panic::resume_unwind(payload),
            },
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

    #[tokio::test]
    async fn a_panic_while_the_call_is_made_is_answered_too() {
        let service = ProblemOnPanicLayer.layer(tower::service_fn(
            |_: Request<axum::body::Body>| -> std::future::Ready<Result<Response, Infallible>> {
                panic!("no future made")
            },
        ));
        let request = Request::get("/made")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 500);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["instance"], "/made");
    }
}
