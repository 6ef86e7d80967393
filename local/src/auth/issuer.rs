//! The local stand-in for a Cognito user pool: one RSA key kept on disk, ID tokens shaped
//! like Cognito's, and the JWKS and discovery documents that describe the key.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use uuid::Uuid;

use super::authorizer::Claims;
use super::oauth;

/// The file, inside the issuer's directory, that holds the private key.
pub const KEY_FILE: &str = "issuer-key.pem";
const PEM_TAG: &str = "PRIVATE KEY";
/// Cognito's user name limit.
const MAX_USERNAME_CHARS: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("issuer key {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("issuer key {} is not a PKCS#8 RSA private key: {reason}", path.display())]
    InvalidKey { path: PathBuf, reason: String },
    #[error("could not generate the issuer's RSA key")]
    KeyGeneration,
    #[error("invalid username: {0}")]
    InvalidUsername(&'static str),
    #[error("could not sign the token: {0}")]
    Signing(String),
}

/// A user pool of one key, any user name signs in.
pub struct LocalIssuer {
    issuer_url: String,
    client_id: String,
    signing_key: EncodingKey,
    kid: String,
    n: String,
    e: String,
}

impl std::fmt::Debug for LocalIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIssuer")
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Same as [`LocalIssuer::load_or_create`].
pub fn load_or_create(
    dir: &Path,
    issuer_url: String,
    client_id: String,
) -> Result<LocalIssuer, IssuerError> {
    LocalIssuer::load_or_create(dir, issuer_url, client_id)
}

pub(super) fn generate_pem() -> Result<String, IssuerError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| IssuerError::KeyGeneration)?;
    let der = pair.as_der().map_err(|_| IssuerError::KeyGeneration)?;
    Ok(pem::encode(&pem::Pem::new(PEM_TAG, der.as_ref())))
}

