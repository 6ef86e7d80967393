//! SigV4 for API Gateway's IAM authorization (`execute-api`), with the `aws-sigv4` crate.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;

/// The service name API Gateway's invoke URLs are signed for.
pub const SERVICE: &str = "execute-api";

/// Adds `x-amz-date`, `authorization` (and `x-amz-security-token` for temporary keys) to
/// `request`, over its method, URL, headers and body. `host` must already be set: it is signed.
pub fn sign_request(
    request: &mut http::Request<Bytes>,
    credentials: &Credentials,
    region: &str,
    at: SystemTime,
) -> Result<(), crate::Error> {
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(at)
        .settings(SigningSettings::default())
        .build()?
        .into();
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            value
                .to_str()
                .map(|v| (name.as_str(), v))
                .map_err(|_| format!("header {name} is not text, it cannot be signed"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Bytes(request.body()),
    )?;
    let (instructions, _signature) = sign(signable, &params)?.into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn request() -> http::Request<Bytes> {
        http::Request::post(
            "https://abc.execute-api.eu-west-1.amazonaws.com/internal/events/replay",
        )
        .header("host", "abc.execute-api.eu-west-1.amazonaws.com")
        .header("content-type", "application/json")
        .body(Bytes::from_static(b"{}"))
        .unwrap()
    }

    fn header<'a>(r: &'a http::Request<Bytes>, name: &str) -> Option<&'a str> {
        r.headers().get(name).map(|v| v.to_str().unwrap())
    }

    #[test]
    fn signs_for_execute_api_in_the_region_at_the_time() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_316_400); // 2026-11-22T03:00:00Z
        let keys = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let mut r = request();
        sign_request(&mut r, &keys, "eu-west-1", at).unwrap();
        assert_eq!(header(&r, "x-amz-date"), Some("20261122T030000Z"));
        let auth = header(&r, "authorization").unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/eu-west-1/execute-api/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="),
            "{auth}"
        );
        assert_eq!(header(&r, "x-amz-security-token"), None);

        // Another body, another signature: the payload is signed.
        let mut other = request();
        *other.body_mut() = Bytes::from_static(b"{\"a\":1}");
        sign_request(&mut other, &keys, "eu-west-1", at).unwrap();
        assert_ne!(header(&other, "authorization"), Some(auth));
    }

    #[test]
    fn temporary_keys_send_their_session_token() {
        let keys = Credentials::new("ASIA", "secret", Some("token-1".into()), None, "test");
        let mut r = request();
        sign_request(&mut r, &keys, "us-east-1", SystemTime::now()).unwrap();
        assert_eq!(header(&r, "x-amz-security-token"), Some("token-1"));
        assert!(
            header(&r, "authorization")
                .unwrap()
                .contains("x-amz-security-token")
        );
    }
}
