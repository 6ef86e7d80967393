//! The tokens the token endpoint issues, with the claims Cognito puts in them:
//!
//! - the ID token (`token_use` `id`): `aud` is the app client, `nonce` the authorization
//!   request's, `at_hash` binds it to the access token issued with it (OIDC Core §3.1.3.6);
//!   only when the `openid` scope was granted;
//! - the access token (`token_use` `access`): no `aud`, `client_id` names the app client, and
//!   `scope` lists the granted scopes.
//!
//! Tokens of one sign-in, refreshed or not, share `origin_jti` and `auth_time`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use uuid::Uuid;

use super::sessions::Session;
use crate::auth::issuer::{IssuerError, LocalIssuer};

/// The pool's users have an `email` attribute when they sign in with an email address (the
/// stack's pool uses emails as user names), and it counts as verified.
pub fn email_of(username: &str) -> Option<&str> {
    username.contains('@').then_some(username)
}

#[derive(Debug)]
pub struct Issued {
    pub id_token: Option<String>,
    pub access_token: String,
}

/// Signs the ID and access tokens of `session`, valid `ttl` from `now` (seconds since the epoch).
pub fn issue(
    issuer: &LocalIssuer,
    session: &Session,
    nonce: Option<&str>,
    ttl: Duration,
    now: u64,
) -> Result<Issued, IssuerError> {
    let sub = issuer.sub_for(&session.username).to_string();
    let exp = now.saturating_add(ttl.as_secs());
    let event_id = Uuid::new_v4().to_string();
    let access = json!({
        "sub": sub,
        "iss": issuer.issuer_url(),
        "version": 2,
        "client_id": session.client_id,
        "origin_jti": session.origin_jti,
        "event_id": event_id,
        "token_use": "access",
        "scope": session.scopes.join(" "),
        "auth_time": session.auth_time,
        "exp": exp,
        "iat": now,
        "jti": Uuid::new_v4().to_string(),
        "username": session.username,
    });
    let access_token = sign(issuer, access)?;
    if !session.scopes.iter().any(|s| s == "openid") {
        return Ok(Issued {
            id_token: None,
            access_token,
        });
    }
    let mut id = json!({
        "at_hash": at_hash(&access_token),
        "sub": sub,
        "iss": issuer.issuer_url(),
        "cognito:username": session.username,
        "origin_jti": session.origin_jti,
        "aud": session.client_id,
        "event_id": event_id,
        "token_use": "id",
        "auth_time": session.auth_time,
        "exp": exp,
        "iat": now,
        "jti": Uuid::new_v4().to_string(),
    });
    if let Some(email) = email_of(&session.username) {
        id["email"] = json!(email);
        id["email_verified"] = json!(true);
    }
    if let Some(nonce) = nonce {
        id["nonce"] = json!(nonce);
    }
    Ok(Issued {
        id_token: Some(sign(issuer, id)?),
        access_token,
    })
}

/// OIDC Core §3.1.3.6: the base64url of the left half of the SHA-256 of the access token.
pub fn at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

fn sign(issuer: &LocalIssuer, claims: Value) -> Result<String, IssuerError> {
    let Value::Object(claims) = claims else {
        unreachable!("json! of an object")
    };
    issuer.sign_claims(&claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_support::{CLIENT_ID, ISSUER, issuer};

    fn session(username: &str, scopes: &[&str]) -> Session {
        Session {
            client_id: CLIENT_ID.into(),
            username: username.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            auth_time: 1_700_000_000,
            origin_jti: "origin".into(),
        }
    }

    fn claims(token: &str) -> crate::auth::Claims {
        jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap()
    }

    #[test]
    fn tokens_carry_cognito_s_claims() {
        let issuer = issuer();
        let now = 1_700_000_100;
        let issued = issue(
            &issuer,
            &session("bob@example.com", &["openid", "email"]),
            Some("n-1"),
            Duration::from_secs(3600),
            now,
        )
        .unwrap();
        let access = claims(&issued.access_token);
        assert_eq!(access["token_use"], "access");
        assert_eq!(access["client_id"], CLIENT_ID);
        assert_eq!(access["scope"], "openid email");
        assert_eq!(access["username"], "bob@example.com");
        assert_eq!(access["iss"], ISSUER);
        assert_eq!(access["auth_time"], 1_700_000_000);
        assert_eq!(access["exp"], now + 3600);
        assert!(!access.contains_key("aud"));
        let id = claims(issued.id_token.as_deref().unwrap());
        assert_eq!(id["token_use"], "id");
        assert_eq!(id["aud"], CLIENT_ID);
        assert_eq!(id["nonce"], "n-1");
        assert_eq!(id["email"], "bob@example.com");
        assert_eq!(id["email_verified"], true);
        assert_eq!(id["cognito:username"], "bob@example.com");
        assert_eq!(id["sub"], access["sub"]);
        assert_eq!(id["origin_jti"], "origin");
        assert_eq!(id["event_id"], access["event_id"]);
        assert_ne!(id["jti"], access["jti"]);
        assert_eq!(id["at_hash"], at_hash(&issued.access_token));
        let header = jsonwebtoken::decode_header(&issued.access_token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(issuer.kid()));
    }

    #[test]
    fn no_id_token_without_openid_and_no_email_without_one() {
        let issuer = issuer();
        let issued = issue(
            &issuer,
            &session("alice", &["profile"]),
            None,
            Duration::from_secs(60),
            1,
        )
        .unwrap();
        assert!(issued.id_token.is_none());
        let issued = issue(
            &issuer,
            &session("alice", &["openid"]),
            None,
            Duration::from_secs(60),
            1,
        )
        .unwrap();
        let id = claims(issued.id_token.as_deref().unwrap());
        assert!(!id.contains_key("email") && !id.contains_key("nonce"));
    }

    #[test]
    fn at_hash_follows_oidc_core() {
        // OIDC Core's example (appendix A.4): this access token hashes to this at_hash.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
