//! The AWS adapters: DynamoDB for items, EventBridge for events, Secrets Manager for the secret.
//! Each takes a client built from one `aws_config::SdkConfig`, so an endpoint override (moto,
//! LocalStack) reaches all of them alike.

pub mod dynamodb;
pub mod errors;
pub mod eventbridge;
pub mod secrets;
pub mod trace;

use std::sync::Arc;
use std::time::Duration;

use crate::ports::ConfigError;
use crate::router::AppState;

pub use dynamodb::DynamoDbItemStore;
pub use eventbridge::EventBridgeBus;
pub use secrets::SecretsManagerConfig;

/// Loads the SDK configuration from the environment (region, credentials, retries), with an
/// optional endpoint for every service (`AWS_ENDPOINT_URL` is honoured too).
pub async fn sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// Which AWS resources the API runs on (Terraform's outputs, the function's environment).
#[derive(Debug, Clone)]
pub struct AwsResources {
    pub table: String,
    pub event_bus: String,
    pub secret_id: String,
    pub secret_ttl: Duration,
}

/// The API's ports on AWS. Reads the secret now, so that a missing or unreadable secret fails
/// the start with a message naming it.
pub async fn app_state(
    sdk: &aws_config::SdkConfig,
    resources: &AwsResources,
) -> Result<AppState, ConfigError> {
    let config = SecretsManagerConfig::load(
        aws_sdk_secretsmanager::Client::new(sdk),
        &resources.secret_id,
        resources.secret_ttl,
    )
    .await?;
    Ok(AppState {
        store: Arc::new(DynamoDbItemStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &resources.table,
        )),
        bus: Arc::new(EventBridgeBus::new(
            aws_sdk_eventbridge::Client::new(sdk),
            &resources.event_bus,
        )),
        config: Arc::new(config),
    })
}