/// Temp file (0600 from the start, never a window with looser rights) + fsync + rename, so a
/// crash leaves either no key or a whole one.
pub(super) fn write_private(dir: &Path, path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{KEY_FILE}.{}.tmp", Uuid::new_v4()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // Persist the rename itself; not all platforms can open a directory, hence best effort.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "issuer key is readable by group or others; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

impl LocalIssuer {
    /// Loads `dir/issuer-key.pem`, or generates and stores a new key on first start, so
    /// tokens minted before a restart keep verifying after it.
    pub fn load_or_create(
        dir: &Path,
        issuer_url: String,
        client_id: String,
    ) -> Result<Self, IssuerError> {
        let path = dir.join(KEY_FILE);
        let pem_text = match std::fs::read_to_string(&path) {
            Ok(text) => {
                warn_if_readable_by_others(&path);
                text
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = generate_pem()?;
                write_private(dir, &path, text.as_bytes()).map_err(|source| IssuerError::Io {
                    path: path.clone(),
                    source,
                })?;
                tracing::info!(path = %path.display(), "generated a new local issuer key");
                text
            }
            Err(source) => return Err(IssuerError::Io { path, source }),
        };
        LocalIssuer::from_pkcs8_pem(&pem_text, issuer_url, client_id)
            .map_err(|reason| IssuerError::InvalidKey { path, reason })
    }

    /// Builds an issuer from a PKCS#8 PEM RSA key (what [`load_or_create`] keeps on disk).
    pub fn from_pkcs8_pem(
        pem_text: &str,
        issuer_url: String,
        client_id: String,
    ) -> Result<Self, String> {
        let parsed = pem::parse(pem_text).map_err(|e| e.to_string())?;
        if parsed.tag() != PEM_TAG {
            return Err(format!(
                "PEM block is {:?}, expected {PEM_TAG:?}",
                parsed.tag()
            ));
        }
        let pair = KeyPair::from_pkcs8(parsed.contents()).map_err(|e| e.to_string())?;
        let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let n = URL_SAFE_NO_PAD.encode(&public.n);
        let e = URL_SAFE_NO_PAD.encode(&public.e);
        let signing_key =
            EncodingKey::from_rsa_pem(pem_text.as_bytes()).map_err(|e| e.to_string())?;
        Ok(Self {
            kid: thumbprint(&n, &e),
            issuer_url,
            client_id,
            signing_key,
            n,
            e,
        })
    }

    pub fn issuer_url(&self) -> &str {
        &self.issuer_url
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The key id: the RFC 7638 thumbprint of the public key, so it is stable across restarts
    /// and changes only when the key does.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Where Cognito serves a pool's keys: under the issuer URL.
    pub fn jwks_url(&self) -> String {
        format!(
            "{}/.well-known/jwks.json",
            self.issuer_url.trim_end_matches('/')
        )
    }

    /// The `sub` a user name maps to: a UUID v5 of the pool's key id and the name, so it is
    /// the same on every sign-in and every restart (whatever port the twin listens on, which
    /// is part of the issuer URL), and differs between pools, as Cognito's `sub` does.
    pub fn sub_for(&self, username: &str) -> Uuid {
        // Neither part can contain a newline, so the joined name is unambiguous.
        Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("{}\n{username}", self.kid).as_bytes(),
        )
    }

    /// An RS256 ID token with the claims Cognito puts in one (without the optional
    /// attributes such as `email`, which Cognito adds only when the user has them).
    pub fn mint_id_token(&self, username: &str, ttl: Duration) -> Result<String, IssuerError> {
        validate_username(username)?;
        let now = unix_now();
        let claims = json!({
            "sub": self.sub_for(username).to_string(),
            "aud": self.client_id,
            "iss": self.issuer_url,
            "token_use": "id",
            "cognito:username": username,
            "auth_time": now,
            "iat": now,
            "exp": now.saturating_add(ttl.as_secs()),
            "jti": Uuid::new_v4().to_string(),
            "origin_jti": Uuid::new_v4().to_string(),
            "event_id": Uuid::new_v4().to_string(),
        });
        let Value::Object(claims) = claims else {
            unreachable!("json! of an object")
        };
        self.sign_claims(&claims)
    }

    /// Signs any claims with the issuer's key and `kid`: for tests that need tokens a real
    /// pool would never issue (expired, other audience, ...).
    pub fn sign_claims(&self, claims: &Claims) -> Result<String, IssuerError> {
        // Cognito's header is exactly {kid, alg}; no `typ`.
        let mut header = Header::new(Algorithm::RS256);
        header.typ = None;
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing_key)
            .map_err(|e| IssuerError::Signing(e.to_string()))
    }

    /// The public key as a JWKS document, in Cognito's shape.
    pub fn jwks(&self) -> Value {
        json!({
            "keys": [{
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "kid": self.kid,
                "n": self.n,
                "e": self.e,
            }]
        })
    }

    /// [`Self::jwks`] as a typed set, for `JwksSource::Static`.
    pub fn jwk_set(&self) -> JwkSet {
        serde_json::from_value(self.jwks()).expect("the issuer's own JWKS is a valid JwkSet")
    }

    /// The Hosted UI's address: the pool's domain, which is the issuer's origin here (on AWS
    /// they are two hosts).
    pub fn domain(&self) -> &str {
        let after_scheme = self.issuer_url.find("://").map_or(0, |i| i + 3);
        let end = self.issuer_url[after_scheme..]
            .find('/')
            .map_or(self.issuer_url.len(), |i| after_scheme + i);
        &self.issuer_url[..end]
    }

    /// The OpenID discovery document, with Cognito's members where they are true of this
    /// stand-in: the code flow only (`response_types_supported`), a public client
    /// (`token_endpoint_auth_methods_supported` `none`), PKCE with `S256`, and the scopes the
    /// app client allows.
    pub fn openid_configuration(&self) -> Value {
        let domain = self.domain();
        json!({
            "issuer": self.issuer_url,
            "jwks_uri": self.jwks_url(),
            "authorization_endpoint": format!("{domain}{}", oauth::AUTHORIZE_PATH),
            "token_endpoint": format!("{domain}{}", oauth::TOKEN_PATH),
            "userinfo_endpoint": format!("{domain}{}", oauth::USERINFO_PATH),
            "revocation_endpoint": format!("{domain}{}", oauth::REVOKE_PATH),
            "end_session_endpoint": format!("{domain}{}", oauth::LOGOUT_PATH),
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": [oauth::pkce::METHOD],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": oauth::client::ALLOWED_SCOPES,
            "claims_supported": [
                "sub", "aud", "iss", "token_use", "cognito:username", "email", "email_verified",
                "nonce", "at_hash", "auth_time", "iat", "exp", "jti", "origin_jti", "event_id"
            ],
        })
    }
}

