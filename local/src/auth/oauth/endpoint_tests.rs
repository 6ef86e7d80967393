//! The endpoints together, in process: a sign-in from `/oauth2/authorize` to the tokens, and how
//! each endpoint refuses what it must.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::test_support::{CALLBACK, CHALLENGE, CLIENT_ID, LOGOUT, VERIFIER, routes};
use crate::auth::{JwksSource, JwtAuthorizer};

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn location(&self) -> &str {
        self.headers[header::LOCATION].to_str().unwrap()
    }
}

async fn send(app: &axum::Router, request: http::Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get(app: &axum::Router, uri: &str) -> Reply {
    send(app, http::Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post_form(app: &axum::Router, uri: &str, form: &[(&str, &str)]) -> Reply {
    let body = serde_urlencoded::to_string(form).unwrap();
    let request = http::Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    send(app, request).await
}

fn authorize_query(extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("state", "st-1"),
        ("nonce", "nonce-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    serde_urlencoded::to_string(params).unwrap()
}

/// The query parameters of a redirect.
fn query_of(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').map_or("", |(_, q)| q);
    serde_urlencoded::from_str(query).unwrap()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Signs `username` in through `/oauth2/authorize` and the sign-in form; returns the code.
async fn sign_in(app: &axum::Router, username: &str, extra: &[(&str, &str)]) -> String {
    let reply = get(
        app,
        &format!("/oauth2/authorize?{}", authorize_query(extra)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let login = reply.location().to_owned();
    assert!(login.starts_with("/login?"), "{login}");
    let page = get(app, &login).await;
    assert_eq!(page.status, StatusCode::OK);
    // The form's answer redirects to the app: its origin is allowed as a form target.
    let policy = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        policy.contains("form-action 'self' http://localhost:8080;"),
        "{policy}"
    );
    let reply = post_form(app, &login, &[("username", username)]).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    assert!(reply.location().starts_with(CALLBACK));
    let params = query_of(reply.location());
    assert_eq!(param(&params, "state"), Some("st-1"));
    param(&params, "code").unwrap().to_owned()
}

async fn redeem(app: &axum::Router, code: &str, verifier: &str) -> Reply {
    post_form(
        app,
        "/oauth2/token",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(app: &axum::Router, refresh_token: &str) -> Reply {
    post_form(
        app,
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn userinfo(app: &axum::Router, access_token: &str) -> Reply {
    let request = http::Request::get("/oauth2/userInfo")
        .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
        .body(Body::empty())
        .unwrap();
    send(app, request).await
}

fn claims(token: &str) -> crate::auth::Claims {
    jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap()
}

#[tokio::test]
async fn a_user_signs_in_refreshes_and_revokes() {
    let app = routes();
    let code = sign_in(&app, "carol@example.com", &[("scope", "openid email")]).await;
    let reply = redeem(&app, &code, VERIFIER).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let tokens = reply.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let id_token = tokens["id_token"].as_str().unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let id = claims(id_token);
    assert_eq!(id["nonce"], "nonce-1");
    assert_eq!(id["aud"], CLIENT_ID);
    assert_eq!(id["email"], "carol@example.com");
    assert_eq!(claims(access_token)["scope"], "openid email");

    // The API's JWT authorizer takes both: the ID token by `aud`, the access token by `client_id`.
    let issuer = crate::auth::test_support::issuer();
    let authorizer = JwtAuthorizer::new(
        issuer.issuer_url().into(),
        vec![CLIENT_ID.into()],
        JwksSource::Static(issuer.jwk_set()),
    );
    assert!(authorizer.verify(id_token).await.is_ok());
    assert!(authorizer.verify(access_token).await.is_ok());

    let user = userinfo(&app, access_token).await;
    assert_eq!(user.status, StatusCode::OK, "{}", user.body);
    assert_eq!(
        user.json(),
        json!({"sub": id["sub"], "username": "carol@example.com",
               "email": "carol@example.com", "email_verified": "true"})
    );

    let refreshed = refresh(&app, refresh_token).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let refreshed = refreshed.json();
    assert!(refreshed.get("refresh_token").is_none(), "no rotation");
    let new_id = claims(refreshed["id_token"].as_str().unwrap());
    assert_eq!(new_id["sub"], id["sub"]);
    assert_eq!(new_id["origin_jti"], id["origin_jti"]);
    assert_eq!(new_id["auth_time"], id["auth_time"]);
    assert!(new_id.get("nonce").is_none());

    let reply = post_form(
        &app,
        "/oauth2/revoke",
        &[("token", refresh_token), ("client_id", CLIENT_ID)],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "");
    let reply = refresh(&app, refresh_token).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "invalid_grant");
    // Its access tokens, first and refreshed, are refused at userInfo.
    for token in [access_token, refreshed["access_token"].as_str().unwrap()] {
        let reply = userinfo(&app, token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        let challenge = reply.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
    }
    // Revoking what is not a refresh token of the pool.
    let reply = post_form(
        &app,
        "/oauth2/revoke",
        &[("token", "made-up"), ("client_id", CLIENT_ID)],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = post_form(
        &app,
        "/oauth2/revoke",
        &[("token", id_token), ("client_id", CLIENT_ID)],
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "unsupported_token_type");
}

#[tokio::test]
async fn a_code_is_single_use_and_its_reuse_revokes_its_tokens() {
    let app = routes();
    let code = sign_in(&app, "dave", &[]).await;
    let first = redeem(&app, &code, VERIFIER).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let refresh_token = first.json()["refresh_token"].as_str().unwrap().to_owned();
    let again = redeem(&app, &code, VERIFIER).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.json()["error"], "invalid_grant");
    assert_eq!(
        refresh(&app, &refresh_token).await.json()["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn a_wrong_verifier_or_redirect_uri_spends_the_code() {
    let app = routes();
    let code = sign_in(&app, "erin", &[]).await;
    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl";
    let reply = redeem(&app, &code, wrong).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "invalid_grant");
    // Taken at its first use: the right verifier is too late.
    assert_eq!(
        redeem(&app, &code, VERIFIER).await.json()["error"],
        "invalid_grant"
    );

    let code = sign_in(&app, "erin", &[]).await;
    let reply = post_form(
        &app,
        "/oauth2/token",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", &code),
            ("redirect_uri", LOGOUT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(reply.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn token_errors_are_rfc_6749_shaped() {
    let app = routes();
    let code = sign_in(&app, "frank", &[]).await;
    type Form<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Form, StatusCode, &str)> = vec![
        (
            vec![("client_id", CLIENT_ID)],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            vec![("grant_type", "password"), ("client_id", CLIENT_ID)],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
            ],
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", "nobody"),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            vec![("grant_type", "authorization_code")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        // No verifier: refused before the code is looked at.
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("code", &code),
                ("redirect_uri", CALLBACK),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("refresh_token", "made-up"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (form, status, error) in cases {
        let reply = post_form(&app, "/oauth2/token", &form).await;
        assert_eq!(reply.status, status, "{form:?}: {}", reply.body);
        assert_eq!(reply.json()["error"], error, "{form:?}");
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    }
    // The code survived the refusal without a verifier.
    assert_eq!(redeem(&app, &code, VERIFIER).await.status, StatusCode::OK);

    let request = http::Request::post("/oauth2/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"grant_type":"refresh_token"}"#))
        .unwrap();
    assert_eq!(send(&app, request).await.json()["error"], "invalid_request");
    let request = http::Request::post("/oauth2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, "Basic bG9jYWwtY2xpZW50Og==")
        .body(Body::from(format!(
            "grant_type=refresh_token&client_id={CLIENT_ID}"
        )))
        .unwrap();
    let reply = send(&app, request).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"], "invalid_client");
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_never_widen_it() {
    let app = routes();
    let code = sign_in(&app, "gail", &[("scope", "openid profile")]).await;
    let tokens = redeem(&app, &code, VERIFIER).await.json();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let form = |scope| {
        vec![
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ]
    };
    let reply = post_form(&app, "/oauth2/token", &form("openid email")).await;
    assert_eq!(reply.json()["error"], "invalid_scope");
    let reply = post_form(&app, "/oauth2/token", &form("profile"))
        .await
        .json();
    assert!(reply.get("id_token").is_none());
    assert_eq!(
        claims(reply["access_token"].as_str().unwrap())["scope"],
        "profile"
    );
    // Without openid, userInfo refuses the token.
    let reply = userinfo(&app, reply["access_token"].as_str().unwrap()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn userinfo_refuses_what_is_not_a_valid_access_token() {
    let app = routes();
    let reply = get(&app, "/oauth2/userInfo").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
    let code = sign_in(&app, "hank", &[]).await;
    let tokens = redeem(&app, &code, VERIFIER).await.json();
    for token in [tokens["id_token"].as_str().unwrap(), "not.a.token"] {
        let reply = userinfo(&app, token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(
            reply.headers[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with(r#"Bearer error="invalid_token""#)
        );
    }
    // No email attribute for a user name that is not an email address.
    let user = userinfo(&app, tokens["access_token"].as_str().unwrap())
        .await
        .json();
    assert_eq!(user["username"], "hank");
    assert!(user.get("email").is_none());
}

#[tokio::test]
async fn authorize_never_redirects_to_an_unregistered_uri() {
    let app = routes();
    let query = authorize_query(&[]).replace(
        &serde_urlencoded::to_string([("redirect_uri", CALLBACK)]).unwrap(),
        "redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
    );
    for path in ["/oauth2/authorize", "/login"] {
        let reply = get(&app, &format!("{path}?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(reply.headers.get(header::LOCATION).is_none(), "{path}");
        assert!(reply.body.contains("redirect_mismatch"), "{path}");
    }
    let reply = post_form(&app, &format!("/login?{query}"), &[("username", "x")]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.headers.get(header::LOCATION).is_none());
    // A registered one gets the error by redirect, with the state.
    let reply = get(
        &app,
        &format!(
            "/oauth2/authorize?{}",
            authorize_query(&[("scope", "phone")])
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    let params = query_of(reply.location());
    assert_eq!(param(&params, "error"), Some("invalid_scope"));
    assert_eq!(param(&params, "state"), Some("st-1"));
}

#[tokio::test]
async fn a_bad_username_shows_the_form_again() {
    let app = routes();
    let login = format!("/login?{}", authorize_query(&[]));
    let reply = post_form(&app, &login, &[("username", "has space")]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("Could not sign in"));
    assert!(reply.body.contains(r#"name="username""#));
    assert!(reply.headers.get(header::LOCATION).is_none());
}

#[tokio::test]
async fn logout_redirects_only_to_a_sign_out_url() {
    let app = routes();
    let query = |uri: &str| {
        serde_urlencoded::to_string([("client_id", CLIENT_ID), ("logout_uri", uri)]).unwrap()
    };
    let reply = get(&app, &format!("/logout?{}", query(LOGOUT))).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.location(), LOGOUT);
    for bad in [
        format!("/logout?{}", query("https://evil.example/")),
        "/logout?logout_uri=http%3A%2F%2Flocalhost%3A8080%2Fsigned-out".to_owned(),
        format!(
            "/logout?client_id=nobody&logout_uri={}",
            &query(LOGOUT)[34..]
        ),
        "/logout".to_owned(),
    ] {
        let reply = get(&app, &bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(reply.headers.get(header::LOCATION).is_none(), "{bad}");
    }
    // To sign in again: on to the sign-in page for that request.
    let reply = get(&app, &format!("/logout?{}", authorize_query(&[]))).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert!(reply.location().starts_with("/login?"));
}
