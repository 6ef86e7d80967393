//! IAM on moto: principals that hold exactly a given policy, and what moto says when it refuses
//! one of their requests. Checked only once [`Moto::enforce_iam`] has been called; until then
//! moto serves every request, which is when a test creates its resources and principals.
//!
//! IAM's API is called through its query protocol with a signed request of our own rather than
//! the `aws-sdk-iam` crate: three calls do not pay for compiling a large client on every build.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::SdkError;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use crate::Moto;
use crate::moto::REGION;

/// An IAM user of moto's with one access key and one inline policy.
pub struct Principal {
    pub user_name: String,
    /// `arn:aws:iam::123456789012:user/<name>`, as moto names it in its refusals.
    pub arn: String,
    pub credentials: Credentials,
}

/// The stand-in key of the set-up requests; moto checks no signature before `enforce_iam`.
fn setup_credentials() -> Credentials {
    Credentials::new("testing", "testing", None, None, "moto")
}

impl Principal {
    /// Creates the IAM user `name` whose only permissions are `policy` (an inline user policy,
    /// as given), with an access key. Call it before [`Moto::enforce_iam`].
    pub fn create(moto: &Moto, name: &str, policy: &serde_json::Value) -> Self {
        let iam = |params: &[(&str, &str)]| {
            let mut form = String::from("Version=2010-05-08");
            for (key, value) in params {
                form.push('&');
                form.push_str(key);
                form.push('=');
                form.push_str(&percent_encode(value));
            }
            let answer = signed(
                moto,
                &setup_credentials(),
                "iam",
                "/",
                "application/x-www-form-urlencoded; charset=utf-8",
                &form,
            );
            assert_eq!(answer.status, 200, "IAM {params:?}: {}", answer.body);
            answer.body
        };
        let user = iam(&[("Action", "CreateUser"), ("UserName", name)]);
        iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", name),
            ("PolicyName", "under-test"),
            ("PolicyDocument", &policy.to_string()),
        ]);
        let key = iam(&[("Action", "CreateAccessKey"), ("UserName", name)]);
        let text = |body: &str, tag: &str| {
            xml_text(body, tag)
                .unwrap_or_else(|| panic!("no <{tag}> in IAM's answer: {body}"))
                .to_owned()
        };
        Self {
            user_name: name.to_owned(),
            arn: text(&user, "Arn"),
            credentials: Credentials::new(
                text(&key, "AccessKeyId"),
                text(&key, "SecretAccessKey"),
                None,
                None,
                "moto-iam-user",
            ),
        }
    }

    /// The SDK configuration of a client that signs as this principal.
    pub async fn sdk_config(&self, moto: &Moto) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(moto.endpoint())
            .region(Region::new(REGION))
            .credentials_provider(self.credentials.clone())
            .load()
            .await
    }
}

/// An answer to [`signed`].
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// One POST to moto signed with SigV4 for `service`, for the APIs the tests have no SDK client
/// of (IAM's query API, X-Ray's REST API). Blocking: moto answers on loopback in milliseconds.
pub fn signed(
    moto: &Moto,
    credentials: &Credentials,
    service: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Answer {
    let host = format!("127.0.0.1:{}", moto.port());
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("signing parameters")
        .into();
    let headers = [("host", host.as_str()), ("content-type", content_type)];
    let signable = SignableRequest::new(
        "POST",
        format!("http://{host}{path}"),
        headers.into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .expect("a signable request");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();

    let mut request = format!("POST {path} HTTP/1.0\r\n");
    for (name, value) in headers.into_iter().chain(instructions.headers()) {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    let mut stream = TcpStream::connect(("127.0.0.1", moto.port())).expect("connect to moto");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    stream.write_all(request.as_bytes()).expect("send to moto");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read moto's answer");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {response}"));
    Answer {
        status,
        body: body.to_owned(),
    }
}

/// A request moto refused, as it said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    /// `AccessDenied`, `InvalidClientTokenId`, `SignatureDoesNotMatch`, …
    pub code: String,
    /// For `AccessDenied`: `User: <arn> is not authorized to perform: <service>:<Action>`.
    pub message: String,
}

/// The refusal in a failed SDK call, if moto refused it. moto answers a refusal of every service
/// with IAM's XML error document (`<Code>AccessDenied</Code>`, status 403), also to the services
/// whose clients read JSON errors (DynamoDB, EventBridge, Secrets Manager, CloudWatch Logs):
/// their SDK error then has no code, so this reads the raw answer. AWS itself answers those
/// services with JSON (`__type: AccessDeniedException`).
pub fn refusal<E>(err: &SdkError<E, HttpResponse>) -> Option<Refusal> {
    let raw = err.raw_response()?;
    let body = std::str::from_utf8(raw.body().bytes()?).ok()?;
    Some(Refusal {
        status: raw.status().as_u16(),
        code: xml_text(body, "Code")?.to_owned(),
        message: xml_text(body, "Message").unwrap_or_default().to_owned(),
    })
}

/// Same, for an answer to [`signed`].
pub fn answer_refusal(answer: &Answer) -> Option<Refusal> {
    (answer.status >= 400).then_some(())?;
    Some(Refusal {
        status: answer.status,
        code: xml_text(&answer.body, "Code")?.to_owned(),
        message: xml_text(&answer.body, "Message")
            .unwrap_or_default()
            .to_owned(),
    })
}

/// The text of the first `<tag>…</tag>` of an XML document (moto's answers hold no CDATA).
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// `application/x-www-form-urlencoded` value encoding (RFC 3986's unreserved kept).
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_reads_the_first_element() {
        let xml = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>User: u</Message></Error><Code>x</Code></ErrorResponse>";
        assert_eq!(xml_text(xml, "Code"), Some("AccessDenied"));
        assert_eq!(xml_text(xml, "Message"), Some("User: u"));
        assert_eq!(xml_text(xml, "Type"), None);
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            percent_encode(r#"{"a": "b/c*"}~"#),
            "%7B%22a%22%3A%20%22b%2Fc%2A%22%7D~"
        );
    }
}
