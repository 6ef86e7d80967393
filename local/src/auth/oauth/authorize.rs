//! `GET /oauth2/authorize`: checks an authorization request and, when it is good, sends the
//! browser to the sign-in page with it, as Cognito sends it to `/login`.
//!
//! RFC 6749 §4.1.2.1: a request whose client or redirect URI is unknown is answered with an
//! error page and never redirected; any other fault is redirected to the (registered)
//! `redirect_uri` as `error=…&state=…`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::client::{AppClient, parse_scopes};
use super::error::{ErrorCode, OAuthError, found};
use super::params::{ParamError, Params};
use super::{HostedUi, LOGIN_PATH, pkce};
use crate::auth::pages::error_page;

/// A good authorization request for the code grant with PKCE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    /// The `scope` parameter as given (absent: every allowed scope).
    pub scope: Option<String>,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
}

/// Why an authorization request was refused, and how to say so.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No trusted place to redirect to: an error page.
    Page(String),
    /// Redirected to the client with the error.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

impl Refusal {
    pub fn into_response(self) -> Response {
        match self {
            Self::Page(detail) => error_page(StatusCode::BAD_REQUEST, "Sign-in error", &detail),
            Self::Redirect {
                redirect_uri,
                state,
                error,
            } => error.redirect(&redirect_uri, state.as_deref()),
        }
    }
}

impl AuthorizeRequest {
    /// Reads and checks the request's query for `client`.
    pub fn from_query(query: &str, client: &AppClient) -> Result<Self, Refusal> {
        let params = Params::parse(query).map_err(|e| Refusal::Page(e.to_string()))?;
        // First what decides whether a redirect may be trusted at all.
        let page = |e: ParamError| Refusal::Page(e.to_string());
        let client_id = params
            .get("client_id")
            .map_err(page)?
            .ok_or_else(|| Refusal::Page("the request has no client_id".into()))?;
        if client_id != client.id {
            return Err(Refusal::Page(format!(
                "there is no app client {client_id:?}"
            )));
        }
        let redirect_uri = params
            .get("redirect_uri")
            .map_err(page)?
            .ok_or_else(|| Refusal::Page("the request has no redirect_uri".into()))?;
        if !client.is_callback_url(redirect_uri) {
            return Err(Refusal::Page(
                "redirect_mismatch: the redirect_uri is not one of the app client's callback URLs"
                    .into(),
            ));
        }
        // The state is echoed on every redirect from here; given twice, there is none to echo.
        let state = params.get("state").ok().flatten().map(str::to_owned);
        let refuse = |code, description: String| Refusal::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            state: state.clone(),
            error: OAuthError::new(code, description),
        };
        if let Some(name) = params.first_repeated() {
            return Err(refuse(
                ErrorCode::InvalidRequest,
                format!("the parameter {name} is given more than once"),
            ));
        }
        let get = |name: &str| params.get(name).ok().flatten();
        match get("response_type") {
            None => {
                return Err(refuse(
                    ErrorCode::InvalidRequest,
                    "the request has no response_type".into(),
                ));
            }
            Some("code") => {}
            // Cognito's implicit grant, which this app client does not allow.
            Some("token") => {
                return Err(refuse(
                    ErrorCode::UnauthorizedClient,
                    "the app client does not allow the implicit grant".into(),
                ));
            }
            Some(other) => {
                return Err(refuse(
                    ErrorCode::UnsupportedResponseType,
                    format!("response_type {other:?} is not supported"),
                ));
            }
        }
        let scope = get("scope");
        let scopes = parse_scopes(scope).map_err(|e| refuse(ErrorCode::InvalidScope, e))?;
        let code_challenge = match (get("code_challenge_method"), get("code_challenge")) {
            (_, None) => {
                return Err(refuse(
                    ErrorCode::InvalidRequest,
                    "the app client is public: PKCE is required (code_challenge with code_challenge_method=S256)".into(),
                ));
            }
            (Some(pkce::METHOD), Some(challenge)) if pkce::is_s256_challenge(challenge) => {
                challenge
            }
            (Some(pkce::METHOD), Some(_)) => {
                return Err(refuse(
                    ErrorCode::InvalidRequest,
                    "code_challenge is not the base64url of a SHA-256 digest".into(),
                ));
            }
            (_, Some(_)) => {
                return Err(refuse(
                    ErrorCode::InvalidRequest,
                    "code_challenge_method must be S256".into(),
                ));
            }
        };
        Ok(Self {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            state,
            scope: scope.map(str::to_owned),
            scopes,
            nonce: get("nonce").map(str::to_owned),
            code_challenge: code_challenge.to_owned(),
        })
    }

    /// The request as a query again, for the sign-in page's form.
    pub fn to_query(&self) -> String {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_challenge", self.code_challenge.as_str()),
            ("code_challenge_method", pkce::METHOD),
        ];
        for (name, value) in [
            ("scope", &self.scope),
            ("state", &self.state),
            ("nonce", &self.nonce),
        ] {
            if let Some(value) = value {
                params.push((name, value.as_str()));
            }
        }
        serde_urlencoded::to_string(params).unwrap_or_default()
    }
}

