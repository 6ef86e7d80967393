//! The local issuer's sign-in page, `/login`, standing in for Cognito's Hosted UI. Its JWKS
//! and discovery documents are among the twin's own routes ([`crate::twin_api`]).

use crate::html::escape;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde_json::json;

use super::issuer::{IssuerError, LocalIssuer};

/// Cognito's default ID token validity.
pub const ID_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Serves `GET|POST /login`.
pub fn routes(issuer: Arc<LocalIssuer>) -> Router {
    Router::new()
        .route("/login", get(login_page).post(login))
        .with_state(issuer)
}

async fn login_page() -> Response {
    html(StatusCode::OK, &page("Sign in", SIGN_IN_FORM))
}

#[derive(serde::Deserialize)]
struct LoginForm {
    username: String,
}

async fn login(State(issuer): State<Arc<LocalIssuer>>, request: Request) -> Response {
    let headers = request.headers().clone();
    let is_json_body = content_type_is(&headers, "application/json");
    let wants_json = is_json_body || accepts_json(&headers);

    let username = if is_json_body {
        Json::<LoginForm>::from_request(request, &())
            .await
            .map(|Json(form)| form.username)
            .map_err(|rejection| (rejection.status(), rejection.body_text()))
    } else if content_type_is(&headers, "application/x-www-form-urlencoded") {
        Form::<LoginForm>::from_request(request, &())
            .await
            .map(|Form(form)| form.username)
            .map_err(|rejection| (rejection.status(), rejection.body_text()))
    } else {
        Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the username as application/x-www-form-urlencoded or application/json".into(),
        ))
    };
    let username = match username {
        Ok(username) => username,
        Err((status, detail)) => return error(wants_json, status, &detail),
    };

    let token = match issuer.mint_id_token(&username, ID_TOKEN_TTL) {
        Ok(token) => token,
        Err(e @ IssuerError::InvalidUsername(_)) => {
            return error(wants_json, StatusCode::BAD_REQUEST, &e.to_string());
        }
        Err(e) => {
            tracing::error!(error = %e, "local issuer could not sign a token");
            return error(
                wants_json,
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not sign the token",
            );
        }
    };
    let sub = issuer.sub_for(&username).to_string();
    tracing::info!(%sub, "local issuer signed a user in");

    let mut response = if wants_json {
        Json(json!({
            "id_token": token,
            "token_type": "Bearer",
            "expires_in": ID_TOKEN_TTL.as_secs(),
            "sub": sub,
        }))
        .into_response()
    } else {
        let api_base = api_base(&headers);
        html(
            StatusCode::OK,
            &page("Signed in", &signed_in(&username, &sub, &token, &api_base)),
        )
    };
    // A token response must not be cached (RFC 6749 §5.1).
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn content_type_is(headers: &HeaderMap, mime: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(mime))
}

fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',').any(|item| {
                let mime = item.split(';').next().unwrap_or("").trim();
                mime.eq_ignore_ascii_case("application/json")
            })
        })
}

/// Errors as RFC 9457 problem details, like the rest of the API, or as a page for a browser.
fn error(wants_json: bool, status: StatusCode, detail: &str) -> Response {
    if wants_json {
        let body = json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    } else {
        let body = format!(
            "<p class=\"error\">Could not sign in: {}</p>{SIGN_IN_FORM}",
            escape(detail)
        );
        html(status, &page("Sign in", &body))
    }
}

/// Where the curl example points: the host this page was reached on, which is the gateway's.
fn api_base(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|host| host.parse::<http::uri::Authority>().ok())
        .map_or_else(
            || "http://localhost".to_owned(),
            |host| format!("http://{host}"),
        )
}

