//! The configuration secret, unreadable on request: what a failed Secrets Manager read does
//! (`ConfigLoadFailures`, counted where the Secrets Manager adapter counts it, and a `503`).

use std::sync::Arc;

use async_trait::async_trait;
use functions::ports::{Config, ConfigError, CursorKeys};

use super::{Faults, Kind, Target, injected};

pub struct FaultyConfig {
    pub inner: Arc<dyn Config>,
    pub faults: Arc<Faults>,
}

#[async_trait]
impl Config for FaultyConfig {
    async fn cursor_keys(&self) -> Result<CursorKeys, ConfigError> {
        if self.faults.fires(Target::Config, Kind::Fail) {
            metrics::counter!(telemetry::metric_names::CONFIG_LOAD_FAILURES).increment(1);
            return Err(ConfigError::Unavailable(format!(
                "GetSecretValue: InternalServiceError ({})",
                injected(Target::Config, Kind::Fail)
            )));
        }
        self.inner.cursor_keys().await
    }
}
