//! Every AWS call runs inside `telemetry::aws_span`, so it becomes an X-Ray subsegment of the
//! invocation's trace (`namespace: aws`, the operation and the resource), failed or not.

use std::future::Future;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use tracing::Instrument;

/// Runs one SDK call in its span, marking the span failed with the HTTP status on an error.
pub async fn traced<T, E>(
    service: &'static str,
    operation: &'static str,
    resource: &str,
    call: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
) -> Result<T, SdkError<E, HttpResponse>> {
    let span = telemetry::aws_span(service, operation, resource);
    let result = call.instrument(span.clone()).await;
    if let Err(err) = &result {
        telemetry::aws_call_failed(&span, err.raw_response().map(|r| r.status().as_u16()));
    }
    result
}
