//! One JSON access-log line per request, with the `$context` variables that the API's stage
//! writes on AWS (the Terraform stage's `access_log_settings` uses the same names). As in API
//! Gateway's JSON access logs, every value is a string and a missing one is `"-"`.

use serde::Serialize;

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessLog {
    pub request_id: String,
    pub ip: String,
    pub request_time: String,
    pub http_method: String,
    pub route_key: String,
    pub path: String,
    pub status: String,
    pub protocol: String,
    pub response_length: String,
    pub response_latency: String,
    pub integration_latency: String,
    pub integration_status: String,
    pub authorizer_error: String,
    pub integration_error_message: String,
}

/// `"-"` for what a request never reached (no route, no integration).
pub fn dash() -> String {
    "-".to_owned()
}

impl AccessLog {
    /// The keys of a line: the Terraform stage's format and the runbooks' queries use these.
    pub fn field_names() -> Vec<String> {
        match serde_json::to_value(AccessLog::default()) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => unreachable!("a struct of strings serializes to an object"),
        }
    }

    /// The line as JSON, without its newline: written once, kept for the console as it is.
    pub fn line(&self) -> String {
        serde_json::to_string(self).expect("a struct of strings serializes")
    }

    pub fn write(line: &str) {
        crate::output::line(line);
    }
}
