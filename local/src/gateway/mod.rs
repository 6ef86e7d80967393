//! The API Gateway (HTTP API) stand-in: stage throttling, routes, the JWT authorizer, the
//! payload 2.0 integration with the functions, request ids and the access log.

pub mod access_log;
pub mod payload;
pub mod routes;
pub mod throttle;
pub mod xray_sampling;

use std::any::Any;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::{HeaderValue, Request, StatusCode, header};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::request::LambdaRequest;
use time::OffsetDateTime;

use crate::auth::sigv4::SigV4Verifier;
use crate::auth::{JwtAuthorizer, claims_as_strings};
use crate::cloudwatch::CloudWatch;
use crate::xray_daemon::{Segment, XrayDaemon};
use access_log::{AccessLog, DASH};
use payload::EventContext;
use routes::{Auth, Function, RouteTable};
use throttle::TokenBucket;
use xray_sampling::{Upstream, XraySampler};

/// Header names the gateway reads or writes on every request, named once: a name given as
/// text is parsed on each use.
const TRACE_HEADER: http::HeaderName = http::HeaderName::from_static("x-amzn-trace-id");
pub const REQUEST_ID_HEADER: http::HeaderName = http::HeaderName::from_static("apigw-requestid");

/// API Gateway's own limit on a request body (HTTP API: 10 MB).
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// A function as Lambda runs it: a name, an ARN, a timeout and the handler.
#[derive(Clone)]
pub struct FunctionHost {
    pub name: String,
    pub arn: String,
    pub timeout: Duration,
    pub service: Arc<FunctionCopies>,
    /// Lambda's metrics of the function.
    pub metrics: crate::cloudwatch::FunctionMetrics,
}

/// A function's handler with its layers, as each invocation calls it.
pub type FunctionService =
    telemetry::RequestService<crate::faults::function::Misbehave<axum::Router>>;

/// A copy of a function's service for each serving thread, made by one recipe when the
/// thread first invokes it, and called in place. One service shared by both threads and
/// cloned for each invocation would change its reference counts (the router's, the
/// layers' settings, the faults') from both threads on every request, moving them between
/// the cores each time.
pub struct FunctionCopies {
    make: Box<dyn Fn() -> FunctionService + Send + Sync>,
    copies: crate::per_thread::PerThread<Option<FunctionService>>,
}

impl FunctionCopies {
    pub fn new(make: impl Fn() -> FunctionService + Send + Sync + 'static) -> Self {
        Self {
            make: Box::new(make),
            copies: crate::per_thread::PerThread::default(),
        }
    }

    /// Calls this thread's copy with `request`; the lock is its own, held only for the call.
    pub fn call(
        &self,
        request: lambda_http::Request,
    ) -> <FunctionService as tower::Service<lambda_http::Request>>::Future {
        let mut copy = self.copies.mine();
        let service = copy.get_or_insert_with(|| (self.make)());
        // The router and its layers are always ready: nothing to wait for.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = tower::Service::<lambda_http::Request>::poll_ready(service, &mut cx);
        tower::Service::call(service, request)
    }
}

pub struct Gateway {
    pub routes: RouteTable,
    pub throttle: TokenBucket,
    pub authorizer: JwtAuthorizer,
    /// The `AWS_IAM` authorizer of `/internal/*`.
    pub sigv4: SigV4Verifier,
    pub public: FunctionHost,
    pub items: FunctionHost,
    pub account_id: String,
    pub api_id: String,
    /// Where the function segment of each invocation is kept, as Lambda writes it on AWS.
    pub xray: XrayDaemon,
    /// Which invocations are traced (Lambda's active tracing, X-Ray's sampling rule).
    pub xray_sampler: XraySampler,
    /// Where API Gateway's and Lambda's own metrics go.
    pub cloudwatch: Arc<CloudWatch>,
    /// The faults injected for rehearsals; Lambda throttling is decided here, before invoking.
    pub faults: Arc<crate::faults::Faults>,
}

