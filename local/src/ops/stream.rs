//! The console's section on the table's stream: the event source mapping's checkpoint (caught
//! up or behind) and the dead-letter queue's messages, each with the batch it describes.

use std::fmt::Write as _;

use serde_json::Value;

use crate::html::escape;
use crate::sqs::Message;

/// The section, from `/_twin/stream`'s view and the queue's messages.
pub fn section(status: &Value, queue: &str, messages: &[Message]) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let caught_up = match status["caughtUp"].as_bool() {
        Some(true) => "<span class=\"state OK\">caught up</span>",
        Some(false) => "<span class=\"state ALARM\">behind</span>",
        None => "<span class=\"state INSUFFICIENT_DATA\">unknown</span>",
    };
    let mut out = format!(
        "<section id=\"stream\"><h2>Table stream → {function}</h2><table class=\"stream\"><tbody>\
<tr><th>checkpoint</th><td><code>{checkpoint}</code></td></tr>\
<tr><th>newest record</th><td><code>{latest}</code> {caught_up}</td></tr>\
<tr><th>last function error</th><td>{error}</td></tr>\
<tr><th>settings</th><td>batch size {batch}, window {window} s, retries {retries}, record age {age} s, bisect on error</td></tr>\
</tbody></table><h3>Dead-letter queue <code>{queue}</code>: <span id=\"dlq-depth\">{depth}</span> messages</h3>",
        function = escape(&text(&status["functionName"])),
        checkpoint = escape(&text(&status["checkpoint"])),
        latest = escape(&text(&status["latestSequenceNumber"])),
        error = escape(&text(&status["lastFunctionError"])),
        batch = escape(&text(&status["batchSize"])),
        window = escape(&text(&status["maximumBatchingWindowInSeconds"])),
        retries = escape(&text(&status["maximumRetryAttempts"])),
        age = escape(&text(&status["maximumRecordAgeInSeconds"])),
        queue = escape(queue),
        depth = messages.len(),
    );
    if !messages.is_empty() {
        out.push_str("<table class=\"dlq\"><thead><tr><th>message id</th><th>condition</th><th>records</th><th>sequence numbers</th><th>body</th></tr></thead><tbody>");
        for m in messages {
            let body: Value = serde_json::from_str(&m.body).unwrap_or(Value::Null);
            let info = &body["DDBStreamBatchInfo"];
            let _ = write!(
                out,
                "<tr class=\"dlq-message\"><td><code>{id}</code></td><td>{condition}</td><td>{size}</td><td><code>{start}</code> to <code>{end}</code></td><td><details><summary>JSON</summary><pre>{body}</pre></details></td></tr>",
                id = escape(&m.message_id),
                condition = escape(&text(&body["requestContext"]["condition"])),
                size = escape(&text(&info["batchSize"])),
                start = escape(&text(&info["startSequenceNumber"])),
                end = escape(&text(&info["endSequenceNumber"])),
                body = escape(&m.body),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("<p class=\"meta\">JSON: <a href=\"/_twin/stream\">/_twin/stream</a>, <a href=\"/_twin/dlq\">/_twin/dlq</a> (<code>DELETE /_twin/dlq/{message id}</code> deletes one)</p></section>");
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn shows_the_checkpoint_and_each_message_s_batch() {
        let status = json!({
            "functionName": "items-api-item-events", "checkpoint": "100000000000000000007",
            "latestSequenceNumber": "100000000000000000009", "caughtUp": false,
        });
        let body = json!({
            "requestContext": { "condition": "RetryAttemptsExhausted" },
            "DDBStreamBatchInfo": { "batchSize": 1, "startSequenceNumber": "100000000000000000008", "endSequenceNumber": "100000000000000000008" },
        });
        let message = Message {
            message_id: "m-1".into(),
            sent_timestamp: 0,
            body: body.to_string(),
        };
        let html = section(&status, "items-api-item-events-dlq", &[message]);
        assert!(html.contains("<code>100000000000000000007</code>"));
        assert!(html.contains("behind"));
        assert!(html.contains("<span id=\"dlq-depth\">1</span>"));
        assert!(html.contains("<td>RetryAttemptsExhausted</td>"));
        assert!(html.contains("<code>100000000000000000008</code>"));
    }
}
