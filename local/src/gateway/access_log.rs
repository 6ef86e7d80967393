//! One JSON access-log line per request, with the `$context` variables that the API's stage
//! writes on AWS (the Terraform stage's `access_log_settings` uses the same names). As in API
//! Gateway's JSON access logs, every value is a string and a missing one is `"-"`. Only the
//! variables on-call reads are written (docs/cost.md, The access log): every byte of a line is
//! paid for on every request.

/// The values of one line, borrowed from the request they describe: a line is written on
/// every request, and copying each value into a `String` of its own would cost more than
/// writing it.
#[derive(Debug, Default)]
pub struct AccessLog<'a> {
    pub request_id: &'a str,
    pub ip: &'a str,
    pub request_time: &'a str,
    pub route_key: &'a str,
    pub status: &'a str,
    pub response_latency: &'a str,
    pub integration_latency: &'a str,
    pub integration_status: &'a str,
    pub authorizer_error: &'a str,
    pub integration_error_message: &'a str,
}

/// `"-"` for what a request never reached (no route, no integration).
pub const DASH: &str = "-";

/// A key with what precedes its value on a line, `,"name":`, spelled once.
macro_rules! key {
    ($name:literal) => {
        ($name, concat!(",\"", $name, "\":"))
    };
}

impl<'a> AccessLog<'a> {
    /// Each key of a line (`$context` variable names, as the Terraform stage's format and the
    /// runbooks' queries use them) with what precedes its value, and the value, in the line's
    /// order.
    fn pairs(&self) -> [((&'static str, &'static str), &'a str); 10] {
        [
            (key!("requestId"), self.request_id),
            (key!("ip"), self.ip),
            (key!("requestTime"), self.request_time),
            (key!("routeKey"), self.route_key),
            (key!("status"), self.status),
            (key!("responseLatency"), self.response_latency),
            (key!("integrationLatency"), self.integration_latency),
            (key!("integrationStatus"), self.integration_status),
            (key!("authorizerError"), self.authorizer_error),
            (
                key!("integrationErrorMessage"),
                self.integration_error_message,
            ),
        ]
    }

    /// The keys of a line.
    pub fn field_names() -> Vec<String> {
        AccessLog::default()
            .pairs()
            .iter()
            .map(|((name, _), _)| (*name).to_owned())
            .collect()
    }

    /// The line as JSON, without its newline: written once, kept for the console as it is.
    /// Written by the telemetry crate's JSON writer, which passes over values with nothing
    /// to escape in one step (serde_json's writer looks each byte up); each key with its
    /// punctuation in one piece.
    pub fn line(&self) -> String {
        let pairs = self.pairs();
        let mut line = String::with_capacity(
            pairs
                .iter()
                .map(|((_, key), v)| key.len() + v.len() + 2)
                .sum::<usize>()
                + 2,
        );
        line.push('{');
        for ((_, key), value) in pairs {
            // The first key's comma is the one the line does not have.
            line.push_str(if line.len() == 1 { &key[1..] } else { key });
            // Writing into a `String` cannot fail.
            let _ = telemetry::json_string(&mut line, value);
        }
        line.push('}');
        line
    }

    pub fn write(line: &str) {
        crate::output::line(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object_of_strings() {
        let log = AccessLog {
            request_id: "abc=",
            route_key: "GET /items/\"quoted\"\n",
            integration_error_message: "tab\there",
            ..AccessLog::default()
        };
        let value: serde_json::Value = serde_json::from_str(&log.line()).unwrap();
        let object = value.as_object().unwrap();
        // Compared sorted: the map's order depends on serde_json's features in the build.
        let mut names = AccessLog::field_names();
        names.sort();
        let mut keys: Vec<String> = object.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, names);
        assert_eq!(object["requestId"], "abc=");
        assert_eq!(object["routeKey"], "GET /items/\"quoted\"\n");
        assert_eq!(object["integrationErrorMessage"], "tab\there");
        assert_eq!(object["ip"], "");
        let plain = |name: &str| name.bytes().all(|b| b.is_ascii_alphanumeric());
        assert!(AccessLog::field_names().iter().all(|name| plain(name)));
    }
}
