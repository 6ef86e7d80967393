//! Per-invocation context: the request ids on every line, one summary line per request,
//! the invocation's metrics flushed once, its spans joined to the Lambda's trace.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Extensions, HeaderMap, Method};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use pin_project_lite::pin_project;
use tracing::Span;

use crate::emf::Value;
use crate::format::{self, RequestFields};
use crate::json;
use crate::metric_names as names;
use crate::recorder::{self, Invocation};
use crate::trace_header::trace_root;
use crate::{sampling, xray};

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

    /// API Gateway's request id alone, borrowed (empty when there is none): for code that
    /// needs no other id and no copy.
    pub fn request_id_of(extensions: &Extensions) -> &str {
        api_context(extensions)
            .and_then(|c| c.request_id.as_deref())
            .unwrap_or("")
    }
}

/// The ids borrowed from the request: the layer needs no copies of them.
struct IdsRef<'a> {
    request_id: &'a str,
    function_request_id: &'a str,
    xray_trace_id: Option<&'a str>,
    /// Lambda's whole trace header (`Root=…;Parent=…;Sampled=…`), for the trace's parent.
    trace_header: Option<&'a str>,
}

impl<'a> IdsRef<'a> {
    fn new(extensions: &'a Extensions, headers: &'a HeaderMap) -> Self {
        let lambda = extensions.lambda_context_ref();
        let trace_header = lambda
            .and_then(|c| c.xray_trace_id.as_deref())
            .filter(|v| !v.is_empty());
        let xray_trace_id = trace_header
            .or_else(|| headers.get("x-amzn-trace-id")?.to_str().ok())
            .map(trace_root)
            .filter(|v| !v.is_empty());
        Self {
            request_id: RequestIds::request_id_of(extensions),
            function_request_id: lambda.map_or("", |c| c.request_id.as_str()),
            xray_trace_id,
            trace_header,
        }
    }

    /// What every line of the request carries (the names the contract gives them); the
    /// trace id only when there is one.
    ///
    /// `request_id` is also the EMF property (`,"request_id":"…"`): the same name as on log
    /// lines, never a dimension (one metric per request id would be the bill). Lambda's
    /// request id and the trace id are left to the log lines: the summary line ties them to
    /// `request_id`, and every byte of a document is paid on every invocation.
    fn line_fields(&self, service: Option<Arc<str>>, cold_start: bool) -> RequestFields {
        // Each value's quotes, `false` for `cold_start`, the property's key.
        let bytes = self.request_id.len()
            + self.function_request_id.len()
            + self.xray_trace_id.map_or(0, str::len)
            + 11
            + 16;
        let mut line = RequestFields::new(service, 4, bytes);
        let _ = line
            .push_property("request_id", |out| json::string(out, self.request_id))
            .and_then(|()| {
                line.push("function_request_id", |out| {
                    json::string(out, self.function_request_id)
                })
            })
            .and_then(|()| match self.xray_trace_id {
                Some(id) => line.push("xray_trace_id", |out| json::string(out, id)),
                None => Ok(()),
            })
            .and_then(|()| {
                line.push("cold_start", |out| {
                    out.push_str(if cold_start { "true" } else { "false" });
                    Ok(())
                })
            });
        line
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
/// e.g. an axum `Router` over `lambda_http::Request`): each request's ids are held for its
/// code while it runs, so every line it logs carries them, and it ends with one summary line; the
/// metrics it records are flushed once as EMF when it ends, whether it returns, fails,
/// panics or is cancelled; its spans are subsegments of the Lambda's trace.
#[derive(Clone, Default)]
pub struct RequestLayer {
    config: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    metrics: recorder::Config,
    /// True until the function has seen its first request: that one paid the cold start. One
    /// per layer (and its clones), not per process: on Lambda that is the same, and a process
    /// serving several functions has one cold start for each.
    cold_start: Arc<AtomicBool>,
    /// The service on the lines of its requests when the layer names one, encoded once.
    line_service: Option<Arc<str>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            metrics: recorder::Config::from_env(),
            cold_start: Arc::new(AtomicBool::new(true)),
            line_service: None,
        }
    }
}

