//! Identity: the JWT authorizer and the local issuer.
//!
//! - [`authorizer`]: what API Gateway HTTP API's JWT authorizer checks, and how it hands the
//!   claims on.
//! - [`jwks`]: where the authorizer gets the issuer's keys (a fixed set or a cached URL).
//! - [`issuer`]: the local stand-in for a Cognito user pool (its JWKS and discovery documents
//!   are served among the twin's routes, [`crate::twin_api`]), and [`oauth`]: its Hosted UI,
//!   the OAuth 2.0 and OpenID Connect endpoints of the pool's domain, with the sign-in page
//!   ([`login`]) that also serves the shell walk-through.
//! - [`sigv4`]: API Gateway's `AWS_IAM` authorizer (SigV4) for `/internal/*`, and a signer.

pub mod authorizer;
pub mod issuer;
pub mod jwks;
pub mod login;
pub mod oauth;
mod pages;
pub mod sigv4;

#[cfg(test)]
pub(crate) mod test_support;

pub use authorizer::{AuthError, Claims, JwtAuthorizer, claims_as_strings};
pub use issuer::{IssuerError, LocalIssuer, load_or_create};
pub use jwks::{JwksError, JwksSource, RemoteJwks};
pub use login::ID_TOKEN_TTL;
pub use oauth::{AppClient, HostedUi};

/// Every route of the Hosted UI stand-in (`/login`, `/oauth2/*`, `/logout`) for `client`.
pub fn routes(issuer: std::sync::Arc<LocalIssuer>, client: AppClient) -> axum::Router {
    oauth::routes(std::sync::Arc::new(HostedUi::new(issuer, client)))
}
