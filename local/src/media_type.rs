//! A request's media type, as the twin's own pages read it.

use http::{HeaderMap, header};

/// Whether the request's `Content-Type` is `mime`, with or without parameters
/// (`; charset=utf-8`), compared without regard to case.
pub fn content_type_is(headers: &HeaderMap, mime: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(mime))
}