impl fmt::Debug for RequestLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestLayer")
            .field("namespace", &self.config.metrics.namespace)
            .field("service", &self.config.metrics.service)
            .finish_non_exhaustive()
    }
}

impl RequestLayer {
    /// Metrics go to stdout in the namespace from `POWERTOOLS_METRICS_NAMESPACE`, else
    /// `METRICS_NAMESPACE`, else `ItemsApi`, with the service given to [`crate::init`].
    pub fn new() -> Self {
        Self::default()
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// The `service` of this layer's metrics (their dimension) and of its requests' log lines,
    /// instead of the one given to [`crate::init`]: for a process serving several functions,
    /// each named as on Lambda.
    pub fn with_service(mut self, service: &str) -> Self {
        let config = self.config_mut();
        config.metrics.service = Some(service.into());
        config.line_service = Some(format::encoded_service(service));
        self
    }

    /// Hands each flush's EMF documents (whole lines, each ending in `\n`) to `output`
    /// instead of writing them to stdout: for tests, and for a local metric store.
    pub fn with_metrics_output(mut self, output: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.config_mut().metrics.output = recorder::Output::Custom(Arc::new(output));
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
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let start = Instant::now();
        let ids = IdsRef::new(req.extensions(), req.headers());
        let cold_start = self.config.cold_start.swap(false, Ordering::Relaxed);
        let parent = if xray::enabled() {
            xray::sampled_parent(ids.trace_header)
        } else {
            None
        };
        let traced = parent.is_some();
        // The trace's subsegment, for a sampled request only: the lines get the ids from
        // `State::line`. At ERROR, the span is enabled whatever LOG_LEVEL says, and so are
        // its fields on the lines of the handler's spans below it.
        let span = match parent {
            Some(parent) => {
                let span = xray::in_scope(true, || {
                    tracing::error_span!(
                        "request",
                        request_id = ids.request_id,
                        function_request_id = ids.function_request_id,
                        xray_trace_id = ids.xray_trace_id,
                        cold_start,
                    )
                });
                // Before the span is first entered: its parent is fixed then.
                xray::join(&span, parent);
                span
            }
            None => Span::none(),
        };
        let state = State {
            line: Arc::new(ids.line_fields(self.config.line_service.clone(), cold_start)),
            summary: Summary::of(&req),
            metrics: Invocation::new(),
            cold_start: cold_start.then(|| function_name(req.extensions())),
            debug_sampled: sampling::decide(),
            traced,
        };
        // Entered for the call too: a service may log or count before its future is polled.
        let inner = span.in_scope(|| state.scope(|| self.inner.call(req)));
        ResponseFuture {
            inner,
            span,
            start,
            state: Some(state),
            config: Arc::clone(&self.config),
        }
    }
}

/// The function's name for the `ColdStart` document: from the invoked ARN
/// (`arn:aws:lambda:…:function:NAME[:qualifier]`), else Lambda's environment.
fn function_name(extensions: &Extensions) -> String {
    let lambda = extensions.lambda_context_ref();
    lambda
        .and_then(|c| c.invoked_function_arn.split(':').nth(6))
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            lambda
                .map(|c| c.env_config.function_name.clone())
                .filter(|name| !name.is_empty())
        })
        .or_else(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok())
        .unwrap_or_default()
}

/// What the summary line needs from the request, taken before the request moves on.
struct Summary {
    method: Method,
    /// The concrete path (no query string: that may hold cursors), then the route key.
    text: String,
    /// Where the path ends in `text`.
    path_len: usize,
    /// Whether the request had a route key.
    routed: bool,
}

