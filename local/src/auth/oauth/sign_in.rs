//! The hosted sign-in page for an authorization request (`/login?response_type=code&…`): its
//! form signs the user in and redirects to the client's `redirect_uri` with a code and the
//! request's `state`.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Form;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;

use super::authorize::AuthorizeRequest;
use super::client::origin;
use super::codes::Grant;
use super::error::redirect_with;
use super::params::Params;
use super::{HostedUi, LOGIN_PATH};
use crate::auth::issuer::validate_username;
use crate::auth::login::LoginForm;
use crate::auth::pages::{self, html_posting_to, sign_in_form};
use crate::html::escape;
use crate::media_type::content_type_is;

/// Whether `/login` was reached with an authorization request (from `/oauth2/authorize`)
/// rather than by the shell walk-through.
pub fn is_authorization_request(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        Params::parse(q).map_or(true, |p| {
            ["client_id", "response_type", "redirect_uri"]
                .iter()
                .any(|name| p.contains(name))
        })
    })
}

/// `GET /login?…`: the sign-in form for the request.
pub fn page(hosted: &HostedUi, query: &str) -> Response {
    match AuthorizeRequest::from_query(query, hosted.client()) {
        Ok(request) => form(StatusCode::OK, &request, None),
        Err(refusal) => refusal.into_response(),
    }
}

/// `POST /login?…`: signs the user in and redirects with a code.
pub async fn submit(hosted: &HostedUi, query: &str, request: Request) -> Response {
    let authorization = match AuthorizeRequest::from_query(query, hosted.client()) {
        Ok(authorization) => authorization,
        Err(refusal) => return refusal.into_response(),
    };
    if !content_type_is(request.headers(), "application/x-www-form-urlencoded") {
        return form(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &authorization,
            Some("the form is sent as application/x-www-form-urlencoded"),
        );
    }
    let username = match Form::<LoginForm>::from_request(request, &()).await {
        Ok(Form(form)) => form.username,
        Err(rejection) => {
            return form(
                rejection.status(),
                &authorization,
                Some(&rejection.body_text()),
            );
        }
    };
    if let Err(e) = validate_username(&username) {
        return form(
            StatusCode::BAD_REQUEST,
            &authorization,
            Some(&e.to_string()),
        );
    }
    let sub = hosted.issuer().sub_for(&username).to_string();
    let code = hosted.codes().issue(
        Grant {
            client_id: authorization.client_id,
            redirect_uri: authorization.redirect_uri.clone(),
            code_challenge: authorization.code_challenge,
            scopes: authorization.scopes,
            nonce: authorization.nonce,
            username,
            auth_time: unix_now(),
        },
        Instant::now(),
    );
    tracing::info!(%sub, "hosted UI signed a user in");
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = &authorization.state {
        params.push(("state", state.as_str()));
    }
    redirect_with(&authorization.redirect_uri, &params)
}

/// The page with the form (and the `error`, if any). The form's answer redirects to the
/// client, so its origin is allowed as a form target.
fn form(status: StatusCode, request: &AuthorizeRequest, error: Option<&str>) -> Response {
    let action = escape(&format!("{LOGIN_PATH}?{}", request.to_query()));
    let error = error
        .map(|e| format!(r#"<p class="error">Could not sign in: {}</p>"#, escape(e)))
        .unwrap_or_default();
    let body = format!("{error}{}", sign_in_form(&action));
    let target = origin(&request.redirect_uri);
    html_posting_to(status, &pages::page("Sign in", &body), target.as_deref())
}

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
