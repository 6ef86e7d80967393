//! Where the authorizer finds the issuer's public keys: a fixed set, or a JWKS URL that is
//! fetched, cached and refetched the way a gateway has to when keys rotate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::{Jwk, JwkSet};

/// How long a fetch may take, connect to last byte.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The least time between two fetches, so that tokens naming made-up `kid`s cannot turn the
/// gateway into a load generator against the issuer.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// API Gateway may cache an issuer's keys for two hours; after that the set is refetched on
/// the next lookup, so a key withdrawn by the issuer stops being accepted.
pub const MAX_KEY_AGE: Duration = Duration::from_secs(2 * 60 * 60);
/// A JWKS is a few kB; anything much bigger is not one.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Why the keys could not be had. The texts name the URL (not secret) and never a token.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("JWKS URL {url:?} is not a valid absolute URL")]
    InvalidUrl { url: String },
    #[error("JWKS URL {url:?}: only http:// and https:// URLs are supported")]
    UnsupportedScheme { url: String },
    #[error("JWKS fetch from {url} timed out after {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("JWKS fetch from {url} failed: {reason}")]
    Request { url: String, reason: String },
    #[error("JWKS fetch from {url} answered HTTP {status}")]
    Status { url: String, status: StatusCode },
    #[error("JWKS from {url} is not a JSON Web Key Set: {reason}")]
    InvalidJson { url: String, reason: String },
    /// No keys were ever fetched and the last attempt is too recent to try again.
    #[error("JWKS from {url} is unavailable (last error: {last_error}); next attempt in {}s", retry_in.as_secs())]
    Unavailable {
        url: String,
        last_error: String,
        retry_in: Duration,
    },
}

/// The keys a [`super::JwtAuthorizer`] checks signatures with.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per authorizer, built at start-up; boxing would only add a hop per request"
)]
pub enum JwksSource {
    /// A set known up front, e.g. the local issuer's own.
    Static(JwkSet),
    /// A set served by the issuer at a URL.
    Remote(RemoteJwks),
}

