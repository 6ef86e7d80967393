//! `opsctl reemit`: asks the API to publish `ItemCreated` again for the items created in a
//! window (`POST /internal/events/replay`, IAM-authorized, so signed with SigV4). Consumers
//! de-duplicate by item id, so re-emitting is always safe.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

use crate::cli::{ReemitArgs, format_instant};

pub const PATH: &str = "/internal/events/replay";
/// A replay walks the window's items and publishes each: allow it time, but not forever.
const TIMEOUT: Duration = Duration::from_secs(300);
/// How much of an error answer to quote.
const QUOTE_BYTES: usize = 2048;

/// One request: the window, and where the previous answer stopped.
#[derive(Debug, Serialize)]
pub struct ReplayRequest {
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// One answer: items found, events accepted, events still refused, and where to go on when
/// the window holds more items than one request sweeps.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReplayAnswer {
    pub items: u64,
    pub published: u64,
    pub failed: u64,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// The whole window's counts, summed over its requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayTotals {
    pub items: u64,
    pub published: u64,
    pub failed: u64,
    pub requests: u64,
}

impl ReplayTotals {
    pub fn add(&mut self, answer: &ReplayAnswer) {
        self.items += answer.items;
        self.published += answer.published;
        self.failed += answer.failed;
        self.requests += 1;
    }
}

/// The keys to sign with: `--access-key-id` and its secret, or the SDK's credential chain.
pub async fn credentials(sdk: &SdkConfig, args: &ReemitArgs) -> Result<Credentials, crate::Error> {
    if let (Some(id), Some(secret)) = (&args.access_key_id, &args.secret_access_key) {
        return Ok(Credentials::new(
            id,
            secret,
            args.session_token.clone(),
            None,
            "opsctl flags",
        ));
    }
    let provider = sdk.credentials_provider().ok_or(
        "no AWS credentials: configure the SDK's chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...) or give --access-key-id",
    )?;
    Ok(provider
        .provide_credentials()
        .await
        .map_err(|e| {
            format!(
                "no AWS credentials from the SDK's chain ({e}): set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give --access-key-id"
            )
        })?)
}

/// Sends one signed request and reads the answer; any status but 2xx is an error quoting it.
pub async fn replay_once(
    api: &str,
    body: &ReplayRequest,
    credentials: &Credentials,
    region: &str,
) -> Result<ReplayAnswer, crate::Error> {
    let url = format!("{api}{PATH}");
    let uri: http::Uri = url.parse()?;
    let host = uri
        .authority()
        .ok_or("the API URL has no host")?
        .to_string();
    let mut request = http::Request::post(uri)
        .header(http::header::HOST, host)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(Bytes::from(serde_json::to_vec(body)?))?;
    crate::sign::sign_request(&mut request, credentials, region, SystemTime::now())?;

    let client = http_client()?;
    let exchange = async {
        let response = client.request(request.map(Full::new)).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok::<_, crate::Error>((status, bytes))
    };
    let (status, bytes) = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| format!("POST {url}: no answer within {} s", TIMEOUT.as_secs()))?
        .map_err(|e| format!("POST {url}: {e}"))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(QUOTE_BYTES)]).into_owned();
        let hint = match status.as_u16() {
            401 | 403 => {
                " (the keys, region or clock may be wrong, or the identity lacks execute-api:Invoke on /internal/*)"
            }
            _ => "",
        };
        return Err(format!("POST {url} answered {status}{hint}: {text}").into());
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "POST {url} answered {status} with an unexpected body ({e}): {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(QUOTE_BYTES)])
        )
        .into()
    })
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// https to API Gateway with the system's roots, or plain http to the local twin; rustls on
/// aws-lc, the TLS stack the AWS SDK brings anyway.
fn http_client() -> Result<HttpClient, crate::Error> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("no TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// The window's replay: requests follow `next_cursor` until the window is swept.
pub async fn replay(
    api: &str,
    from: &str,
    to: &str,
    credentials: &Credentials,
    region: &str,
) -> Result<ReplayTotals, crate::Error> {
    let mut totals = ReplayTotals::default();
    let mut cursor = None;
    loop {
        let body = ReplayRequest {
            from: from.to_owned(),
            to: to.to_owned(),
            cursor: cursor.clone(),
        };
        let answer =
            replay_once(api, &body, credentials, region)
                .await
                .map_err(|e| match totals.requests {
                    0 => e,
                    n => format!(
                        "{e} (after {n} request(s) that re-emitted {} event(s))",
                        totals.published
                    )
                    .into(),
                })?;
        totals.add(&answer);
        match answer.next_cursor {
            // A cursor that does not move would loop for ever: stop and say so.
            Some(next) if Some(&next) == cursor.as_ref() => {
                return Err(format!(
                    "the API answered the cursor it was sent, {next}: stopping after {} request(s)",
                    totals.requests
                )
                .into());
            }
            Some(next) => cursor = Some(next),
            None => return Ok(totals),
        }
    }
}

/// The route's own answer shape, for the whole window.
pub fn render(totals: &ReplayTotals) -> String {
    format!(
        "{{\"items\": {}, \"published\": {}, \"failed\": {}}}\n",
        totals.items, totals.published, totals.failed
    )
}

pub async fn run(sdk: &SdkConfig, args: &ReemitArgs) -> Result<String, crate::Error> {
    args.check()?;
    let region = crate::aws::region(sdk)?;
    let credentials = credentials(sdk, args).await?;
    let (from, to) = (format_instant(args.from), format_instant(args.to));
    let totals = replay(&args.api, &from, &to, &credentials, &region).await?;
    if totals.failed > 0 {
        return Err(format!(
            "{}{} event(s) still not published: run the same command again (re-emitting is safe)",
            render(&totals),
            totals.failed
        )
        .into());
    }
    Ok(render(&totals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_the_cursor_only_when_going_on() {
        let first = ReplayRequest {
            from: "2026-11-22T01:00:00Z".into(),
            to: "2026-11-22T02:00:00Z".into(),
            cursor: None,
        };
        assert_eq!(
            serde_json::to_string(&first).unwrap(),
            r#"{"from":"2026-11-22T01:00:00Z","to":"2026-11-22T02:00:00Z"}"#
        );
        let next = ReplayRequest {
            cursor: Some("abc".into()),
            ..first
        };
        assert!(
            serde_json::to_string(&next)
                .unwrap()
                .ends_with(r#","cursor":"abc"}"#)
        );
    }

    #[test]
    fn answers_add_up_over_the_window() {
        let page: ReplayAnswer = serde_json::from_str(
            r#"{"items": 100, "published": 99, "failed": 1, "next_cursor": "c1"}"#,
        )
        .unwrap();
        let last: ReplayAnswer = serde_json::from_str(
            r#"{"items": 5, "published": 5, "failed": 0, "next_cursor": null}"#,
        )
        .unwrap();
        assert_eq!(last.next_cursor, None);
        let mut totals = ReplayTotals::default();
        totals.add(&page);
        totals.add(&last);
        assert_eq!(
            totals,
            ReplayTotals {
                items: 105,
                published: 104,
                failed: 1,
                requests: 2
            }
        );
        assert_eq!(
            render(&totals),
            "{\"items\": 105, \"published\": 104, \"failed\": 1}\n"
        );
    }
}
