//! Per-invocation context for functions that are not HTTP (a stream's consumer, say): the
//! non-HTTP sibling of [`crate::RequestLayer`], on `lambda_runtime`'s `LambdaEvent`.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use lambda_http::lambda_runtime::LambdaEvent;
use pin_project_lite::pin_project;

use crate::emf::Metric;
use crate::lifecycle::{self, Config, Ids, Outcome, Process, Tracked, function_name};
use crate::trace_header::trace_root;

/// A tower layer for a function's handler (`LambdaEvent<T>` → anything): every line of an
/// invocation carries `function_request_id`, `xray_trace_id` and `cold_start`; it ends with one
/// `invocation completed` line (`latency_ms`); the metrics it records are flushed once as EMF
/// when it ends, whether it returns, fails, panics or is cancelled, with
/// `function_request_id` as their property; it is a subsegment of the Lambda's trace when that
/// is sampled.
///
/// Lines about one item of the event (a stream record) carry that item's own ids as fields
/// of their own: the invocation has no `request_id`.
#[derive(Clone, Default)]
pub struct InvocationLayer {
    config: Arc<Config>,
}

impl fmt::Debug for InvocationLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("InvocationLayer")
            .field(&self.config)
            .finish()
    }
}

impl InvocationLayer {
    /// Metrics go to stdout in the namespace from `POWERTOOLS_METRICS_NAMESPACE`, else
    /// `METRICS_NAMESPACE`, else `ItemsApi`, with the service given to [`crate::init`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The `service` of this layer's metrics and lines, instead of the one given to
    /// [`crate::init`] (see [`crate::RequestLayer::with_service`]).
    pub fn with_service(mut self, service: &str) -> Self {
        Arc::make_mut(&mut self.config).set_service(service);
        self
    }

    /// Hands each flush's EMF documents to `output` instead of stdout (see
    /// [`crate::RequestLayer::with_metrics_output`]).
    pub fn with_metrics_output(mut self, output: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Arc::make_mut(&mut self.config).set_metrics_output(output);
        self
    }
}

impl<S> tower::Layer<S> for InvocationLayer {
    type Service = InvocationService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InvocationService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service [`InvocationLayer`] wraps around a handler.
#[derive(Clone)]
pub struct InvocationService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S: fmt::Debug> fmt::Debug for InvocationService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvocationService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, T> tower::Service<LambdaEvent<T>> for InvocationService<S>
where
    S: tower::Service<LambdaEvent<T>>,
    S::Error: fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = InvocationFuture<S::Future, S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        let context = &event.context;
        let trace_header = context.xray_trace_id.as_deref().filter(|v| !v.is_empty());
        let ids = Ids {
            request_id: None,
            function_request_id: &context.request_id,
            xray_trace_id: trace_header.map(trace_root).filter(|v| !v.is_empty()),
            trace_header,
        };
        let begun = lifecycle::begin(
            &self.config,
            &ids,
            Summary(PhantomData),
            || function_name(Some(context)),
            |cold_start| {
                tracing::error_span!(
                    "invocation",
                    function_request_id = ids.function_request_id,
                    xray_trace_id = ids.xray_trace_id,
                    cold_start,
                )
            },
        );
        InvocationFuture {
            inner: begun.call(&self.config, || self.inner.call(event)),
        }
    }
}

/// The summary line of an invocation: how it ended and how long it took. No standard metrics:
/// Lambda's own (`Invocations`, `Errors`, `Duration`) count invocations.
struct Summary<R>(PhantomData<fn() -> R>);

impl<R> lifecycle::Summary for Summary<R> {
    type Response = R;
    type Standard = [Metric<'static>; 0];

    fn finish(
        &self,
        outcome: Outcome<'_, R>,
        latency_ms: f64,
        process: &Process,
    ) -> (Option<u16>, Self::Standard) {
        let Process {
            init_ms,
            max_memory_mb,
        } = *process;
        let status = match outcome {
            Outcome::Returned(_) => {
                tracing::info!(latency_ms, init_ms, max_memory_mb, "invocation completed");
                Some(200)
            }
            Outcome::Error(error) => {
                tracing::error!(
                    latency_ms,
                    init_ms,
                    max_memory_mb,
                    error = %error,
                    "invocation failed"
                );
                None
            }
            Outcome::Panic(message) => {
                tracing::error!(
                    latency_ms,
                    init_ms,
                    max_memory_mb,
                    error = format_args!("handler panicked: {message}"),
                    "invocation failed"
                );
                None
            }
            Outcome::Cancelled => {
                tracing::warn!(latency_ms, init_ms, max_memory_mb, "invocation cancelled");
                None
            }
        };
        (status, [])
    }
}

pin_project! {
    /// Runs the handler's future with the invocation's ids, in its span when traced, with the
    /// invocation's metrics recorder, and finishes the invocation when it ends.
    pub struct InvocationFuture<F, R> {
        #[pin]
        inner: Tracked<F, Summary<R>>,
    }
}

impl<F, R, E> Future for InvocationFuture<F, R>
where
    F: Future<Output = Result<R, E>>,
    E: fmt::Display,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}
