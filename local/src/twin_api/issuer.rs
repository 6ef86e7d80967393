//! `/_twin/issuer/.well-known/*`: the local issuer's JWKS and discovery documents, under the
//! issuer URL as Cognito serves a user pool's, so that the JWT authorizer finds the keys
//! where it would on AWS.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};

use crate::auth::LocalIssuer;

pub(super) async fn jwks(State(issuer): State<Arc<LocalIssuer>>) -> Response {
    // Short caching: a verifier refetches on an unknown kid anyway.
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(issuer.jwks()),
    )
        .into_response()
}

pub(super) async fn openid_configuration(State(issuer): State<Arc<LocalIssuer>>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(issuer.openid_configuration()),
    )
        .into_response()
}
