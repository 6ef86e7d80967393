//! The Secrets Manager stand-in: the secret document in a file of the twin's data folder,
//! generated at first start (nothing secret lives in the repository).

use std::io::Write;
use std::path::Path;

use async_trait::async_trait;

use crate::adapters::secret_document::SecretDocument;
use crate::ports::{Config, ConfigError, CursorKeys};

pub struct FileConfig {
    keys: CursorKeys,
}

impl FileConfig {
    /// Reads the secret file, creating it (mode 0600) with a fresh key if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, ConfigError> {
        let unavailable =
            |e: std::io::Error| ConfigError::Unavailable(format!("{}: {e}", path.display()));
        if !path.exists() {
            let doc = serde_json::to_vec_pretty(&SecretDocument::generate()).expect("plain struct");
            let tmp = path.with_extension("tmp");
            let mut file = private_file(&tmp).map_err(unavailable)?;
            file.write_all(&doc).map_err(unavailable)?;
            file.sync_all().map_err(unavailable)?;
            // Rename so a crash never leaves a half-written secret behind.
            std::fs::rename(&tmp, path).map_err(unavailable)?;
        }
        let json = std::fs::read_to_string(path).map_err(unavailable)?;
        Ok(Self {
            keys: SecretDocument::parse(&json)?,
        })
    }
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[async_trait]
impl Config for FileConfig {
    async fn cursor_keys(&self) -> Result<CursorKeys, ConfigError> {
        Ok(self.keys.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn creates_once_then_reads_the_same_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.json");
        let first = FileConfig::load_or_create(&path)
            .unwrap()
            .cursor_keys()
            .await
            .unwrap();
        let again = FileConfig::load_or_create(&path)
            .unwrap()
            .cursor_keys()
            .await
            .unwrap();
        assert_eq!(first, again);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