/// API Gateway's own answers: `{"message": "..."}` with the status.
fn gateway_message(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

struct Outcome {
    response: Response,
    route_key: Option<String>,
    authorizer_error: Option<String>,
    /// `None` when no integration ran (no route, the stage's or the authorizer's refusal):
    /// the access log's integration fields are then `-`.
    integration: Option<Integration>,
}

/// The integration API Gateway ran, as its access log records it: `$context.integrationLatency`,
/// `$context.integrationStatus` and `$context.integrationErrorMessage`. For a Lambda proxy
/// integration the status is "the status code returned from AWS Lambda, not from the backend
/// Lambda function" (docs.aws.amazon.com/apigateway/latest/developerguide/
/// http-api-logging-variables.html): Invoke's own `200` whenever Lambda ran the function,
/// whatever its answer, and even when the function failed (Invoke reports that with
/// `X-Amz-Function-Error`, not its status); Invoke's error status when Lambda refused it
/// (`429` when throttled).
struct Integration {
    latency: Duration,
    invoke_status: u16,
    error: Option<String>,
}

/// Invoke's status when Lambda ran the function (Lambda API reference, `Invoke`: "200 for the
/// RequestResponse invocation type").
const INVOKED: u16 = 200;

impl Outcome {
    fn gateway(status: StatusCode, message: &str) -> Self {
        Self {
            response: gateway_message(status, message),
            route_key: None,
            authorizer_error: None,
            integration: None,
        }
    }
}

impl Gateway {
    pub async fn handle(&self, request: Request<Body>, peer: SocketAddr) -> Response {
        let started = Instant::now();
        let received = OffsetDateTime::now_utc();
        let request_id = payload::new_request_id();
        let source_ip = payload::source_ip(peer.ip());
        let outcome = self
            .route(request, &source_ip, &request_id, received, started)
            .await;

        let mut response = outcome.response;
        response.headers_mut().insert(
            REQUEST_ID_HEADER,
            HeaderValue::from_str(&request_id).expect("base64 is a valid header"),
        );
        let integration_latency = outcome.integration.as_ref().map(|i| i.latency);
        let status = response.status().as_u16();
        // One measure for the metric and the access log, so that they agree.
        let latency = started.elapsed();
        // The metrics' times from the two clocks read already: the request's arrival on the
        // real clock, and how long after it each happened.
        let received_ms = real_ms(received);
        self.cloudwatch.record_request(
            status,
            latency,
            integration_latency,
            received_ms.saturating_add(millis(latency)),
        );
        // The numbers as text, on the stack: the line borrows them.
        let (mut status_text, mut latency_text) = (itoa::Buffer::new(), itoa::Buffer::new());
        let (mut integration_text, mut integration_status) =
            (itoa::Buffer::new(), itoa::Buffer::new());
        let (integration_status, integration_error) = match &outcome.integration {
            Some(integration) => (
                integration_status.format(integration.invoke_status),
                integration.error.as_deref().unwrap_or(DASH),
            ),
            None => (DASH, DASH),
        };
        let line = payload::with_clf_time(received, |request_time| {
            AccessLog {
                request_id: &request_id,
                ip: &source_ip,
                request_time,
                route_key: outcome.route_key.as_deref().unwrap_or(DASH),
                status: status_text.format(status),
                response_latency: latency_text.format(latency.as_millis()),
                integration_latency: integration_latency
                    .map_or(DASH, |latency| integration_text.format(latency.as_millis())),
                integration_status,
                authorizer_error: outcome.authorizer_error.as_deref().unwrap_or(DASH),
                integration_error_message: integration_error,
            }
            .line()
        });
        AccessLog::write(&line);
        self.cloudwatch
            .keep_log_line(crate::cloudwatch::ACCESS_LOG_GROUP, &line);
        response
    }

    async fn route(
        &self,
        request: Request<Body>,
        source_ip: &str,
        request_id: &str,
        received: OffsetDateTime,
        arrived: Instant,
    ) -> Outcome {
        if !self.throttle.try_acquire_at(arrived) {
            return Outcome::gateway(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        }
        let (parts, mut body) = request.into_parts();
        let Some(matched) = self.routes.find(parts.method.as_str(), parts.uri.path()) else {
            return Outcome::gateway(StatusCode::NOT_FOUND, "Not Found");
        };
        let route_key = Some(matched.route_key.clone());
        let mut iam = None;
        let claims = match matched.auth {
            Auth::None => None,
            Auth::Jwt => match self
                .authorizer
                .authorize(parts.headers.get(header::AUTHORIZATION))
                .await
            {
                Ok(claims) => Some(claims_as_strings(&claims)),
                Err(err) => {
                    let status = err.status();
                    let mut response = if status == StatusCode::UNAUTHORIZED {
                        let mut r = gateway_message(status, "Unauthorized");
                        if let Ok(value) = HeaderValue::from_str(&err.www_authenticate()) {
                            r.headers_mut().insert(header::WWW_AUTHENTICATE, value);
                        }
                        r
                    } else {
                        // The issuer's keys could not be had: a failing dependency, not the caller.
                        gateway_message(status, "Service Unavailable")
                    };
                    response.headers_mut().remove(header::CONTENT_LENGTH);
                    return Outcome {
                        response,
                        route_key,
                        authorizer_error: Some(err.to_string()),
                        integration: None,
                    };
                }
            },
            // The signature covers the body's hash: read it first, then hand it on.
            Auth::Iam => {
                let Ok(bytes) = axum::body::to_bytes(body, MAX_PAYLOAD_BYTES).await else {
                    return Outcome {
                        route_key,
                        ..Outcome::gateway(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "Request Entity Too Large",
                        )
                    };
                };
                match self.sigv4.verify(
                    parts.method.as_str(),
                    &parts.uri,
                    &parts.headers,
                    &bytes,
                    OffsetDateTime::now_utc(),
                ) {
                    Ok(identity) => iam = Some(identity),
                    Err(err) => {
                        let mut response = gateway_message(StatusCode::FORBIDDEN, &err.message());
                        response.headers_mut().insert(
                            "x-amzn-errortype",
                            HeaderValue::from_static(err.error_type()),
                        );
                        return Outcome {
                            response,
                            route_key,
                            authorizer_error: Some(err.to_string()),
                            integration: None,
                        };
                    }
                }
                body = Body::from(bytes);
                None
            }
        };
        let Ok(body) = axum::body::to_bytes(body, MAX_PAYLOAD_BYTES).await else {
            return Outcome {
                route_key,
                ..Outcome::gateway(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
            };
        };
        let ctx = EventContext {
            account_id: &self.account_id,
            api_id: &self.api_id,
            request_id,
            source_ip,
            matched: &matched,
            claims,
            iam,
            received,
        };
        let (function, event, trace) = match self.integration(ctx, parts, &body) {
            Ok(found) => found,
            Err(outcome) => {
                return Outcome {
                    route_key,
                    ..*outcome
                };
            }
        };
        let started = Instant::now();
        let started_ms = real_ms(received).saturating_add(millis(started - arrived));
        self.cloudwatch
            .invocation_started(&function.metrics, started_ms);
        let result = invoke(function, event, received, trace, &self.xray, started).await;
        let latency = started.elapsed();
        self.cloudwatch.invocation_ended(
            &function.metrics,
            latency,
            result.is_err(),
            started_ms.saturating_add(millis(latency)),
        );
        match result {
            Ok(response) => Outcome {
                response,
                route_key,
                authorizer_error: None,
                integration: Some(Integration {
                    latency,
                    invoke_status: INVOKED,
                    error: None,
                }),
            },
            Err(error) => {
                tracing::error!(
                    function = %function.name,
                    error = %error.message,
                    "integration failed"
                );
                Outcome {
                    response: gateway_message(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Internal Server Error",
                    ),
                    route_key,
                    authorizer_error: None,
                    integration: Some(Integration {
                        latency,
                        invoke_status: INVOKED,
                        error: Some(error.integration_error_message()),
                    }),
                }
            }
        }
    }

    /// The function a matched route integrates, the event it is invoked with and the trace
    /// header Lambda gives it, or the answer when it is not invoked (its route key for the
    /// caller to add). Not async: what it reads on the way (the request's parts) is gone
    /// before the invocation is awaited, rather than carried, and copied, in the request's
    /// future (an async fn keeps its arguments for its whole life).
    fn integration(
        &self,
        ctx: EventContext<'_>,
        parts: http::request::Parts,
        body: &[u8],
    ) -> Result<(&FunctionHost, ApiGatewayV2httpRequest, String), Box<Outcome>> {
        let upstream = parts
            .headers
            .get(&TRACE_HEADER)
            .and_then(|v| v.to_str().ok());
        let upstream = Upstream::parse(upstream);
        let trace = payload::new_trace_header(
            ctx.received,
            upstream.root,
            self.xray_sampler
                .decide_for(ctx.matched.function.tracing(), &upstream, ctx.received),
        );
        let event = match payload::event(
            &ctx,
            parts.method.as_str(),
            &parts.uri,
            parts.headers,
            body,
            &trace,
        ) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(error = %error, "no event for the request");
                return Err(Box::new(Outcome::gateway(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                )));
            }
        };
        let function = match ctx.matched.function {
            Function::Public => &self.public,
            Function::Items => &self.items,
        };
        let function_name = function.arn.rsplit(':').next().unwrap_or(&function.name);
        let fault_target = crate::faults::function::target_of(ctx.matched.function);
        if crate::faults::function::throttled(&self.faults, fault_target) {
            // Lambda refuses the invocation (429 `TooManyRequestsException`, "Rate Exceeded.");
            // an HTTP API answers its client 500, as for any failed integration.
            self.cloudwatch.invocation_throttled(function_name);
            return Err(Box::new(Outcome {
                integration: Some(Integration {
                    latency: Duration::ZERO,
                    invoke_status: 429,
                    error: Some("Rate Exceeded.".into()),
                }),
                ..Outcome::gateway(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }));
        }
        Ok((function, event, trace))
    }
}

/// An invocation that ran and failed: Lambda's `Invoke` still answers `200`, with
/// `X-Amz-Function-Error: Unhandled` and the error the runtime reported (its `errorType` and
/// `errorMessage`), and API Gateway answers its client `500`.
#[derive(Debug, Clone)]
struct FunctionError {
    error_type: String,
    message: String,
}

impl FunctionError {
    /// A panic, as the Rust runtime reports it (aws-lambda-rust-runtime's `CatchPanicService`:
    /// `Lambda panicked: <message>`, typed by the name of the panic payload's type).
    fn panicked(payload: &Box<dyn Any + Send>) -> Self {
        let text = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
        Self {
            error_type: std::any::type_name_of_val(payload).to_owned(),
            message: match text {
                Some(text) => format!("Lambda panicked: {text}"),
                None => "Lambda panicked".to_owned(),
            },
        }
    }

    /// A timeout, as Lambda reports it (its runtime interface emulator writes the same):
    /// `Sandbox.Timedout`, `RequestId: <id> Error: Task timed out after 1.00 seconds`.
    fn timed_out(request_id: FunctionRequestId, timeout: Duration) -> Self {
        Self {
            error_type: "Sandbox.Timedout".to_owned(),
            message: format!(
                "RequestId: {} Error: Task timed out after {:.2} seconds",
                request_id.0,
                timeout.as_secs_f64()
            ),
        }
    }

    /// An error the handler's service returned instead of a response.
    fn returned(error: &impl std::fmt::Display) -> Self {
        Self {
            error_type: std::any::type_name_of_val(error).to_owned(),
            message: error.to_string(),
        }
    }

    /// The access log's `$context.integrationErrorMessage` of a failed invocation, worded as
    /// HTTP APIs write it: AWS documents the variable only as "a string that contains an
    /// integration error message"; real logs read `The Lambda function returned the following
    /// error: <errorMessage>. Check your Lambda function code and try again.`
    fn integration_error_message(&self) -> String {
        format!(
            "The Lambda function returned the following error: {}. Check your Lambda function \
             code and try again.",
            self.message
        )
    }
}

/// The `AWS::Lambda::Function` segment Lambda writes for a sampled invocation, kept when the
/// invocation ends (however it ends): the parent of the handler's own subsegments. A failed
/// invocation marks it a `fault` (X-Ray's segment documents: a server error) with the error as
/// its `cause`, as Lambda records a function error
/// (docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html, "Errors and
/// exceptions").
struct FunctionSegment<'a> {
    xray: &'a XrayDaemon,
    name: String,
    id: String,
    trace_id: String,
    start: f64,
    failure: Option<FunctionError>,
}

/// Milliseconds since the epoch of `time`.
fn real_ms(time: OffsetDateTime) -> i64 {
    time.unix_timestamp() * 1000 + i64::from(time.millisecond())
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl<'a> FunctionSegment<'a> {
    fn open(xray: &'a XrayDaemon, function: &FunctionHost, header: &str) -> Option<Self> {
        if !header.ends_with(";Sampled=1") {
            return None;
        }
        let field = |key: &str| {
            header
                .split(';')
                .find_map(|p| p.strip_prefix(key))
                .map(str::to_owned)
        };
        Some(Self {
            xray,
            name: function
                .arn
                .rsplit(':')
                .next()
                .unwrap_or(&function.name)
                .to_owned(),
            id: field("Parent=")?,
            trace_id: field("Root=")?,
            start: epoch_seconds(),
            failure: None,
        })
    }
}

impl Drop for FunctionSegment<'_> {
    fn drop(&mut self) {
        #[derive(serde::Serialize)]
        struct Document<'d> {
            name: &'d str,
            id: &'d str,
            trace_id: &'d str,
            start_time: f64,
            end_time: f64,
            origin: &'static str,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            fault: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            cause: Option<serde_json::Value>,
        }
        let cause = self.failure.as_ref().map(|failure| {
            // An exception's id: 16 hex digits, unique in the trace.
            let id = format!("{:016x}", fastrand::u64(..));
            serde_json::json!({
                "working_directory": "/var/task",
                "paths": [],
                "exceptions": [{
                    "id": id,
                    "type": failure.error_type,
                    "message": failure.message,
                }],
            })
        });
        let doc = Document {
            name: &self.name,
            id: &self.id,
            trace_id: &self.trace_id,
            start_time: self.start,
            end_time: epoch_seconds(),
            origin: "AWS::Lambda::Function",
            fault: cause.is_some(),
            cause,
        };
        match Segment::written(&doc, &self.trace_id) {
            Ok(segment) => self.xray.insert_segment(segment),
            Err(err) => tracing::warn!(error = ?err, "function segment not kept"),
        }
    }
}