fn html(status: StatusCode, body: &str) -> Response {
    let mut response = (status, Html(body.to_owned())).into_response();
    // No scripts on these pages; nothing may load from elsewhere, nothing may frame them.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

const SIGN_IN_FORM: &str = r#"<form method="post" action="/login">
  <label for="username">Username</label>
  <input id="username" name="username" autocomplete="username" required maxlength="128" autofocus>
  <button type="submit">Sign in</button>
</form>
<p class="note">This is the local twin's stand-in for the Cognito Hosted UI. There are no
passwords: any valid username (1-128 characters, no spaces) signs in, and the same username
always gets the same <code>sub</code>.</p>"#;

fn signed_in(username: &str, sub: &str, token: &str, api_base: &str) -> String {
    let curl = format!("curl -H \"Authorization: Bearer {token}\" {api_base}/items");
    format!(
        r#"<p>Signed in as <strong>{username}</strong> (<code>sub</code> {sub}). The ID token is valid for {minutes} minutes.</p>
<label for="token">ID token</label>
<textarea id="token" readonly rows="6">{token}</textarea>
<label for="curl">Try it</label>
<textarea id="curl" readonly rows="6">{curl}</textarea>
<p><a href="/login">Sign in as someone else</a></p>"#,
        username = escape(username),
        sub = escape(sub),
        minutes = ID_TOKEN_TTL.as_secs() / 60,
        token = escape(token),
        curl = escape(&curl),
    )
}

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · items API (local)</title>
<style>
  body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1f2328; }}
  h1 {{ font-size: 1.5rem; }}
  label {{ display: block; font-weight: 600; margin-top: 1rem; }}
  input, textarea {{ width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; border: 1px solid #d0d7de; border-radius: 6px; }}
  textarea {{ font: 13px/1.4 ui-monospace, monospace; word-break: break-all; }}
  button {{ margin-top: 1rem; padding: .5rem 1.25rem; font: inherit; color: #fff; background: #1f6feb; border: 0; border-radius: 6px; cursor: pointer; }}
  .note {{ color: #59636e; font-size: .9rem; margin-top: 1.5rem; }}
  .error {{ color: #d1242f; }}
</style>
</head>
<body>
<h1>{title}</h1>
{body}
</body>
</html>
"#,
        title = escape(title),
    )
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::auth::test_support::{CLIENT_ID, ISSUER, issuer};
    use crate::auth::{JwksSource, JwtAuthorizer};

    fn app() -> Router {
        routes(issuer())
    }

    async fn send(request: http::Request<Body>) -> (StatusCode, HeaderMap, String) {
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    fn post(content_type: &str, accept: Option<&str>, body: &str) -> http::Request<Body> {
        let mut builder = http::Request::post("/login")
            .header(header::CONTENT_TYPE, content_type)
            .header(header::HOST, "127.0.0.1:8080");
        if let Some(accept) = accept {
            builder = builder.header(header::ACCEPT, accept);
        }
        builder.body(Body::from(body.to_owned())).unwrap()
    }

    async fn verifies(token: &str) -> bool {
        let issuer = issuer();
        let authorizer = JwtAuthorizer::new(
            ISSUER.into(),
            vec![CLIENT_ID.into()],
            JwksSource::Static(issuer.jwk_set()),
        );
        let header = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        authorizer.authorize(Some(&header)).await.is_ok()
    }

    #[tokio::test]
    async fn login_page_has_a_username_form() {
        let request = http::Request::get("/login").body(Body::empty()).unwrap();
        let (status, headers, body) = send(request).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(body.contains(r#"name="username""#));
        assert!(body.contains("any valid username"));
    }

    #[tokio::test]
    async fn json_login_answers_json() {
        let (status, headers, body) =
            send(post("application/json", None, r#"{"username":"alice"}"#)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["sub"], issuer().sub_for("alice").to_string());
        assert!(verifies(body["id_token"].as_str().unwrap()).await);
    }

    #[tokio::test]
    async fn form_login_with_accept_json_answers_json() {
        let (status, _, body) = send(post(
            "application/x-www-form-urlencoded",
            Some("text/html;q=0.9, application/json"),
            "username=bob%40example.com",
        ))
        .await;
        assert_eq!(status, StatusCode::OK);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["sub"], issuer().sub_for("bob@example.com").to_string());
    }

    #[tokio::test]
    async fn form_login_answers_a_page_with_token_and_curl() {
        let (status, headers, body) = send(post(
            "application/x-www-form-urlencoded",
            None,
            "username=carol",
        ))
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let token = body
            .split(r#"<textarea id="token" readonly rows="6">"#)
            .nth(1)
            .and_then(|rest| rest.split("</textarea>").next())
            .unwrap();
        assert!(verifies(token).await);
        assert!(body.contains(&format!(
            "curl -H &quot;Authorization: Bearer {token}&quot; http://127.0.0.1:8080/items"
        )));
    }

    #[tokio::test]
    async fn bad_username_is_400_in_the_requested_format() {
        let (status, headers, body) = send(post(
            "application/json",
            None,
            r#"{"username":"has space"}"#,
        ))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["status"], 400);
        assert!(body["detail"].as_str().unwrap().contains("whitespace"));

        let (status, headers, body) =
            send(post("application/x-www-form-urlencoded", None, "username=")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(body.contains("Could not sign in"));
    }

    #[tokio::test]
    async fn echoed_text_is_escaped() {
        let (status, _, body) = send(post(
            "application/x-www-form-urlencoded",
            None,
            "username=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        ))
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(!body.contains("<script>"));
        assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[tokio::test]
    async fn malformed_bodies_are_client_errors() {
        let (status, _, _) = send(post("application/json", None, "{")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _, _) = send(post("text/plain", None, "alice")).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
