//! `POST /oauth2/token`: the authorization code grant (with the PKCE verifier) and the refresh
//! token grant, for the public app client (its `client_id` in the body, no secret).
//!
//! A code is taken at its first use, good or bad (a failed attempt cannot be retried with the
//! same code); a code given again revokes the tokens it brought. A refresh brings new ID and
//! access tokens and no new refresh token: Cognito rotates refresh tokens only when the app
//! client is set to, and the stack's is not.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use super::client::parse_scopes;
use super::codes::Refused;
use super::error::{ErrorCode, OAuthError, no_store};
use super::params::Params;
use super::sessions::Session;
use super::sign_in::unix_now;
use super::{ACCESS_TOKEN_TTL, HostedUi, pkce, tokens};
use crate::media_type::content_type_is;

/// `POST /oauth2/token`.
pub(super) async fn token(
    State(hosted): State<Arc<HostedUi>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match exchange(&hosted, &headers, &body, Instant::now()) {
        Ok(tokens) => {
            let mut response = Json(tokens).into_response();
            no_store(&mut response);
            response
        }
        Err(error) => error.json(),
    }
}

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, description)
}

fn invalid_grant(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, description)
}

/// Reads a form body of the token or revocation endpoint, and checks the client.
pub(super) fn client_request(
    hosted: &HostedUi,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Params, OAuthError> {
    if !content_type_is(headers, "application/x-www-form-urlencoded") {
        return Err(invalid_request(
            "the body is sent as application/x-www-form-urlencoded",
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| invalid_request("the body is not UTF-8"))?;
    let params = Params::parse(text).map_err(|e| invalid_request(e.to_string()))?;
    if let Some(name) = params.first_repeated() {
        return Err(invalid_request(format!(
            "the parameter {name} is given more than once"
        )));
    }
    if headers.contains_key(header::AUTHORIZATION) {
        return Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "the app client has no secret: send its client_id in the body, without Authorization",
        ));
    }
    match params.get("client_id").ok().flatten() {
        None => Err(invalid_request("the request has no client_id")),
        Some(id) if id == hosted.client().id => Ok(params),
        Some(_) => Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "there is no such app client",
        )),
    }
}

fn exchange(
    hosted: &HostedUi,
    headers: &HeaderMap,
    body: &[u8],
    now: Instant,
) -> Result<Value, OAuthError> {
    let params = client_request(hosted, headers, body)?;
    let get = |name: &str| params.get(name).ok().flatten();
    match get("grant_type") {
        None => Err(invalid_request("the request has no grant_type")),
        Some("authorization_code") => {
            let code = get("code").ok_or_else(|| invalid_request("the request has no code"))?;
            let redirect_uri = get("redirect_uri")
                .ok_or_else(|| invalid_request("the request has no redirect_uri"))?;
            let verifier = get("code_verifier").ok_or_else(|| {
                invalid_request("the request has no code_verifier (PKCE is required)")
            })?;
            redeem_code(hosted, code, redirect_uri, verifier, now)
        }
        Some("refresh_token") => {
            let refresh_token = get("refresh_token")
                .ok_or_else(|| invalid_request("the request has no refresh_token"))?;
            refresh(hosted, refresh_token, get("scope"), now)
        }
        Some("client_credentials") => Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the app client does not allow the client credentials grant",
        )),
        Some(other) => Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type {other:?} is not supported"),
        )),
    }
}

fn redeem_code(
    hosted: &HostedUi,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
    now: Instant,
) -> Result<Value, OAuthError> {
    let redeemed = hosted.codes().redeem(code, now);
    let grant = match redeemed {
        Ok(grant) => grant,
        Err(Refused::Reused { origin_jti }) => {
            if let Some(origin_jti) = origin_jti {
                hosted.sessions().revoke_by_origin(&origin_jti, now);
                tracing::warn!(
                    %origin_jti,
                    "an authorization code was given twice: the tokens it brought are revoked"
                );
            }
            return Err(invalid_grant("the code has been used"));
        }
        Err(Refused::Expired) => return Err(invalid_grant("the code has expired")),
        Err(Refused::Unknown) => return Err(invalid_grant("the code is not valid")),
    };
    if grant.client_id != hosted.client().id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "the redirect_uri is not the one of the authorization request",
        ));
    }
    if !pkce::verifies(verifier, &grant.code_challenge) {
        return Err(invalid_grant(
            "the code_verifier does not match the code_challenge",
        ));
    }
    let session = Session {
        client_id: grant.client_id,
        username: grant.username,
        scopes: grant.scopes,
        auth_time: grant.auth_time,
        origin_jti: Uuid::new_v4().to_string(),
    };
    let mut answer = issue(hosted, &session, grant.nonce.as_deref())?;
    let refresh_token = hosted.sessions().start(session.clone(), now);
    hosted.codes().record_tokens(code, &session.origin_jti);
    answer["refresh_token"] = json!(refresh_token);
    Ok(answer)
}

fn refresh(
    hosted: &HostedUi,
    refresh_token: &str,
    scope: Option<&str>,
    now: Instant,
) -> Result<Value, OAuthError> {
    let found = hosted.sessions().find(refresh_token, now).cloned();
    let mut session = found.ok_or_else(|| {
        invalid_grant("the refresh token is not valid (unknown, expired or revoked)")
    })?;
    if session.client_id != hosted.client().id {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
    if let Some(scope) = scope {
        let requested =
            parse_scopes(Some(scope)).map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e))?;
        if let Some(extra) = requested.iter().find(|s| !session.scopes.contains(s)) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("the scope {extra:?} was not granted to this refresh token"),
            ));
        }
        session.scopes = requested;
    }
    issue(hosted, &session, None)
}

/// The token answer (RFC 6749 §5.1) with the session's ID (if `openid`) and access tokens.
fn issue(hosted: &HostedUi, session: &Session, nonce: Option<&str>) -> Result<Value, OAuthError> {
    let issued = tokens::issue(
        hosted.issuer(),
        session,
        nonce,
        ACCESS_TOKEN_TTL,
        unix_now(),
    )
    .map_err(|e| {
        tracing::error!(error = %e, "the hosted UI could not sign the tokens");
        OAuthError::new(ErrorCode::ServerError, "could not sign the tokens")
    })?;
    let mut answer = json!({
        "access_token": issued.access_token,
        "expires_in": ACCESS_TOKEN_TTL.as_secs(),
        "token_type": "Bearer",
    });
    if let Some(id_token) = issued.id_token {
        answer["id_token"] = json!(id_token);
    }
    Ok(answer)
}
