//! What an AWS error means to the API: a dependency that is busy or down (retry later, `503`),
//! or a fault of ours (`500`). The SDK's standard retry has already run when we see one.

use std::time::Duration;

// One SdkError and one ProvideErrorMetadata serve every service crate; DynamoDB's re-exports do.
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Error codes that mean "busy or briefly unavailable", across DynamoDB, EventBridge and
/// Secrets Manager.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "InternalServerError",
    "InternalFailure",
    "InternalServiceError",
    "InternalException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// Codes that mean throttling specifically (counted apart from outages).
const THROTTLING_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequestsException",
];

/// How long a client should wait before retrying after a transient failure.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    Throttled,
    Unavailable,
    Fault,
}

/// Classifies an SDK error. Timeouts and connection failures are transient; so are the codes
/// above; anything else (validation, access denied, missing resource) is a fault to fix.
pub fn classify<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Class {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Class::Unavailable
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            if THROTTLING_CODES.contains(&code) {
                Class::Throttled
            } else if TRANSIENT_CODES.contains(&code) {
                Class::Unavailable
            } else {
                Class::Fault
            }
        }
        _ => Class::Fault,
    }
}

/// The error with its code and message, for logs (SDK errors print "service error" alone).
pub fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    err: &SdkError<E, R>,
) -> String {
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            format!(
                "{}: {}",
                e.code().unwrap_or("unknown"),
                e.message().unwrap_or("no message")
            )
        }
        other => DisplayErrorContext(other).to_string(),
    }
}
