//! The twin's own surfaces (its JSON routes, the ops console, the Hosted UI stand-in, the web
//! app, the AWS service endpoints for SDK clients under `/_aws`) and what they refuse, so that a web page open on the developer's machine cannot drive
//! them:
//! - a `Host` that is not the twin's own address or `localhost` (`421`): a page whose name is
//!   made to resolve to 127.0.0.1 (DNS rebinding) still sends its own name;
//! - a CORS preflight (`403`, with no `Access-Control-Allow-*` header): they answer no
//!   cross-origin request, and send no CORS header at all;
//! - on `/_twin/`, a request that changes state without `Content-Type: application/json`
//!   (`415`): a page can send a form or `text/plain` across origins without asking, but JSON
//!   only after a preflight, which is refused.
//!
//! Everything else is the API's, where API Gateway checks no `Host` and answers CORS as
//! configured.

use std::net::{IpAddr, SocketAddr};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use serde_json::json;

use crate::media_type::content_type_is;

/// Where the twin's own surfaces are: a path equal to one of these, or under it (`/app/…`).
/// A route of the twin's own must be under one of them: any other path is the API's.
pub const TWIN_SURFACES: [&str; 7] = [
    "/_twin", "/_ops", "/login", "/oauth2", "/logout", "/app", "/_aws",
];

/// The surfaces where a request that changes state must be JSON.
const JSON_ONLY: &str = "/_twin";

/// Whether `path` is `prefix` or under it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether `path` is one of the twin's own surfaces rather than the API's.
pub fn is_twin_surface(path: &str) -> bool {
    TWIN_SURFACES.iter().any(|prefix| under(path, prefix))
}

/// The twin's own address, which its surfaces answer to besides `localhost`.
#[derive(Clone, Copy, Debug)]
pub struct Guard {
    pub bound: SocketAddr,
}

impl Guard {
    /// The answer that refuses `request` to a twin surface, on a connection to `local`, if
    /// any.
    pub fn refusal(&self, request: &Request, local: SocketAddr) -> Option<Response> {
        if !self.host_allowed(request, local) {
            return Some(refuse(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "this twin answers here only as localhost:{port}, 127.0.0.1:{port}, [::1]:{port} or by the address it was reached at",
                    port = self.bound.port(),
                ),
            ));
        }
        let path = request.uri().path();
        if request.method() == Method::OPTIONS
            && request
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return Some(refuse(
                StatusCode::FORBIDDEN,
                format!("{path} answers no cross-origin request"),
            ));
        }
        if under(path, JSON_ONLY)
            && changes_state(request.method())
            && !content_type_is(request.headers(), "application/json")
        {
            return Some(refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "{} {path} takes `Content-Type: application/json` only",
                    request.method()
                ),
            ));
        }
        None
    }

    /// The request's authority (the URI's, as HTTP/2 and absolute-form requests carry it,
    /// else `Host`) names this twin: `localhost`, a loopback address, the address it is bound
    /// to or the one the client reached, on its port (80 when none is given). Each is a name
    /// no other site can take: a rebinding attack needs a domain name of its own.
    fn host_allowed(&self, request: &Request, local: SocketAddr) -> bool {
        let authority = match request.uri().authority() {
            Some(authority) => authority.clone(),
            None => match request
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.parse::<http::uri::Authority>().ok())
            {
                Some(authority) => authority,
                None => return false,
            },
        };
        if authority.port_u16().unwrap_or(80) != self.bound.port() {
            return false;
        }
        let host = authority.host();
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            return false;
        };
        let ip = ip.to_canonical();
        ip.is_loopback() || ip == self.bound.ip().to_canonical() || ip == local.ip().to_canonical()
    }
}

