//! The JWT check API Gateway HTTP API runs before a route with a JWT authorizer: token from
//! the `Authorization` header, RS256 signature by a key from the issuer's JWKS, then `iss`,
//! `aud`/`client_id`, `exp`, `nbf` and `iat`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use serde_json::Value;

use super::jwks::{JwksError, JwksSource};

/// A verified token's payload.
pub type Claims = serde_json::Map<String, Value>;

/// Far above any real ID or access token, low enough that garbage is refused before work.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Attacker-chosen header values put into error texts are cut to this and made printable.
const MAX_ECHO_CHARS: usize = 64;

/// Why a request was refused. `Display` is the text for `$context.authorizer.error` in the
/// access log; it never contains the token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the request has no token in its Authorization header")]
    MissingToken,
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    #[error("signing method {0} is invalid")]
    UnsupportedAlgorithm(String),
    #[error("the token header has no kid")]
    MissingKeyId,
    #[error("no key in the issuer's JWKS matches kid {0}")]
    UnknownKey(String),
    #[error("the JWKS key for kid {0} is not an RS256 signing key")]
    UnusableKey(String),
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("the token does not have a valid issuer")]
    WrongIssuer,
    #[error("the token does not have a valid audience")]
    WrongAudience,
    #[error("the token has no valid {0} claim")]
    InvalidClaim(&'static str),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet ({0} is in the future)")]
    NotYetValid(&'static str),
    #[error("the issuer's signing keys are unavailable: {0}")]
    JwksUnavailable(#[from] JwksError),
}

impl AuthError {
    /// 401 for anything about the token; 503 when the keys could not be had, since that is a
    /// failing dependency and not the caller's fault.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::JwksUnavailable(_) => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }

    /// The `www-authenticate` value API Gateway sends with a refused token.
    pub fn www_authenticate(&self) -> String {
        let description = self.to_string().replace(['"', '\\'], "'");
        format!(r#"Bearer scope="" error="invalid_token" error_description="{description}""#)
    }
}

/// One authorizer: an issuer, the audiences (app client ids) it accepts, and its keys. The
/// issuer and the key source are separate settings because a stand-in may serve keys at a
/// URL that is not under the issuer it writes into tokens (moto does).
#[derive(Debug)]
pub struct JwtAuthorizer {
    issuer: String,
    audiences: Vec<String>,
    jwks: JwksSource,
    leeway: Duration,
}

impl JwtAuthorizer {
    pub fn new(issuer: String, audiences: Vec<String>, jwks: JwksSource) -> Self {
        Self {
            issuer,
            audiences,
            jwks,
            leeway: Duration::ZERO,
        }
    }

    /// Clock leeway for `exp`, `nbf` and `iat`. The default is none: AWS documents the checks
    /// against the current time without any, and the local issuer and moto share this
    /// machine's clock. Set a few seconds when the issuer is a remote one with its own clock.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    pub fn jwks(&self) -> &JwksSource {
        &self.jwks
    }

    /// Checks the `Authorization` header value and returns the token's claims.
    pub async fn authorize(
        &self,
        authorization: Option<&http::HeaderValue>,
    ) -> Result<Claims, AuthError> {
        let token = extract_token(authorization)?;
        self.verify(token).await
    }

    /// Checks a bare token (no `Bearer ` prefix).
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let parts = split(token)?;
        let header = decode_json(parts.header)?;
        // The algorithm is settled before any key is looked at: `none` and HMAC (with the
        // public key as the "secret") never reach a verifier.
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(AuthError::Malformed("no alg"))?;
        if alg != "RS256" {
            return Err(AuthError::UnsupportedAlgorithm(printable(alg)));
        }
        if header.contains_key("crit") {
            // RFC 7515 §4.1.11: extensions we do not understand make the token invalid.
            return Err(AuthError::Malformed("unsupported crit header"));
        }
        let kid = match header.get("kid") {
            Some(Value::String(kid)) => kid,
            Some(_) => return Err(AuthError::Malformed("kid is not a string")),
            None => return Err(AuthError::MissingKeyId),
        };
        let jwk = self
            .jwks
            .find(kid)
            .await?
            .ok_or_else(|| AuthError::UnknownKey(printable(kid)))?;
        verify_signature(&jwk, kid, &parts)?;

        let claims = decode_json(parts.payload)?;
        self.check_claims(&claims, unix_now())?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &Claims, now: f64) -> Result<(), AuthError> {
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(AuthError::WrongIssuer);
        }
        if !self.audience_matches(claims) {
            return Err(AuthError::WrongAudience);
        }
        let leeway = self.leeway.as_secs_f64();
        let exp = numeric(claims, "exp")?.ok_or(AuthError::InvalidClaim("exp"))?;
        if exp + leeway <= now {
            return Err(AuthError::Expired);
        }
        for claim in ["nbf", "iat"] {
            if numeric(claims, claim)?.is_some_and(|at| at - leeway > now) {
                return Err(AuthError::NotYetValid(claim));
            }
        }
        Ok(())
    }

    /// `aud` (a string or an array of them) when present; `client_id` only when `aud` is
    /// absent, which is how Cognito access tokens name their client.
    fn audience_matches(&self, claims: &Claims) -> bool {
        let accepted = |value: &str| self.audiences.iter().any(|a| a == value);
        match claims.get("aud") {
            Some(Value::String(aud)) => accepted(aud),
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(accepted),
            Some(_) => false,
            None => claims
                .get("client_id")
                .and_then(Value::as_str)
                .is_some_and(accepted),
        }
    }
}

