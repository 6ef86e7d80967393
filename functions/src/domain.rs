//! What an item is, and the rules a new one must meet. Every limit of the API lives here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The API's documented limits (`docs/api.md` "Limits", OpenAPI document).
pub mod limits {
    /// Largest accepted request body, in bytes; larger is `413`.
    pub const MAX_BODY_BYTES: usize = 16 * 1024;
    /// `name`: 1 to 200 characters (Unicode scalar values), not blank ([`is_blank`](super::is_blank)).
    pub const NAME_MAX_CHARS: usize = 200;
    /// `description`: up to 2000 characters, not blank when given.
    pub const DESCRIPTION_MAX_CHARS: usize = 2000;
    /// `GET /items?limit=`: 1 to 100, 20 when absent.
    pub const PAGE_MIN: usize = 1;
    pub const PAGE_MAX: usize = 100;
    pub const PAGE_DEFAULT: usize = 20;
    /// A page cursor is good for this long after it was issued.
    pub const CURSOR_TTL_SECS: i64 = 24 * 60 * 60;
    /// Longest cursor accepted, in bytes (a real one is about 150).
    pub const CURSOR_MAX_BYTES: usize = 512;
    /// Longest `sub` claim accepted, in bytes (Cognito's are 36-character UUIDs); it is the
    /// table's partition key, which DynamoDB caps at 2048 bytes.
    pub const OWNER_MAX_BYTES: usize = 256;
    /// `Idempotency-Key`: 1 to 255 printable ASCII characters.
    pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;
    /// A key answers with its first response for this long after the first request.
    pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 60 * 60;
    /// `POST /internal/events/replay`: the widest window one request may name.
    pub const REPLAY_MAX_WINDOW_DAYS: i64 = 7;
    /// Longest replay cursor accepted, in bytes (a real one is about 200).
    pub const REPLAY_CURSOR_MAX_BYTES: usize = 2048;
}

/// A time-sortable item id: a UUIDv7, so ids sort by creation time, as text and as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemId(Uuid);

impl ItemId {
    /// A new id for now; ids made by one process are strictly increasing.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn as_u128(self) -> u128 {
        self.0.as_u128()
    }

    pub fn from_u128(v: u128) -> Self {
        Self(Uuid::from_u128(v))
    }

    /// Creation time encoded in the id (millisecond precision).
    pub fn created_at(self) -> OffsetDateTime {
        let (secs, nanos) = self
            .0
            .get_timestamp()
            .map(|ts| ts.to_unix())
            .expect("an ItemId is always a UUIDv7");
        OffsetDateTime::from_unix_timestamp_nanos(secs as i128 * 1_000_000_000 + nanos as i128)
            .expect("a UUIDv7 timestamp is in range")
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.as_hyphenated().fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an item id is a UUIDv7 in its hyphenated form")]
pub struct InvalidItemId;

impl FromStr for ItemId {
    type Err = InvalidItemId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the canonical 36-character form: one id, one spelling, one cache key.
        if s.len() != 36 {
            return Err(InvalidItemId);
        }
        let uuid = Uuid::try_parse(s).map_err(|_| InvalidItemId)?;
        if uuid.get_version_num() != 7
            || uuid.get_variant() != uuid::Variant::RFC4122
            || uuid.as_hyphenated().to_string() != s
        {
            return Err(InvalidItemId);
        }
        Ok(Self(uuid))
    }
}

/// A stored item. The owner is the `sub` of the identity that created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    #[serde(with = "id_as_string")]
    pub id: ItemId,
    pub owner: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The request that created it; `None` for items stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// The ids of the request that created an item, stored with it: its `ItemCreated` event, made
/// later from the table's stream, carries them, so the event joins the request's logs and trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// API Gateway's request id.
    pub request_id: String,
    /// The request's X-Ray trace header (`Root=…;Parent=…;Sampled=…`), when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_header: Option<String>,
}

impl Origin {
    /// The trace id (`1-…-…`) of [`Origin::trace_header`].
    pub fn trace_id(&self) -> Option<&str> {
        let root = telemetry::trace_root(self.trace_header.as_deref()?);
        (!root.is_empty()).then_some(root)
    }
}

impl Item {
    /// A new item owned by `owner`, with a fresh id that also fixes its creation time.
    pub fn create(owner: &str, new: NewItem) -> Self {
        Self {
            id: ItemId::generate(),
            owner: owner.to_owned(),
            name: new.name,
            description: new.description,
            origin: None,
        }
    }