/// Methods other than those that only read.
fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn refuse(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    const BOUND: &str = "127.0.0.1:3000";

    fn guard() -> Guard {
        Guard {
            bound: BOUND.parse().unwrap(),
        }
    }

    fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = http::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    fn status(guard: Guard, request: &Request, local: &str) -> Option<StatusCode> {
        guard
            .refusal(request, local.parse().unwrap())
            .map(|r| r.status())
    }

    #[test]
    fn the_surfaces_are_their_prefixes_and_what_is_under_them() {
        for path in [
            "/_twin/health",
            "/_twin",
            "/_ops",
            "/_ops/assets/ops.js",
            "/login",
            "/oauth2/token",
            "/logout",
            "/app",
            "/app/",
            "/app/config.json",
            "/_aws/cloudwatch",
        ] {
            assert!(is_twin_surface(path), "{path}");
        }
        for path in [
            "/",
            "/items",
            "/items/abc",
            "/public",
            "/internal/events",
            "/application",
            "/_twinx",
            "/loginx",
            "/oauth2x/token",
            "",
        ] {
            assert!(!is_twin_surface(path), "{path}");
        }
    }

    #[test]
    fn answers_as_localhost_a_loopback_address_or_its_own_on_its_port() {
        let local = "127.0.0.1:3000";
        for host in [
            "localhost:3000",
            "LocalHost:3000",
            "127.0.0.1:3000",
            "[::1]:3000",
        ] {
            let r = request(Method::GET, "/_twin/health", &[("host", host)]);
            assert_eq!(status(guard(), &r, local), None, "{host}");
        }
        for host in [
            "evil.example:3000",
            "localhost.evil.example:3000",
            "localhost:3001",
            "localhost",
            "127.0.0.1:80",
            "",
        ] {
            let r = request(Method::GET, "/_twin/health", &[("host", host)]);
            assert_eq!(
                status(guard(), &r, local),
                Some(StatusCode::MISDIRECTED_REQUEST),
                "{host}"
            );
        }
        let missing = request(Method::GET, "/_ops", &[]);
        assert_eq!(
            status(guard(), &missing, local),
            Some(StatusCode::MISDIRECTED_REQUEST)
        );
        // An absolute-form target names the authority, whatever `Host` says.
        let absolute = request(
            Method::GET,
            "http://evil.example:3000/_twin/health",
            &[("host", "localhost:3000")],
        );
        assert_eq!(
            status(guard(), &absolute, local),
            Some(StatusCode::MISDIRECTED_REQUEST)
        );
    }

    #[test]
    fn bound_to_every_address_answers_as_the_one_reached_and_the_bound_one() {
        let guard = Guard {
            bound: "0.0.0.0:3000".parse().unwrap(),
        };
        let lan = request(Method::GET, "/_ops", &[("host", "192.168.1.20:3000")]);
        assert_eq!(status(guard, &lan, "192.168.1.20:3000"), None);
        let bound = request(Method::GET, "/_ops", &[("host", "0.0.0.0:3000")]);
        assert_eq!(status(guard, &bound, "127.0.0.1:3000"), None);
        let other = request(Method::GET, "/_ops", &[("host", "192.168.1.21:3000")]);
        assert_eq!(
            status(guard, &other, "192.168.1.20:3000"),
            Some(StatusCode::MISDIRECTED_REQUEST)
        );
        let port_80 = Guard {
            bound: "127.0.0.1:80".parse().unwrap(),
        };
        let no_port = request(Method::GET, "/_ops", &[("host", "localhost")]);
        assert_eq!(status(port_80, &no_port, "127.0.0.1:80"), None);
    }

    #[test]
    fn refuses_a_preflight() {
        let preflight = request(
            Method::OPTIONS,
            "/login",
            &[
                ("host", BOUND),
                ("origin", "http://evil.example"),
                ("access-control-request-method", "POST"),
            ],
        );
        let refusal = guard().refusal(&preflight, BOUND.parse().unwrap()).unwrap();
        assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
        assert!(
            !refusal
                .headers()
                .keys()
                .any(|name| name.as_str().starts_with("access-control-")),
            "{:?}",
            refusal.headers()
        );
    }

    #[test]
    fn a_change_on_twin_routes_must_be_json() {
        for (method, content_type) in [
            (Method::POST, None),
            (Method::POST, Some("text/plain")),
            (Method::POST, Some("application/x-www-form-urlencoded")),
            (Method::POST, Some("multipart/form-data; boundary=x")),
            (Method::POST, Some("application/jsonx")),
            (Method::PUT, None),
            (Method::DELETE, None),
            (Method::PATCH, Some("text/plain")),
        ] {
            let mut headers = vec![("host", BOUND)];
            headers.extend(content_type.map(|c| ("content-type", c)));
            let r = request(method.clone(), "/_twin/faults", &headers);
            assert_eq!(
                status(guard(), &r, BOUND),
                Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
                "{method} {content_type:?}"
            );
        }
        for (method, content_type) in [
            (Method::POST, Some("application/json")),
            (Method::POST, Some("Application/JSON; charset=utf-8")),
            (Method::DELETE, Some("application/json")),
            (Method::GET, None),
            (Method::HEAD, None),
        ] {
            let mut headers = vec![("host", BOUND)];
            headers.extend(content_type.map(|c| ("content-type", c)));
            let r = request(method.clone(), "/_twin/faults", &headers);
            assert_eq!(
                status(guard(), &r, BOUND),
                None,
                "{method} {content_type:?}"
            );
        }
        // The sign-in page takes its form, as Cognito's does.
        let form = request(
            Method::POST,
            "/login",
            &[
                ("host", BOUND),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
        );
        assert_eq!(status(guard(), &form, BOUND), None);
    }
}