/// The identity source may hold the token alone or prefixed with `Bearer` (AWS: "The
/// identitySource can include only the token, or the token prefixed with Bearer").
fn extract_token(authorization: Option<&http::HeaderValue>) -> Result<&str, AuthError> {
    let value = authorization.ok_or(AuthError::MissingToken)?;
    let value = value
        .to_str()
        .map_err(|_| AuthError::Malformed("not visible ASCII"))?
        .trim();
    if value.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MissingToken);
    }
    // The auth scheme is case-insensitive (RFC 9110 §11.1).
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim_start(),
        _ => value,
    };
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token)
}

struct Parts<'a> {
    /// The whole token.
    whole: &'a str,
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    /// `header.payload`, what the signature covers.
    signed: &'a str,
}

fn split(token: &str) -> Result<Parts<'_>, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::Malformed("too long"));
    }
    let (signed, signature) = token
        .rsplit_once('.')
        .ok_or(AuthError::Malformed("not a JWS"))?;
    let (header, payload) = signed
        .split_once('.')
        .ok_or(AuthError::Malformed("not a JWS"))?;
    if payload.contains('.') || signature.contains('.') {
        return Err(AuthError::Malformed(
            "not a JWS (encrypted tokens are not supported)",
        ));
    }
    Ok(Parts {
        whole: token,
        header,
        payload,
        signature,
        signed,
    })
}

fn decode_json(segment: &str) -> Result<Claims, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| AuthError::Malformed("not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed("not a JSON object"))
}

fn verify_signature(jwk: &Jwk, kid: &str, parts: &Parts<'_>) -> Result<(), AuthError> {
    let unusable = || AuthError::UnusableKey(printable(kid));
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return Err(unusable());
    };
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
        || jwk
            .common
            .key_algorithm
            .is_some_and(|alg| alg != KeyAlgorithm::RS256)
    {
        return Err(unusable());
    }
    if verified::before(parts, &rsa.n, &rsa.e) {
        return Ok(());
    }
    let n = URL_SAFE_NO_PAD.decode(&rsa.n).map_err(|_| unusable())?;
    let e = URL_SAFE_NO_PAD.decode(&rsa.e).map_err(|_| unusable())?;
    let signature = URL_SAFE_NO_PAD
        .decode(parts.signature)
        .map_err(|_| AuthError::Malformed("signature is not base64url"))?;
    // Keys under 2048 bits are refused along with bad signatures.
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            parts.signed.as_bytes(),
            &signature,
        )
        .map_err(|_| AuthError::BadSignature)?;
    verified::remember(parts, &rsa.n, &rsa.e);
    Ok(())
}

/// The tokens whose signatures this thread verified, each with the key that verified it.
///
/// An RS256 verification costs more than the rest of a request's check together (about 10 µs
/// here), and a client sends the same token with every request until it expires. The
/// verification is a function of the key and the token alone, so its result can be kept: a
/// token is taken as verified only if the same key verified the same bytes. The key is still
/// looked up in the JWKS and the claims (`exp` and the rest) still checked on every request, so
/// a key rotated out or an expired token is refused as before.
mod verified {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::Parts;