/// `GET /oauth2/authorize`.
pub(super) async fn authorize(
    State(hosted): State<Arc<HostedUi>>,
    RawQuery(query): RawQuery,
) -> Response {
    match AuthorizeRequest::from_query(query.as_deref().unwrap_or_default(), hosted.client()) {
        Ok(request) => found(&format!("{LOGIN_PATH}?{}", request.to_query())),
        Err(refusal) => refusal.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::oauth::test_support::{CALLBACK, CHALLENGE, CLIENT_ID, client};

    fn query(changes: &[(&str, Option<&str>)]) -> String {
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", CALLBACK),
            ("state", "st"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in changes {
            params.retain(|(n, _)| n != name);
            if let Some(value) = value {
                params.push((name, value));
            }
        }
        serde_urlencoded::to_string(params).unwrap()
    }

    fn redirected(query: &str) -> (ErrorCode, Option<String>) {
        match AuthorizeRequest::from_query(query, &client()) {
            Err(Refusal::Redirect {
                redirect_uri,
                state,
                error,
            }) => {
                assert_eq!(redirect_uri, CALLBACK);
                (error.code, state)
            }
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn a_good_request_round_trips() {
        let q = query(&[("scope", Some("openid email")), ("nonce", Some("n"))]);
        let request = AuthorizeRequest::from_query(&q, &client()).unwrap();
        assert_eq!(request.scopes, ["openid", "email"]);
        assert_eq!(request.nonce.as_deref(), Some("n"));
        assert_eq!(request.state.as_deref(), Some("st"));
        let again = AuthorizeRequest::from_query(&request.to_query(), &client()).unwrap();
        assert_eq!(again, request);
        // No scope: every scope the client allows.
        let request = AuthorizeRequest::from_query(&query(&[]), &client()).unwrap();
        assert_eq!(request.scopes, ["openid", "email", "profile"]);
    }

    #[test]
    fn unknown_client_or_redirect_is_a_page_never_a_redirect() {
        for q in [
            query(&[("client_id", Some("someone-else"))]),
            query(&[("client_id", None)]),
            query(&[("redirect_uri", Some("https://evil.example/cb"))]),
            query(&[("redirect_uri", Some(&format!("{CALLBACK}extra")))]),
            query(&[("redirect_uri", None)]),
            format!("{}&redirect_uri=https%3A%2F%2Fevil.example%2F", query(&[])),
            "%%%".to_owned(),
        ] {
            assert!(
                matches!(
                    AuthorizeRequest::from_query(&q, &client()),
                    Err(Refusal::Page(_))
                ),
                "{q}"
            );
        }
    }

    #[test]
    fn other_faults_are_redirected_with_the_state() {
        for (changes, code) in [
            (vec![("response_type", None)], ErrorCode::InvalidRequest),
            (
                vec![("response_type", Some("token"))],
                ErrorCode::UnauthorizedClient,
            ),
            (
                vec![("response_type", Some("id_token"))],
                ErrorCode::UnsupportedResponseType,
            ),
            (
                vec![("scope", Some("openid phone"))],
                ErrorCode::InvalidScope,
            ),
            (vec![("code_challenge", None)], ErrorCode::InvalidRequest),
            (
                vec![("code_challenge_method", None)],
                ErrorCode::InvalidRequest,
            ),
            (
                vec![("code_challenge_method", Some("plain"))],
                ErrorCode::InvalidRequest,
            ),
            (
                vec![("code_challenge", Some("short"))],
                ErrorCode::InvalidRequest,
            ),
        ] {
            let q = query(&changes);
            assert_eq!(redirected(&q), (code, Some("st".into())), "{q}");
        }
        let twice = format!("{}&scope=openid&scope=email", query(&[]));
        assert_eq!(redirected(&twice).0, ErrorCode::InvalidRequest);
    }
}
