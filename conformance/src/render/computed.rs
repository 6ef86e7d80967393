//! What AWS assigns to a resource when it is made (its ARN, id, generated names), in the formats
//! AWS documents for each resource type, so that references such as `aws_iam_role.x.arn` evaluate
//! as they would after an apply. Ids that AWS generates are fixed stand-ins of the right shape.

use hcl::{Map, Value};

/// The account, region and partition a stack is rendered for.
#[derive(Clone, Debug)]
pub struct World {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl World {
    /// moto's fixed account and region: a rendered policy can be tried on moto as it is.
    pub fn sample() -> Self {
        World {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
        }
    }

    fn arn(&self, service: &str, regional: bool, resource: &str) -> String {
        let region = if regional { self.region.as_str() } else { "" };
        format!(
            "arn:{}:{service}:{region}:{}:{resource}",
            self.partition, self.account
        )
    }
}

fn get<'a>(attrs: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(Value::as_str)
}

/// The attributes AWS assigns to a resource of `kind` with the given (evaluated) arguments.
/// Missing arguments leave the attributes that need them out.
pub fn computed(kind: &str, attrs: &Map<String, Value>, world: &World) -> Map<String, Value> {
    let mut out = Map::new();
    let mut set = |key: &str, value: String| {
        out.insert(key.to_owned(), Value::String(value));
    };
    let name = get(attrs, "name");
    match kind {
        "aws_iam_role" => {
            if let Some(name) = name {
                let path = get(attrs, "path").unwrap_or("/");
                set(
                    "arn",
                    format!(
                        "arn:{}:iam::{}:role{path}{name}",
                        world.partition, world.account
                    ),
                );
                set("id", name.to_owned());
                set("unique_id", "AROAEXAMPLEROLEID0001".to_owned());
            }
        }
        "aws_iam_policy" => {
            if let Some(name) = name {
                let path = get(attrs, "path").unwrap_or("/");
                let arn = format!(
                    "arn:{}:iam::{}:policy{path}{name}",
                    world.partition, world.account
                );
                set("arn", arn.clone());
                set("id", arn);
            }
        }
        "aws_iam_openid_connect_provider" => {
            if let Some(url) = get(attrs, "url") {
                let host = url.trim_start_matches("https://");
                let arn = format!(
                    "arn:{}:iam::{}:oidc-provider/{host}",
                    world.partition, world.account
                );
                set("arn", arn.clone());
                set("id", arn);
            }
        }
        "aws_lambda_function" => {
            if let Some(name) = get(attrs, "function_name") {
                let arn = world.arn("lambda", true, &format!("function:{name}"));
                set(
                    "invoke_arn",
                    format!(
                        "arn:{}:apigateway:{}:lambda:path/2015-03-31/functions/{arn}/invocations",
                        world.partition, world.region
                    ),
                );
                set("arn", arn);
                set("id", name.to_owned());
            }
        }
        "aws_lambda_event_source_mapping" => {
            // Lambda assigns the mapping a UUID; its ARN ends with it.
            let uuid = "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE";
            set(
                "arn",
                world.arn("lambda", true, &format!("event-source-mapping:{uuid}")),
            );
            if let Some(function) = get(attrs, "function_name") {
                // The provider stores the function's ARN, whether given a name or an ARN.
                let arn = if function.starts_with("arn:") {
                    function.to_owned()
                } else {
                    world.arn("lambda", true, &format!("function:{function}"))
                };
                set("function_arn", arn);
            }
            set("uuid", uuid.to_owned());
            set("id", uuid.to_owned());
        }
        "aws_sqs_queue" => {
            if let Some(name) = name {
                // The provider's id is the queue URL.
                let url = format!(
                    "https://sqs.{}.amazonaws.com/{}/{name}",
                    world.region, world.account
                );
                set("arn", world.arn("sqs", true, name));
                set("url", url.clone());
                set("id", url);
            }
        }
        "aws_cloudwatch_log_group" => {
            if let Some(name) = name {
                set("arn", world.arn("logs", true, &format!("log-group:{name}")));
                set("id", name.to_owned());
            }
        }
        "aws_dynamodb_table" => {
            if let Some(name) = name {
                let arn = world.arn("dynamodb", true, &format!("table/{name}"));
                set(
                    "stream_arn",
                    format!("{arn}/stream/2026-01-01T00:00:00.000"),
                );
                set("arn", arn);
                set("id", name.to_owned());
            }
        }
        "aws_cloudwatch_event_bus" => {
            if let Some(name) = name {
                set(
                    "arn",
                    world.arn("events", true, &format!("event-bus/{name}")),
                );
                set("id", name.to_owned());
            }
        }
        "aws_cloudwatch_event_rule" => {
            if let Some(name) = name {
                let resource = match get(attrs, "event_bus_name") {
                    Some(bus) if bus != "default" => format!("rule/{bus}/{name}"),
                    _ => format!("rule/{name}"),
                };
                set("arn", world.arn("events", true, &resource));
                set("id", name.to_owned());
            }
        }
        "aws_cloudwatch_event_archive" => {
            if let Some(name) = name {
                set("arn", world.arn("events", true, &format!("archive/{name}")));
                set("id", name.to_owned());
            }
        }
        "aws_secretsmanager_secret" => {
            if let Some(name) = name {
                // Secrets Manager appends a hyphen and six random characters.
                let arn = world.arn("secretsmanager", true, &format!("secret:{name}-AbCdEf"));
                set("arn", arn.clone());
                set("id", arn);
            }
        }
        "aws_cognito_user_pool" => {
            let id = format!("{}_AbCdEf123", world.region);
            set(
                "arn",
                world.arn("cognito-idp", true, &format!("userpool/{id}")),
            );
            set(
                "endpoint",
                format!("cognito-idp.{}.amazonaws.com/{id}", world.region),
            );
            set("id", id);
        }
        "aws_cognito_user_pool_client" => set("id", "1example23456789clientid0".to_owned()),
        "aws_cognito_user_pool_domain" => {
            if let Some(domain) = get(attrs, "domain") {
                set("id", domain.to_owned());
            }
        }
        "aws_apigatewayv2_api" => {
            let id = "a1b2c3d4e5";
            set(
                "arn",
                format!(
                    "arn:{}:apigateway:{}::/apis/{id}",
                    world.partition, world.region
                ),
            );
            set("execution_arn", world.arn("execute-api", true, id));
            set(
                "api_endpoint",
                format!("https://{id}.execute-api.{}.amazonaws.com", world.region),
            );
            set("id", id.to_owned());
        }
        "aws_apigatewayv2_stage" => {
            if let (Some(name), Some(api)) = (name, get(attrs, "api_id")) {
                set(
                    "arn",
                    format!(
                        "arn:{}:apigateway:{}::/apis/{api}/stages/{name}",
                        world.partition, world.region
                    ),
                );
                set("id", name.to_owned());
            }
        }
        "aws_apigatewayv2_authorizer" => set("id", "abc123".to_owned()),
        "aws_apigatewayv2_integration" => set("id", "int0001".to_owned()),
        "aws_apigatewayv2_route" => set("id", "route01".to_owned()),
        "aws_cloudwatch_dashboard" => {
            if let Some(name) = get(attrs, "dashboard_name") {
                set(
                    "dashboard_arn",
                    world.arn("cloudwatch", false, &format!("dashboard/{name}")),
                );
                set("id", name.to_owned());
            }
        }
        "aws_cloudwatch_metric_alarm" | "aws_cloudwatch_composite_alarm" => {
            if let Some(name) = get(attrs, "alarm_name") {
                set(
                    "arn",
                    world.arn("cloudwatch", true, &format!("alarm:{name}")),
                );
                set("id", name.to_owned());
            }
        }
        "aws_sns_topic" => {
            if let Some(name) = name {
                let arn = world.arn("sns", true, name);
                set("arn", arn.clone());
                set("id", arn);
            }
        }
        "aws_sns_topic_subscription" => {
            if let Some(topic) = get(attrs, "topic_arn") {
                let arn = format!("{topic}:0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9");
                set("arn", arn.clone());
                set("id", arn);
            }
        }
        "aws_kms_key" => {
            let key_id = "1234abcd-12ab-34cd-56ef-1234567890ab";
            set("arn", world.arn("kms", true, &format!("key/{key_id}")));
            set("key_id", key_id.to_owned());
            set("id", key_id.to_owned());
        }
        "aws_kms_alias" => {
            if let Some(name) = name {
                set("arn", world.arn("kms", true, name));
                set("id", name.to_owned());
            }
        }
        "aws_s3_bucket" => {
            if let Some(bucket) = get(attrs, "bucket") {
                set("arn", format!("arn:{}:s3:::{bucket}", world.partition));
                set("id", bucket.to_owned());
            }
        }
        "random_bytes" => {
            set(
                "base64",
                "c3RhbmQtaW4gYnl0ZXMgb2YgdGhlIHJpZ2h0IHNpemU=".to_owned(),
            );
            set("hex", "00".repeat(32));
        }
        _ => {
            if let Some(name) = name {
                set("id", name.to_owned());
            }
        }
    }
    out
}