    /// Tokens kept per thread; past it, the thread starts over.
    const KEPT: usize = 256;

    /// Token (`header.payload.signature`) to the key's `n` and `e` (base64url, as in the JWKS).
    type Kept = HashMap<Box<str>, (Box<str>, Box<str>)>;

    thread_local! {
        static KEPT_TOKENS: RefCell<Kept> = RefCell::new(HashMap::new());
    }

    pub(super) fn before(parts: &Parts<'_>, n: &str, e: &str) -> bool {
        KEPT_TOKENS.with_borrow(|kept| {
            kept.get(parts.whole)
                .is_some_and(|(kn, ke)| **kn == *n && **ke == *e)
        })
    }

    pub(super) fn remember(parts: &Parts<'_>, n: &str, e: &str) {
        KEPT_TOKENS.with_borrow_mut(|kept| {
            if kept.len() >= KEPT {
                kept.clear();
            }
            kept.insert(parts.whole.into(), (n.into(), e.into()));
        });
    }
}

/// A NumericDate claim: absent is `None`, present but not a number is an error.
fn numeric(claims: &Claims, name: &'static str) -> Result<Option<f64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_f64()
            .map(Some)
            .ok_or(AuthError::InvalidClaim(name)),
    }
}

fn printable(text: &str) -> String {
    text.chars()
        .take(MAX_ECHO_CHARS)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Claims as API Gateway hands them to the integration at
/// `requestContext.authorizer.jwt.claims` (payload 2.0): a flat map of strings. Strings stay
/// as they are, numbers and booleans become their text, arrays become `[a b]` (elements
/// space-separated inside brackets, not JSON), objects become JSON text, nulls are left out.
/// AWS documents only that the claims arrive there; the array, object and null forms are
/// what API Gateway has been observed to send (e.g. `cognito:groups` as `[admin editor]`).
pub fn claims_as_strings(claims: &Claims) -> HashMap<String, String> {
    claims
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| (name.clone(), flat(value)))
        .collect()
}

