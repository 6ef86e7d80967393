//! Keys for the unit tests. RSA key generation is slow, so each key is made once per test
//! binary and shared.

use std::sync::{Arc, LazyLock};

use super::issuer::{KEY_FILE, LocalIssuer, generate_pem};

pub const ISSUER: &str = "http://localhost:8080/local_pool";
pub const CLIENT_ID: &str = "local-client";

/// The shared key, created through the production path (generate, store 0600, load).
static FRESH: LazyLock<(tempfile::TempDir, LocalIssuer)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let issuer = LocalIssuer::load_or_create(dir.path(), ISSUER.into(), CLIENT_ID.into()).unwrap();
    (dir, issuer)
});

static PEM: LazyLock<String> =
    LazyLock::new(|| std::fs::read_to_string(FRESH.0.path().join(KEY_FILE)).unwrap());

static SHARED: LazyLock<Arc<LocalIssuer>> = LazyLock::new(|| {
    Arc::new(LocalIssuer::from_pkcs8_pem(&PEM, ISSUER.into(), CLIENT_ID.into()).unwrap())
});

/// A second, unrelated key, for forgeries.
static OTHER_PEM: LazyLock<String> = LazyLock::new(|| generate_pem().unwrap());

/// The directory the shared key was generated into, and the issuer that generated it.
pub fn fresh_issuer() -> &'static (tempfile::TempDir, LocalIssuer) {
    &FRESH
}

/// The shared key as PKCS#8 PEM.
pub fn pem() -> String {
    PEM.clone()
}

/// An issuer on the shared key, at [`ISSUER`] for [`CLIENT_ID`].
pub fn issuer() -> Arc<LocalIssuer> {
    SHARED.clone()
}

/// Another RSA key as PKCS#8 PEM.
pub fn other_pem() -> String {
    OTHER_PEM.clone()
}
