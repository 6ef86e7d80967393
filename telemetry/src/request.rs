//! Per-request context for HTTP functions: the request ids on every line, one summary line
//! per request, the invocation's metrics flushed once, its spans joined to the Lambda's trace
//! (the machinery in [`crate::lifecycle`]).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Extensions, HeaderMap, Method};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use pin_project_lite::pin_project;

use crate::emf::{Metric, Value};
use crate::lifecycle::{self, Config, Ids, Outcome, Process, Tracked, function_name};
use crate::metric_names as names;
use crate::recorder;
use crate::trace_header::trace_root;

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
    /// The whole X-Ray trace header (`Root=…;Parent=…;Sampled=…`) that `xray_trace_id` comes
    /// from: what work done later for this request (an event) continues its trace with.
    pub trace_header: Option<String>,
}

impl RequestIds {
    pub fn from_request<B>(req: &http::Request<B>) -> Self {
        to_owned(&ids(req.extensions(), req.headers()), req.headers())
    }

    /// For extractors, which see the request's parts.
    pub fn from_parts(parts: &http::request::Parts) -> Self {
        to_owned(&ids(&parts.extensions, &parts.headers), &parts.headers)
    }

    /// API Gateway's request id alone, borrowed (empty when there is none): for code that
    /// needs no other id and no copy.
    pub fn request_id_of(extensions: &Extensions) -> &str {
        api_context(extensions)
            .and_then(|c| c.request_id.as_deref())
            .unwrap_or("")
    }
}

/// The ids of a request, borrowed from it.
fn ids<'a>(extensions: &'a Extensions, headers: &'a HeaderMap) -> Ids<'a> {
    let lambda = extensions.lambda_context_ref();
    let trace_header = lambda
        .and_then(|c| c.xray_trace_id.as_deref())
        .filter(|v| !v.is_empty());
    let xray_trace_id = trace_header
        .or_else(|| header_trace(headers))
        .map(trace_root)
        .filter(|v| !v.is_empty());
    Ids {
        request_id: Some(RequestIds::request_id_of(extensions)),
        function_request_id: lambda.map_or("", |c| c.request_id.as_str()),
        xray_trace_id,
        trace_header,
    }
}

/// The trace header API Gateway passes on to the integration.
fn header_trace(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-amzn-trace-id")?.to_str().ok()
}

fn to_owned(ids: &Ids<'_>, headers: &HeaderMap) -> RequestIds {
    RequestIds {
        request_id: ids.request_id.unwrap_or("").to_owned(),
        function_request_id: ids.function_request_id.to_owned(),
        xray_trace_id: ids.xray_trace_id.map(str::to_owned),
        trace_header: ids
            .trace_header
            .or_else(|| header_trace(headers))
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
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
/// e.g. an axum `Router` over `lambda_http::Request`): each request's ids are held for its
/// code while it runs, so every line it logs carries them, and it ends with one summary line; the
/// metrics it records are flushed once as EMF when it ends, whether it returns, fails,
/// panics or is cancelled; its spans are subsegments of the Lambda's trace.
#[derive(Clone, Default)]
pub struct RequestLayer {
    config: Arc<Config>,
}

impl fmt::Debug for RequestLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestLayer").field(&self.config).finish()
    }
}

impl RequestLayer {
    /// Metrics go to stdout in the namespace from `POWERTOOLS_METRICS_NAMESPACE`, else
    /// `METRICS_NAMESPACE`, else `ItemsApi`, with the service given to [`crate::init`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The `service` of this layer's metrics (their dimension) and of its requests' log lines,
    /// instead of the one given to [`crate::init`]: for a process serving several functions,
    /// each named as on Lambda.
    pub fn with_service(mut self, service: &str) -> Self {
        Arc::make_mut(&mut self.config).set_service(service);
        self
    }

    /// Hands each flush's EMF documents (whole lines, each ending in `\n`) to `output`
    /// instead of writing them to stdout: for tests, and for a local metric store.
    pub fn with_metrics_output(mut self, output: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Arc::make_mut(&mut self.config).set_metrics_output(output);
        self
    }
}

impl<S> tower::Layer<S> for RequestLayer {
    type Service = RequestService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service [`RequestLayer`] wraps around the router.
#[derive(Clone)]
pub struct RequestService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S: fmt::Debug> fmt::Debug for RequestService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B, RB> tower::Service<http::Request<B>> for RequestService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Error: fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, RB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let ids = ids(req.extensions(), req.headers());
        let begun = lifecycle::begin(
            &self.config,
            &ids,
            Summary::of(&req),
            || function_name(req.extensions().lambda_context_ref()),
            |cold_start| {
                // At ERROR, the span is enabled whatever LOG_LEVEL says, and so are its
                // fields on the lines of the handler's spans below it.
                tracing::error_span!(
                    "request",
                    request_id = ids.request_id,
                    function_request_id = ids.function_request_id,
                    xray_trace_id = ids.xray_trace_id,
                    cold_start,
                )
            },
        );
        ResponseFuture {
            inner: begun.call(&self.config, || self.inner.call(req)),
        }
    }
}

