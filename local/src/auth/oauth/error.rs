//! How the endpoints refuse a request: RFC 6749's error codes, as a JSON body (§5.2, the token
//! and revocation endpoints) or as parameters of a redirect to the client (§4.1.2.1).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    /// RFC 7009 §2.2.1: the revocation endpoint revokes refresh tokens only.
    UnsupportedTokenType,
    ServerError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::ServerError => "server_error",
        }
    }

    /// 401 for a client that failed to authenticate (RFC 6749 §5.2), 500 for the server's own
    /// failure, 400 for the rest.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    /// `error_description`: for the developer, never a credential.
    pub description: String,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    /// The §5.2 answer: `{"error", "error_description"}`, not to be cached.
    pub fn json(&self) -> Response {
        let body = json!({
            "error": self.code.as_str(),
            "error_description": self.description,
        });
        let mut response = (self.code.status(), Json(body)).into_response();
        no_store(&mut response);
        if self.code == ErrorCode::InvalidClient {
            // A 401 names how to authenticate (RFC 9110 §15.5.2).
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="oauth2""#),
            );
        }
        response
    }

    /// The §4.1.2.1 answer: a redirect to the client's (registered) `redirect_uri` with
    /// `error`, `error_description` and the request's `state`.
    pub fn redirect(&self, redirect_uri: &str, state: Option<&str>) -> Response {
        let mut params = vec![
            ("error", self.code.as_str()),
            ("error_description", self.description.as_str()),
        ];
        if let Some(state) = state {
            params.push(("state", state));
        }
        redirect_with(redirect_uri, &params)
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, as RFC 6749 §5.1 asks of token answers.
pub fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A `302` to `url` with `params` added to its query (RFC 6749 §3.1.2 keeps the query the URL
/// already has).
pub fn redirect_with(url: &str, params: &[(&str, &str)]) -> Response {
    let encoded = serde_urlencoded::to_string(params).unwrap_or_default();
    let location = if encoded.is_empty() {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&{encoded}")
    } else {
        format!("{url}?{encoded}")
    };
    found(&location)
}

/// A `302 Found` to `location`, not to be cached.
pub fn found(location: &str) -> Response {
    let Ok(value) = HeaderValue::from_str(location) else {
        return OAuthError::new(ErrorCode::ServerError, "the redirect is not a valid URL").json();
    };
    let mut response = StatusCode::FOUND.into_response();
    response.headers_mut().insert(header::LOCATION, value);
    no_store(&mut response);
    response
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn body(response: Response) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn json_errors_are_rfc_6749_5_2() {
        let response = OAuthError::new(ErrorCode::InvalidGrant, "the code is used").json();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[header::PRAGMA], "no-cache");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
        assert_eq!(
            body(response).await,
            json!({"error": "invalid_grant", "error_description": "the code is used"})
        );

        let response = OAuthError::new(ErrorCode::InvalidClient, "unknown client").json();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(body(response).await["error"], "invalid_client");
        for (code, text) in [
            (ErrorCode::InvalidRequest, "invalid_request"),
            (ErrorCode::UnauthorizedClient, "unauthorized_client"),
            (ErrorCode::UnsupportedGrantType, "unsupported_grant_type"),
            (ErrorCode::InvalidScope, "invalid_scope"),
        ] {
            let response = OAuthError::new(code, "x").json();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            assert_eq!(body(response).await["error"], text);
        }
    }

    #[test]
    fn redirect_errors_keep_the_uri_s_query_and_echo_state() {
        let response = OAuthError::new(ErrorCode::InvalidScope, "no such scope")
            .redirect("https://app.example/cb?tenant=a", Some("s t&="));
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(
            response.headers()[header::LOCATION],
            "https://app.example/cb?tenant=a&error=invalid_scope&error_description=no+such+scope&state=s+t%26%3D"
        );
        let response =
            OAuthError::new(ErrorCode::InvalidRequest, "x").redirect("http://a/cb", None);
        assert_eq!(
            response.headers()[header::LOCATION],
            "http://a/cb?error=invalid_request&error_description=x"
        );
    }
}
