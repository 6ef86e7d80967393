//! The API's secret in Secrets Manager: fetched at cold start, cached for a TTL (300 s by
//! default, as Powertools' parameters do), refetched after it, so a rotation reaches every warm
//! function within the TTL. If a refetch fails, the last good value keeps serving: a secret
//! that was readable a minute ago is better than an outage.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use super::errors;
use super::trace::traced;
use crate::adapters::secret_document::SecretDocument;
use crate::ports::{Config, ConfigError, CursorKeys};

pub struct SecretsManagerConfig {
    client: Client,
    secret_id: String,
    ttl: Duration,
    cached: Mutex<Option<(CursorKeys, Instant)>>,
}

impl SecretsManagerConfig {
    /// Reads the secret once, so a missing or unreadable secret fails the cold start with a clear
    /// message instead of the first request.
    pub async fn load(
        client: Client,
        secret_id: impl Into<String>,
        ttl: Duration,
    ) -> Result<Self, ConfigError> {
        let config = Self {
            client,
            secret_id: secret_id.into(),
            ttl,
            cached: Mutex::new(None),
        };
        config.refresh().await?;
        Ok(config)
    }

    async fn fetch(&self) -> Result<CursorKeys, ConfigError> {
        let call = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send();
        let output = traced("SecretsManager", "GetSecretValue", &self.secret_id, call)
            .await
            .map_err(|e| {
                metrics::counter!(telemetry::metric_names::CONFIG_LOAD_FAILURES).increment(1);
                let what = format!("secret {:?}: {}", self.secret_id, errors::describe(&e));
                match errors::classify(&e) {
                    errors::Class::Fault => ConfigError::Invalid(what),
                    _ => ConfigError::Unavailable(what),
                }
            })?;
        let text = output.secret_string().ok_or_else(|| {
            ConfigError::Invalid(format!("secret {:?} has no SecretString", self.secret_id))
        })?;
        SecretDocument::parse(text)
    }

    async fn refresh(&self) -> Result<CursorKeys, ConfigError> {
        let keys = self.fetch().await?;
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((keys.clone(), Instant::now()));
        Ok(keys)
    }
}

#[async_trait]
impl Config for SecretsManagerConfig {
    async fn cursor_keys(&self) -> Result<CursorKeys, ConfigError> {
        let cached = self
            .cached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match cached {
            Some((keys, at)) if at.elapsed() < self.ttl => Ok(keys),
            Some((stale, _)) => match self.refresh().await {
                Ok(keys) => Ok(keys),
                Err(err) => {
                    tracing::warn!(error = %err, "secret refresh failed; serving the cached value");
                    Ok(stale)
                }
            },
            None => self.refresh().await,
        }
    }
}
