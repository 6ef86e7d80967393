//! The integration: API Gateway's payload format 2.0, and a Lambda invocation of the function.
//! The event is `lambda_http`'s own payload 2.0 type, turned into a request by its own
//! conversion, so the router sees the request exactly as it does on Lambda, claims and ids
//! included.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine;
use http::{HeaderMap, HeaderValue};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::aws_lambda_events::query_map::{self, QueryMap};
use time::OffsetDateTime;

use super::routes::Matched;
use crate::auth::sigv4::IamIdentity;

/// What the gateway knows about a request besides the HTTP message itself.
pub struct EventContext<'a> {
    pub account_id: &'a str,
    pub api_id: &'a str,
    pub request_id: &'a str,
    pub source_ip: &'a str,
    pub matched: &'a Matched,
    pub claims: Option<HashMap<String, String>>,
    /// The signer verified by the `AWS_IAM` authorizer.
    pub iam: Option<IamIdentity>,
    pub received: OffsetDateTime,
}

/// `$context.identity.sourceIp`. A twin's clients are mostly one address (the laptop's):
/// each thread keeps the text of the last one rather than formatting it on every request.
pub fn source_ip(ip: IpAddr) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(IpAddr, String)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((known, text)) if *known == ip => text.clone(),
        _ => last.insert((ip, ip.to_string())).1.clone(),
    })
}

/// `$context.requestTime`: `21/Nov/2026:22:42:17 +0000`. It changes once a second: each
/// thread formats it once a second, not once a request.
pub fn clf_time(t: OffsetDateTime) -> String {
    with_clf_time(t, str::to_owned)
}

/// [`clf_time`] lent to `f`, for a reader that needs no copy (the access-log line).
pub fn with_clf_time<T>(t: OffsetDateTime, f: impl FnOnce(&str) -> T) -> T {
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> =
            const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    LAST.with(|last| {
        let Ok(mut last) = last.try_borrow_mut() else {
            // Only if `f` asked again on this thread.
            return f(&format_clf_time(t));
        };
        let (second, text) = &mut *last;
        if *second != t.unix_timestamp() {
            *second = t.unix_timestamp();
            *text = format_clf_time(t);
        }
        f(text)
    })
}