/// Lambda's request id: a UUID v4, from the same per-thread generator as the gateway's ids
/// (`Uuid::new_v4` asks the kernel for randomness on every call). Kept as its bytes, written
/// out for the handler's context and again only for a timeout's message.
#[derive(Clone, Copy)]
struct FunctionRequestId(uuid::Uuid);

impl FunctionRequestId {
    fn new() -> Self {
        let mut random = [0u8; 16];
        fastrand::fill(&mut random);
        Self(uuid::Builder::from_random_bytes(random).into_uuid())
    }
}

/// The request `function`'s handler receives for `event` on Lambda: lambda_http's own
/// conversion, with the Lambda context attached as the runtime does. The conversion panics
/// on a URL it cannot parse (a Host header that is no authority): [`invoke`] catches it.
fn handler_request(
    function: &FunctionHost,
    event: ApiGatewayV2httpRequest,
    received: OffsetDateTime,
    trace: String,
    request_id: FunctionRequestId,
) -> lambda_http::Request {
    let request = LambdaRequest::ApiGatewayV2(event).into();
    let deadline = (received + function.timeout).unix_timestamp_nanos() / 1_000_000;
    let mut context = lambda_http::Context::default();
    context.request_id = request_id.0.to_string();
    context.deadline = deadline as u64;
    context.invoked_function_arn = function.arn.clone();
    context.xray_trace_id = Some(trace);
    lambda_http::RequestExt::with_lambda_context(request, context)
}

