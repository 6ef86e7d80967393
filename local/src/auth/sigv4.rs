//! API Gateway's `AWS_IAM` authorization for `/internal/*`: AWS Signature Version 4 in the
//! `Authorization` header, checked against the twin's local access key.
//!
//! The expected signature is computed by the `aws-sigv4` crate (the AWS SDK's own signer) from
//! the headers the request says it signed, so signing and verifying share one implementation;
//! this module only parses the header, checks the scope and the clock, and compares in constant
//! time. API Gateway's answers are kept: the messages below are the ones it sends.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign as sigv4_sign};
use aws_sigv4::sign::v4;
use base64::Engine;
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::macros::format_description;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The service name of API Gateway's invoke URLs, in every credential scope.
pub const SERVICE: &str = "execute-api";
/// How far `x-amz-date` may be from the gateway's clock. API Gateway answers
/// `Signature expired: … (… - 5 min.)` past it, so five minutes either way, not SigV4's
/// general fifteen.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);
/// The file, inside the twin's data folder, that holds the local access key.
pub const CREDENTIALS_FILE: &str = "iam-credentials.json";
/// The IAM user the local key belongs to.
pub const USER_NAME: &str = "twin-operator";
/// Its unique id (`AIDA…`, as IAM user ids start).
pub const USER_ID: &str = "AIDATWINOPERATOR0LOCAL";

/// An access key and its secret. The secret never reaches `Debug` or a log line.
#[derive(Clone, Serialize, Deserialize)]
pub struct LocalCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for LocalCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("IAM credentials {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("IAM credentials {} are not {{\"access_key_id\", \"secret_access_key\"}}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}

/// Random characters from `alphabet`: the RNG's bytes reduced modulo its length (both
/// alphabets here are 32 or 64 long, so every character is equally likely).
fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system RNG works");
    bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

impl LocalCredentials {
    /// A new key shaped like IAM's: `AKIA` and 16 base32 characters, a 40-character secret.
    pub fn generate() -> Self {
        let mut secret = [0u8; 30];
        aws_lc_rs::rand::fill(&mut secret).expect("the system RNG works");
        Self {
            access_key_id: format!(
                "AKIA{}",
                random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
            ),
            secret_access_key: base64::engine::general_purpose::STANDARD.encode(secret),
        }
    }

    /// Loads `dir/iam-credentials.json`, or makes and stores a key on first start (readable
    /// by its owner only), so a key handed to a tool keeps working after a restart.
    pub fn load_or_create(dir: &Path) -> Result<Self, CredentialsError> {
        let path = dir.join(CREDENTIALS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let creds: Self =
                    serde_json::from_slice(&bytes).map_err(|e| CredentialsError::Invalid {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                if creds.access_key_id.is_empty() || creds.secret_access_key.is_empty() {
                    return Err(CredentialsError::Invalid {
                        path,
                        reason: "empty key or secret".into(),
                    });
                }
                Ok(creds)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let creds = Self::generate();
                let json = serde_json::to_vec_pretty(&creds).expect("strings serialize");
                super::issuer::write_private(dir, &path, &json)
                    .map_err(|source| CredentialsError::Io { path, source })?;
                Ok(creds)
            }
            Err(source) => Err(CredentialsError::Io { path, source }),
        }
    }

    fn sdk_credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "local-twin",
        )
    }
}

/// Who signed, as API Gateway hands it to the function at `requestContext.authorizer.iam`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IamIdentity {
    pub access_key: String,
    pub account_id: String,
    pub caller_id: String,
    pub cognito_identity: Option<serde_json::Value>,
    pub principal_org_id: Option<String>,
    pub user_arn: String,
    pub user_id: String,
}

/// Why a request was refused; every case is a `403`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header, or one of another scheme (a bearer token, say).
    #[error("the request is not signed with SigV4")]
    Unsigned,
    #[error("malformed SigV4 authorization: {0}")]
    Malformed(String),
    #[error("unknown access key {0}")]
    UnknownKey(String),
    #[error("temporary credentials (x-amz-security-token) are not issued by the twin")]
    SessionToken,
    #[error("credential scope: {0}")]
    Scope(String),
    #[error("x-amz-date {date} is more than 5 minutes before the gateway's clock ({now})")]
    Expired { date: String, now: OffsetDateTime },
    #[error("x-amz-date {date} is more than 5 minutes after the gateway's clock ({now})")]
    NotYetCurrent { date: String, now: OffsetDateTime },
    #[error("signature mismatch")]
    Mismatch,
}

