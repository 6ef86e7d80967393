//! `GET /logout`: signs the user out and redirects, as Cognito's does, either to `logout_uri`
//! (one of the app client's sign-out URLs, exactly) or, given an authorization request instead
//! (`redirect_uri`, `response_type`, …), to the sign-in page for it. Anything else is an error
//! page, never a redirect. The stand-in keeps no sign-in session of its own (every
//! authorization shows the form), so there is no cookie to clear.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::authorize::AuthorizeRequest;
use super::error::found;
use super::params::Params;
use super::{HostedUi, LOGIN_PATH};
use crate::auth::pages::error_page;

pub(super) async fn logout(
    State(hosted): State<Arc<HostedUi>>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let refuse = |detail: &str| error_page(StatusCode::BAD_REQUEST, "Sign-out error", detail);
    let params = match Params::parse(&query) {
        Ok(params) => params,
        Err(e) => return refuse(&e.to_string()),
    };
    let client_id = match params.get("client_id") {
        Ok(Some(id)) => id,
        Ok(None) => return refuse("the request has no client_id"),
        Err(e) => return refuse(&e.to_string()),
    };
    if client_id != hosted.client().id {
        return refuse(&format!("there is no app client {client_id:?}"));
    }
    match params.get("logout_uri") {
        Err(e) => refuse(&e.to_string()),
        Ok(Some(uri)) if hosted.client().is_logout_url(uri) => found(uri),
        Ok(Some(_)) => refuse("the logout_uri is not one of the app client's sign-out URLs"),
        Ok(None) if params.contains("redirect_uri") => {
            match AuthorizeRequest::from_query(&query, hosted.client()) {
                Ok(request) => found(&format!("{LOGIN_PATH}?{}", request.to_query())),
                Err(refusal) => refusal.into_response(),
            }
        }
        Ok(None) => refuse("the request has no logout_uri (or redirect_uri to sign in again)"),
    }
}