/// One Lambda invocation of `function` with `event`, started at `started`. On Lambda the
/// runtime turns the event into the handler's request (lambda_http's conversion) and runs the
/// handler in one call, whose panic fails the invocation: so a panic in either (the
/// conversion's, on a Host it cannot read as a URL, or the handler's) fails the invocation
/// here, not the twin. Not an async fn: the event is converted at once rather than carried,
/// over a kilobyte, in the invocation's future.
fn invoke(
    function: &FunctionHost,
    event: ApiGatewayV2httpRequest,
    received: OffsetDateTime,
    trace: String,
    xray: &XrayDaemon,
    started: Instant,
) -> impl Future<Output = Result<Response, FunctionError>> {
    let mut segment = FunctionSegment::open(xray, function, &trace);
    let request_id = FunctionRequestId::new();
    let request = std::panic::catch_unwind(AssertUnwindSafe(|| {
        handler_request(function, event, received, trace, request_id)
    }));
    async move {
        let result = match request {
            Ok(request) => run(function, request, started, request_id).await,
            Err(panic) => Err(FunctionError::panicked(&panic)),
        };
        if let (Some(segment), Err(error)) = (&mut segment, &result) {
            segment.failure = Some(error.clone());
        }
        result
    }
}

/// The handler's run on `request`, within the function's timeout (a panic fails the
/// invocation, not the twin).
async fn run(
    function: &FunctionHost,
    request: lambda_http::Request,
    started: Instant,
    request_id: FunctionRequestId,
) -> Result<Response, FunctionError> {
    let call = async move {
        let response = function
            .service
            .call(request)
            .await
            .map_err(|e| FunctionError::returned(&e))?;
        // Lambda returns a whole response: buffer it, as the runtime does.
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_PAYLOAD_BYTES)
            .await
            .map_err(|e| FunctionError::returned(&e))?;
        Ok::<_, FunctionError>(Response::from_parts(parts, Body::from(bytes)))
    };
    // Run in this task, not a spawned one: no hand-over to another worker per request. The
    // panic is caught here and the future dropped on timeout, as a task would be aborted.
    let times_out = tokio::time::Instant::from_std(started) + function.timeout;
    let mut call = std::pin::pin!(AssertUnwindSafe(call).catch_unwind());
    // Most invocations are done at their first poll and need no timer: a timer takes the
    // runtime's timer lock when it is dropped, even one never set.
    let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
    let ended = match first {
        Poll::Ready(ended) => Ok(ended),
        Poll::Pending => tokio::time::timeout_at(times_out, call).await,
    };
    match ended {
        // Lambda stops a timed-out invocation; so does the twin.
        Err(_) => Err(FunctionError::timed_out(request_id, function.timeout)),
        Ok(Err(panic)) => Err(FunctionError::panicked(&panic)),
        Ok(Ok(result)) => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::routing::get;

    async fn host(timeout: Duration) -> (FunctionHost, XrayDaemon) {
        async fn slow() -> &'static str {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }
        async fn brief() -> &'static str {
            tokio::time::sleep(Duration::from_millis(5)).await;
            "brief"
        }
        async fn at_once() -> &'static str {
            "at once"
        }
        async fn panics() -> &'static str {
            panic!("the handler gave up")
        }
        let cloudwatch =
            CloudWatch::load(&crate::cloudwatch::default_repo_dir(), 10).expect("a store");
        let host = FunctionHost {
            name: "items".into(),
            arn: "arn:aws:lambda:eu-west-1:000000000000:function:items-api-items".into(),
            timeout,
            service: Arc::new(FunctionCopies::new(|| {
                tower::Layer::layer(
                    &telemetry::RequestLayer::new().with_metrics_output(|_| ()),
                    crate::faults::function::around(
                        axum::Router::new()
                            .route("/slow", get(slow))
                            .route("/brief", get(brief))
                            .route("/at-once", get(at_once))
                            .route("/panics", get(panics)),
                        &Arc::new(crate::faults::Faults::new(std::iter::empty())),
                        crate::faults::Target::Items,
                    ),
                )
            })),
            metrics: cloudwatch.function_metrics("items-api-items"),
        };
        let xray = XrayDaemon::bind("127.0.0.1:0".parse().unwrap())
            .await
            .expect("a UDP port");
        (host, xray)
    }

    fn event(path: &str) -> ApiGatewayV2httpRequest {
        let mut event = ApiGatewayV2httpRequest::default();
        event.raw_path = Some(path.into());
        event.request_context.http.method = http::Method::GET;
        event
    }

    async fn call(host: &FunctionHost, xray: &XrayDaemon, path: &str) -> Result<String, String> {
        invoke_with(host, xray, event(path)).await
    }

    async fn invoke_with(
        host: &FunctionHost,
        xray: &XrayDaemon,
        event: ApiGatewayV2httpRequest,
    ) -> Result<String, String> {
        let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0";
        invoke_traced(host, xray, event, trace).await
    }

    async fn invoke_traced(
        host: &FunctionHost,
        xray: &XrayDaemon,
        event: ApiGatewayV2httpRequest,
        trace: &str,
    ) -> Result<String, String> {
        let now = OffsetDateTime::now_utc();
        let response = invoke(host, event, now, trace.to_owned(), xray, Instant::now())
            .await
            .map_err(|e| e.message)?;
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        Ok(String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn an_invocation_past_its_timeout_fails_as_lambda_says_and_others_answer() {
        let (host, xray) = host(Duration::from_millis(200)).await;
        // Done at the first poll, done after waiting within the timeout, and past it.
        assert_eq!(call(&host, &xray, "/at-once").await.unwrap(), "at once");
        assert_eq!(call(&host, &xray, "/brief").await.unwrap(), "brief");
        // Stopped at its timeout (left to finish, it would answer "late").
        let late = call(&host, &xray, "/slow").await.unwrap_err();
        // Lambda's words, with the invocation's own request id.
        let id = late
            .strip_prefix("RequestId: ")
            .and_then(|rest| rest.strip_suffix(" Error: Task timed out after 0.20 seconds"))
            .unwrap_or_else(|| panic!("{late}"));
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{late}");
    }

    #[tokio::test]
    async fn a_host_lambda_http_cannot_read_fails_the_invocation_as_a_panic_does() {
        let (host, xray) = host(Duration::from_secs(1)).await;
        let mut unreadable = event("/at-once");
        // No URL authority: lambda_http's conversion panics on it, on Lambda as here.
        unreadable
            .headers
            .insert(header::HOST, HeaderValue::from_static("bad host"));
        let failed = invoke_with(&host, &xray, unreadable).await;
        assert!(failed.unwrap_err().starts_with("Lambda panicked: "));
        assert_eq!(call(&host, &xray, "/at-once").await.unwrap(), "at once");
    }

    #[tokio::test]
    async fn a_panic_marks_the_function_segment_a_fault_with_lambda_s_error_as_its_cause() {
        let (host, xray) = host(Duration::from_secs(1)).await;
        let panicked = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let failed = invoke_traced(&host, &xray, event("/panics"), panicked).await;
        assert_eq!(failed.unwrap_err(), "Lambda panicked: the handler gave up");
        let answered = "Root=1-5759e988-00000000000000000000abcd;Parent=0123456789abcdef;Sampled=1";
        assert_eq!(
            invoke_traced(&host, &xray, event("/at-once"), answered)
                .await
                .unwrap(),
            "at once"
        );

        let function_segment = |trace_id: &str| {
            let (_, segments) = xray.trace(trace_id).expect("the trace is kept");
            segments
                .into_iter()
                .find(|s| s["origin"] == "AWS::Lambda::Function")
                .expect("the function segment")
        };
        let segment = function_segment("1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(segment["name"], "items-api-items");
        assert_eq!(segment["id"], "53995c3f42cd8ad8");
        assert_eq!(segment["fault"], true, "{segment}");
        assert!(
            segment.get("error").is_none(),
            "a fault, not a client error: {segment}"
        );
        let exceptions = segment["cause"]["exceptions"].as_array().unwrap();
        assert_eq!(exceptions.len(), 1, "{segment}");
        assert_eq!(
            exceptions[0]["message"],
            "Lambda panicked: the handler gave up"
        );
        let id = exceptions[0]["id"].as_str().unwrap();
        assert!(
            id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{segment}"
        );

        // An invocation that answered is no fault, and has no cause.
        let segment = function_segment("1-5759e988-00000000000000000000abcd");
        assert!(segment.get("fault").is_none(), "{segment}");
        assert!(segment.get("cause").is_none(), "{segment}");
    }
}
