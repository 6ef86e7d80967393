//! A small HTTP/1 client for the twin's subcommands and tests, on the hyper stack the twin
//! already links (no second HTTP stack for a handful of loopback calls).

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the twin at {base}: {source} (is `cargo run --release` running?)")]
    Unreachable {
        base: String,
        source: hyper_util::client::legacy::Error,
    },
    #[error("bad request: {0}")]
    Build(#[from] http::Error),
    #[error("reading the response: {0}")]
    Body(#[from] hyper::Error),
    #[error("signing the request: {0}")]
    Sign(String),
}

/// A response, whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
pub struct TwinClient {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl TwinClient {
    /// `base` is `http://host:port`, without a trailing slash.
    pub fn new(base: impl Into<String>) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            client,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Reply, ClientError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body.into()))?;
        let response =
            self.client
                .request(request)
                .await
                .map_err(|source| ClientError::Unreachable {
                    base: self.base.clone(),
                    source,
                })?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Result<Reply, ClientError> {
        self.send(Method::GET, path, headers, Bytes::new()).await
    }

    /// A JSON `POST`.
    pub async fn post_json(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> Result<Reply, ClientError> {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.send(Method::POST, path, &all, body.to_string()).await
    }

    /// A request to `/internal/*` signed with SigV4 at `at` (as an AWS SDK signs it), with a
    /// JSON body when `body` is not empty.
    pub async fn send_signed(
        &self,
        credentials: &crate::auth::sigv4::LocalCredentials,
        at: time::OffsetDateTime,
        method: Method,
        path: &str,
        body: impl Into<Bytes>,
    ) -> Result<Reply, ClientError> {
        let body = body.into();
        let host = self
            .base
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.authority().map(|a| a.to_string()))
            .ok_or_else(|| ClientError::Sign(format!("{} has no host", self.base)))?;
        let mut headers = vec![("host", host.as_str())];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        let added = crate::auth::sigv4::sign(
            credentials,
            crate::names::REGION,
            at,
            method.as_str(),
            path,
            &headers,
            &body,
        )
        .map_err(|e| ClientError::Sign(e.to_string()))?;
        let added: Vec<(&str, &str)> = added
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        headers.extend(added);
        self.send(method, path, &headers, body).await
    }

    /// Signs in at the local issuer's `/login` and returns the ID token.
    pub async fn sign_in(&self, username: &str) -> Result<String, String> {
        let reply = self
            .post_json(
                "/login",
                &[("accept", "application/json")],
                &serde_json::json!({ "username": username }),
            )
            .await
            .map_err(|e| e.to_string())?;
        match reply.json().get("id_token").and_then(|t| t.as_str()) {
            Some(token) if reply.status.is_success() => Ok(token.to_owned()),
            _ => Err(format!("sign-in failed: {} {}", reply.status, reply.text())),
        }
    }
}