fn flat(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(flat).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::json;

    use super::*;
    use crate::auth::test_support::{CLIENT_ID, ISSUER, issuer, other_pem, pem};

    fn authorizer() -> JwtAuthorizer {
        JwtAuthorizer::new(
            ISSUER.into(),
            vec!["another-client".into(), CLIENT_ID.into()],
            JwksSource::Static(issuer().jwk_set()),
        )
    }

    fn bearer(token: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap()
    }

    fn now() -> i64 {
        unix_now() as i64
    }

    /// Valid ID-token claims with `changes` merged over them.
    fn claims(changes: Value) -> Claims {
        let mut claims = json!({
            "sub": "0b5c3a52-63a6-5d4b-9d5e-2f0b4b1c9a11",
            "aud": CLIENT_ID,
            "iss": ISSUER,
            "token_use": "id",
            "cognito:username": "alice",
            "auth_time": now(),
            "iat": now(),
            "exp": now() + 3600,
        });
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        claims
    }

    fn signed(changes: Value) -> String {
        issuer().sign_claims(&claims(changes)).unwrap()
    }

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    async fn check(token: &str) -> Result<Claims, AuthError> {
        authorizer().authorize(Some(&bearer(token))).await
    }

    #[tokio::test]
    async fn valid_token_is_accepted_and_claims_returned() {
        let token = issuer()
            .mint_id_token("alice", Duration::from_secs(3600))
            .unwrap();
        let claims = check(&token).await.unwrap();
        assert_eq!(claims["cognito:username"], "alice");
        assert_eq!(claims["sub"], issuer().sub_for("alice").to_string());
    }

    #[tokio::test]
    async fn a_verified_token_is_taken_again_only_with_the_key_that_verified_it() {
        let token = signed(json!({}));
        check(&token).await.unwrap();
        // Kept as verified now; the same bytes again pass.
        check(&token).await.unwrap();
        // The JWKS now serves another key under the same kid: the kept result does not count.
        let mut rotated = crate::auth::issuer::LocalIssuer::from_pkcs8_pem(
            &other_pem(),
            ISSUER.into(),
            CLIENT_ID.into(),
        )
        .unwrap()
        .jwk_set();
        rotated.keys[0].common.key_id = issuer().jwk_set().keys[0].common.key_id.clone();
        let after_rotation = JwtAuthorizer::new(
            ISSUER.into(),
            vec![CLIENT_ID.into()],
            JwksSource::Static(rotated),
        );
        let err = after_rotation.verify(&token).await.unwrap_err();
        assert!(matches!(err, AuthError::BadSignature), "{err:?}");
        // And the claims are still checked every time: another audience refuses it.
        let elsewhere = JwtAuthorizer::new(
            ISSUER.into(),
            vec!["elsewhere".into()],
            JwksSource::Static(issuer().jwk_set()),
        );
        let err = elsewhere.verify(&token).await.unwrap_err();
        assert!(matches!(err, AuthError::WrongAudience), "{err:?}");
        // A token differing in its signature alone is verified afresh, and refused.
        let (signed_part, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let forged = format!("{signed_part}.{flipped}{}", &signature[1..]);
        let err = check(&forged).await.unwrap_err();
        assert!(matches!(err, AuthError::BadSignature), "{err:?}");
    }

    #[tokio::test]
    async fn bearer_prefix_is_optional() {
        let token = signed(json!({}));
        let bare = HeaderValue::from_str(&token).unwrap();
        assert!(authorizer().authorize(Some(&bare)).await.is_ok());
        let lower = HeaderValue::from_str(&format!("bearer  {token}")).unwrap();
        assert!(authorizer().authorize(Some(&lower)).await.is_ok());
    }

    #[tokio::test]
    async fn missing_or_empty_header_is_missing_token() {
        assert!(matches!(
            authorizer().authorize(None).await,
            Err(AuthError::MissingToken)
        ));
        for empty in ["", "   ", "Bearer", "Bearer   "] {
            let value = HeaderValue::from_static(empty);
            let result = authorizer().authorize(Some(&value)).await;
            assert!(matches!(result, Err(AuthError::MissingToken)), "{empty:?}");
        }
    }

    #[tokio::test]
    async fn garbage_is_malformed() {
        for garbage in [
            "garbage",
            "a.b",
            "a.b.c",
            "Basic dXNlcjpwYXNz",
            "a.b.c.d.e",
            "!!.??.##",
        ] {
            let result = check(garbage).await;
            assert!(
                matches!(result, Err(AuthError::Malformed(_))),
                "{garbage}: {result:?}"
            );
        }
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(
            check(&huge).await,
            Err(AuthError::Malformed("too long"))
        ));
        let binary = HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap();
        let result = authorizer().authorize(Some(&binary)).await;
        assert!(matches!(result, Err(AuthError::Malformed(_))));
    }

    #[tokio::test]
    async fn alg_none_is_rejected() {
        let header = json!({"alg": "none", "kid": issuer().kid()});
        for signature in ["", "AAAA"] {
            let token = format!(
                "{}.{}.{signature}",
                b64(&header),
                b64(&Value::Object(claims(json!({}))))
            );
            let result = check(&token).await;
            assert!(
                matches!(&result, Err(AuthError::UnsupportedAlgorithm(alg)) if alg == "none"),
                "{result:?}"
            );
        }
    }

    #[tokio::test]
    async fn hs256_signed_with_the_public_key_is_rejected() {
        // The classic confusion attack: the public key, which anyone can fetch, used as an
        // HMAC secret. Try it both as PEM text and as DER bytes.
        let public_pem = {
            let jwk = &issuer().jwk_set().keys[0];
            let decoding = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
            let jsonwebtoken::DecodingKeyKind::RsaModulusExponent { n, e } = decoding.kind() else {
                panic!("RSA JWK")
            };
            let der = rsa_public_der(n, e);
            (
                pem::encode(&pem::Pem::new("RSA PUBLIC KEY", der.clone())),
                der,
            )
        };
        for secret in [public_pem.0.as_bytes(), &public_pem.1[..]] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(issuer().kid().to_owned());
            let token = jsonwebtoken::encode(
                &header,
                &claims(json!({})),
                &EncodingKey::from_secret(secret),
            )
            .unwrap();
            let result = check(&token).await;
            assert!(
                matches!(&result, Err(AuthError::UnsupportedAlgorithm(alg)) if alg == "HS256"),
                "{result:?}"
            );
        }
    }

    /// A minimal DER `RSAPublicKey` (PKCS#1) from n and e.
    fn rsa_public_der(n: &[u8], e: &[u8]) -> Vec<u8> {
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            let len = body.len();
            if len < 0x80 {
                out.push(len as u8);
            } else {
                let bytes: Vec<u8> = len
                    .to_be_bytes()
                    .iter()
                    .copied()
                    .skip_while(|b| *b == 0)
                    .collect();
                out.push(0x80 | bytes.len() as u8);
                out.extend(bytes);
            }
            out.extend_from_slice(body);
            out
        }
        let int = |v: &[u8]| {
            let mut body = Vec::new();
            if v[0] & 0x80 != 0 {
                body.push(0);
            }
            body.extend_from_slice(v);
            tlv(0x02, &body)
        };
        tlv(0x30, &[int(n), int(e)].concat())
    }

    #[tokio::test]
    async fn other_algorithms_are_rejected_before_key_lookup() {
        for alg in ["RS384", "PS256", "ES256", "EdDSA", "HS512", "rs256"] {
            let header = json!({"alg": alg, "kid": "not-a-key"});
            let token = format!(
                "{}.{}.AAAA",
                b64(&header),
                b64(&Value::Object(claims(json!({}))))
            );
            let result = check(&token).await;
            assert!(
                matches!(result, Err(AuthError::UnsupportedAlgorithm(_))),
                "{alg}: {result:?}"
            );
        }
    }

    #[tokio::test]
    async fn unknown_or_missing_kid_is_rejected() {
        let header = json!({"alg": "RS256", "kid": "no-such-key"});
        let token = format!(
            "{}.{}.AAAA",
            b64(&header),
            b64(&Value::Object(claims(json!({}))))
        );
        assert!(
            matches!(check(&token).await, Err(AuthError::UnknownKey(kid)) if kid == "no-such-key")
        );

        let header = json!({"alg": "RS256"});
        let token = format!(
            "{}.{}.AAAA",
            b64(&header),
            b64(&Value::Object(claims(json!({}))))
        );
        assert!(matches!(check(&token).await, Err(AuthError::MissingKeyId)));
    }

    #[tokio::test]
    async fn token_for_another_audience_is_rejected() {
        let token = signed(json!({"aud": "someone-else"}));
        assert!(matches!(check(&token).await, Err(AuthError::WrongAudience)));
        let token = signed(json!({"aud": ["someone-else", "and-another"]}));
        assert!(matches!(check(&token).await, Err(AuthError::WrongAudience)));
        let token = signed(json!({"aud": null}));
        assert!(matches!(check(&token).await, Err(AuthError::WrongAudience)));
    }

    #[tokio::test]
    async fn client_id_counts_only_without_aud() {
        // A Cognito access token: no aud, client_id names the app client.
        let access = signed(json!({"aud": null, "client_id": CLIENT_ID, "token_use": "access"}));
        assert!(check(&access).await.is_ok());
        // With aud present, aud decides even when client_id would match.
        let both = signed(json!({"aud": "someone-else", "client_id": CLIENT_ID}));
        assert!(matches!(check(&both).await, Err(AuthError::WrongAudience)));
        let listed = signed(json!({"aud": ["x", CLIENT_ID]}));
        assert!(check(&listed).await.is_ok());
    }

    #[tokio::test]
    async fn token_from_another_issuer_is_rejected() {
        for iss in [
            json!("https://cognito-idp.us-east-1.amazonaws.com/other"),
            json!(format!("{ISSUER}/")),
            json!(null),
            json!(42),
        ] {
            let token = signed(json!({"iss": iss}));
            assert!(
                matches!(check(&token).await, Err(AuthError::WrongIssuer)),
                "{iss}"
            );
        }
    }

    #[tokio::test]
    async fn expired_token_is_rejected() {
        let token = signed(json!({"exp": now() - 1, "iat": now() - 3600}));
        assert!(matches!(check(&token).await, Err(AuthError::Expired)));
        let token = signed(json!({"exp": null}));
        assert!(matches!(
            check(&token).await,
            Err(AuthError::InvalidClaim("exp"))
        ));
        let token = signed(json!({"exp": "tomorrow"}));
        assert!(matches!(
            check(&token).await,
            Err(AuthError::InvalidClaim("exp"))
        ));
    }

    #[tokio::test]
    async fn leeway_applies_to_exp() {
        let token = signed(json!({"exp": now() - 5, "iat": now() - 3600}));
        let lenient = authorizer().with_leeway(Duration::from_secs(60));
        assert!(lenient.authorize(Some(&bearer(&token))).await.is_ok());
    }

    #[tokio::test]
    async fn nbf_or_iat_in_the_future_is_rejected() {
        let token = signed(json!({"nbf": now() + 600}));
        assert!(matches!(
            check(&token).await,
            Err(AuthError::NotYetValid("nbf"))
        ));
        let token = signed(json!({"iat": now() + 600}));
        assert!(matches!(
            check(&token).await,
            Err(AuthError::NotYetValid("iat"))
        ));
        let token = signed(json!({"nbf": now()}));
        assert!(check(&token).await.is_ok());
    }

    #[tokio::test]
    async fn modified_payload_with_original_signature_is_rejected() {
        let token = signed(json!({}));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(&Value::Object(claims(
            json!({"cognito:username": "mallory", "sub": "someone-else"}),
        )));
        parts[1] = &forged;
        assert!(matches!(
            check(&parts.join(".")).await,
            Err(AuthError::BadSignature)
        ));
        // A single flipped signature character, too.
        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(matches!(
            check(&tampered).await,
            Err(AuthError::BadSignature)
        ));
    }

    #[tokio::test]
    async fn token_signed_by_another_key_with_the_same_kid_is_rejected() {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = None;
        header.kid = Some(issuer().kid().to_owned());
        let other = EncodingKey::from_rsa_pem(other_pem().as_bytes()).unwrap();
        let token = jsonwebtoken::encode(&header, &claims(json!({})), &other).unwrap();
        assert!(matches!(check(&token).await, Err(AuthError::BadSignature)));
        // Sanity: the same claims under the real key pass.
        assert!(check(&signed(json!({}))).await.is_ok());
        assert_ne!(other_pem(), pem());
    }

    #[tokio::test]
    async fn keys_not_meant_for_rs256_signing_are_refused() {
        let mut set = issuer().jwk_set();
        set.keys[0].common.public_key_use = Some(PublicKeyUse::Encryption);
        let authorizer = JwtAuthorizer::new(
            ISSUER.into(),
            vec![CLIENT_ID.into()],
            JwksSource::Static(set),
        );
        let result = authorizer
            .authorize(Some(&bearer(&signed(json!({})))))
            .await;
        assert!(
            matches!(result, Err(AuthError::UnusableKey(_))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn unreachable_jwks_is_a_dependency_failure() {
        let remote = crate::auth::RemoteJwks::new("http://127.0.0.1:9/jwks.json").unwrap();
        let authorizer = JwtAuthorizer::new(
            ISSUER.into(),
            vec![CLIENT_ID.into()],
            JwksSource::Remote(remote),
        );
        let err = authorizer
            .authorize(Some(&bearer(&signed(json!({})))))
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::JwksUnavailable(_)), "{err:?}");
        assert_eq!(err.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn errors_never_contain_the_token() {
        let good = signed(json!({"exp": now() - 10}));
        let cases = [
            good.clone(),
            signed(json!({"aud": "x"})),
            format!("{}x", &good),
            good.replace('.', ""),
        ];
        for token in cases {
            let err = check(&token).await.unwrap_err();
            let texts = [err.to_string(), format!("{err:?}"), err.www_authenticate()];
            for text in texts {
                for part in token.split('.').filter(|p| p.len() > 8) {
                    assert!(!text.contains(part), "{text}");
                }
            }
        }
    }

    #[test]
    fn www_authenticate_is_shaped_like_api_gateways() {
        assert_eq!(
            AuthError::WrongAudience.www_authenticate(),
            r#"Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience""#
        );
        assert_eq!(AuthError::Expired.status(), http::StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn claims_flatten_like_api_gateway() {
        let claims = json!({
            "sub": "abc",
            "exp": 1_700_000_000,
            "email_verified": true,
            "cognito:groups": ["admin", "poweruser"],
            "address": {"city": "Seattle"},
            "nickname": null,
            "ratio": 1.5,
            "version": "42",
        });
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        let flat = claims_as_strings(&claims);
        assert_eq!(flat["sub"], "abc");
        assert_eq!(flat["exp"], "1700000000");
        assert_eq!(flat["email_verified"], "true");
        assert_eq!(flat["cognito:groups"], "[admin poweruser]");
        assert_eq!(flat["address"], r#"{"city":"Seattle"}"#);
        assert_eq!(flat["ratio"], "1.5");
        assert_eq!(flat["version"], "42");
        assert!(!flat.contains_key("nickname"));
    }
}
