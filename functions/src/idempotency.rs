//! Idempotent creates, after the IETF draft "The Idempotency-Key HTTP Header Field": a client
//! that retries `POST /items` with the same `Idempotency-Key` gets the first response back, and
//! no second item.
//!
//! A key belongs to one caller (`sub`). Its record is written in the same transaction as the
//! item, and says which item the key made and a fingerprint of the request: once written, the
//! answer is final (the item's event comes from the table's stream, not from the request).
//! Records expire [`limits::IDEMPOTENCY_TTL_SECS`] after the first request; an expired record
//! counts as absent.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::{ItemId, limits};

/// The request header that carries the key.
pub const HEADER: &str = "idempotency-key";
/// The response header that marks a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A validated `Idempotency-Key`: 1 to 255 printable ASCII characters, not blank.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidIdempotencyKey {
    #[error("`Idempotency-Key` must not be empty or blank")]
    Empty,
    #[error("`Idempotency-Key` must be at most {max} characters, got {got}", max = limits::IDEMPOTENCY_KEY_MAX_CHARS)]
    TooLong { got: usize },
    #[error("`Idempotency-Key` must be printable ASCII; byte {position} is not")]
    NotPrintableAscii { position: usize },
    #[error("`Idempotency-Key` is given more than once")]
    Repeated,
}

impl IdempotencyKey {
    /// Checks a header value's bytes. Printable ASCII keeps the key the same text in every
    /// store and every log, and within DynamoDB's key size.
    pub fn parse(value: &[u8]) -> Result<Self, InvalidIdempotencyKey> {
        if let Some(position) = value.iter().position(|b| !(0x20..=0x7e).contains(b)) {
            return Err(InvalidIdempotencyKey::NotPrintableAscii { position });
        }
        if value.iter().all(|b| *b == b' ') {
            return Err(InvalidIdempotencyKey::Empty);
        }
        if value.len() > limits::IDEMPOTENCY_KEY_MAX_CHARS {
            return Err(InvalidIdempotencyKey::TooLong { got: value.len() });
        }
        let text = std::str::from_utf8(value).expect("printable ASCII is UTF-8");
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = InvalidIdempotencyKey;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value.as_bytes())
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> Self {
        key.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What makes two requests "the same request": SHA-256 over the caller and the body bytes, as
/// lowercase hex. Keys are already per caller; the caller is in the digest too, so that a
/// record can never vouch for another caller's request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of(owner: &str, body: &[u8]) -> Self {
        use aws_lc_rs::digest;
        let mut ctx = digest::Context::new(&digest::SHA256);
        // Length-prefixed, so that no (owner, body) pair can spell another one.
        ctx.update(&(owner.len() as u64).to_be_bytes());
        ctx.update(owner.as_bytes());
        ctx.update(body);
        let digest = ctx.finish();
        let mut hex = String::with_capacity(64);
        for byte in digest.as_ref() {
            hex.push_str(&format!("{byte:02x}"));
        }
        Self(hex)
    }

