//! Authorization codes: single-use, valid [`super::CODE_TTL`], each bound to the request that
//! asked for it (client, redirect URI, PKCE challenge, scopes, nonce) and the user who signed in.
//!
//! A code given a second time is refused, and the tokens issued for it are revoked (RFC 6749
//! §4.1.2): a used code is remembered until it would have expired.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Most codes kept at once; past it the oldest is dropped (a code is redeemed in seconds).
const MAX_CODES: usize = 10_000;

/// What a code stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub username: String,
    /// When the user signed in, seconds since the epoch (`auth_time`).
    pub auth_time: u64,
}

#[derive(Debug)]
enum Use {
    Unused,
    /// Given to the token endpoint; `origin_jti` of the tokens it brought, if any.
    Used {
        origin_jti: Option<String>,
    },
}

#[derive(Debug)]
struct Entry {
    grant: Grant,
    issued: Instant,
    state: Use,
}

/// Why a code was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Never issued, or expired and forgotten.
    Unknown,
    Expired,
    /// Given before; the tokens issued then (their `origin_jti`) are to be revoked.
    Reused {
        origin_jti: Option<String>,
    },
}

#[derive(Debug)]
pub struct CodeStore {
    ttl: Duration,
    max: usize,
    entries: HashMap<String, Entry>,
}

impl CodeStore {
    pub fn new(ttl: Duration) -> Self {
        Self::bounded(ttl, MAX_CODES)
    }

    fn bounded(ttl: Duration, max: usize) -> Self {
        Self {
            ttl,
            max,
            entries: HashMap::new(),
        }
    }

    /// A new code for `grant`: a random UUID, as Cognito's are.
    pub fn issue(&mut self, grant: Grant, now: Instant) -> String {
        self.forget_expired(now);
        if self.entries.len() >= self.max
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.issued)
                .map(|(code, _)| code.clone())
        {
            self.entries.remove(&oldest);
        }
        let code = Uuid::new_v4().to_string();
        self.entries.insert(
            code.clone(),
            Entry {
                grant,
                issued: now,
                state: Use::Unused,
            },
        );
        code
    }

    /// Takes the code: from now on it is used, whatever the token endpoint then decides.
    pub fn redeem(&mut self, code: &str, now: Instant) -> Result<Grant, Refused> {
        let ttl = self.ttl;
        let entry = self.entries.get_mut(code).ok_or(Refused::Unknown)?;
        if let Use::Used { origin_jti } = &entry.state {
            return Err(Refused::Reused {
                origin_jti: origin_jti.clone(),
            });
        }
        if now.saturating_duration_since(entry.issued) >= ttl {
            self.entries.remove(code);
            return Err(Refused::Expired);
        }
        entry.state = Use::Used { origin_jti: None };
        Ok(entry.grant.clone())
    }

    /// Notes the tokens a redeemed code brought, to revoke them if the code comes again.
    pub fn record_tokens(&mut self, code: &str, origin_jti: &str) {
        if let Some(entry) = self.entries.get_mut(code) {
            entry.state = Use::Used {
                origin_jti: Some(origin_jti.to_owned()),
            };
        }
    }

    fn forget_expired(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.issued) < ttl);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            client_id: "client".into(),
            redirect_uri: "http://localhost/cb".into(),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            scopes: vec!["openid".into()],
            nonce: Some("n".into()),
            username: "alice".into(),
            auth_time: 1,
        }
    }

    const TTL: Duration = Duration::from_secs(300);

    #[test]
    fn a_code_is_good_once() {
        let mut store = CodeStore::new(TTL);
        let start = Instant::now();
        let code = store.issue(grant(), start);
        assert!(Uuid::parse_str(&code).is_ok());
        assert_eq!(store.redeem(&code, start), Ok(grant()));
        assert_eq!(
            store.redeem(&code, start),
            Err(Refused::Reused { origin_jti: None })
        );
        store.record_tokens(&code, "origin-1");
        assert_eq!(
            store.redeem(&code, start + Duration::from_secs(1)),
            Err(Refused::Reused {
                origin_jti: Some("origin-1".into())
            })
        );
        assert_eq!(store.redeem("never-issued", start), Err(Refused::Unknown));
    }

    #[test]
    fn a_code_expires_after_its_ttl() {
        let mut store = CodeStore::new(TTL);
        let start = Instant::now();
        let late = store.issue(grant(), start);
        let in_time = store.issue(grant(), start);
        let just_before = start + TTL - Duration::from_millis(1);
        assert!(store.redeem(&in_time, just_before).is_ok());
        assert_eq!(store.redeem(&late, start + TTL), Err(Refused::Expired));
        // Forgotten after that.
        assert_eq!(store.redeem(&late, start + TTL), Err(Refused::Unknown));
    }

    #[test]
    fn expired_codes_are_forgotten_and_the_store_is_bounded() {
        let mut store = CodeStore::new(TTL);
        let start = Instant::now();
        for _ in 0..3 {
            store.issue(grant(), start);
        }
        store.issue(grant(), start + TTL);
        assert_eq!(store.len(), 1);
        let mut store = CodeStore::bounded(TTL, 3);
        let first = store.issue(grant(), start);
        for i in 1..3 {
            store.issue(grant(), start + Duration::from_secs(i));
        }
        store.issue(grant(), start + Duration::from_secs(5));
        assert_eq!(store.len(), 3);
        assert_eq!(store.redeem(&first, start), Err(Refused::Unknown));
    }
}
