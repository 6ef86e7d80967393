//! Signed page cursors. A cursor names the last item of a page; it is MAC'd together with the
//! caller's `sub`, so a tampered cursor, or one taken from another user, is a `400`, never
//! another user's page. The key id travels in the cursor so a rotated key still verifies the
//! cursors it signed until they expire.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

use crate::domain::{ItemId, limits};
use crate::ports::{CursorKeys, SigningKey};

const VERSION: &str = "v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is malformed")]
    Malformed,
    #[error("the cursor was not issued for this caller, or was altered")]
    BadSignature,
    #[error("the cursor has expired; start again from the first page")]
    Expired,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    /// Key id.
    k: String,
    /// The last item id of the page: the next page starts strictly before it.
    a: String,
    /// Expiry, epoch seconds.
    e: i64,
}

fn mac(key: &SigningKey, owner: &str, payload_b64: &str) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key.secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(VERSION.as_bytes());
    ctx.update(b".");
    ctx.update(payload_b64.as_bytes());
    // The owner is bound by the MAC but not carried: a cursor reveals nothing about its user.
    ctx.update(b"\0");
    ctx.update(owner.as_bytes());
    ctx.sign()
}

/// Signs a cursor for `owner` that continues after `last`, valid until `now + CURSOR_TTL_SECS`.
pub fn encode(keys: &CursorKeys, owner: &str, last: ItemId, now_epoch_secs: i64) -> String {
    let payload = Payload {
        k: keys.current.id.clone(),
        a: last.to_string(),
        e: now_epoch_secs + limits::CURSOR_TTL_SECS,
    };
    let payload_b64 = B64.encode(serde_json::to_vec(&payload).expect("plain struct"));
    let tag = mac(&keys.current, owner, &payload_b64);
    format!("{VERSION}.{payload_b64}.{}", B64.encode(tag.as_ref()))
}

/// Verifies a cursor for `owner` and returns the id the next page starts before.
pub fn decode(
    keys: &CursorKeys,
    owner: &str,
    cursor: &str,
    now_epoch_secs: i64,
) -> Result<ItemId, CursorError> {
    if cursor.len() > limits::CURSOR_MAX_BYTES {
        return Err(CursorError::Malformed);
    }
    let mut parts = cursor.split('.');
    let (Some(VERSION), Some(payload_b64), Some(tag_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CursorError::Malformed);
    };
    let tag = B64.decode(tag_b64).map_err(|_| CursorError::Malformed)?;
    let payload: Payload = B64
        .decode(payload_b64)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(CursorError::Malformed)?;
    let key = std::iter::once(&keys.current)
        .chain(&keys.previous)
        .find(|k| k.id == payload.k)
        .ok_or(CursorError::BadSignature)?;
    let expected = mac(key, owner, payload_b64);
    constant_time::verify_slices_are_equal(expected.as_ref(), &tag)
        .map_err(|_| CursorError::BadSignature)?;
    // Only a verified payload is trusted past this point.
    if payload.e <= now_epoch_secs {
        return Err(CursorError::Expired);
    }
    payload.a.parse().map_err(|_| CursorError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_300_000;

    fn key(id: &str, byte: u8) -> SigningKey {
        SigningKey {
            id: id.into(),
            secret: vec![byte; 32],
        }
    }

    fn keys() -> CursorKeys {
        CursorKeys {
            current: key("k2", 2),
            previous: vec![key("k1", 1)],
        }
    }

    #[test]
    fn round_trips_for_its_owner() {
        let id = ItemId::generate();
        let c = encode(&keys(), "alice", id, NOW);
        assert_eq!(decode(&keys(), "alice", &c, NOW + 10), Ok(id));
        assert!(
            !c.contains("alice"),
            "the owner is not readable from the cursor"
        );
    }

    #[test]
    fn another_owner_cannot_use_it() {
        let c = encode(&keys(), "alice", ItemId::generate(), NOW);
        assert_eq!(
            decode(&keys(), "bob", &c, NOW),
            Err(CursorError::BadSignature)
        );
    }

    #[test]
    fn every_single_character_change_is_rejected() {
        let c = encode(&keys(), "alice", ItemId::generate(), NOW);
        for i in 0..c.len() {
            let mut bytes = c.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered == c {
                continue;
            }
            assert!(
                decode(&keys(), "alice", &tampered, NOW).is_err(),
                "position {i} accepted"
            );
        }
    }

    #[test]
    fn a_forged_payload_with_a_reused_tag_is_rejected() {
        let c = encode(&keys(), "alice", ItemId::generate(), NOW);
        let tag = c.rsplit('.').next().unwrap();
        let forged = Payload {
            k: "k2".into(),
            a: ItemId::generate().to_string(),
            e: NOW + 99,
        };
        let forged = format!(
            "v1.{}.{tag}",
            B64.encode(serde_json::to_vec(&forged).unwrap())
        );
        assert_eq!(
            decode(&keys(), "alice", &forged, NOW),
            Err(CursorError::BadSignature)
        );
    }

    #[test]
    fn expires_after_its_ttl() {
        let c = encode(&keys(), "alice", ItemId::generate(), NOW);
        assert!(decode(&keys(), "alice", &c, NOW + limits::CURSOR_TTL_SECS - 1).is_ok());
        assert_eq!(
            decode(&keys(), "alice", &c, NOW + limits::CURSOR_TTL_SECS),
            Err(CursorError::Expired)
        );
    }

    #[test]
    fn a_rotated_key_still_verifies_until_it_is_dropped() {
        let old = CursorKeys {
            current: key("k1", 1),
            previous: vec![],
        };
        let c = encode(&old, "alice", ItemId::generate(), NOW);
        assert!(
            decode(&keys(), "alice", &c, NOW).is_ok(),
            "k1 is now a previous key"
        );
        let dropped = CursorKeys {
            current: key("k2", 2),
            previous: vec![],
        };
        assert_eq!(
            decode(&dropped, "alice", &c, NOW),
            Err(CursorError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in [
            "",
            "v1",
            "v1..",
            "v2.e30.AA",
            "v1.!!.AA",
            "v1.e30.AA.x",
            &"a".repeat(600),
        ] {
            assert!(decode(&keys(), "alice", bad, NOW).is_err(), "{bad}");
        }
    }
}
