//! `POST /oauth2/revoke` (RFC 7009): revokes a refresh token, and with it the access tokens of
//! its session, as Cognito's does. A token that is not one of the pool's refresh tokens is
//! answered `200` all the same (RFC 7009 §2.2: the client cannot act on the difference); an ID
//! or access token is `unsupported_token_type`, since only refresh tokens can be revoked.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::HostedUi;
use super::error::{ErrorCode, OAuthError, no_store};
use super::token::client_request;

pub(super) async fn revoke(
    State(hosted): State<Arc<HostedUi>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match client_request(&hosted, &headers, &body) {
        Ok(params) => params,
        Err(error) => return error.json(),
    };
    let Some(token) = params.get("token").ok().flatten() else {
        return OAuthError::new(ErrorCode::InvalidRequest, "the request has no token").json();
    };
    // The pool's ID and access tokens are JWTs; its refresh tokens are not.
    if token.split('.').count() == 3 {
        return OAuthError::new(
            ErrorCode::UnsupportedTokenType,
            "only refresh tokens can be revoked",
        )
        .json();
    }
    if hosted
        .sessions()
        .revoke_by_refresh_token(token, Instant::now())
    {
        tracing::info!("hosted UI revoked a refresh token and its access tokens");
    }
    let mut response = StatusCode::OK.into_response();
    no_store(&mut response);
    response
}