    /// The item, recorded as made by `origin`.
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    pub fn created_at(&self) -> OffsetDateTime {
        self.id.created_at()
    }

    pub fn created_at_rfc3339(&self) -> String {
        rfc3339_millis(self.created_at())
    }
}

/// RFC 3339 in UTC with milliseconds, as the API and the events write times.
pub fn rfc3339_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

mod id_as_string {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::ItemId;

    pub fn serialize<S: Serializer>(id: &ItemId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ItemId, D::Error> {
        let s = <&str>::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

/// The body of `POST /items`. Unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// Unicode's format characters (general category `Cf`): invisible, they render as nothing on
/// their own (U+FEFF, the zero-width U+200B–U+200D, U+2060, the soft hyphen U+00AD, bidi
/// controls…). Ranges of the Unicode Character Database, `extracted/DerivedGeneralCategory.txt`
/// (Unicode 15.0 and later: U+13439–U+1343F joined in 15.0), ascending; a test holds them to
/// the `\p{Cf}` of the `regex` crate's own Unicode tables.
pub const FORMAT_CHARACTERS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Whether `c` is a format character ([`FORMAT_CHARACTERS`]).
pub fn is_format(c: char) -> bool {
    FORMAT_CHARACTERS
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Blank: nothing but whitespace (Unicode `White_Space`, as `char::is_whitespace`) and format
/// characters, so nothing a reader would see. The empty string is blank.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || is_format(c))
}

/// One broken rule of a new item, with the JSON pointer of the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub pointer: &'static str,
    pub detail: String,
}

impl NewItem {
    /// Checks every rule and reports every broken one, so a client fixes them in one go.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let name_chars = self.name.chars().count();
        if is_blank(&self.name) {
            errors.push(FieldError {
                pointer: "/name",
                detail: "must not be empty or blank".into(),
            });
        } else if name_chars > limits::NAME_MAX_CHARS {
            errors.push(FieldError {
                pointer: "/name",
                detail: format!(
                    "must be at most {} characters, got {name_chars}",
                    limits::NAME_MAX_CHARS
                ),
            });
        }
        if self.name.chars().any(char::is_control) {
            errors.push(FieldError {
                pointer: "/name",
                detail: "must not contain control characters".into(),
            });
        }
        if let Some(d) = &self.description {
            let n = d.chars().count();
            if is_blank(d) {
                errors.push(FieldError {
                    pointer: "/description",
                    detail: "must not be empty or blank; leave it out or send null for none".into(),
                });
            } else if n > limits::DESCRIPTION_MAX_CHARS {
                errors.push(FieldError {
                    pointer: "/description",
                    detail: format!(
                        "must be at most {} characters, got {n}",
                        limits::DESCRIPTION_MAX_CHARS
                    ),
                });
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str) -> NewItem {
        NewItem {
            name: name.into(),
            description: None,
        }
    }

    #[test]
    fn names_from_one_to_two_hundred_characters_are_valid() {
        assert!(new("a").validate().is_ok());
        assert!(
            new(&"é".repeat(200)).validate().is_ok(),
            "characters, not bytes, are counted"
        );
    }

    #[test]
    fn empty_blank_long_and_control_names_are_rejected() {
        for bad in ["", "   ", "\t", &"x".repeat(201), "line\nbreak"] {
            let errs = new(bad).validate().unwrap_err();
            assert!(
                errs.iter().all(|e| e.pointer == "/name"),
                "{bad:?}: {errs:?}"
            );
        }
    }

    #[test]
    fn names_of_only_invisible_characters_are_blank() {
        for bad in [
            "\u{FEFF}",
            "\u{200B}\u{200C}\u{200D}",
            " \u{2060} ",
            "\u{00AD}",
            "\u{3000}\u{202E}",
            "\u{E0001}\u{E0041}",
        ] {
            let errs = new(bad).validate().unwrap_err();
            assert_eq!(errs.len(), 1, "{bad:?}: {errs:?}");
            assert_eq!(errs[0].pointer, "/name");
            assert_eq!(errs[0].detail, "must not be empty or blank", "{bad:?}");
        }
        // Something visible among them is a name.
        for good in ["\u{FEFF}a", "a\u{200D}b", "\u{00AD}-", "😀", "\u{0301}"] {
            assert!(new(good).validate().is_ok(), "{good:?}");
        }
    }

    #[test]
    fn the_format_table_is_sorted_and_disjoint() {
        assert!(FORMAT_CHARACTERS.iter().all(|(a, b)| a <= b));
        assert!(FORMAT_CHARACTERS.windows(2).all(|w| w[0].1 < w[1].0));
        for (first, last) in FORMAT_CHARACTERS {
            assert!(is_format(*first) && is_format(*last));
        }
        assert!(!is_format('a') && !is_format(' ') && !is_format('\u{2065}'));
    }

    #[test]
    fn the_format_table_is_unicodes_general_category_cf() {
        let cf = regex::Regex::new(r"^\p{Cf}$").unwrap();
        let mut buf = [0; 4];
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(
                is_format(c),
                cf.is_match(c.encode_utf8(&mut buf)),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn a_blank_description_is_rejected_and_an_absent_one_is_not() {
        for bad in ["", " ", "\n\t", "\u{FEFF}", "\u{200B} \u{2060}"] {
            let item = NewItem {
                name: "ok".into(),
                description: Some(bad.into()),
            };
            let errs = item.validate().unwrap_err();
            assert_eq!(errs.len(), 1, "{bad:?}");
            assert_eq!(errs[0].pointer, "/description");
        }
        for good in [None, Some("a\n".to_owned()), Some("\u{FEFF}x".to_owned())] {
            let item = NewItem {
                name: "ok".into(),
                description: good.clone(),
            };
            assert!(item.validate().is_ok(), "{good:?}");
        }
    }

    #[test]
    fn long_description_is_rejected_with_its_pointer() {
        let item = NewItem {
            name: "ok".into(),
            description: Some("d".repeat(2001)),
        };
        let errs = item.validate().unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].pointer, "/description");
        let item = NewItem {
            name: "ok".into(),
            description: Some("d".repeat(2000)),
        };
        assert!(item.validate().is_ok());
    }

    #[test]
    fn every_broken_rule_is_reported() {
        let item = NewItem {
            name: String::new(),
            description: Some("d".repeat(3000)),
        };
        assert_eq!(item.validate().unwrap_err().len(), 2);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<NewItem>(r#"{"name":"a","colour":"red"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn ids_are_time_sortable_and_round_trip() {
        let ids: Vec<ItemId> = (0..1000).map(|_| ItemId::generate()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
        assert!(
            ids.windows(2).all(|w| w[0].to_string() < w[1].to_string()),
            "as text too"
        );
        let id = ids[0];
        assert_eq!(id.to_string().parse::<ItemId>().unwrap(), id);
        assert_eq!(ItemId::from_u128(id.as_u128()), id);
        let age = OffsetDateTime::now_utc() - id.created_at();
        assert!(
            age.whole_seconds().abs() < 5,
            "creation time comes from the id: {age}"
        );
    }

    #[test]
    fn malformed_ids_are_rejected() {
        let v4 = "0b6f2c1e-8f4a-4c1a-9d2e-3f4a5b6c7d8e";
        let v7_wrong_variant = "01a200c8-8cc7-777e-c02c-fe5a5e065ff1";
        let v7 = ItemId::generate().to_string();
        for bad in [
            "",
            "x",
            v4,
            v7_wrong_variant,
            &v7.replace('-', ""),
            &v7.to_uppercase(),
            &format!("{v7}0"),
        ] {
            assert_eq!(bad.parse::<ItemId>(), Err(InvalidItemId), "{bad}");
        }
    }

    #[test]
    fn the_largest_valid_item_is_far_below_dynamodb_item_size_limit() {
        // moto checks no DynamoDB limit, so the API's own limits must keep items within AWS's
        // 400 KB: the longest name and description in 4-byte characters, the longest owner.
        let item = Item {
            id: ItemId::generate(),
            owner: "o".repeat(limits::OWNER_MAX_BYTES),
            name: "😀".repeat(limits::NAME_MAX_CHARS),
            description: Some("😀".repeat(limits::DESCRIPTION_MAX_CHARS)),
            origin: Some(Origin {
                request_id: "r".repeat(64),
                trace_header: Some("t".repeat(128)),
            }),
        };
        assert!(
            NewItem {
                name: item.name.clone(),
                description: item.description.clone()
            }
            .validate()
            .is_ok()
        );
        let bytes = serde_json::to_vec(&item).unwrap().len();
        assert!(bytes < 16 * 1024, "{bytes} bytes");
        const DYNAMODB_ITEM_LIMIT: usize = 400 * 1024;
        assert!(bytes * 20 < DYNAMODB_ITEM_LIMIT);
    }

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_795_300_937_203_655_000).unwrap();
        assert_eq!(rfc3339_millis(t), "2026-11-21T22:42:17.203Z");
    }
}