fn amz_date(t: OffsetDateTime) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    t.format(&format).expect("an in-range time formats")
}

impl SigV4Error {
    /// API Gateway's `x-amzn-ErrorType` for this refusal.
    pub fn error_type(&self) -> &'static str {
        match self {
            SigV4Error::Unsigned => "ForbiddenException",
            SigV4Error::UnknownKey(_) | SigV4Error::SessionToken => "UnrecognizedClientException",
            _ => "InvalidSignatureException",
        }
    }

    /// The `message` of API Gateway's `403` body.
    pub fn message(&self) -> String {
        let skew = MAX_SKEW.as_secs() / 60;
        match self {
            SigV4Error::Unsigned => "Forbidden".into(),
            SigV4Error::Malformed(detail) => detail.clone(),
            SigV4Error::UnknownKey(_) | SigV4Error::SessionToken => {
                "The security token included in the request is invalid.".into()
            }
            SigV4Error::Scope(detail) => detail.clone(),
            SigV4Error::Expired { date, now } => format!(
                "Signature expired: {date} is now earlier than {} ({} - {skew} min.)",
                amz_date(*now - MAX_SKEW),
                amz_date(*now)
            ),
            SigV4Error::NotYetCurrent { date, now } => format!(
                "Signature not yet current: {date} is still later than {} ({} + {skew} min.)",
                amz_date(*now + MAX_SKEW),
                amz_date(*now)
            ),
            SigV4Error::Mismatch => "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
        }
    }
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, SigV4Error> {
    let Some(rest) = value.strip_prefix(ALGORITHM).filter(|r| r.starts_with(' ')) else {
        return Err(SigV4Error::Unsigned);
    };
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or_else(|| {
            SigV4Error::Malformed(format!(
                "Invalid key=value pair (missing equal-sign) in Authorization header: '{}'",
                part.trim()
            ))
        })?;
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => {}
        }
    }
    let missing = |name: &str| {
        SigV4Error::Malformed(format!("Authorization header requires '{name}' parameter."))
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, "aws4_request"] = scope[..] else {
        return Err(SigV4Error::Malformed(format!(
            "Credential should be scoped to a valid region, service and terminator 'aws4_request': '{credential}'."
        )));
    };
    Ok(Authorization {
        access_key,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

fn parse_amz_date(value: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(value, &format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// The twin's `AWS_IAM` authorizer: one local key, of one IAM user of the twin's account.
#[derive(Debug, Clone)]
pub struct SigV4Verifier {
    credentials: LocalCredentials,
    region: String,
    account_id: String,
    /// The signing name of the credential scope: API Gateway's, or another service's that the
    /// twin answers with the same key.
    service: &'static str,
}

impl SigV4Verifier {
    pub fn new(credentials: LocalCredentials, region: &str, account_id: &str) -> Self {
        Self {
            credentials,
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            service: SERVICE,
        }
    }

    /// The same key and region, for requests signed for `service` (CloudWatch's `monitoring`).
    pub fn for_service(&self, service: &'static str) -> Self {
        Self {
            service,
            ..self.clone()
        }
    }

    fn identity(&self) -> IamIdentity {
        IamIdentity {
            access_key: self.credentials.access_key_id.clone(),
            account_id: self.account_id.clone(),
            caller_id: USER_ID.to_owned(),
            cognito_identity: None,
            principal_org_id: None,
            user_arn: format!("arn:aws:iam::{}:user/{USER_NAME}", self.account_id),
            user_id: USER_ID.to_owned(),
        }
    }

    /// Checks a request's signature as API Gateway does: the scope (key, date, region,
    /// service), `host` and `x-amz-date` among the signed headers, the clock, and the signature
    /// over method, path, query, the signed headers and the body's SHA-256.
    pub fn verify(
        &self,
        method: &str,
        uri: &http::Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<IamIdentity, SigV4Error> {
        let header = |name: &str| {
            let mut values = headers.get_all(name).iter();
            match (values.next(), values.next()) {
                (Some(v), None) => v.to_str().ok(),
                _ => None,
            }
        };
        let value = headers
            .get(http::header::AUTHORIZATION)
            .ok_or(SigV4Error::Unsigned)?
            .to_str()
            .map_err(|_| SigV4Error::Unsigned)?;
        let auth = parse_authorization(value)?;
        let date = header("x-amz-date").ok_or_else(|| {
            SigV4Error::Malformed(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into(),
            )
        })?;
        for required in ["host", "x-amz-date"] {
            if !auth.signed_headers.contains(&required) {
                return Err(SigV4Error::Malformed(format!(
                    "'{required}' must be a 'SignedHeader' in the AWS Authorization."
                )));
            }
        }
        if auth.access_key != self.credentials.access_key_id {
            return Err(SigV4Error::UnknownKey(auth.access_key.to_owned()));
        }
        if headers.contains_key("x-amz-security-token") {
            return Err(SigV4Error::SessionToken);
        }
        let signed_at = parse_amz_date(date).ok_or_else(|| {
            SigV4Error::Malformed(format!(
                "X-Amz-Date must be in the ISO8601 Long Format (yyyyMMdd'T'HHmmss'Z'): '{date}'"
            ))
        })?;
        if auth.date != &date[..8] {
            return Err(SigV4Error::Scope(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{date}'.",
                auth.date,
                &date[..8]
            )));
        }
        if auth.region != self.region {
            return Err(SigV4Error::Scope(format!(
                "Credential should be scoped to a valid region. Expected '{}', got '{}'.",
                self.region, auth.region
            )));
        }
        if auth.service != self.service {
            return Err(SigV4Error::Scope(format!(
                "Credential should be scoped to correct service: '{}'.",
                self.service
            )));
        }
        if signed_at < now - MAX_SKEW {
            return Err(SigV4Error::Expired {
                date: date.to_owned(),
                now,
            });
        }
        if signed_at > now + MAX_SKEW {
            return Err(SigV4Error::NotYetCurrent {
                date: date.to_owned(),
                now,
            });
        }
        // A declared payload hash must be the body's: the signature covers the declared one.
        if let Some(declared) = header("x-amz-content-sha256")
            && !declared.eq_ignore_ascii_case(&hex_sha256(body))
        {
            return Err(SigV4Error::Mismatch);
        }

        // Only the headers the client signed, each with all its values; a signed header the
        // request lacks cannot have been signed.
        let mut signed = Vec::new();
        for name in &auth.signed_headers {
            let before = signed.len();
            for value in headers.get_all(*name) {
                let value = value.to_str().map_err(|_| SigV4Error::Mismatch)?;
                signed.push((*name, value));
            }
            if signed.len() == before {
                return Err(SigV4Error::Mismatch);
            }
        }
        let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
        // Every signed header counts, including those the SDK's signer leaves out by default.
        let mut settings = SigningSettings::default();
        settings.excluded_headers = None;
        let expected = compute_signature(
            &self.credentials,
            &self.region,
            self.service,
            signed_at,
            settings,
            method,
            path_and_query,
            signed,
            body,
        )
        .map_err(|_| SigV4Error::Mismatch)?;
        aws_lc_rs::constant_time::verify_slices_are_equal(
            expected.as_bytes(),
            auth.signature.as_bytes(),
        )
        .map_err(|_| SigV4Error::Mismatch)?;
        Ok(self.identity())
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[allow(clippy::too_many_arguments)]
fn compute_signature(
    credentials: &LocalCredentials,
    region: &str,
    service: &str,
    at: OffsetDateTime,
    settings: SigningSettings,
    method: &str,
    path_and_query: &str,
    headers: Vec<(&str, &str)>,
    body: &[u8],
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let identity = credentials.sdk_credentials().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::from(at))
        .settings(settings)
        .build()?
        .into();
    let request = SignableRequest::new(
        method,
        path_and_query,
        headers.into_iter(),
        SignableBody::Bytes(body),
    )?;
    let (_, signature) = sigv4_sign(request, &params)?.into_parts();
    Ok(signature)
}

/// Signs a request to `/internal/*` as an AWS SDK would (for the tests and the `internal`
/// subcommand): returns the `x-amz-date` and `authorization` headers to add. `headers` must
/// hold `host` with the value the request will carry.
pub fn sign(
    credentials: &LocalCredentials,
    region: &str,
    at: OffsetDateTime,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<(String, String)>, Box<dyn std::error::Error + Send + Sync>> {
    let identity = credentials.sdk_credentials().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(SystemTime::from(at))
        .settings(SigningSettings::default())
        .build()?
        .into();
    let request = SignableRequest::new(
        method,
        path_and_query,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )?;
    let (instructions, _) = sigv4_sign(request, &params)?.into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGION: &str = "us-east-1";
    const ACCOUNT: &str = "000000000000";
    const HOST: &str = "127.0.0.1:3000";
    const PATH: &str = "/internal/events/replay";
    const BODY: &[u8] = br#"{"from":"2026-11-21T00:00:00Z","to":"2026-11-22T00:00:00Z"}"#;

    fn creds() -> LocalCredentials {
        LocalCredentials {
            access_key_id: "AKIATWINTEST0000KEY1".into(),
            secret_access_key: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNl".into(),
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_300_937).unwrap()
    }

    /// A signed request: its headers, as a client would send them.
    fn signed(with: &LocalCredentials, at: OffsetDateTime, path: &str, body: &[u8]) -> HeaderMap {
        let base = [("host", HOST), ("content-type", "application/json")];
        let added = sign(with, REGION, at, "POST", path, &base, body).unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in base
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .chain(added)
        {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        headers
    }

    fn verifier() -> SigV4Verifier {
        SigV4Verifier::new(creds(), REGION, ACCOUNT)
    }

    fn check(headers: &HeaderMap, path: &str, body: &[u8]) -> Result<IamIdentity, SigV4Error> {
        verifier().verify("POST", &path.parse().unwrap(), headers, body, now())
    }

    #[test]
    fn a_signed_request_passes_with_the_callers_identity() {
        let headers = signed(&creds(), now(), PATH, BODY);
        let id = check(&headers, PATH, BODY).unwrap();
        assert_eq!(id.access_key, "AKIATWINTEST0000KEY1");
        assert_eq!(id.account_id, ACCOUNT);
        assert_eq!(id.user_arn, "arn:aws:iam::000000000000:user/twin-operator");
        // Within the allowed skew, both ways.
        for offset in [-299, 299] {
            let at = now() + time::Duration::seconds(offset);
            check(&signed(&creds(), at, PATH, BODY), PATH, BODY).unwrap();
        }
        // A query string is signed too.
        let with_query = format!("{PATH}?dry=1&b=%20x");
        check(
            &signed(&creds(), now(), &with_query, BODY),
            &with_query,
            BODY,
        )
        .unwrap();
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let headers = signed(&creds(), now(), PATH, BODY);
        let other_body = br#"{"from":"2026-11-01T00:00:00Z","to":"2026-11-22T00:00:00Z"}"#;
        assert_eq!(check(&headers, PATH, other_body), Err(SigV4Error::Mismatch));
        assert_eq!(
            check(&headers, "/internal/events/replay2", BODY),
            Err(SigV4Error::Mismatch)
        );
        assert_eq!(
            check(&headers, &format!("{PATH}?x=1"), BODY),
            Err(SigV4Error::Mismatch)
        );
        let mut changed = headers.clone();
        changed.insert("content-type", "text/plain".parse().unwrap());
        assert_eq!(check(&changed, PATH, BODY), Err(SigV4Error::Mismatch));
        let mut declared = headers.clone();
        declared.insert(
            "x-amz-content-sha256",
            hex_sha256(b"other").parse().unwrap(),
        );
        assert_eq!(check(&declared, PATH, BODY), Err(SigV4Error::Mismatch));
    }

    #[test]
    fn wrong_secret_unknown_key_and_tokens_are_refused() {
        let wrong_secret = LocalCredentials {
            secret_access_key: "another-secret".into(),
            ..creds()
        };
        let headers = signed(&wrong_secret, now(), PATH, BODY);
        let err = check(&headers, PATH, BODY).unwrap_err();
        assert_eq!(err, SigV4Error::Mismatch);
        assert!(
            err.message()
                .starts_with("The request signature we calculated")
        );

        let unknown = LocalCredentials {
            access_key_id: "AKIAUNKNOWN000000000".into(),
            ..creds()
        };
        let err = check(&signed(&unknown, now(), PATH, BODY), PATH, BODY).unwrap_err();
        assert!(matches!(err, SigV4Error::UnknownKey(_)));
        assert_eq!(
            err.message(),
            "The security token included in the request is invalid."
        );

        let mut with_token = signed(&creds(), now(), PATH, BODY);
        with_token.insert("x-amz-security-token", "token".parse().unwrap());
        assert_eq!(
            check(&with_token, PATH, BODY),
            Err(SigV4Error::SessionToken)
        );
    }

    #[test]
    fn old_and_future_dates_are_refused_with_api_gateways_message() {
        let old = now() - time::Duration::minutes(16);
        let err = check(&signed(&creds(), old, PATH, BODY), PATH, BODY).unwrap_err();
        assert!(matches!(err, SigV4Error::Expired { .. }));
        assert_eq!(
            err.message(),
            "Signature expired: 20261121T222617Z is now earlier than 20261121T223717Z (20261121T224217Z - 5 min.)"
        );
        let past_skew = now() - time::Duration::seconds(301);
        assert!(matches!(
            check(&signed(&creds(), past_skew, PATH, BODY), PATH, BODY),
            Err(SigV4Error::Expired { .. })
        ));
        let future = now() + time::Duration::minutes(6);
        assert!(matches!(
            check(&signed(&creds(), future, PATH, BODY), PATH, BODY),
            Err(SigV4Error::NotYetCurrent { .. })
        ));
    }

    #[test]
    fn unsigned_and_other_schemes_are_forbidden() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HOST.parse().unwrap());
        let err = check(&headers, PATH, BODY).unwrap_err();
        assert_eq!(
            (err.message().as_str(), err.error_type()),
            ("Forbidden", "ForbiddenException")
        );
        headers.insert("authorization", "Bearer eyJhbGciOi.x.y".parse().unwrap());
        assert_eq!(check(&headers, PATH, BODY), Err(SigV4Error::Unsigned));
    }

    #[test]
    fn malformed_headers_and_scopes_are_refused() {
        let good = signed(&creds(), now(), PATH, BODY);
        let auth = good["authorization"].to_str().unwrap().to_owned();
        let cases = [
            auth.replace(
                "SignedHeaders=content-type;host;x-amz-date",
                "SignedHeaders=content-type;x-amz-date",
            ),
            auth.replace(
                "SignedHeaders=content-type;host;x-amz-date",
                "SignedHeaders=content-type;host",
            ),
            auth.replace("/us-east-1/", "/eu-west-1/"),
            auth.replace("/execute-api/", "/s3/"),
            auth.replace("/20261121/", "/20261120/"),
            auth.replace(", Signature=", ", Sig="),
            auth.replace("/aws4_request", ""),
        ];
        for bad in cases {
            assert_ne!(bad, auth, "each case changes the header");
            let mut headers = good.clone();
            headers.insert("authorization", bad.parse().unwrap());
            let err = check(&headers, PATH, BODY).unwrap_err();
            assert!(
                matches!(err, SigV4Error::Malformed(_) | SigV4Error::Scope(_)),
                "{bad}: {err:?}"
            );
        }
        let mut no_date = good.clone();
        no_date.remove("x-amz-date");
        assert!(matches!(
            check(&no_date, PATH, BODY),
            Err(SigV4Error::Malformed(_))
        ));
    }

    #[test]
    fn credentials_are_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalCredentials::load_or_create(dir.path()).unwrap();
        assert!(first.access_key_id.starts_with("AKIA") && first.access_key_id.len() == 20);
        assert_eq!(first.secret_access_key.len(), 40);
        let again = LocalCredentials::load_or_create(dir.path()).unwrap();
        assert_eq!(again.access_key_id, first.access_key_id);
        assert_eq!(again.secret_access_key, first.secret_access_key);
        assert!(!format!("{first:?}").contains(&first.secret_access_key));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(CREDENTIALS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
    }
}
