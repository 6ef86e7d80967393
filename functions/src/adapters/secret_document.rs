//! The JSON document of the API's secret, one shape for every `Config` adapter (the Secrets
//! Manager secret on AWS, a file in the twin):
//! `{"cursor_keys": [{"id": "k2", "secret_b64": "…"}, {"id": "k1", "secret_b64": "…"}]}`.
//! The first key signs; all verify, so a rotation prepends a key and later drops the oldest.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::ports::{ConfigError, CursorKeys, SigningKey};

/// How long a function keeps the secret before reading it again (Powertools' default).
pub const DEFAULT_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Shortest accepted signing secret: HMAC-SHA256 wants at least its output size.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretDocument {
    pub cursor_keys: Vec<KeyEntry>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    pub id: String,
    pub secret_b64: String,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SecretDocument {
    /// A document with one fresh random key.
    pub fn generate() -> Self {
        let mut secret = [0u8; 32];
        aws_lc_rs::rand::fill(&mut secret).expect("the system RNG works");
        let id = format!("k{}", time::OffsetDateTime::now_utc().unix_timestamp());
        Self {
            cursor_keys: vec![KeyEntry {
                id,
                secret_b64: B64.encode(secret),
            }],
        }
    }

    /// Parses and checks the document; errors never quote a secret.
    pub fn parse(json: &str) -> Result<CursorKeys, ConfigError> {
        let doc: SecretDocument = serde_json::from_str(json)
            .map_err(|e| ConfigError::Invalid(format!("secret document: {}", e.classify_name())))?;
        doc.cursor_keys()
    }

    pub fn cursor_keys(&self) -> Result<CursorKeys, ConfigError> {
        let mut keys = Vec::with_capacity(self.cursor_keys.len());
        for entry in &self.cursor_keys {
            let secret = B64.decode(&entry.secret_b64).map_err(|_| {
                ConfigError::Invalid(format!("key {}: secret_b64 is not base64", entry.id))
            })?;
            if entry.id.is_empty() || secret.len() < MIN_SECRET_BYTES {
                return Err(ConfigError::Invalid(format!(
                    "key {:?}: needs an id and at least {MIN_SECRET_BYTES} bytes of secret",
                    entry.id
                )));
            }
            keys.push(SigningKey {
                id: entry.id.clone(),
                secret,
            });
        }
        let mut keys = keys.into_iter();
        let current = keys
            .next()
            .ok_or_else(|| ConfigError::Invalid("cursor_keys is empty".into()))?;
        Ok(CursorKeys {
            current,
            previous: keys.collect(),
        })
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    // serde_json's messages can quote the input, which here is secret: name the class only.
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "not valid JSON"
            }
            serde_json::error::Category::Data => {
                "wrong shape (expected {\"cursor_keys\": [{\"id\", \"secret_b64\"}]})"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_documents_parse_and_first_key_signs() {
        let doc = SecretDocument::generate();
        let json = serde_json::to_string(&doc).unwrap();
        let keys = SecretDocument::parse(&json).unwrap();
        assert_eq!(keys.current.secret.len(), 32);
        assert!(keys.previous.is_empty());
    }

    #[test]
    fn short_or_missing_keys_are_rejected_without_quoting_secrets() {
        let short = r#"{"cursor_keys":[{"id":"k","secret_b64":"c2hvcnQ="}]}"#;
        assert!(SecretDocument::parse(short).is_err());
        assert!(SecretDocument::parse(r#"{"cursor_keys":[]}"#).is_err());
        let err = SecretDocument::parse(r#"{"cursor_keys":[{"id":"k","secret_b64":"TOPSECRET"#)
            .unwrap_err();
        assert!(!err.to_string().contains("TOPSECRET"), "{err}");
    }
}