fn format_clf_time(t: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[t.month() as usize - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Builds the payload 2.0 event of a request, as lambda_http's own type: what its runtime
/// reads from the JSON API Gateway sends. Built directly, not printed and parsed back: the
/// fields are the same, the cost is a fraction. (A test holds its JSON to the documented shape.)
/// `trace` is the trace header Lambda gives the invocation: its root is the event's
/// `x-amzn-trace-id` when the client sent none.
pub fn event(
    ctx: &EventContext<'_>,
    method: &str,
    uri: &http::Uri,
    headers: HeaderMap,
    body: &[u8],
    trace: &str,
) -> Result<ApiGatewayV2httpRequest, String> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let user_agent = header(http::header::USER_AGENT).unwrap_or("").to_owned();
    let domain = header(http::header::HOST).unwrap_or("localhost");
    let domain_prefix = domain.split('.').next().unwrap_or(domain).to_owned();
    let domain = domain.to_owned();
    let query = uri.query().unwrap_or("");
    // Most requests have no repeated header and no cookie: their headers go on as they are.
    let mut cookies = Vec::new();
    let mut joined =
        if headers.len() == headers.keys_len() && !headers.contains_key(http::header::COOKIE) {
            headers
        } else {
            join_headers(&headers, &mut cookies)?
        };
    add_gateway_headers(&mut joined, ctx.source_ip, trace)?;

    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = method.parse().map_err(|_| format!("method {method}"))?;
    http.path = Some(uri.path().to_owned());
    http.protocol = Some("HTTP/1.1".to_owned());
    http.source_ip = Some(ctx.source_ip.to_owned());
    http.user_agent = Some(user_agent);

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.account_id = Some(ctx.account_id.to_owned());
    context.apiid = Some(ctx.api_id.to_owned());
    context.domain_name = Some(domain);
    context.domain_prefix = Some(domain_prefix);
    context.http = http;
    context.request_id = Some(ctx.request_id.to_owned());
    context.route_key = Some(ctx.matched.route_key.clone());
    context.stage = Some("$default".to_owned());
    context.time = Some(clf_time(ctx.received));
    context.time_epoch = (ctx.received.unix_timestamp_nanos() / 1_000_000) as i64;
    context.authorizer = match (&ctx.claims, &ctx.iam) {
        (Some(claims), _) => {
            let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
            jwt.claims = claims.clone();
            let mut authorizer = ApiGatewayRequestAuthorizer::default();
            authorizer.jwt = Some(jwt);
            Some(authorizer)
        }
        // As API Gateway's `AWS_IAM`: the signer's identity at `authorizer.iam`.
        (None, Some(iam)) => {
            let iam = serde_json::to_value(iam)
                .and_then(serde_json::from_value)
                .map_err(|e| format!("the IAM identity: {e}"))?;
            let mut authorizer = ApiGatewayRequestAuthorizer::default();
            authorizer.iam = Some(iam);
            Some(authorizer)
        }
        (None, None) => None,
    };

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".to_owned());
    event.route_key = Some(ctx.matched.route_key.clone());
    event.raw_path = Some(uri.path().to_owned());
    event.raw_query_string = Some(query.to_owned());
    event.headers = joined;
    event.request_context = context;
    if !cookies.is_empty() {
        event.cookies = Some(cookies);
    }
    if !query.is_empty() {
        event.query_string_parameters = query_parameters(query)?;
    }
    event.path_parameters = ctx.matched.path_parameters.iter().cloned().collect();
    (event.body, event.is_base64_encoded) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (None, false),
        Ok(text) => (Some(text.to_owned()), false),
        Err(_) => (
            Some(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    };
    Ok(event)
}

/// The headers API Gateway adds to the ones the client sent, as AWS's sample events of
/// payload 2.0 show them (the `apigw-v2-request-no-authorizer.json` events of aws-lambda-go
/// and aws-lambda-rust-runtime): `x-forwarded-for` (the client's address, after any value the
/// client sent, `, `-separated as proxies append it), `x-forwarded-port` and
/// `x-forwarded-proto` (how the client reached the gateway: `443` and `https` on AWS, the
/// twin's own port and `http` here), and `x-amzn-trace-id` (`Root=…` of the invocation's
/// trace, when the client sent no trace header of its own).
fn add_gateway_headers(
    headers: &mut HeaderMap,
    source_ip: &str,
    trace: &str,
) -> Result<(), String> {
    let forwarded_for = match headers.get(&X_FORWARDED_FOR).map(HeaderValue::as_bytes) {
        Some(sent) if !sent.is_empty() => {
            let mut both = Vec::with_capacity(sent.len() + 2 + source_ip.len());
            both.extend_from_slice(sent);
            both.extend_from_slice(b", ");
            both.extend_from_slice(source_ip.as_bytes());
            HeaderValue::from_bytes(&both)
        }
        _ => HeaderValue::from_str(source_ip),
    }
    .map_err(|e| format!("x-forwarded-for: {e}"))?;
    let port = forwarded_port(headers.get(http::header::HOST));
    headers.insert(X_FORWARDED_FOR, forwarded_for);
    headers.insert(X_FORWARDED_PORT, port);
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    if !headers.contains_key(&X_AMZN_TRACE_ID) {
        let root = trace.split(';').find(|p| p.starts_with("Root="));
        if let Some(root) = root.and_then(|r| HeaderValue::from_str(r).ok()) {
            headers.insert(X_AMZN_TRACE_ID, root);
        }
    }
    Ok(())
}

const X_FORWARDED_FOR: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PORT: http::HeaderName = http::HeaderName::from_static("x-forwarded-port");
const X_FORWARDED_PROTO: http::HeaderName = http::HeaderName::from_static("x-forwarded-proto");
const X_AMZN_TRACE_ID: http::HeaderName = http::HeaderName::from_static("x-amzn-trace-id");

/// The port the client reached the twin on, as its `Host` names it (HTTP's `80` when it names
/// none).
fn forwarded_port(host: Option<&HeaderValue>) -> HeaderValue {
    let port = host
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<http::uri::Authority>().ok())
        .and_then(|a| a.port_u16());
    match port {
        Some(port) => HeaderValue::from(port),
        None => HeaderValue::from_static("80"),
    }
}

/// The headers as payload 2.0 has them: repeated ones joined with commas, cookies moved to
/// `cookies`.
fn join_headers(headers: &HeaderMap, cookies: &mut Vec<String>) -> Result<HeaderMap, String> {
    let mut joined = HeaderMap::with_capacity(headers.keys_len());
    for name in headers.keys() {
        let mut values = headers.get_all(name).iter();
        if name == http::header::COOKIE {
            for value in values {
                let value = String::from_utf8_lossy(value.as_bytes());
                cookies.extend(
                    value
                        .split(';')
                        .map(|c| c.trim().to_owned())
                        .filter(|c| !c.is_empty()),
                );
            }
            continue;
        }
        let Some(first) = values.next() else {
            continue;
        };
        let mut value = first.clone();
        for next in values {
            let mut both = Vec::with_capacity(value.len() + 1 + next.len());
            both.extend_from_slice(value.as_bytes());
            both.push(b',');
            both.extend_from_slice(next.as_bytes());
            value = HeaderValue::from_bytes(&both).map_err(|e| format!("header {name}: {e}"))?;
        }
        joined.insert(name.clone(), value);
    }
    Ok(joined)
}

/// `queryStringParameters`: payload 2.0 joins repeated parameters with commas, and the
/// runtime's reader splits them again; read through that same reader.
fn query_parameters(query: &str) -> Result<QueryMap, String> {
    let mut joined: Vec<(String, String)> = Vec::new();
    for (k, v) in serde_urlencoded_pairs(query) {
        match joined.iter_mut().find(|(name, _)| *name == k) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            None => joined.push((k, v)),
        }
    }
    let map: serde_json::Map<String, serde_json::Value> = joined
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    query_map::serde::aws_api_gateway_v2::deserialize_empty(serde_json::Value::Object(map))
        .map_err(|e| format!("query: {e}"))
}

