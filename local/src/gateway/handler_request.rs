//! The request a function's handler receives for an HTTP API event: exactly what lambda_http's
//! own conversion (`LambdaRequest::ApiGatewayV2(event).into()`) makes on Lambda.
//!
//! That conversion writes the URL out and parses it back with `url` to normalise it (about a
//! seventh of the twin's work on a `GET /public`). Most events need no normalising: a path of
//! plain characters without dot segments, a lowercase host or dotted-quad address, an
//! `http`/`https` scheme, no stage in the path. Those are built here directly, with the same
//! URI, headers, body and extensions; anything else goes through the library. A test holds
//! both to the same result over generated events.

use http::{HeaderMap, HeaderValue, Uri, header};
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::aws_lambda_events::encodings::Body;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::{LambdaRequest, RequestContext};

/// Named once: a lookup by a name as text parses the name first.
const X_FORWARDED_PROTO: http::HeaderName = http::HeaderName::from_static("x-forwarded-proto");

/// The handler's request for `event`, as lambda_http makes it.
pub fn from_event(event: ApiGatewayV2httpRequest) -> lambda_http::Request {
    match plain_uri(&event) {
        Some(uri) => build(event, uri),
        None => LambdaRequest::ApiGatewayV2(event).into(),
    }
}

/// The URI lambda_http would give `event`, when writing it needs no normalising.
fn plain_uri(event: &ApiGatewayV2httpRequest) -> Option<Uri> {
    // A named stage is put in front of the path (unless an environment switch says not to).
    if !matches!(
        event.request_context.stage.as_deref(),
        None | Some("$default")
    ) {
        return None;
    }
    let path = event.raw_path.as_deref()?;
    if !plain_path(path) {
        return None;
    }
    let host = event
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(event.request_context.domain_name.as_deref());
    let mut uri = String::with_capacity(64);
    if let Some(host) = host {
        let scheme = match event.headers.get(&X_FORWARDED_PROTO) {
            None => "https",
            Some(v) => match v.as_bytes() {
                b"https" => "https",
                b"http" => "http",
                _ => return None,
            },
        };
        if !plain_authority(host, scheme) {
            return None;
        }
        uri.push_str(scheme);
        uri.push_str("://");
        uri.push_str(host);
    }
    uri.push_str(path);
    if let Some(query) = event.raw_query_string.as_deref().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    // A query the URI type refuses makes the library's conversion panic: leave it that.
    Uri::try_from(uri).ok()
}

/// A path the URL parser leaves as it is: starts with `/`, no empty segment but a last one,
/// no `.` or `..` segment, only characters it neither encodes nor reads specially (no `%`,
/// `\`, `?`, `#`). One pass over the bytes: this runs on every request.
fn plain_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let mut segment = 0..0;
    for (i, &b) in rest.as_bytes().iter().enumerate() {
        if b == b'/' {
            segment.end = i;
            if !plain_segment(&rest[segment.clone()]) {
                return false;
            }
            segment.start = i + 1;
        } else if !PATH_BYTES[usize::from(b)] {
            return false;
        }
    }
    // The last segment may be empty (a trailing `/`, which the parser keeps).
    let last = &rest[segment.start..];
    last.is_empty() || plain_segment(last)
}

fn plain_segment(segment: &str) -> bool {
    !matches!(segment, "" | "." | "..")
}

/// The path's plain bytes: letters, digits and `-._~!$&'()*+,;=:@`.
const PATH_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
            );
        b += 1;
    }
    table
};

/// A host (and port) the URL parser writes back unchanged for `scheme`: lowercase labels of
/// letters, digits and `-` (no punycode), or a dotted-quad address; a port without leading
/// zeros that is not the scheme's default.
fn plain_authority(authority: &str, scheme: &str) -> bool {
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if let Some(port) = port {
        let default = if scheme == "https" { "443" } else { "80" };
        let plain = !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && !port.starts_with('0')
            && port.parse::<u16>().is_ok()
            && port != default;
        if !plain {
            return false;
        }
    }
    // One pass over the host's bytes, label by label: this runs on every request.
    let bytes = host.as_bytes();
    let mut labels = 0;
    let mut octets = true;
    let mut last_numeric = false;
    let mut start = 0;
    for end in 0..=bytes.len() {
        match bytes.get(end) {
            Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' => continue,
            Some(b'.') | None => {}
            Some(_) => return false,
        }
        let label = &host[start..end];
        if label.is_empty() || label.starts_with("xn--") {
            return false;
        }
        labels += 1;
        octets &= is_octet(label);
        last_numeric = bytes[start].is_ascii_digit();
        start = end + 1;
    }
    // A host whose last label starts like a number is read as an IPv4 address and rewritten
    // (`127.1` becomes `127.0.0.1`); only its canonical form is written back unchanged.
    !last_numeric || (labels == 4 && octets)
}

