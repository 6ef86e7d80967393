//! What every invocation layer does, whatever the event: the ids on every line, the cold
//! start, the metrics flushed once, the X-Ray subsegment, and the end of the invocation
//! (summary line, flush) whether it returns, fails, panics or is cancelled.
//!
//! [`crate::RequestLayer`] (HTTP) and [`crate::InvocationLayer`] (other events) differ only in
//! the ids they read, their summary line and their standard metrics: a [`Summary`].

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lambda_http::lambda_runtime;
use pin_project_lite::pin_project;
use tracing::Span;

use crate::emf::{self, Metric};
use crate::format::{self, RequestFields};
use crate::json;
use crate::recorder::{self, Invocation};
use crate::{process, sampling, xray};

/// Namespace, service and output of a layer's metrics, and its cold-start flag.
#[derive(Clone)]
pub(crate) struct Config {
    pub metrics: recorder::Config,
    /// True until the function has seen its first invocation: that one paid the cold start.
    /// One per layer (and its clones), not per process: on Lambda that is the same, and a
    /// process serving several functions has one cold start for each.
    pub cold_start: Arc<AtomicBool>,
    /// The service on the lines of its invocations when the layer names one, encoded once.
    pub line_service: Option<Arc<str>>,
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

impl Config {
    pub fn set_service(&mut self, service: &str) {
        self.metrics.service = Some(service.into());
        self.line_service = Some(format::encoded_service(service));
    }

    pub fn set_metrics_output(&mut self, output: impl Fn(&str) + Send + Sync + 'static) {
        self.metrics.output = recorder::Output::Custom(Arc::new(output));
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("namespace", &self.metrics.namespace)
            .field("service", &self.metrics.service)
            .finish_non_exhaustive()
    }
}

/// The ids of one invocation, borrowed from its event: the layer needs no copies of them.
pub(crate) struct Ids<'a> {
    /// API Gateway's request id; `None` for events that do not come from a request.
    pub request_id: Option<&'a str>,
    /// Lambda's request id for the invocation.
    pub function_request_id: &'a str,
    /// The X-Ray trace id (`1-…-…`).
    pub xray_trace_id: Option<&'a str>,
    /// Lambda's whole trace header (`Root=…;Parent=…;Sampled=…`), for the trace's parent.
    pub trace_header: Option<&'a str>,
}

impl Ids<'_> {
    /// What every line of the invocation carries (the names the contract gives them); the
    /// trace id only when there is one.
    ///
    /// The first id is also the EMF property (`,"request_id":"…"`, else
    /// `,"function_request_id":"…"`): the same name as on log lines, never a dimension (one
    /// metric per request id would be the bill). The other ids are left to the log lines: the
    /// summary line ties them together, and every byte of a document is paid on every
    /// invocation.
    fn line_fields(&self, service: Option<Arc<str>>, cold_start: bool) -> RequestFields {
        // Each value's quotes, `false` for `cold_start`, the property's key.
        let bytes = self.request_id.map_or(0, str::len)
            + self.function_request_id.len()
            + self.xray_trace_id.map_or(0, str::len)
            + 11
            + 24;
        let mut line = RequestFields::new(service, 4, bytes);
        let function_request_id = |out: &mut String| json::string(out, self.function_request_id);
        let _ = match self.request_id {
            Some(id) => line
                .push_property(emf::REQUEST_ID, |out| json::string(out, id))
                .and_then(|()| line.push(emf::FUNCTION_REQUEST_ID, function_request_id)),
            None => line.push_property(emf::FUNCTION_REQUEST_ID, function_request_id),
        }
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
}