fn serde_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    // A query the decoder cannot read is passed on raw in `rawQueryString` only, as API Gateway does.
    serde_urlencoded::from_str(query).unwrap_or_default()
}

/// `Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex>;Sampled=0|1`, the header Lambda passes on:
/// the caller's trace root when it sent one, else a new one.
pub fn new_trace_header(now: OffsetDateTime, root: Option<&str>, sampled: bool) -> String {
    let mut random = [0u8; 20];
    fastrand::fill(&mut random);
    // By table and into one buffer, not by the formatter: this runs on every request.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let hex = |out: &mut String, bytes: &[u8]| {
        for b in bytes {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0xf)]));
        }
    };
    let mut header = String::with_capacity(80);
    header.push_str("Root=");
    match root {
        Some(root) => header.push_str(root),
        None => {
            header.push_str("1-");
            // The epoch seconds as 8 hex digits (X-Ray's ids carry them so until 2106).
            hex(&mut header, &(now.unix_timestamp() as u32).to_be_bytes());
            header.push('-');
            hex(&mut header, &random[..12]);
        }
    }
    header.push_str(";Parent=");
    hex(&mut header, &random[12..]);
    header.push_str(if sampled { ";Sampled=1" } else { ";Sampled=0" });
    header
}

/// API Gateway's request id (`requestId`, the `apigw-requestid` header, the access log's
/// `requestId`): 11 bytes in URL-safe base64 with its padding, 16 characters, as AWS writes
/// them (`"requestId": "LV7fzho-PHcEJPw="` in AWS's sample payload 2.0 event,
/// `apigw-requestid: U9euFi_ySQ0EPsw=` answered by HTTP APIs). Ids, not secrets: the
/// per-thread generator (seeded from the system's) makes them without a call into the kernel
/// or a cryptographic generator per request, as for the trace ids.
pub fn new_request_id() -> String {
    let mut random = [0u8; 11];
    fastrand::fill(&mut random);
    request_id_of(random)
}

