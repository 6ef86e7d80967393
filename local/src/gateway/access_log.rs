//! One JSON access-log line per request, with the `$context` variables that the API's stage
//! writes on AWS (the Terraform stage's `access_log_settings` uses the same names). As in API
//! Gateway's JSON access logs, every value is a string and a missing one is `"-"`.

use serde::Serialize;

/// The values of one line, borrowed from the request they describe: a line is written on
/// every request, and copying each value into a `String` of its own would cost more than
/// writing it.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessLog<'a> {
    pub request_id: &'a str,
    pub ip: &'a str,
    pub request_time: &'a str,
    pub http_method: &'a str,
    pub route_key: &'a str,
    pub path: &'a str,
    pub status: &'a str,
    pub protocol: &'a str,
    pub response_length: &'a str,
    pub response_latency: &'a str,
    pub integration_latency: &'a str,
    pub integration_status: &'a str,
    pub authorizer_error: &'a str,
    pub integration_error_message: &'a str,
}

/// `"-"` for what a request never reached (no route, no integration).
pub const DASH: &str = "-";

impl AccessLog<'_> {
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
