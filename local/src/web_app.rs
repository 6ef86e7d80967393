//! The example web client of `examples/web/`, served at `/app/` as a user of the stack would
//! host it: its files compiled in (the twin runs offline, from any folder), and its settings,
//! `/app/config.json`, made from the twin's own origin and app client id, so that it signs in at
//! the twin's Hosted UI stand-in and calls the twin's API. Against AWS the same files read a
//! `config.json` written from Terraform's `web_client_config` output (docs/deploy.md).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

/// Where the app is served; its registered sign-in and sign-out URL on the twin.
pub const PATH: &str = "/app/";

struct File {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// Every file of `examples/web/` but the settings, which the twin makes (a test holds the list
/// to the folder).
const FILES: [File; 3] = [
    File {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../examples/web/index.html"),
    },
    File {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../examples/web/app.js"),
    },
    File {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../examples/web/style.css"),
    },
];

/// The app's settings, `config.json`: the same keys whichever stack it talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebClientConfig {
    /// The API's base URL.
    pub api_url: String,
    /// The Hosted UI's base URL (`/oauth2/authorize`, `/oauth2/token`, `/logout`).
    pub auth_domain: String,
    /// The app client id: the ID tokens' audience.
    pub client_id: String,
    /// Where the Hosted UI sends the user back with the code: the app's page.
    pub redirect_uri: String,
    /// Where the Hosted UI sends the user after signing out: the app's page.
    pub logout_uri: String,
}

impl WebClientConfig {
    /// The twin plays both the API and the Hosted UI at `origin`, and serves the app there.
    pub fn for_twin(origin: &str, client_id: &str) -> Self {
        let page = format!("{origin}{PATH}");
        Self {
            api_url: origin.to_owned(),
            auth_domain: origin.to_owned(),
            client_id: client_id.to_owned(),
            redirect_uri: page.clone(),
            logout_uri: page,
        }
    }
}

/// `GET /app`, `/app/`, `/app/{file}` and `/app/config.json`; `client_id` is the twin's
/// `--audience`.
pub fn routes(client_id: String) -> Router {
    Router::new()
        .route("/app", get(|| async { Redirect::permanent(PATH) }))
        .route(PATH, get(|| async { file("index.html") }))
        .route("/app/config.json", get(config))
        .route(
            "/app/{file}",
            get(|Path(name): Path<String>| async move { file(&name) }),
        )
        .with_state(Arc::new(client_id))
}

/// The origin the browser reached the twin at, from `Host`. It must be this one and not the
/// bound address: the page keeps its sign-in state per origin, so the Hosted UI has to send
/// the user back to the origin they started from (`localhost` and `127.0.0.1` are two).
fn origin(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let authority = host.parse::<http::uri::Authority>().ok()?;
    Some(format!("http://{authority}"))
}

async fn config(State(client_id): State<Arc<String>>, headers: HeaderMap) -> Response {
    let Some(origin) = origin(&headers) else {
        return (StatusCode::BAD_REQUEST, "no valid Host header").into_response();
    };
    let mut response = Json(WebClientConfig::for_twin(&origin, &client_id)).into_response();
    // It depends on the Host the page was reached at.
    with_headers(&mut response, "no-store");
    response
}

fn file(name: &str) -> Response {
    let Some(file) = FILES.iter().find(|f| f.name == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let mut response = ([(header::CONTENT_TYPE, file.content_type)], file.bytes).into_response();
    // Small files, checked again on every load, so a rebuilt twin serves its new app at once.
    with_headers(&mut response, "no-cache");
    response
}

/// The page's own files only; it connects only to the API and the Hosted UI of its settings,
/// which on the twin are the page's own origin (`'self'`); nothing may frame it. (The page's
/// own `<meta>` policy, for static hosts, applies too and allows no more.)
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The headers of every answer under `/app/`: caching, and the page's security policy.
fn with_headers(response: &mut Response, cache_control: &'static str) {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // After sign-in the page's address briefly holds the code: it is sent nowhere.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str, host: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        let request = http::Request::get(path)
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        let response = routes("the-client".into()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body.to_vec())
    }

    fn folder() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/web")
    }

    #[tokio::test]
    async fn the_settings_name_the_origin_the_page_was_reached_at() {
        for host in ["localhost:3000", "127.0.0.1:49152"] {
            let (status, headers, body) = get("/app/config.json", host).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(headers[header::CONTENT_TYPE], "application/json");
            assert_eq!(headers[header::CACHE_CONTROL], "no-store");
            let settings: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let origin = format!("http://{host}");
            assert_eq!(
                settings,
                serde_json::json!({
                    "apiUrl": origin,
                    "authDomain": origin,
                    "clientId": "the-client",
                    "redirectUri": format!("{origin}/app/"),
                    "logoutUri": format!("{origin}/app/"),
                })
            );
        }
        let (status, _, _) = get("/app/config.json", "not a host").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn every_file_of_the_folder_is_served_with_its_type_and_policy() {
        let mut names: Vec<String> = std::fs::read_dir(folder())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| !n.starts_with('.') && n != "config.json")
            .collect();
        names.sort();
        let mut served: Vec<&str> = FILES.iter().map(|f| f.name).collect();
        served.sort_unstable();
        assert_eq!(names, served, "examples/web/ and the files the twin serves");

        for (path, content_type) in [
            ("/app/", "text/html; charset=utf-8"),
            ("/app/index.html", "text/html; charset=utf-8"),
            ("/app/app.js", "text/javascript; charset=utf-8"),
            ("/app/style.css", "text/css; charset=utf-8"),
        ] {
            let (status, headers, body) = get(path, "localhost:3000").await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], content_type, "{path}");
            assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{path}");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
            let name = path.rsplit('/').next().filter(|n| !n.is_empty());
            let on_disk = std::fs::read(folder().join(name.unwrap_or("index.html"))).unwrap();
            assert_eq!(body, on_disk, "{path} is the folder's file");
            let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            for directive in [
                "default-src 'none'",
                "script-src 'self'",
                "connect-src 'self';",
                "frame-ancestors 'none'",
            ] {
                assert!(policy.contains(directive), "{path}: {policy}");
            }
        }
    }

    #[tokio::test]
    async fn app_without_its_slash_is_sent_to_the_page_and_other_names_are_404() {
        let (status, headers, _) = get("/app", "localhost:3000").await;
        assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
        assert_eq!(headers[header::LOCATION], "/app/");
        for path in ["/app/nope.js", "/app/..%2Fsecret.json", "/app/.gitignore"] {
            let (status, _, _) = get(path, "localhost:3000").await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
    }

    /// The page reads exactly the keys the twin writes (and Terraform's output, held to the
    /// same struct by the conformance tests).
    #[test]
    fn the_page_reads_the_keys_of_the_settings() {
        let script = std::fs::read_to_string(folder().join("app.js")).unwrap();
        let line = script
            .lines()
            .find(|l| l.starts_with("const SETTINGS = ["))
            .expect("app.js lists its SETTINGS");
        let read: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        let settings = serde_json::to_value(WebClientConfig::for_twin("http://x", "c")).unwrap();
        let written: Vec<&str> = settings
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let (mut read, mut written) = (read, written);
        read.sort_unstable();
        written.sort_unstable();
        assert_eq!(read, written, "app.js's SETTINGS and WebClientConfig");
    }
}