fn request_id_of(bytes: [u8; 11]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::routes::RouteTable;

    #[test]
    fn events_parse_with_lambda_http_and_carry_claims_and_ids() {
        let matched = RouteTable::default().find("GET", "/items/abc").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:3000".parse().unwrap());
        headers.append("x-multi", "a".parse().unwrap());
        headers.append("x-multi", "b".parse().unwrap());
        headers.insert("cookie", "a=1; b=2".parse().unwrap());
        let ctx = EventContext {
            account_id: "000000000000",
            api_id: "local",
            request_id: "JKJaXmPLvHcESHA=",
            source_ip: "127.0.0.1",
            matched: &matched,
            claims: Some(HashMap::from([(
                "sub".to_string(),
                "alice-sub".to_string(),
            )])),
            iam: None,
            received: OffsetDateTime::from_unix_timestamp(1_795_300_937).unwrap(),
        };
        let uri: http::Uri = "/items/abc?limit=5&x=1&x=2".parse().unwrap();
        let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let event =
            serde_json::to_value(event(&ctx, "GET", &uri, headers.clone(), b"", trace).unwrap())
                .unwrap();
        // The documented payload 2.0 shape, field by field.
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "GET /items/{id}");
        assert_eq!(event["rawPath"], "/items/abc");
        assert_eq!(event["rawQueryString"], "limit=5&x=1&x=2");
        assert_eq!(event["pathParameters"], json!({"id": "abc"}));
        assert_eq!(event["isBase64Encoded"], false);
        assert!(event.get("body").is_none(), "no body: no `body`");
        let context = &event["requestContext"];
        for (field, value) in [
            ("accountId", json!("000000000000")),
            ("apiId", json!("local")),
            ("domainName", json!("127.0.0.1:3000")),
            ("domainPrefix", json!("127")),
            ("requestId", json!("JKJaXmPLvHcESHA=")),
            ("routeKey", json!("GET /items/{id}")),
            ("stage", json!("$default")),
            ("timeEpoch", json!(1_795_300_937_000_i64)),
        ] {
            assert_eq!(context[field], value, "requestContext.{field}");
        }
        assert_eq!(
            context["http"],
            json!({"method": "GET", "path": "/items/abc", "protocol": "HTTP/1.1",
                   "sourceIp": "127.0.0.1", "userAgent": ""})
        );
        assert_eq!(context["authorizer"]["jwt"]["claims"]["sub"], "alice-sub");
        assert_eq!(event["headers"]["x-multi"], "a,b");
        // The headers API Gateway adds: the client's address, how it reached the gateway, and
        // the root of the trace the invocation carries.
        assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.1");
        assert_eq!(event["headers"]["x-forwarded-port"], "3000");
        assert_eq!(event["headers"]["x-forwarded-proto"], "http");
        assert_eq!(
            event["headers"]["x-amzn-trace-id"],
            "Root=1-5759e988-bd862e3fe1be46a994272793"
        );
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(event["queryStringParameters"]["x"], "1,2");
        assert_eq!(
            event["requestContext"]["time"],
            "21/Nov/2026:22:42:17 +0000"
        );
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(request.uri().path(), "/items/abc");
        assert_eq!(request.uri().query(), Some("limit=5&x=1&x=2"));
        match request
            .extensions()
            .get::<lambda_http::request::RequestContext>()
        {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => {
                assert_eq!(c.request_id.as_deref(), Some("JKJaXmPLvHcESHA="));
                assert_eq!(c.route_key.as_deref(), Some("GET /items/{id}"));
                let claims = &c.authorizer.as_ref().unwrap().jwt.as_ref().unwrap().claims;
                assert_eq!(claims.get("sub").map(String::as_str), Some("alice-sub"));
            }
            other => panic!("wrong context: {other:?}"),
        }
    }

    #[test]
    fn the_iam_signer_reaches_the_function_as_api_gateway_passes_it() {
        let matched = RouteTable::default()
            .find("POST", "/internal/events/replay")
            .unwrap();
        let ctx = EventContext {
            account_id: "000000000000",
            api_id: "local",
            request_id: "JKJaXmPLvHcESHA=",
            source_ip: "127.0.0.1",
            matched: &matched,
            claims: None,
            iam: Some(IamIdentity {
                access_key: "AKIATWINTEST0000KEY1".into(),
                account_id: "000000000000".into(),
                caller_id: "AIDATWINOPERATOR0LOCAL".into(),
                cognito_identity: None,
                principal_org_id: None,
                user_arn: "arn:aws:iam::000000000000:user/twin-operator".into(),
                user_id: "AIDATWINOPERATOR0LOCAL".into(),
            }),
            received: OffsetDateTime::from_unix_timestamp(1_795_300_937).unwrap(),
        };
        let uri: http::Uri = "/internal/events/replay".parse().unwrap();
        let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
        let event = event(&ctx, "POST", &uri, HeaderMap::new(), b"{}", trace).unwrap();
        let event = serde_json::to_value(event).unwrap();
        assert_eq!(
            event["requestContext"]["authorizer"]["iam"]["accessKey"],
            "AKIATWINTEST0000KEY1"
        );
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        match request
            .extensions()
            .get::<lambda_http::request::RequestContext>()
        {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => {
                let authorizer = c.authorizer.as_ref().unwrap();
                assert!(authorizer.jwt.is_none());
                let iam = authorizer.iam.as_ref().unwrap();
                assert_eq!(
                    iam.user_arn.as_deref(),
                    Some("arn:aws:iam::000000000000:user/twin-operator")
                );
                assert_eq!(iam.account_id.as_deref(), Some("000000000000"));
                assert_eq!(iam.caller_id.as_deref(), Some("AIDATWINOPERATOR0LOCAL"));
            }
            other => panic!("wrong context: {other:?}"),
        }
    }

    #[test]
    fn a_client_s_forwarding_headers_are_appended_to_or_replaced_as_api_gateway_does() {
        let matched = RouteTable::default().find("GET", "/public").unwrap();
        let ctx = EventContext {
            account_id: "000000000000",
            api_id: "local",
            request_id: "LV7fzho-PHcEJPw=",
            source_ip: "192.0.2.10",
            matched: &matched,
            claims: None,
            iam: None,
            received: OffsetDateTime::from_unix_timestamp(1_795_300_937).unwrap(),
        };
        let mut headers = HeaderMap::new();
        // No port in the Host: the client reached the twin on HTTP's own.
        headers.insert("host", "localhost".parse().unwrap());
        headers.append("x-forwarded-for", "203.0.113.7".parse().unwrap());
        headers.append("x-forwarded-for", "198.51.100.2".parse().unwrap());
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        headers.insert("x-forwarded-port", "8443".parse().unwrap());
        headers.insert(
            "x-amzn-trace-id",
            "Root=1-67420000-0123456789abcdef01234567".parse().unwrap(),
        );
        let uri: http::Uri = "/public".parse().unwrap();
        let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
        let event = event(&ctx, "GET", &uri, headers, b"", trace).unwrap();
        let headers = serde_json::to_value(&event).unwrap()["headers"].clone();
        assert_eq!(
            headers["x-forwarded-for"],
            "203.0.113.7,198.51.100.2, 192.0.2.10"
        );
        assert_eq!(headers["x-forwarded-port"], "80");
        assert_eq!(headers["x-forwarded-proto"], "http");
        // The client's own trace header reaches the function as it sent it.
        assert_eq!(
            headers["x-amzn-trace-id"],
            "Root=1-67420000-0123456789abcdef01234567"
        );
    }

    #[test]
    fn request_ids_are_url_safe_base64_of_aws_s_length() {
        // The two bytes base64's alphabets spell differently: `+`/`/` in the standard one,
        // `-`/`_` in the URL-safe one AWS's ids use.
        let id = request_id_of([0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0]);
        assert_eq!(id, "----____AAAAAAA=");
        for _ in 0..100 {
            let id = new_request_id();
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.ends_with('=') && !id[..15].contains('='), "{id}");
            let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            assert!(id[..15].bytes().all(url_safe), "{id}");
        }
    }

    #[test]
    fn ids_have_aws_shapes() {
        let now = OffsetDateTime::from_unix_timestamp(0x6742_0000).unwrap();
        let t = new_trace_header(now, None, true);
        let root = t.strip_prefix("Root=1-67420000-").unwrap();
        assert_eq!(root.split(';').next().unwrap().len(), 24);
        assert!(t.ends_with(";Sampled=1"), "{t}");
        let parent = t
            .split(";Parent=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        assert!(
            parent.len() == 16 && parent.bytes().all(|b| b.is_ascii_hexdigit()),
            "{t}"
        );
        let kept = "1-5759e988-bd862e3fe1be46a994272793";
        let t = new_trace_header(now, Some(kept), false);
        assert!(t.starts_with(&format!("Root={kept};Parent=")), "{t}");
        assert!(t.ends_with(";Sampled=0"), "{t}");
    }
}