/// What the summary line needs from the request, taken before the request moves on.
struct Summary<RB> {
    method: Method,
    /// The concrete path (no query string: that may hold cursors), then the route key.
    text: String,
    /// Where the path ends in `text`.
    path_len: usize,
    /// Whether the request had a route key.
    routed: bool,
    body: PhantomData<fn() -> RB>,
}

impl<RB> Summary<RB> {
    fn of<B>(req: &http::Request<B>) -> Self {
        let path = req.uri().path();
        let route = api_context(req.extensions()).and_then(|c| c.route_key.as_deref());
        let mut text = String::with_capacity(path.len() + route.map_or(0, str::len));
        text.push_str(path);
        text.push_str(route.unwrap_or(""));
        Self {
            method: req.method().clone(),
            text,
            path_len: path.len(),
            routed: route.is_some(),
            body: PhantomData,
        }
    }

    /// The path.
    fn path(&self) -> &str {
        &self.text[..self.path_len]
    }

    /// The route key, e.g. `POST /items`: a path template, so a low-cardinality field.
    fn route(&self) -> Option<&str> {
        self.routed.then(|| &self.text[self.path_len..])
    }
}

impl<RB> lifecycle::Summary for Summary<RB> {
    type Response = http::Response<RB>;
    type Standard = Standard;

    fn finish(
        &self,
        outcome: Outcome<'_, Self::Response>,
        latency_ms: f64,
        process: &Process,
    ) -> (Option<u16>, Self::Standard) {
        let (method, route, path) = (self.method.as_str(), self.route(), self.path());
        let Process {
            init_ms,
            max_memory_mb,
        } = *process;
        let status = match outcome {
            Outcome::Returned(response) => {
                let status = response.status().as_u16();
                tracing::info!(
                    method,
                    route,
                    path,
                    status,
                    latency_ms,
                    init_ms,
                    max_memory_mb,
                    "request completed"
                );
                Some(status)
            }
            Outcome::Error(error) => {
                tracing::error!(
                    method,
                    route,
                    path,
                    latency_ms,
                    init_ms,
                    max_memory_mb,
                    error = %error,
                    "request failed"
                );
                None
            }
            Outcome::Panic(message) => {
                tracing::error!(
                    method,
                    route,
                    path,
                    latency_ms,
                    init_ms,
                    max_memory_mb,
                    error = format_args!("handler panicked: {message}"),
                    "request failed"
                );
                None
            }
            Outcome::Cancelled => {
                tracing::warn!(
                    method,
                    route,
                    path,
                    latency_ms,
                    init_ms,
                    max_memory_mb,
                    "request cancelled"
                );
                None
            }
        };
        (status, Standard::of(status, latency_ms))
    }
}

/// The layer's own metrics of one request: `Requests` and `RequestLatency`, and
/// `Responses4xx` or `Responses5xx` only when the request was one. A zero would be a
/// datapoint that reads as no datapoint: the dashboard's series of them are
/// `FILL(…, 0)` (`dashboards/api-overview.json`), and no alarm or SLO reads them.
/// `RequestLatency` repeats the summary line's `latency_ms`: EMF names a value after its
/// metric, and `latency_ms` is the name the queries use on every function's lines.
pub(crate) struct Standard {
    metrics: [Metric<'static>; 3],
    len: usize,
}

impl Standard {
    fn of(status: Option<u16>, latency_ms: f64) -> Self {
        let class = match status {
            Some(s) if (400..500).contains(&s) => Some(names::RESPONSES_4XX),
            Some(s) if s < 500 => None,
            // 5xx, and a request that failed, panicked or was cancelled.
            _ => Some(names::RESPONSES_5XX),
        };
        Self {
            metrics: [
                recorder::standard(names::REQUESTS, Value::Count(1)),
                recorder::standard(names::REQUEST_LATENCY, Value::Number(latency_ms)),
                recorder::standard(class.unwrap_or(names::RESPONSES_5XX), Value::Count(1)),
            ],
            len: if class.is_some() { 3 } else { 2 },
        }
    }
}

impl AsRef<[Metric<'static>]> for Standard {
    fn as_ref(&self) -> &[Metric<'static>] {
        &self.metrics[..self.len]
    }
}

pin_project! {
    /// Runs the router's future with the request's ids, in its span when traced, with the
    /// invocation's metrics recorder, and finishes the request when it ends.
    pub struct ResponseFuture<F, RB> {
        #[pin]
        inner: Tracked<F, Summary<RB>>,
    }
}

impl<F, RB, E> Future for ResponseFuture<F, RB>
where
    F: Future<Output = Result<http::Response<RB>, E>>,
    E: fmt::Display,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}