/// A decimal from 0 to 255 without leading zeros.
fn is_octet(label: &str) -> bool {
    label.bytes().all(|b| b.is_ascii_digit())
        && (label == "0" || !label.starts_with('0'))
        && label.parse::<u8>().is_ok()
}

/// lambda_http's conversion with the URI already written.
fn build(event: ApiGatewayV2httpRequest, uri: Uri) -> lambda_http::Request {
    // The query string parameters come from the raw query, as the library reads them.
    let query: QueryMap = match event.raw_query_string.as_deref() {
        Some("") => QueryMap::default(),
        Some(raw) => raw.parse().unwrap_or_default(),
        None => event.query_string_parameters,
    };
    let mut headers: HeaderMap = event.headers;
    if let Some(cookies) = event.cookies
        && let Ok(value) = HeaderValue::from_str(&cookies.join("; "))
    {
        headers.insert(header::COOKIE, value);
    }
    let body = event.body.as_deref().map_or_else(Body::default, |b| {
        Body::from_maybe_encoded(event.is_base64_encoded, b)
    });
    let method = event.request_context.http.method.clone();
    let extensions = http::Extensions::new()
        .with_raw_http_path(event.raw_path.unwrap_or_default())
        .with_query_string_parameters(query)
        .with_path_parameters(QueryMap::from(event.path_parameters))
        .with_stage_variables(QueryMap::from(event.stage_variables))
        .with_request_context(RequestContext::ApiGatewayV2(event.request_context));
    let mut request = http::Request::new(body);
    *request.uri_mut() = uri;
    *request.method_mut() = method;
    *request.headers_mut() = headers;
    *request.extensions_mut() = extensions;
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;

    fn event(
        path: &str,
        host: Option<&str>,
        stage: Option<&str>,
        query: Option<&str>,
    ) -> ApiGatewayV2httpRequest {
        let mut event = ApiGatewayV2httpRequest::default();
        event.raw_path = Some(path.to_owned());
        event.raw_query_string = query.map(str::to_owned);
        if let Some(host) = host {
            event
                .headers
                .insert(header::HOST, HeaderValue::from_str(host).unwrap());
        }
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.stage = stage.map(str::to_owned);
        context.http.method = http::Method::GET;
        context.http.path = Some(path.to_owned());
        event.request_context = context;
        event
    }

    /// A query map's pairs in a fixed order (its own order is a hash map's).
    fn pairs(map: &QueryMap) -> Vec<(&str, &str)> {
        let mut pairs: Vec<_> = map.iter().collect();
        pairs.sort_unstable();
        pairs
    }

    /// What a handler can see of a request, comparable.
    fn seen(request: &lambda_http::Request) -> String {
        format!(
            "{} {} {:?} {:?} {:?} q={:?} p={:?} s={:?} raw={} ctx={}",
            request.method(),
            request.uri(),
            request.version(),
            request.headers(),
            request.body(),
            pairs(&request.query_string_parameters()),
            pairs(&request.path_parameters()),
            pairs(&request.stage_variables()),
            request.raw_http_path(),
            serde_json::to_string(&request.request_context()).unwrap(),
        )
    }

    /// Both conversions of `event`: equal results, or both refuse (panic).
    fn same(event: ApiGatewayV2httpRequest) -> bool {
        let library = catch_unwind(AssertUnwindSafe(|| {
            seen(&LambdaRequest::ApiGatewayV2(event.clone()).into())
        }));
        let direct = catch_unwind(AssertUnwindSafe(|| seen(&from_event(event.clone()))));
        match (library, direct) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "for {event:?}");
                true
            }
            (Err(_), Err(_)) => true,
            (a, b) => panic!(
                "one conversion refused {event:?}: {:?} / {:?}",
                a.ok(),
                b.ok()
            ),
        }
    }

    #[test]
    fn a_plain_event_is_built_directly_as_the_library_builds_it() {
        let mut e = event(
            "/items/abc",
            Some("api.example.com"),
            Some("$default"),
            Some("a=1&b=x%20y"),
        );
        e.cookies = Some(vec!["a=1".into(), "b=2".into()]);
        e.body = Some("aGk=".into());
        e.is_base64_encoded = true;
        e.path_parameters.insert("id".into(), "abc".into());
        e.stage_variables.insert("v".into(), "1".into());
        assert!(plain_uri(&e).is_some());
        assert!(same(e));
        let local = event("/public", Some("127.0.0.1:3000"), None, None);
        assert!(plain_uri(&local).is_some());
        assert!(same(local));
        assert!(same(event("/public", None, None, Some(""))));
    }

    #[test]
    fn what_the_url_parser_would_rewrite_goes_through_the_library() {
        for (path, host, stage) in [
            ("/a/../b", Some("h"), None),
            ("/a/./b", Some("h"), None),
            ("/a//b", Some("h"), None),
            ("/caf\u{e9}", Some("h"), None),
            ("/a b", Some("h"), None),
            ("/%2e%2E/x", Some("h"), None),
            ("/a\\b", Some("h"), None),
            ("/x", Some("API.Example.com"), None),
            ("/x", Some("127.1"), None),
            ("/x", Some("0x7f.0.0.1"), None),
            ("/x", Some("h:443"), None),
            ("/x", Some("h:0080"), None),
            ("/x", Some("xn--nxasmq6b.com"), None),
            ("/x", Some("h"), Some("prod")),
            ("", Some("h"), None),
        ] {
            let e = event(path, host, stage, None);
            assert!(plain_uri(&e).is_none(), "{path} {host:?} {stage:?}");
            assert!(same(e));
        }
    }

    /// Generated events from alphabets full of what URLs treat specially: whichever way each
    /// is built, the handler sees the same request.
    #[test]
    fn generated_events_are_seen_the_same_either_way() {
        // Many generated events make the library panic (a URL it cannot parse); those panics
        // are expected here, so this thread's, but for this file's own, are not printed.
        let this = std::thread::current().id();
        let print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let here = info.location().is_some_and(|l| l.file().ends_with(file!()));
            if std::thread::current().id() != this || here {
                print(info);
            }
        }));
        let mut rng = fastrand::Rng::with_seed(7);
        let pick = |rng: &mut fastrand::Rng, alphabet: &[&str], max: usize| -> String {
            (0..rng.usize(0..=max))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect()
        };
        let path_parts = [
            "/", "/", "a", "Z", "0", ".", "..", "-", "_", "~", "%", "%2e", "2F", " ", "?", "#",
            "\\", "\u{e9}", "{", "}", "|", "^", "`", "'", "@", ":", ";", "=", "&", "+", "!", "*",
            "$", "\"", "<", ">", "[", "]",
        ];
        let host_parts = [
            "a", "b", "Z", "0", "1", "9", "25", "256", "0x", ".", "-", ":", "443", "80", "0",
            "xn--", "[", "]", "_", "%",
        ];
        let plain_path_parts = ["/", "items", "a", "0", "-", ".", "~", "_", "@", ":", "'"];
        let plain_host_parts = [
            "a", "b0", ".", "-", "1", "127", ":8", ":3000", ":443", ":80",
        ];
        let mut plain = 0;
        for _ in 0..20_000 {
            // Half from plain characters only, so that both ways are well exercised.
            let (path_parts, host_parts) = if rng.bool() {
                (&path_parts[..], &host_parts[..])
            } else {
                (&plain_path_parts[..], &plain_host_parts[..])
            };
            let path = format!("/{}", pick(&mut rng, path_parts, 8));
            let host = pick(&mut rng, host_parts, 6);
            let host = (rng.usize(..8) != 0).then_some(host.as_str());
            let stage = [None, Some("$default"), Some("prod")][rng.usize(..3)];
            let query = [None, Some(""), Some("a=1&b=2"), Some("x=%zz&a")][rng.usize(..4)];
            let mut e = event(&path, None, stage, query);
            if let Some(host) = host
                && let Ok(value) = HeaderValue::from_str(host)
            {
                e.headers.insert(header::HOST, value);
            }
            if rng.bool() {
                e.request_context.domain_name = Some("api.example.com".into());
            }
            if rng.usize(..4) == 0 {
                let proto = ["http", "https", "HTTPS", "ftp"][rng.usize(..4)];
                e.headers
                    .insert("x-forwarded-proto", HeaderValue::from_static(proto));
            }
            plain += usize::from(plain_uri(&e).is_some());
            assert!(same(e));
        }
        // The generated events exercise both ways.
        assert!(plain > 1_000, "only {plain} plain events");
    }
}
