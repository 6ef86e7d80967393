//! The stack's AWS resources on moto, created as Terraform creates them on AWS: the items
//! table, the bus, the rule (from the pattern file), the archive log group, the secret, and a
//! Cognito user pool with a signed-up user.

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

use crate::Moto;

pub const TABLE: &str = "items";
pub const BUS: &str = "items-api";
pub const RULE: &str = "items-api-item-created";
pub const LOG_GROUP: &str = "/aws/events/items-api";
pub const SECRET: &str = "items-api/config";
/// The staging label Terraform keeps on the secret version it wrote (`local.stage` of
/// terraform/modules/config), so that rotations never leave that version without a label.
pub const TERRAFORM_STAGE: &str = "terraform-initial";

pub async fn sdk_config(moto: &Moto) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(Region::new(crate::moto::REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

/// The items table: `partition` (hash) and `sort` (range) keys, both strings, on demand.
pub async fn create_table(sdk: &aws_config::SdkConfig, partition: &str, sort: &str) {
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let def = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(partition, KeyType::Hash))
        .key_schema(key(sort, KeyType::Range))
        .attribute_definitions(def(partition))
        .attribute_definitions(def(sort))
        .send()
        .await
        .expect("create the items table");
}

/// The bus, the archive log group, and the rule that sends matching events to it.
pub async fn create_bus_and_archive(sdk: &aws_config::SdkConfig, pattern: &str) {
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    events
        .create_event_bus()
        .name(BUS)
        .send()
        .await
        .expect("create the bus");
    logs.create_log_group()
        .log_group_name(LOG_GROUP)
        .send()
        .await
        .expect("create the log group");
    events
        .put_rule()
        .name(RULE)
        .event_bus_name(BUS)
        .event_pattern(pattern)
        .send()
        .await
        .expect("put the rule");
    // moto gap (moto.md #4): a target ARN ending in `:*` is accepted, then every matching
    // PutEvents fails; AWS accepts both forms. Use the ARN without `:*`.
    let arn = format!(
        "arn:aws:logs:{}:{}:log-group:{LOG_GROUP}",
        crate::moto::REGION,
        crate::moto::ACCOUNT_ID
    );
    events
        .put_targets()
        .rule(RULE)
        .event_bus_name(BUS)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("archive")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("put the archive target");
}

/// The archived envelopes, oldest first.
pub async fn archived(sdk: &aws_config::SdkConfig) -> Vec<serde_json::Value> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = logs
            .filter_log_events()
            .log_group_name(LOG_GROUP)
            .set_next_token(token)
            .send()
            .await
            .expect("read the archive log group");
        out.extend(
            page.events()
                .iter()
                .filter_map(|e| e.message())
                .map(|m| serde_json::from_str(m).unwrap()),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

pub async fn create_secret(sdk: &aws_config::SdkConfig, value: &str) {
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(SECRET)
        .secret_string(value)
        .send()
        .await
        .expect("create the secret");
}

/// The secret as Terraform makes it: `aws_secretsmanager_secret` without a value, then
/// `aws_secretsmanager_secret_version.initial`, put with `AWSCURRENT` and [`TERRAFORM_STAGE`].
/// Returns that version's id.
pub async fn create_secret_as_terraform(sdk: &aws_config::SdkConfig, value: &str) -> String {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    client
        .create_secret()
        .name(SECRET)
        .send()
        .await
        .expect("create the secret");
    client
        .put_secret_value()
        .secret_id(SECRET)
        .secret_string(value)
        .version_stages("AWSCURRENT")
        .version_stages(TERRAFORM_STAGE)
        .send()
        .await
        .expect("put the first version")
        .version_id()
        .expect("a version id")
        .to_owned()
}

/// A Cognito user pool with an app client that allows `USER_PASSWORD_AUTH`, and one user with a
/// permanent password, as the Hosted UI's sign-up would leave them.
pub struct CognitoPool {
    pub pool_id: String,
    pub client_id: String,
}

impl CognitoPool {
    pub async fn create(sdk: &aws_config::SdkConfig, username: &str, password: &str) -> Self {
        use aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType;
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(sdk);
        let pool = cognito
            .create_user_pool()
            .pool_name("items-api")
            .send()
            .await
            .expect("create the user pool");
        let pool_id = pool
            .user_pool()
            .and_then(|p| p.id())
            .expect("a pool id")
            .to_owned();
        let client = cognito
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name("items-api-web")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .send()
            .await
            .expect("create the app client");
        let client_id = client
            .user_pool_client()
            .and_then(|c| c.client_id())
            .expect("a client id")
            .to_owned();
        cognito
            .admin_create_user()
            .user_pool_id(&pool_id)
            .username(username)
            .send()
            .await
            .expect("create the user");
        cognito
            .admin_set_user_password()
            .user_pool_id(&pool_id)
            .username(username)
            .password(password)
            .permanent(true)
            .send()
            .await
            .expect("set the password");
        Self { pool_id, client_id }
    }

    /// Signs in with `USER_PASSWORD_AUTH`; returns the ID token.
    pub async fn sign_in(
        &self,
        sdk: &aws_config::SdkConfig,
        username: &str,
        password: &str,
    ) -> String {
        use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
        let out = aws_sdk_cognitoidentityprovider::Client::new(sdk)
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .expect("sign in");
        out.authentication_result()
            .and_then(|r| r.id_token())
            .expect("an ID token")
            .to_owned()
    }

    /// The `iss` of the pool's tokens: an AWS URL, whatever endpoint served them.
    pub fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.{}.amazonaws.com/{}",
            crate::moto::REGION,
            self.pool_id
        )
    }

    /// moto gap (moto.md #1): the keys are served by moto itself, not under the issuer URL.
    pub fn jwks_url(&self, moto: &Moto) -> String {
        format!("{}/{}/.well-known/jwks.json", moto.endpoint(), self.pool_id)
    }
}