impl Summary {
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

/// Everything an unfinished invocation still has to write.
struct State {
    /// The fields of its lines.
    line: Arc<RequestFields>,
    summary: Summary,
    metrics: Invocation,
    /// `Some(function name)` on the cold start.
    cold_start: Option<String>,
    /// This invocation logs at DEBUG whatever the level.
    debug_sampled: bool,
    /// This invocation's spans go to X-Ray.
    traced: bool,
}

/// How an invocation ended.
enum Outcome<'a> {
    Response(u16),
    Error(&'a dyn fmt::Display),
    Panic(&'a str),
    Cancelled,
}

impl State {
    /// Runs `f` with this invocation's metrics recorder and sampling decisions.
    fn scope<T>(&self, f: impl FnOnce() -> T) -> T {
        format::in_request(&self.line, || {
            sampling::in_scope(self.debug_sampled, || {
                xray::in_scope(self.traced, || self.metrics.in_scope(f))
            })
        })
    }

    /// The summary line, the standard metrics, the flush; with the request's ids, inside its
    /// span when it has one.
    fn finish(self, outcome: Outcome<'_>, latency: Duration, config: &Config, span: &Span) {
        let line = Arc::clone(&self.line);
        format::in_request(&line, || {
            self.finish_in_request(outcome, latency, config, span)
        });
    }

    fn finish_in_request(
        self,
        outcome: Outcome<'_>,
        latency: Duration,
        config: &Config,
        span: &Span,
    ) {
        let latency_ms = millis(latency);
        let summary = &self.summary;
        let (method, route, path) = (summary.method.as_str(), summary.route(), summary.path());
        let status = match outcome {
            Outcome::Response(status) => {
                tracing::info!(method, route, path, status, latency_ms, "request completed");
                Some(status)
            }
            Outcome::Error(error) => {
                tracing::error!(
                    method,
                    route,
                    path,
                    latency_ms,
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
                    error = format_args!("handler panicked: {message}"),
                    "request failed"
                );
                None
            }
            Outcome::Cancelled => {
                tracing::warn!(method, route, path, latency_ms, "request cancelled");
                None
            }
        };
        if self.traced {
            xray::record_status(span, status);
        }
        let client_error = status.is_some_and(|s| (400..500).contains(&s));
        let server_error = status.is_none_or(|s| s >= 500);
        let standard = [
            recorder::standard(names::REQUESTS, Value::Count(1)),
            recorder::standard(names::REQUEST_LATENCY, Value::Number(latency_ms)),
            recorder::standard(names::RESPONSES_4XX, Value::Count(client_error.into())),
            recorder::standard(names::RESPONSES_5XX, Value::Count(server_error.into())),
        ];
        recorder::flush(
            &config.metrics,
            &self.metrics,
            &recorder::Flush {
                properties: self.line.property(),
                cold_start: self.cold_start.as_deref(),
                standard: &standard,
            },
        );
    }
}

fn millis(d: Duration) -> f64 {
    // Microsecond precision: a short number on the line, enough for any latency question.
    d.as_micros() as f64 / 1000.0
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload")
}

pin_project! {
    /// Runs the inner future with the request's ids, in its span when traced, with the
    /// invocation's metrics recorder, and finishes the invocation when it ends.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        start: Instant,
        // Taken when the invocation is finished; still here on drop means cancelled.
        state: Option<State>,
        config: Arc<Config>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(state) = this.state.take() {
                let _entered = this.span.enter();
                state.finish(Outcome::Cancelled, this.start.elapsed(), this.config, this.span);
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
        let inner = this.inner;
        let Some(state) = this.state.as_ref() else {
            return inner.poll(cx);
        };
        // A panic is caught to finish the invocation (summary line, 5xx, flush) and then
        // resumed rather than turned into a 500: the response body type is the router's,
        // and the platform must see the failure as Lambda does (lambda_runtime reports it
        // as an invocation error; API Gateway as an integration failure).
        let polled = state.scope(|| catch_unwind(AssertUnwindSafe(|| inner.poll(cx))));
        let result = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => result,
            Err(panic) => {
                if let Some(state) = this.state.take() {
                    let outcome = Outcome::Panic(panic_message(&*panic));
                    state.finish(outcome, this.start.elapsed(), this.config, this.span);
                }
                resume_unwind(panic)
            }
        };
        if let Some(state) = this.state.take() {
            let outcome = match &result {
                Ok(response) => Outcome::Response(response.status().as_u16()),
                Err(error) => Outcome::Error(error),
            };
            state.finish(outcome, this.start.elapsed(), this.config, this.span);
        }
        Poll::Ready(result)
    }
}
