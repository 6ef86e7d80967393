//! The Hosted UI stand-in as Cognito's user pool domain serves it: OAuth 2.0 (RFC 6749) and
//! OpenID Connect for one public app client, the authorization code grant with PKCE (RFC 7636)
//! and refresh tokens.
//!
//! - [`authorize`]: `GET /oauth2/authorize` checks the request and sends the browser to the
//!   sign-in page, `/login` ([`sign_in`]), whose form issues a code ([`codes`]).
//! - [`token`]: `POST /oauth2/token` trades a code (with its PKCE verifier, [`pkce`]) or a
//!   refresh token ([`sessions`]) for tokens shaped like Cognito's ([`tokens`]).
//! - [`userinfo`], [`revoke`] and [`logout`]: the other endpoints of the domain.
//! - [`client`]: the app client (its id, callback and sign-out URLs, scopes); [`params`] and
//!   [`error`]: how requests are read and refused.

pub mod authorize;
pub mod client;
pub mod codes;
pub mod error;
pub mod logout;
pub mod params;
pub mod pkce;
pub mod revoke;
pub mod sessions;
pub mod sign_in;
pub mod token;
pub mod tokens;
pub mod userinfo;

#[cfg(test)]
pub(crate) mod test_support;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

pub use client::AppClient;

use super::issuer::LocalIssuer;
use super::{JwksSource, JwtAuthorizer};

/// The endpoints, at the root of the twin as at the root of a user pool domain.
pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
pub const TOKEN_PATH: &str = "/oauth2/token";
pub const USERINFO_PATH: &str = "/oauth2/userInfo";
pub const REVOKE_PATH: &str = "/oauth2/revoke";
pub const LOGOUT_PATH: &str = "/logout";
pub const LOGIN_PATH: &str = "/login";

/// Cognito's authorization codes are valid for 5 minutes.
pub const CODE_TTL: Duration = Duration::from_secs(5 * 60);
/// The app client's token validities (`terraform/modules/auth/main.tf`: 60 minutes, 30 days).
pub const ACCESS_TOKEN_TTL: Duration = super::login::ID_TOKEN_TTL;
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The Hosted UI: the pool's issuer, its app client, and what it remembers while it runs
/// (codes and refresh tokens; nothing of it is written to disk).
pub struct HostedUi {
    issuer: Arc<LocalIssuer>,
    client: AppClient,
    codes: Mutex<codes::CodeStore>,
    sessions: Mutex<sessions::Sessions>,
    /// Checks the access tokens that `/oauth2/userInfo` is given, with the pool's own key.
    access_tokens: JwtAuthorizer,
}

impl std::fmt::Debug for HostedUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostedUi")
            .field("issuer", &self.issuer)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl HostedUi {
    pub fn new(issuer: Arc<LocalIssuer>, client: AppClient) -> Self {
        let access_tokens = JwtAuthorizer::new(
            issuer.issuer_url().to_owned(),
            vec![client.id.clone()],
            JwksSource::Static(issuer.jwk_set()),
        );
        Self {
            issuer,
            client,
            codes: Mutex::new(codes::CodeStore::new(CODE_TTL)),
            sessions: Mutex::new(sessions::Sessions::new(REFRESH_TOKEN_TTL, ACCESS_TOKEN_TTL)),
            access_tokens,
        }
    }

    pub fn issuer(&self) -> &LocalIssuer {
        &self.issuer
    }

    pub fn client(&self) -> &AppClient {
        &self.client
    }

    fn codes(&self) -> MutexGuard<'_, codes::CodeStore> {
        self.codes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sessions(&self) -> MutexGuard<'_, sessions::Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every Hosted UI route: `/login` (the shell's sign-in too) and the OAuth 2.0 endpoints.
pub fn routes(hosted: Arc<HostedUi>) -> Router {
    Router::new()
        .route(
            LOGIN_PATH,
            get(super::login::login_page).post(super::login::login),
        )
        .route(AUTHORIZE_PATH, get(authorize::authorize))
        .route(TOKEN_PATH, post(token::token))
        .route(USERINFO_PATH, get(userinfo::userinfo))
        .route(REVOKE_PATH, post(revoke::revoke))
        .route(LOGOUT_PATH, get(logout::logout))
        .with_state(hosted)
}

#[cfg(test)]
mod endpoint_tests;
