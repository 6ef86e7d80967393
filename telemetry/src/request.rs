//! Per-invocation context: the request ids on every line, one summary line per request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use http::{Extensions, HeaderMap, Method};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use pin_project_lite::pin_project;
use tracing::Span;

use crate::json::trace_root;

/// True until the process has seen its first request: that one paid the cold start.
static COLD_START: AtomicBool = AtomicBool::new(true);

/// The ids that tie a request's lines, traces and events together.
///
/// Missing ids (a request that did not come through API Gateway or Lambda) are empty
/// strings, or `None` for the trace id; reading them never fails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestIds {
    /// API Gateway's request id (`requestContext.requestId`), the one clients see.
    pub request_id: String,
    /// Lambda's request id for the invocation.
    pub function_request_id: String,
    /// The X-Ray trace id (`1-…-…`), without the `Root=`/`Parent=`/`Sampled=` parts.
    pub xray_trace_id: Option<String>,
}

impl RequestIds {
    pub fn from_request<B>(req: &http::Request<B>) -> Self {
        IdsRef::new(req.extensions(), req.headers()).to_owned()
    }

    /// For extractors, which see the request's parts.
    pub fn from_parts(parts: &http::request::Parts) -> Self {
        IdsRef::new(&parts.extensions, &parts.headers).to_owned()
    }
}

/// The ids borrowed from the request: the layer needs no copies of them.
struct IdsRef<'a> {
    request_id: &'a str,
    function_request_id: &'a str,
    xray_trace_id: Option<&'a str>,
}

impl<'a> IdsRef<'a> {
    fn new(extensions: &'a Extensions, headers: &'a HeaderMap) -> Self {
        let lambda = extensions.lambda_context_ref();
        let xray_trace_id = lambda
            .and_then(|c| c.xray_trace_id.as_deref())
            .filter(|v| !v.is_empty())
            .or_else(|| headers.get("x-amzn-trace-id")?.to_str().ok())
            .map(trace_root)
            .filter(|v| !v.is_empty());
        Self {
            request_id: api_context(extensions)
                .and_then(|c| c.request_id.as_deref())
                .unwrap_or(""),
            function_request_id: lambda.map_or("", |c| c.request_id.as_str()),
            xray_trace_id,
        }
    }

    fn to_owned(&self) -> RequestIds {
        RequestIds {
            request_id: self.request_id.to_owned(),
            function_request_id: self.function_request_id.to_owned(),
            xray_trace_id: self.xray_trace_id.map(str::to_owned),
        }
    }
}

fn api_context(
    extensions: &Extensions,
) -> Option<&lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext> {
    match extensions.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => Some(context),
        // Other payloads, should another crate enable lambda_http's other features.
        _ => None,
    }
}

/// A tower layer for the function's router (`http::Request<B>` → `http::Response<RB>`,
/// e.g. an axum `Router` over `lambda_http::Request`): each request runs in a span holding
/// its ids, so every line it logs carries them, and ends with one summary line.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestLayer {
    // Room for settings (metrics namespace, tracing) without breaking `RequestLayer::new()`.
    _private: (),
}

impl RequestLayer {
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> tower::Layer<S> for RequestLayer {
    type Service = RequestService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestService { inner }
    }
}

/// The service [`RequestLayer`] wraps around the router.
#[derive(Clone, Debug)]
pub struct RequestService<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<http::Request<B>> for RequestService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Error: fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let start = Instant::now();
        let ids = IdsRef::new(req.extensions(), req.headers());
        // ERROR level, not INFO: a span is filtered like an event, and the ids must reach
        // the WARN and ERROR lines when LOG_LEVEL=ERROR too. The level is never printed.
        let span = tracing::error_span!(
            "request",
            request_id = ids.request_id,
            function_request_id = ids.function_request_id,
            xray_trace_id = ids.xray_trace_id,
            cold_start = COLD_START.swap(false, Ordering::Relaxed),
        );
        let summary = Summary {
            method: req.method().clone(),
            route: api_context(req.extensions()).and_then(|c| c.route_key.clone()),
            path: req.uri().path().to_owned(),
        };
        // Entered for the call too: a service may log before its future is first polled.
        let inner = span.in_scope(|| self.inner.call(req));
        ResponseFuture {
            inner,
            span,
            start,
            summary: Some(summary),
        }
    }
}

/// What the summary line needs from the request, taken before the request moves on.
struct Summary {
    method: Method,
    /// The route key, e.g. `POST /items`: a path template, so a low-cardinality field.
    route: Option<String>,
    /// The concrete path (no query string: that may hold cursors).
    path: String,
}

fn millis(d: Duration) -> f64 {
    // Microsecond precision: a short number on the line, enough for any latency question.
    d.as_micros() as f64 / 1000.0
}

pin_project! {
    /// Runs the inner future in the request's span and writes the summary line when it ends.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        start: Instant,
        // Taken when the summary is written; still here on drop means cancelled.
        summary: Option<Summary>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(s) = this.summary.take() {
                let _entered = this.span.enter();
                tracing::warn!(
                    method = s.method.as_str(),
                    route = s.route.as_deref(),
                    path = s.path,
                    latency_ms = millis(this.start.elapsed()),
                    "request cancelled"
                );
            }
        }
    }
}

impl<F, RB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<RB>, E>>,
    E: fmt::Display,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let result = ready!(this.inner.poll(cx));
        let latency_ms = millis(this.start.elapsed());
        if let Some(s) = this.summary.take() {
            let (method, route, path) = (s.method.as_str(), s.route.as_deref(), s.path);
            match &result {
                Ok(response) => tracing::info!(
                    method,
                    route,
                    path,
                    status = response.status().as_u16(),
                    latency_ms,
                    "request completed"
                ),
                Err(error) => tracing::error!(
                    method,
                    route,
                    path,
                    latency_ms,
                    error = %error,
                    "request failed"
                ),
            }
        }
        Poll::Ready(result)
    }
}
