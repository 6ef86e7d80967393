//! Errors as `application/problem+json` (RFC 9457), each carrying the request id, so a client's
//! report leads on-call straight to the request's log lines and trace.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::domain::FieldError;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// The problem types of the API; each `type` is a stable URI reference documented in `docs/api.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    InvalidBody,
    ValidationFailed,
    UnsupportedMediaType,
    PayloadTooLarge,
    InvalidQuery,
    InvalidCursor,
    InvalidId,
    InvalidIdempotencyKey,
    IdempotencyKeyReused,
    IdempotencyKeyInProgress,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    ServiceUnavailable,
    Internal,
}

impl Kind {
    fn status(self) -> StatusCode {
        match self {
            Kind::InvalidBody
            | Kind::InvalidQuery
            | Kind::InvalidCursor
            | Kind::InvalidId
            | Kind::InvalidIdempotencyKey => StatusCode::BAD_REQUEST,
            Kind::ValidationFailed | Kind::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::IdempotencyKeyInProgress => StatusCode::CONFLICT,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Kind::InvalidBody => "invalid-body",
            Kind::ValidationFailed => "validation-failed",
            Kind::UnsupportedMediaType => "unsupported-media-type",
            Kind::PayloadTooLarge => "payload-too-large",
            Kind::InvalidQuery => "invalid-query",
            Kind::InvalidCursor => "invalid-cursor",
            Kind::InvalidId => "invalid-id",
            Kind::InvalidIdempotencyKey => "invalid-idempotency-key",
            Kind::IdempotencyKeyReused => "idempotency-key-reused",
            Kind::IdempotencyKeyInProgress => "idempotency-key-in-progress",
            Kind::Unauthorized => "unauthorized",
            Kind::NotFound => "not-found",
            Kind::MethodNotAllowed => "method-not-allowed",
            Kind::ServiceUnavailable => "service-unavailable",
            Kind::Internal => "internal",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::InvalidBody => "The request body is not valid JSON of the expected shape",
            Kind::ValidationFailed => "The item breaks one or more rules",
            Kind::UnsupportedMediaType => "The request body must be uncompressed application/json",
            Kind::PayloadTooLarge => "The request body is too large",
            Kind::InvalidQuery => "The query string is not valid",
            Kind::InvalidCursor => "The page cursor is not valid",
            Kind::InvalidId => "The item id is not valid",
            Kind::InvalidIdempotencyKey => "The Idempotency-Key header is not valid",
            Kind::IdempotencyKeyReused => {
                "The Idempotency-Key was already used with another request body"
            }
            Kind::IdempotencyKeyInProgress => {
                "A request with this Idempotency-Key is still in progress"
            }
            Kind::Unauthorized => "The request carries no verified identity",
            Kind::NotFound => "Not found",
            Kind::MethodNotAllowed => "Method not allowed",
            Kind::ServiceUnavailable => "A dependency is unavailable; retry later",
            Kind::Internal => "Internal error",
        }
    }
}

/// A problem response. Boxed: it travels in every handler's `Err`, which should stay small.
#[derive(Debug)]
pub struct Problem(Box<Document>);

#[derive(Debug, Serialize)]
struct Document {
    #[serde(rename = "type")]
    type_: String,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
    request_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
    #[serde(skip)]
    kind: Option<Kind>,
    #[serde(skip)]
    retry_after: Option<Duration>,
    #[serde(skip)]
    accept_encoding_identity: bool,
}

impl Problem {
    pub fn new(kind: Kind, detail: impl Into<String>, request_id: &str) -> Self {
        Self(Box::new(Document {
            type_: format!("/problems/{}", kind.slug()),
            title: kind.title(),
            status: kind.status().as_u16(),
            detail: detail.into(),
            instance: None,
            request_id: request_id.to_owned(),
            errors: Vec::new(),
            kind: Some(kind),
            retry_after: None,
            accept_encoding_identity: false,
        }))
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.0.errors = errors;
        self
    }

    pub fn with_instance(mut self, path: &str) -> Self {
        self.0.instance = Some(path.to_owned());
        self
    }

    /// Adds `Retry-After` (whole seconds, at least 1), for 503s and 409s.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.0.retry_after = Some(after);
        self
    }

    /// Adds `Accept-Encoding: identity`: the request's content coding was refused, and only
    /// an unencoded body is read (RFC 9110 §12.5.3, §15.5.16).
    pub fn accept_encoding_identity(mut self) -> Self {
        self.0.accept_encoding_identity = true;
        self
    }

    pub fn kind(&self) -> Option<Kind> {
        self.0.kind
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let doc = *self.0;
        let status = StatusCode::from_u16(doc.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = doc.retry_after;
        let accept_encoding_identity = doc.accept_encoding_identity;
        let mut response = (status, Json(doc)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(after) = retry_after {
            let secs = after.as_secs().max(1);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if accept_encoding_identity {
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_static("identity"),
            );
        }
        response
    }
}
