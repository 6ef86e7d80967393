//! The local issuer's sign-in page, `/login`, standing in for Cognito's Hosted UI. Reached from
//! `/oauth2/authorize` with the request's parameters, it signs a user in for that app client
//! ([`super::oauth::sign_in`]); reached without them, it is the shell walk-through's page, which
//! shows an ID token (or answers it as JSON). Its JWKS and discovery documents are among the
//! twin's own routes ([`crate::twin_api`]).

use crate::html::escape;
use crate::media_type::content_type_is;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde_json::json;

use super::issuer::IssuerError;
use super::oauth::{HostedUi, sign_in};
use super::pages::{html, page, sign_in_form};

/// Cognito's default ID token validity.
pub const ID_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// `GET /login`: the Hosted UI's sign-in page for an authorization request, or the shell's.
pub(super) async fn login_page(
    State(hosted): State<Arc<HostedUi>>,
    RawQuery(query): RawQuery,
) -> Response {
    if sign_in::is_authorization_request(query.as_deref()) {
        return sign_in::page(&hosted, query.as_deref().unwrap_or_default());
    }
    html(StatusCode::OK, &page("Sign in", &sign_in_form("/login")))
}

#[derive(serde::Deserialize)]
pub(super) struct LoginForm {
    pub(super) username: String,
}

/// `POST /login`: signs the user in for the authorization request in the query, if there is one
/// (and redirects with a code), or for the shell (the ID token itself).
pub(super) async fn login(State(hosted): State<Arc<HostedUi>>, request: Request) -> Response {
    let query = request.uri().query().map(str::to_owned);
    if sign_in::is_authorization_request(query.as_deref()) {
        return sign_in::submit(&hosted, query.as_deref().unwrap_or_default(), request).await;
    }
    let issuer = hosted.issuer();
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
            "<p class=\"error\">Could not sign in: {}</p>{}",
            escape(detail),
            sign_in_form("/login")
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::auth::test_support::{CLIENT_ID, ISSUER, issuer};
    use crate::auth::{JwksSource, JwtAuthorizer};

    fn app() -> axum::Router {
        crate::auth::oauth::test_support::routes()
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
