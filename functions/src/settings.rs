//! The `items` function's settings, from its environment (set by Terraform). A missing setting
//! fails the cold start with one message naming every missing variable.

use std::time::Duration;

/// Environment variables the `items` function reads.
pub mod env {
    pub const TABLE: &str = "ITEMS_TABLE";
    pub const EVENT_BUS: &str = "EVENT_BUS_NAME";
    pub const SECRET_ID: &str = "CONFIG_SECRET_ID";
    /// Powertools' names, so the same variables configure both.
    pub const METRICS_NAMESPACE: &str = "POWERTOOLS_METRICS_NAMESPACE";
    pub const SERVICE_NAME: &str = "POWERTOOLS_SERVICE_NAME";
    /// Optional: seconds the secret is cached (300 when unset).
    pub const SECRET_TTL: &str = "CONFIG_SECRET_TTL_SECONDS";
    pub const REQUIRED: &[&str] = &[TABLE, EVENT_BUS, SECRET_ID, METRICS_NAMESPACE, SERVICE_NAME];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemsSettings {
    pub table: String,
    pub event_bus: String,
    pub secret_id: String,
    pub metrics_namespace: String,
    pub service_name: String,
    pub secret_ttl: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("missing environment variables: {}", .0.join(", "))]
    Missing(Vec<&'static str>),
    #[error("{name} must be {expected}, got {value:?}")]
    Invalid {
        name: &'static str,
        expected: &'static str,
        value: String,
    },
}

impl ItemsSettings {
    #[cfg(feature = "aws")]
    pub fn aws_resources(&self) -> crate::adapters::aws::AwsResources {
        crate::adapters::aws::AwsResources {
            table: self.table.clone(),
            event_bus: self.event_bus.clone(),
            secret_id: self.secret_id.clone(),
            secret_ttl: self.secret_ttl,
        }
    }

    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`; empty values count as missing.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let missing: Vec<&'static str> = env::REQUIRED
            .iter()
            .copied()
            .filter(|n| get(n).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(SettingsError::Missing(missing));
        }
        let secret_ttl = match get(env::SECRET_TTL) {
            None => crate::adapters::secret_document::DEFAULT_TTL,
            Some(v) => {
                Duration::from_secs(v.trim().parse().map_err(|_| SettingsError::Invalid {
                    name: env::SECRET_TTL,
                    expected: "a whole number of seconds",
                    value: v.clone(),
                })?)
            }
        };
        let take = |n: &'static str| get(n).expect("checked above");
        Ok(Self {
            table: take(env::TABLE),
            event_bus: take(env::EVENT_BUS),
            secret_id: take(env::SECRET_ID),
            metrics_namespace: take(env::METRICS_NAMESPACE),
            service_name: take(env::SERVICE_NAME),
            secret_ttl,
        })
    }
}

/// The `item-events` function's settings: the bus it publishes to. Its service name is
/// [`crate::item_events::SERVICE`]; the metrics namespace is read by the telemetry crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemEventsSettings {
    pub event_bus: String,
}

impl ItemEventsSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`; an empty value counts as missing.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let event_bus = lookup(env::EVENT_BUS)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| SettingsError::Missing(vec![env::EVENT_BUS]))?;
        Ok(Self { event_bus })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn every_missing_setting_is_named() {
        let err = ItemsSettings::from_lookup(lookup(&[(env::TABLE, "t"), (env::SECRET_ID, " ")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing environment variables: EVENT_BUS_NAME, CONFIG_SECRET_ID, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME"
        );
    }

    #[test]
    fn complete_settings_parse_with_a_default_ttl() {
        let all = [
            (env::TABLE, "items"),
            (env::EVENT_BUS, "bus"),
            (env::SECRET_ID, "secret"),
            (env::METRICS_NAMESPACE, "ItemsApi"),
            (env::SERVICE_NAME, "items"),
        ];
        let s = ItemsSettings::from_lookup(lookup(&all)).unwrap();
        assert_eq!(s.secret_ttl, Duration::from_secs(300));
        let mut with_ttl = all.to_vec();
        with_ttl.push((env::SECRET_TTL, "60"));
        assert_eq!(
            ItemsSettings::from_lookup(lookup(&with_ttl))
                .unwrap()
                .secret_ttl,
            Duration::from_secs(60)
        );
        with_ttl.pop();
        with_ttl.push((env::SECRET_TTL, "soon"));
        assert!(matches!(
            ItemsSettings::from_lookup(lookup(&with_ttl)),
            Err(SettingsError::Invalid { .. })
        ));
    }

    #[test]
    fn item_events_needs_the_bus() {
        assert_eq!(
            ItemEventsSettings::from_lookup(lookup(&[(env::EVENT_BUS, " ")])),
            Err(SettingsError::Missing(vec![env::EVENT_BUS]))
        );
        assert_eq!(
            ItemEventsSettings::from_lookup(lookup(&[(env::EVENT_BUS, "items-api")])),
            Ok(ItemEventsSettings {
                event_bus: "items-api".into()
            })
        );
    }
}
