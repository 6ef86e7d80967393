//! Names the twin gives its stand-ins (API, account, bus, rule, log group, table, secret, app
//! client); the Terraform of the stack uses the same ones. The flags' defaults
//! ([`crate::settings`]) and the stand-ins read them from here.

pub const API_ID: &str = "local";
pub const ACCOUNT_ID: &str = "000000000000";
pub const REGION: &str = "us-east-1";
pub const EVENT_BUS: &str = "items-api";
pub const ITEM_CREATED_RULE: &str = "items-api-item-created";
pub const ARCHIVE_LOG_GROUP: &str = "/aws/events/items-api";
pub const ISSUER_PATH: &str = "/_twin/issuer";
pub const APP_CLIENT_ID: &str = "local-app-client";
pub const ITEMS_TABLE: &str = "items";
pub const CONFIG_SECRET: &str = "items-api/config";
/// The items table's stream, as the embedded store's records name it.
pub fn items_stream_arn() -> String {
    format!(
        "arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{ITEMS_TABLE}/stream/1970-01-01T00:00:00.000"
    )
}
