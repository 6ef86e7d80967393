//! The `items` Lambda: the API's item routes on DynamoDB, EventBridge and Secrets Manager.
//! Everything is read and checked at the cold start, so a misconfigured function fails its
//! init with a message that names what is wrong, instead of failing requests.

use functions::adapters::aws::{app_state, sdk_config};
use functions::settings::ItemsSettings;
use tower::Layer;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let settings = ItemsSettings::from_env().map_err(|e| format!("items: {e}"))?;
    telemetry::init(&settings.service_name);
    let sdk = sdk_config(None).await;
    let state = app_state(&sdk, &settings.aws_resources())
        .await
        .map_err(|e| format!("items: cannot read the configuration secret: {e}"))?;
    // Around the router as a whole (see the `public` function).
    let app = telemetry::RequestLayer::new().layer(functions::router(state));
    lambda_http::run(app).await
}