/// Cognito allows `[\p{L}\p{M}\p{S}\p{N}\p{P}]+`, 1-128 characters; approximated here as
/// printable, non-whitespace characters.
pub fn validate_username(username: &str) -> Result<(), IssuerError> {
    if username.is_empty() {
        return Err(IssuerError::InvalidUsername("it is empty"));
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(IssuerError::InvalidUsername(
            "it is longer than 128 characters",
        ));
    }
    if username
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(IssuerError::InvalidUsername(
            "it contains whitespace or control characters",
        ));
    }
    Ok(())
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_support::{CLIENT_ID, ISSUER, fresh_issuer, issuer};

    #[test]
    fn kid_is_the_rfc7638_thumbprint() {
        let issuer = issuer();
        // jsonwebtoken computes thumbprints independently; both must agree.
        let jwk = &issuer.jwk_set().keys[0];
        let theirs = jwk
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .unwrap();
        assert_eq!(issuer.kid(), theirs);
    }

    #[tokio::test]
    async fn key_is_created_0600_and_survives_a_reload() {
        let (dir, first) = fresh_issuer();
        let path = dir.path().join(KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        // No temp files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let token = first
            .mint_id_token("alice", Duration::from_secs(60))
            .unwrap();
        let second = load_or_create(
            dir.path(),
            first.issuer_url().into(),
            first.client_id().into(),
        )
        .unwrap();
        assert_eq!(first.kid(), second.kid());
        assert_eq!(first.jwks(), second.jwks());
        // A token minted before the "restart" verifies with the reloaded keys.
        let authorizer = crate::auth::JwtAuthorizer::new(
            second.issuer_url().into(),
            vec![second.client_id().into()],
            crate::auth::JwksSource::Static(second.jwk_set()),
        );
        let header = http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        assert!(authorizer.authorize(Some(&header)).await.is_ok());
    }

    #[test]
    fn a_broken_key_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "not a key").unwrap();
        let err = load_or_create(dir.path(), ISSUER.into(), CLIENT_ID.into()).unwrap_err();
        assert!(matches!(err, IssuerError::InvalidKey { .. }), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(),
            "not a key"
        );
    }

    #[test]
    fn same_username_same_sub() {
        let issuer = issuer();
        assert_eq!(issuer.sub_for("alice"), issuer.sub_for("alice"));
        assert_ne!(issuer.sub_for("alice"), issuer.sub_for("bob"));
        assert_eq!(issuer.sub_for("alice").get_version_num(), 5);
        // The same pool (key) behind another address: the same users.
        let moved = LocalIssuer::from_pkcs8_pem(
            &crate::auth::test_support::pem(),
            "http://127.0.0.1:4000/_twin/issuer".into(),
            CLIENT_ID.into(),
        )
        .unwrap();
        assert_eq!(issuer.sub_for("alice"), moved.sub_for("alice"));
        // Another pool: other users.
        let other =
            LocalIssuer::from_pkcs8_pem(&generate_pem().unwrap(), ISSUER.into(), CLIENT_ID.into())
                .unwrap();
        assert_ne!(issuer.sub_for("alice"), other.sub_for("alice"));
    }

    #[test]
    fn id_token_is_shaped_like_cognitos() {
        let issuer = issuer();
        let token = issuer
            .mint_id_token("alice", Duration::from_secs(3600))
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(issuer.kid()));
        assert_eq!(header.typ, None);
        let claims: Claims = jsonwebtoken::dangerous::insecure_decode_claims(&token).unwrap();
        assert_eq!(claims["sub"], issuer.sub_for("alice").to_string());
        assert_eq!(claims["aud"], CLIENT_ID);
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["token_use"], "id");
        assert_eq!(claims["cognito:username"], "alice");
        let iat = claims["iat"].as_u64().unwrap();
        assert_eq!(claims["auth_time"].as_u64(), Some(iat));
        assert_eq!(claims["exp"].as_u64(), Some(iat + 3600));
        for id in ["jti", "origin_jti", "event_id"] {
            assert!(
                Uuid::parse_str(claims[id].as_str().unwrap()).is_ok(),
                "{id}"
            );
        }
    }

    #[test]
    fn usernames_are_validated() {
        let issuer = issuer();
        for bad in ["", "has space", "tab\there", "nl\n", &"x".repeat(129)] {
            assert!(
                matches!(
                    issuer.mint_id_token(bad, Duration::from_secs(60)),
                    Err(IssuerError::InvalidUsername(_))
                ),
                "{bad:?}"
            );
        }
        for good in ["alice", "a.b+c@example.com", "Zoë_ß-1", &"x".repeat(128)] {
            assert!(
                issuer.mint_id_token(good, Duration::from_secs(60)).is_ok(),
                "{good:?}"
            );
        }
    }

    #[test]
    fn discovery_documents() {
        let issuer = issuer();
        assert_eq!(issuer.jwks_url(), format!("{ISSUER}/.well-known/jwks.json"));
        let config = issuer.openid_configuration();
        assert_eq!(config["issuer"], ISSUER);
        assert_eq!(issuer.domain(), "http://localhost:8080");
        assert_eq!(
            config["authorization_endpoint"],
            "http://localhost:8080/oauth2/authorize"
        );
        assert_eq!(
            config["token_endpoint"],
            "http://localhost:8080/oauth2/token"
        );
        assert_eq!(
            config["userinfo_endpoint"],
            "http://localhost:8080/oauth2/userInfo"
        );
        assert_eq!(
            config["revocation_endpoint"],
            "http://localhost:8080/oauth2/revoke"
        );
        assert_eq!(
            config["end_session_endpoint"],
            "http://localhost:8080/logout"
        );
        assert_eq!(config["response_types_supported"], json!(["code"]));
        assert_eq!(config["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            config["scopes_supported"],
            json!(["openid", "email", "profile"])
        );
        assert_eq!(config["jwks_uri"], issuer.jwks_url());
        assert_eq!(
            config["id_token_signing_alg_values_supported"],
            json!(["RS256"])
        );
        let key = &issuer.jwks()["keys"][0];
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"], issuer.kid());
        assert_eq!(key["e"], "AQAB");
    }
}