/// The function's name for the `ColdStart` document: from the invoked ARN
/// (`arn:aws:lambda:…:function:NAME[:qualifier]`), else Lambda's environment.
pub(crate) fn function_name(lambda: Option<&lambda_runtime::Context>) -> String {
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

/// How an invocation ended.
pub(crate) enum Outcome<'a, R> {
    Returned(&'a R),
    Error(&'a dyn fmt::Display),
    Panic(&'a str),
    Cancelled,
}

/// What one kind of invocation writes when it ends.
pub(crate) trait Summary {
    /// What the wrapped service returns.
    type Response;
    /// The layer's own metrics, with the `service` dimension alone.
    type Standard: AsRef<[Metric<'static>]>;

    /// Writes the summary line (the invocation's ids are on it already); returns the status
    /// for the X-Ray subsegment (`None`: a fault, see [`xray::record_status`]) and the
    /// standard metrics.
    fn finish(
        &self,
        outcome: Outcome<'_, Self::Response>,
        latency_ms: f64,
        process: &Process,
    ) -> (Option<u16>, Self::Standard);
}

/// What the summary line tells of the process, in place of the platform's `REPORT` line
/// (see [`crate::process`]): each absent when unknown.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Process {
    /// On the cold start: milliseconds from the process's start to its first invocation.
    pub init_ms: Option<f64>,
    /// The process's peak resident set so far, in MB.
    pub max_memory_mb: Option<u64>,
}

/// Everything an unfinished invocation still has to write.
pub(crate) struct State<K> {
    /// The fields of its lines.
    line: Arc<RequestFields>,
    summary: K,
    metrics: Invocation,
    /// `Some(function name)` on the cold start.
    cold_start: Option<String>,
    /// On the cold start, the process's age when it began.
    init_ms: Option<f64>,
    /// This invocation logs at DEBUG whatever the level.
    debug_sampled: bool,
    /// This invocation's spans go to X-Ray.
    traced: bool,
}

/// An invocation that has started and whose service has not been called yet.
pub(crate) struct Begun<K> {
    span: Span,
    start: Instant,
    state: State<K>,
}

/// Starts an invocation: its ids, its cold start, its sampling decisions and, when its trace
/// is sampled, its subsegment (`make_span`, called in a sampled scope with the cold-start
/// flag: a span at ERROR, so that it is enabled whatever LOG_LEVEL says).
pub(crate) fn begin<K>(
    config: &Config,
    ids: &Ids<'_>,
    summary: K,
    function_name: impl FnOnce() -> String,
    make_span: impl FnOnce(bool) -> Span,
) -> Begun<K> {
    let start = Instant::now();
    let cold_start = config.cold_start.swap(false, Ordering::Relaxed);
    let parent = if xray::enabled() {
        xray::sampled_parent(ids.trace_header)
    } else {
        None
    };
    let traced = parent.is_some();
    // The trace's subsegment, for a sampled invocation only: the lines get the ids from
    // `State::line`.
    let span = match parent {
        Some(parent) => {
            let span = xray::in_scope(true, || make_span(cold_start));
            // Before the span is first entered: its parent is fixed then.
            xray::join(&span, parent);
            span
        }
        None => Span::none(),
    };
    let state = State {
        line: Arc::new(ids.line_fields(config.line_service.clone(), cold_start)),
        summary,
        metrics: Invocation::new(),
        cold_start: cold_start.then(function_name),
        init_ms: cold_start.then(process::age_ms).flatten(),
        debug_sampled: sampling::decide(),
        traced,
    };
    Begun { span, start, state }
}

impl<K: Summary> Begun<K> {
    /// Calls the service (`call`) inside the invocation's scope: a service may log or count
    /// before its future is polled.
    pub fn call<F>(self, config: &Arc<Config>, call: impl FnOnce() -> F) -> Tracked<F, K> {
        let Begun { span, start, state } = self;
        let inner = span.in_scope(|| state.scope(call));
        Tracked {
            inner,
            span,
            start,
            state: Some(state),
            config: Arc::clone(config),
        }
    }
}

impl<K: Summary> State<K> {
    /// Runs `f` with this invocation's ids, metrics recorder and sampling decisions.
    fn scope<T>(&self, f: impl FnOnce() -> T) -> T {
        format::in_request(&self.line, || {
            sampling::in_scope(self.debug_sampled, || {
                xray::in_scope(self.traced, || self.metrics.in_scope(f))
            })
        })
    }

    /// The summary line, the standard metrics, the flush; with the invocation's ids, inside
    /// its span when it has one.
    fn finish(
        self,
        outcome: Outcome<'_, K::Response>,
        latency: Duration,
        config: &Config,
        span: &Span,
    ) {
        let line = Arc::clone(&self.line);
        let process = Process {
            init_ms: self.init_ms,
            max_memory_mb: process::max_memory_mb(),
        };
        format::in_request(&line, || {
            // The summary line is held back and written with the metrics: one line.
            let ((status, standard), summary) =
                format::hold_line(|| self.summary.finish(outcome, millis(latency), &process));
            if self.traced {
                xray::record_status(span, status);
            }
            recorder::flush(
                &config.metrics,
                &self.metrics,
                &recorder::Flush {
                    properties: self.line.property(),
                    cold_start: self.cold_start.as_deref(),
                    standard: standard.as_ref(),
                    line: summary.as_ref(),
                },
            );
        });
    }
}

pub(crate) fn millis(d: Duration) -> f64 {
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
    /// Runs the inner future with the invocation's ids, in its span when traced, with the
    /// invocation's metrics recorder, and finishes the invocation when it ends.
    pub(crate) struct Tracked<F, K: Summary> {
        #[pin]
        inner: F,
        span: Span,
        start: Instant,
        // Taken when the invocation is finished; still here on drop means cancelled.
        state: Option<State<K>>,
        config: Arc<Config>,
    }

    impl<F, K: Summary> PinnedDrop for Tracked<F, K> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(state) = this.state.take() {
                let _entered = this.span.enter();
                state.finish(Outcome::Cancelled, this.start.elapsed(), this.config, this.span);
            }
        }
    }
}

impl<F, K, E> Future for Tracked<F, K>
where
    F: Future<Output = Result<K::Response, E>>,
    K: Summary,
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
        // A panic is caught to finish the invocation (summary line, flush) and then resumed
        // rather than turned into a response: the platform must see the failure as Lambda
        // does (lambda_runtime reports it as an invocation error; API Gateway as an
        // integration failure).
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
                Ok(response) => Outcome::Returned(response),
                Err(error) => Outcome::Error(error),
            };
            state.finish(outcome, this.start.elapsed(), this.config, this.span);
        }
        Poll::Ready(result)
    }
}
