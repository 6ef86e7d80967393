//! Signed-in sessions: the refresh tokens the token endpoint handed out, and the sessions that
//! were revoked. Kept in memory only: a restarted twin has forgotten them (its users sign in
//! again), as it has its codes.
//!
//! Cognito's refresh token is opaque to its clients; here it is 64 random bytes, base64url. A
//! session's tokens share one `origin_jti`, by which a revoked session's access tokens are
//! refused at `/oauth2/userInfo` (the API's JWT authorizer, like API Gateway's, checks only the
//! signature and the claims).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Most sessions kept at once; past it the one closest to expiry is dropped.
const MAX_SESSIONS: usize = 10_000;
const REFRESH_TOKEN_BYTES: usize = 64;

/// What a refresh token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub client_id: String,
    pub username: String,
    pub scopes: Vec<String>,
    pub auth_time: u64,
    pub origin_jti: String,
}

#[derive(Debug)]
struct Kept {
    session: Session,
    expires: Instant,
}

#[derive(Debug)]
pub struct Sessions {
    refresh_ttl: Duration,
    /// How long an access token of a revoked session stays valid: its `origin_jti` is kept as
    /// long (the longest an access token lives).
    access_ttl: Duration,
    max: usize,
    by_refresh_token: HashMap<String, Kept>,
    /// `origin_jti` of revoked sessions, until their last access token has expired.
    revoked: HashMap<String, Instant>,
}

impl Sessions {
    pub fn new(refresh_ttl: Duration, access_ttl: Duration) -> Self {
        Self {
            refresh_ttl,
            access_ttl,
            max: MAX_SESSIONS,
            by_refresh_token: HashMap::new(),
            revoked: HashMap::new(),
        }
    }

    /// Starts a session; returns its refresh token.
    pub fn start(&mut self, session: Session, now: Instant) -> String {
        self.forget_expired(now);
        if self.by_refresh_token.len() >= self.max
            && let Some(first) = self
                .by_refresh_token
                .iter()
                .min_by_key(|(_, k)| k.expires)
                .map(|(token, _)| token.clone())
        {
            self.by_refresh_token.remove(&first);
        }
        let mut bytes = [0u8; REFRESH_TOKEN_BYTES];
        aws_lc_rs::rand::fill(&mut bytes).expect("the system's random source");
        let token = URL_SAFE_NO_PAD.encode(bytes);
        self.by_refresh_token.insert(
            token.clone(),
            Kept {
                session,
                expires: now + self.refresh_ttl,
            },
        );
        token
    }

    /// The session of a refresh token that is neither expired nor revoked.
    pub fn find(&self, refresh_token: &str, now: Instant) -> Option<&Session> {
        self.by_refresh_token
            .get(refresh_token)
            .filter(|k| now < k.expires)
            .map(|k| &k.session)
    }

    /// Revokes the session of this refresh token, and so its access tokens; false if there was
    /// none.
    pub fn revoke_by_refresh_token(&mut self, refresh_token: &str, now: Instant) -> bool {
        match self.by_refresh_token.remove(refresh_token) {
            Some(kept) => {
                self.revoked
                    .insert(kept.session.origin_jti, now + self.access_ttl);
                true
            }
            None => false,
        }
    }

    /// Revokes the session whose tokens carry `origin_jti` (the tokens of a code given twice).
    pub fn revoke_by_origin(&mut self, origin_jti: &str, now: Instant) {
        self.by_refresh_token
            .retain(|_, k| k.session.origin_jti != origin_jti);
        self.revoked
            .insert(origin_jti.to_owned(), now + self.access_ttl);
    }

    pub fn is_revoked(&self, origin_jti: &str, now: Instant) -> bool {
        self.revoked
            .get(origin_jti)
            .is_some_and(|until| now < *until)
    }

    fn forget_expired(&mut self, now: Instant) {
        self.by_refresh_token.retain(|_, k| now < k.expires);
        self.revoked.retain(|_, until| now < *until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(origin: &str) -> Session {
        Session {
            client_id: "client".into(),
            username: "alice".into(),
            scopes: vec!["openid".into()],
            auth_time: 1,
            origin_jti: origin.into(),
        }
    }

    const DAY: Duration = Duration::from_secs(86_400);
    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn refresh_tokens_are_random_and_expire() {
        let mut sessions = Sessions::new(DAY, HOUR);
        let now = Instant::now();
        let a = sessions.start(session("a"), now);
        let b = sessions.start(session("b"), now);
        assert_ne!(a, b);
        assert_eq!(a.len(), 86);
        assert_eq!(sessions.find(&a, now), Some(&session("a")));
        assert_eq!(sessions.find(&a, now + DAY), None);
        assert_eq!(sessions.find("made-up", now), None);
    }

    #[test]
    fn revoking_ends_the_session_and_its_access_tokens() {
        let mut sessions = Sessions::new(DAY, HOUR);
        let now = Instant::now();
        let a = sessions.start(session("a"), now);
        assert!(!sessions.is_revoked("a", now));
        assert!(sessions.revoke_by_refresh_token(&a, now));
        assert!(!sessions.revoke_by_refresh_token(&a, now));
        assert_eq!(sessions.find(&a, now), None);
        assert!(sessions.is_revoked("a", now));
        // Its access tokens have all expired by then: nothing left to refuse.
        assert!(!sessions.is_revoked("a", now + HOUR));

        let b = sessions.start(session("b"), now);
        sessions.revoke_by_origin("b", now);
        assert_eq!(sessions.find(&b, now), None);
        assert!(sessions.is_revoked("b", now));
    }
}
