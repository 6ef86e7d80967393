//! A Hosted UI for the unit tests: the shared test key, one registered callback and sign-out URL.

use std::sync::Arc;

use super::{AppClient, HostedUi};
pub use crate::auth::test_support::CLIENT_ID;

pub const CALLBACK: &str = "http://localhost:8080/app/";
pub const LOGOUT: &str = "http://localhost:8080/signed-out";
/// RFC 7636 appendix B's verifier and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub fn client() -> AppClient {
    AppClient::new(CLIENT_ID.into(), &[CALLBACK.into()], &[LOGOUT.into()], 8080)
}

pub fn hosted() -> Arc<HostedUi> {
    Arc::new(HostedUi::new(crate::auth::test_support::issuer(), client()))
}

/// The Hosted UI's routes on a fresh [`hosted`].
pub fn routes() -> axum::Router {
    super::routes(hosted())
}