impl JwksSource {
    /// The key named `kid`, `Ok(None)` when the issuer has no such key.
    pub async fn find(&self, kid: &str) -> Result<Option<Jwk>, JwksError> {
        match self {
            Self::Static(set) => Ok(set.find(kid).cloned()),
            Self::Remote(remote) => remote.find(kid).await,
        }
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// https (a real Cognito pool, with the system's roots) or plain http (moto, the local issuer),
/// on rustls with aws-lc, the TLS stack the AWS SDK brings anyway.
fn http_client() -> Result<HttpClient, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("no TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// A JWKS URL with a cache in front of it.
pub struct RemoteJwks {
    url: String,
    uri: Uri,
    client: HttpClient,
    timeout: Duration,
    min_refetch: Duration,
    max_age: Duration,
    // A tokio mutex is held across the fetch on purpose: concurrent lookups wait for the one
    // fetch in flight instead of each starting their own.
    cache: tokio::sync::Mutex<Cache>,
    fetches: AtomicU64,
}

#[derive(Default)]
struct Cache {
    keys: Option<JwkSet>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
    last_error: Option<String>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RemoteJwks {
    /// Checks the URL now, fetches lazily on the first lookup (or on [`Self::refresh`]).
    pub fn new(url: impl Into<String>) -> Result<Self, JwksError> {
        let url = url.into();
        let uri: Uri = url
            .parse()
            .map_err(|_| JwksError::InvalidUrl { url: url.clone() })?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.authority().is_some() => {}
            Some(_) if uri.authority().is_some() => {
                return Err(JwksError::UnsupportedScheme { url });
            }
            _ => return Err(JwksError::InvalidUrl { url }),
        }
        let client = http_client().map_err(|reason| JwksError::Request {
            url: url.clone(),
            reason,
        })?;
        Ok(Self {
            url,
            uri,
            client,
            timeout: FETCH_TIMEOUT,
            min_refetch: MIN_REFETCH_INTERVAL,
            max_age: MAX_KEY_AGE,
            cache: tokio::sync::Mutex::new(Cache::default()),
            fetches: AtomicU64::new(0),
        })
    }

    /// Overrides [`MIN_REFETCH_INTERVAL`] (tests, or an operator in a hurry).
    pub fn with_min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch = interval;
        self
    }

    /// Overrides [`FETCH_TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many fetches were started, successful or not.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Fetches now, ignoring the cache and the rate limit: for a start-up check.
    pub async fn refresh(&self) -> Result<(), JwksError> {
        let mut cache = self.cache.lock().await;
        self.fetch_into(&mut cache).await
    }

    /// The key named `kid`. An unknown `kid` or an old cache triggers a refetch, at most one
    /// per refetch interval; between refetches the cached set answers.
    pub async fn find(&self, kid: &str) -> Result<Option<Jwk>, JwksError> {
        let mut cache = self.cache.lock().await;
        let fresh = cache
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.max_age);
        if fresh && let Some(key) = cache.keys.as_ref().and_then(|set| set.find(kid)) {
            return Ok(Some(key.clone()));
        }
        let may_fetch = cache
            .attempted_at
            .is_none_or(|at| at.elapsed() >= self.min_refetch);
        if may_fetch && let Err(error) = self.fetch_into(&mut cache).await {
            tracing::warn!(url = %self.url, %error, "JWKS refetch failed");
            if cache.keys.is_none() {
                return Err(error);
            }
            // Keep serving the last good set: an issuer blip should not log everyone out.
        }
        match &cache.keys {
            Some(set) => Ok(set.find(kid).cloned()),
            None => Err(JwksError::Unavailable {
                url: self.url.clone(),
                last_error: cache.last_error.clone().unwrap_or_default(),
                retry_in: cache.attempted_at.map_or(Duration::ZERO, |at| {
                    self.min_refetch.saturating_sub(at.elapsed())
                }),
            }),
        }
    }

    async fn fetch_into(&self, cache: &mut Cache) -> Result<(), JwksError> {
        cache.attempted_at = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = match tokio::time::timeout(self.timeout, self.fetch()).await {
            Ok(result) => result,
            Err(_) => Err(JwksError::Timeout {
                url: self.url.clone(),
                after: self.timeout,
            }),
        };
        match result {
            Ok(set) => {
                tracing::debug!(url = %self.url, keys = set.keys.len(), "JWKS fetched");
                cache.keys = Some(set);
                cache.fetched_at = Some(Instant::now());
                cache.last_error = None;
                Ok(())
            }
            Err(error) => {
                cache.last_error = Some(error.to_string());
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<JwkSet, JwksError> {
        let request_error = |reason: String| JwksError::Request {
            url: self.url.clone(),
            reason,
        };
        let request = http::Request::get(self.uri.clone())
            .header(header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| request_error(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| request_error(error_chain(&e)))?;
        if response.status() != StatusCode::OK {
            return Err(JwksError::Status {
                url: self.url.clone(),
                status: response.status(),
            });
        }
        let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map_err(|e| request_error(e.to_string()))?
            .to_bytes();
        parse_jwks(&body).map_err(|reason| JwksError::InvalidJson {
            url: self.url.clone(),
            reason,
        })
    }
}

/// The legacy client's errors say little at the top ("client error (Connect)"); the cause
/// chain says what happened ("Connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Parses a JWKS leniently: keys this crate cannot represent are skipped rather than
/// failing the whole set, as one exotic key should not lock out every user.
pub fn parse_jwks(body: &[u8]) -> Result<JwkSet, String> {
    #[derive(serde::Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let raw: RawSet = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let keys = raw
        .keys
        .into_iter()
        .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
        .collect();
    Ok(JwkSet { keys })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use axum::Router;
    use axum::routing::get;

    use super::*;
    use crate::auth::test_support::issuer;

    /// Serves `body` at /jwks.json on 127.0.0.1:0 and counts the requests.
    async fn serve(body: serde_json::Value) -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new().route(
            "/jwks.json",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                async move { axum::Json(body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/jwks.json"), hits)
    }

    #[test]
    fn http_and_https_urls_are_accepted() {
        // A real Cognito pool's keys are on https; moto's and the local issuer's on http.
        assert!(
            RemoteJwks::new("https://cognito-idp.us-east-1.amazonaws.com/x/.well-known/jwks.json")
                .is_ok()
        );
        assert!(RemoteJwks::new("http://127.0.0.1:9/jwks.json").is_ok());
        let ftp = RemoteJwks::new("ftp://example.com/jwks.json");
        assert!(matches!(ftp, Err(JwksError::UnsupportedScheme { .. })));
        assert!(matches!(
            RemoteJwks::new("not a url"),
            Err(JwksError::InvalidUrl { .. })
        ));
        assert!(matches!(
            RemoteJwks::new("/relative/jwks.json"),
            Err(JwksError::InvalidUrl { .. })
        ));
    }

    #[tokio::test]
    async fn https_speaks_tls_and_reports_a_failed_handshake() {
        // A plain-http server behind an https URL: the TLS client runs, and fails cleanly.
        let (url, _) = serve(serde_json::json!({"keys": []})).await;
        let jwks = RemoteJwks::new(url.replacen("http://", "https://", 1)).unwrap();
        let err = jwks.refresh().await.unwrap_err();
        assert!(
            matches!(err, JwksError::Request { .. } | JwksError::Timeout { .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn fetches_and_caches_the_set() {
        let issuer = issuer();
        let (url, hits) = serve(issuer.jwks()).await;
        let remote = RemoteJwks::new(url).unwrap();
        let key = remote
            .find(issuer.kid())
            .await
            .unwrap()
            .expect("the issuer's key");
        assert_eq!(key.common.key_id.as_deref(), Some(issuer.kid()));
        // A known kid is answered from the cache.
        assert!(remote.find(issuer.kid()).await.unwrap().is_some());
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!(remote.fetch_count(), 1);
    }

    #[tokio::test]
    async fn unknown_kid_refetch_is_rate_limited() {
        let issuer = issuer();
        let (url, hits) = serve(issuer.jwks()).await;
        let remote = RemoteJwks::new(url).unwrap();
        assert!(remote.find(issuer.kid()).await.unwrap().is_some());
        // A flood of made-up kids right after a fetch costs the issuer nothing.
        for i in 0..20 {
            assert!(remote.find(&format!("bogus-{i}")).await.unwrap().is_none());
        }
        assert_eq!(hits.load(Ordering::SeqCst), 1);

        // Once the interval has passed, an unknown kid may refetch again, once.
        let remote = remote.with_min_refetch_interval(Duration::from_millis(300));
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(remote.find("bogus-again").await.unwrap().is_none());
        assert!(remote.find("bogus-and-again").await.unwrap().is_none());
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn unreachable_issuer_is_a_typed_error_and_is_not_hammered() {
        // Bind then drop a listener: the port is (almost certainly) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let remote = RemoteJwks::new(format!("http://127.0.0.1:{port}/jwks.json")).unwrap();
        let first = remote.find("k").await.unwrap_err();
        assert!(matches!(first, JwksError::Request { .. }), "{first}");
        assert!(
            first.to_string().to_lowercase().contains("refused"),
            "{first}"
        );
        let second = remote.find("k").await.unwrap_err();
        assert!(matches!(second, JwksError::Unavailable { .. }), "{second}");
        assert_eq!(remote.fetch_count(), 1);
    }

    #[tokio::test]
    async fn slow_issuer_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts, then never answers.
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let remote = RemoteJwks::new(format!("http://{addr}/jwks.json"))
            .unwrap()
            .with_timeout(Duration::from_millis(100));
        assert!(matches!(
            remote.find("k").await,
            Err(JwksError::Timeout { .. })
        ));
    }

    #[test]
    fn lenient_parse_skips_unusable_keys() {
        let set = parse_jwks(
            br#"{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"},{"kty":"RSA","kid":7,"n":"AQAB","e":"AQAB"}]}"#,
        )
        .unwrap();
        assert_eq!(set.keys.len(), 1);
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"nope").is_err());
    }
}
