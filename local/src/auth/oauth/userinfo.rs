//! `GET /oauth2/userInfo`: the signed-in user's attributes, for an access token of the token
//! endpoint with the `openid` scope (OIDC Core §5.3; errors as RFC 6750 §3).
//!
//! As Cognito's: `sub` and `username` always; `email` and `email_verified` (a string, as
//! Cognito writes attributes) when the token has the `email` scope or `openid` alone.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use super::HostedUi;
use super::tokens::email_of;

pub(super) async fn userinfo(State(hosted): State<Arc<HostedUi>>, headers: HeaderMap) -> Response {
    let Some(authorization) = headers.get(header::AUTHORIZATION) else {
        return refused(StatusCode::UNAUTHORIZED, "Bearer".to_owned());
    };
    let token = authorization
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return invalid_token("the Authorization header holds no Bearer token");
    };
    let claims = match hosted.access_tokens.verify(token).await {
        Ok(claims) => claims,
        Err(e) => return invalid_token(&e.to_string()),
    };
    if claims.get("token_use").and_then(Value::as_str) != Some("access") {
        return invalid_token("the token is not an access token");
    }
    let origin_jti = claims
        .get("origin_jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if hosted.sessions().is_revoked(origin_jti, Instant::now()) {
        return invalid_token("the token has been revoked");
    }
    let scopes: Vec<&str> = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split(' ')
        .collect();
    if !scopes.contains(&"openid") {
        return refused(
            StatusCode::FORBIDDEN,
            r#"Bearer error="insufficient_scope", error_description="the token does not have the openid scope", scope="openid""#.to_owned(),
        );
    }
    let (Some(sub), Some(username)) = (
        claims.get("sub").and_then(Value::as_str),
        claims.get("username").and_then(Value::as_str),
    ) else {
        return invalid_token("the token has no sub or username");
    };
    let mut user = json!({ "sub": sub, "username": username });
    let email_scope = scopes.contains(&"email") || scopes == ["openid"];
    if let Some(email) = email_of(username).filter(|_| email_scope) {
        user["email"] = json!(email);
        user["email_verified"] = json!("true");
    }
    Json(user).into_response()
}

fn invalid_token(description: &str) -> Response {
    let description = description.replace(['"', '\\'], "'");
    refused(
        StatusCode::UNAUTHORIZED,
        format!(r#"Bearer error="invalid_token", error_description="{description}""#),
    )
}

fn refused(status: StatusCode, challenge: String) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