    /// A fingerprint as stored (64 lowercase hex digits), for adapters reading it back.
    pub fn from_hex(hex: &str) -> Option<Self> {
        (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(hex.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A key's record, stored with the item it made. Records written when the request published
/// the event itself also hold its state, lease and version: they are read all the same, and
/// those are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub owner: String,
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
    #[serde(with = "item_id_text")]
    pub item_id: ItemId,
    /// Epoch seconds (DynamoDB's TTL attribute); at or after it the record counts as absent.
    pub expires_at: i64,
}

/// The item id as its text. Owned on the way in: a record is read through `flatten`, which
/// buffers, and from values that cannot lend their strings.
mod item_id_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::domain::ItemId;

    pub fn serialize<S: Serializer>(id: &ItemId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ItemId, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

impl IdempotencyRecord {
    /// Whether the record is about `item`: a record is written only with the item it is about.
    pub fn is_about(&self, item: &crate::domain::Item) -> bool {
        self.owner == item.owner && self.item_id == item.id
    }

    /// The record of a new item, written with it.
    pub fn begin(
        owner: &str,
        key: IdempotencyKey,
        fingerprint: Fingerprint,
        item_id: ItemId,
        now: i64,
    ) -> Self {
        Self {
            owner: owner.to_owned(),
            key,
            fingerprint,
            item_id,
            expires_at: now + limits::IDEMPOTENCY_TTL_SECS,
        }
    }

    pub fn is_live(&self, now: i64) -> bool {
        now < self.expires_at
    }
}

/// What a request with a key that already has a live record gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Another request body under the same key: `422`.
    KeyReused,
    /// The first response again.
    Replay,
}

pub fn decide(record: &IdempotencyRecord, fingerprint: &Fingerprint) -> Decision {
    if record.fingerprint == *fingerprint {
        Decision::Replay
    } else {
        Decision::KeyReused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> IdempotencyKey {
        IdempotencyKey::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn keys_of_one_to_255_printable_ascii_characters_are_valid() {
        for ok in [
            "a",
            "8e03978e-40d5-43e8-bc93-6894a57f9324",
            "\"quoted, as the draft writes it\"",
            "with inner spaces ~!@#$%^&*()",
            &"k".repeat(255),
        ] {
            assert_eq!(key(ok).as_str(), ok);
        }
    }

    #[test]
    fn empty_blank_long_and_non_printable_keys_are_rejected() {
        use InvalidIdempotencyKey::*;
        let cases: [(&[u8], InvalidIdempotencyKey); 7] = [
            (b"", Empty),
            (b"   ", Empty),
            (&[b'k'; 256], TooLong { got: 256 }),
            (b"tab\there", NotPrintableAscii { position: 3 }),
            (b"nl\n", NotPrintableAscii { position: 2 }),
            (b"del\x7f", NotPrintableAscii { position: 3 }),
            ("clé".as_bytes(), NotPrintableAscii { position: 2 }),
        ];
        for (bad, want) in cases {
            assert_eq!(IdempotencyKey::parse(bad), Err(want), "{bad:?}");
        }
    }

    #[test]
    fn keys_round_trip_through_serde_and_are_checked_on_the_way_in() {
        let k = key("abc");
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, "\"abc\"");
        assert_eq!(serde_json::from_str::<IdempotencyKey>(&json).unwrap(), k);
        assert!(serde_json::from_str::<IdempotencyKey>("\"\"").is_err());
    }

    #[test]
    fn fingerprints_are_sha256_of_the_caller_and_the_body() {
        let a = Fingerprint::of("alice", br#"{"name":"a"}"#);
        assert_eq!(a.as_str().len(), 64);
        assert_eq!(a, Fingerprint::of("alice", br#"{"name":"a"}"#), "stable");
        assert_ne!(a, Fingerprint::of("alice", br#"{"name":"b"}"#), "body");
        assert_ne!(
            a,
            Fingerprint::of("alice", br#"{"name": "a"}"#),
            "bytes, not JSON"
        );
        assert_ne!(a, Fingerprint::of("bob", br#"{"name":"a"}"#), "caller");
        // The length prefix keeps the boundary between caller and body.
        assert_ne!(Fingerprint::of("ab", b"c"), Fingerprint::of("a", b"bc"));
        // Known answer: SHA-256 of 8 zero bytes (an empty caller) and an empty body.
        assert_eq!(
            Fingerprint::of("", b"").as_str(),
            "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc"
        );
        assert_eq!(Fingerprint::from_hex(a.as_str()), Some(a));
        assert_eq!(Fingerprint::from_hex("AF"), None);
    }

    fn record(now: i64) -> IdempotencyRecord {
        IdempotencyRecord::begin(
            "alice",
            key("k"),
            Fingerprint::of("alice", b"{}"),
            ItemId::generate(),
            now,
        )
    }

    #[test]
    fn a_new_record_lives_a_day() {
        let r = record(1000);
        assert!(r.is_live(1000 + 86_399));
        assert!(!r.is_live(1000 + 86_400), "expired at expires_at");
    }

    #[test]
    fn decisions() {
        let r = record(1000);
        let other = Fingerprint::of("alice", b"{\"x\":1}");
        assert_eq!(decide(&r, &other), Decision::KeyReused);
        assert_eq!(decide(&r, &r.fingerprint), Decision::Replay);
    }

    #[test]
    fn records_round_trip_through_json() {
        let r = record(1000);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            serde_json::from_value::<IdempotencyRecord>(json).unwrap(),
            r
        );
        // Keys that JSON escapes come back whole from bytes too.
        let escaped = IdempotencyRecord {
            key: key(r#"say "hi" \o/"#),
            ..r.clone()
        };
        let bytes = serde_json::to_vec(&escaped).unwrap();
        assert_eq!(
            serde_json::from_slice::<IdempotencyRecord>(&bytes).unwrap(),
            escaped
        );
    }

    #[test]
    fn records_that_tracked_publication_are_still_read() {
        let r = record(1000);
        let mut json = serde_json::to_value(&r).unwrap();
        for (name, value) in [
            ("state", serde_json::json!("in_progress")),
            ("lease_until", serde_json::json!(1010)),
            ("event_published", serde_json::json!(false)),
            ("version", serde_json::json!(3)),
        ] {
            json[name] = value;
        }
        assert_eq!(
            serde_json::from_value::<IdempotencyRecord>(json).unwrap(),
            r
        );
    }
}
