//! `/internal/*` through the twin's `AWS_IAM` authorizer: a SigV4-signed replay re-emits the
//! window's `ItemCreated` events into the archive, once more per item, and every request the
//! gateway refuses (unsigned, a token, a wrong or unknown key, tampered, too old) re-emits none.

use std::collections::HashMap;
use std::time::Duration;

use http::Method;
use local::auth::sigv4::{self, LocalCredentials};
use local::client::Reply;
use local::names;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::common::TwinProcess;

const REPLAY: &str = "/internal/events/replay";

fn credentials(twin: &TwinProcess) -> LocalCredentials {
    let path = twin.data_dir.join(sigv4::CREDENTIALS_FILE);
    serde_json::from_slice(&std::fs::read(&path).expect("the twin made its IAM key")).unwrap()
}

fn host(twin: &TwinProcess) -> String {
    twin.url.trim_start_matches("http://").to_owned()
}

/// The headers of a request signed for `path` and `body` (which may then be sent elsewhere).
fn signed_headers(
    twin: &TwinProcess,
    creds: &LocalCredentials,
    at: OffsetDateTime,
    path: &str,
    body: &str,
) -> Vec<(String, String)> {
    let host = host(twin);
    let base = [
        ("host", host.as_str()),
        ("content-type", "application/json"),
    ];
    let mut headers: Vec<(String, String)> = base
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    headers.extend(
        sigv4::sign(
            creds,
            names::REGION,
            at,
            "POST",
            path,
            &base,
            body.as_bytes(),
        )
        .unwrap(),
    );
    headers
}

async fn send(twin: &TwinProcess, path: &str, headers: &[(String, String)], body: &str) -> Reply {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    twin.client
        .send(Method::POST, path, &headers, body.to_owned())
        .await
        .unwrap()
}

/// Archived `ItemCreated` events per item id.
async fn archived_per_item(twin: &TwinProcess) -> HashMap<String, Vec<Value>> {
    let mut per_item: HashMap<String, Vec<Value>> = HashMap::new();
    for event in twin.archive().await {
        let id = event["detail"]["item_id"].as_str().unwrap().to_owned();
        per_item.entry(id).or_default().push(event);
    }
    per_item
}

fn assert_forbidden(reply: &Reply, message_starts: &str, case: &str) {
    assert_eq!(reply.status, 403, "{case}: {}", reply.text());
    let message = reply.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.starts_with(message_starts),
        "{case}: {message:?} should start with {message_starts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_replays_re_emit_the_window_and_refused_requests_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let creds = credentials(&twin);

    // Six items of two owners, a few milliseconds apart (ids carry whole milliseconds).
    let tokens = [twin.token("alice").await, twin.token("bob").await];
    let mut items = Vec::new();
    for n in 0..6 {
        let reply = twin
            .create(&tokens[n % 2], &json!({ "name": format!("item {n}") }))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        items.push(reply.json());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let created = |n: usize| items[n]["created_at"].as_str().unwrap().to_owned();
    // [item 1, item 4): items 1, 2 and 3, of both owners; 0, 4 and 5 stay out.
    let (from, to) = (created(1), created(4));
    let inside: Vec<String> = items
        .iter()
        .filter(|i| {
            let t = i["created_at"].as_str().unwrap();
            from.as_str() <= t && t < to.as_str()
        })
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(inside.len(), 3, "{items:?}");
    let before = archived_per_item(&twin).await;
    assert_eq!(before.len(), 6);
    assert!(before.values().all(|events| events.len() == 1));

    let body = json!({ "from": from, "to": to }).to_string();
    let now = OffsetDateTime::now_utc();

    // Every refusal the gateway makes, with API Gateway's messages.
    let unsigned = twin
        .client
        .send(
            Method::POST,
            REPLAY,
            &[("content-type", "application/json")],
            body.clone(),
        )
        .await
        .unwrap();
    assert_forbidden(&unsigned, "Forbidden", "unsigned");
    assert_eq!(unsigned.json(), json!({ "message": "Forbidden" }));
    assert_eq!(
        unsigned.header("x-amzn-errortype"),
        Some("ForbiddenException")
    );

    let bearer = format!("Bearer {}", tokens[0]);
    let with_jwt = twin
        .client
        .post_json(
            REPLAY,
            &[("authorization", &bearer)],
            &json!({ "from": from, "to": to }),
        )
        .await
        .unwrap();
    assert_forbidden(&with_jwt, "Forbidden", "a JWT instead of SigV4");

    let wrong_secret = LocalCredentials {
        secret_access_key: "not-the-secret".into(),
        ..creds.clone()
    };
    let reply = send(
        &twin,
        REPLAY,
        &signed_headers(&twin, &wrong_secret, now, REPLAY, &body),
        &body,
    )
    .await;
    assert_forbidden(
        &reply,
        "The request signature we calculated does not match",
        "wrong secret",
    );

    let unknown = LocalCredentials {
        access_key_id: "AKIAUNKNOWNKEY000000".into(),
        ..creds.clone()
    };
    let reply = send(
        &twin,
        REPLAY,
        &signed_headers(&twin, &unknown, now, REPLAY, &body),
        &body,
    )
    .await;
    assert_forbidden(
        &reply,
        "The security token included in the request is invalid",
        "unknown key",
    );

    let good = signed_headers(&twin, &creds, now, REPLAY, &body);
    let wider = json!({ "from": created(0), "to": to }).to_string();
    let reply = send(&twin, REPLAY, &good, &wider).await;
    assert_forbidden(
        &reply,
        "The request signature we calculated",
        "tampered body",
    );
    let reply = send(&twin, "/internal/events/replay-all", &good, &body).await;
    assert_forbidden(
        &reply,
        "The request signature we calculated",
        "tampered path",
    );
    let reply = send(&twin, &format!("{REPLAY}?all=1"), &good, &body).await;
    assert_forbidden(
        &reply,
        "The request signature we calculated",
        "tampered query",
    );

    let old = now - time::Duration::minutes(16);
    let reply = send(
        &twin,
        REPLAY,
        &signed_headers(&twin, &creds, old, REPLAY, &body),
        &body,
    )
    .await;
    assert_forbidden(&reply, "Signature expired: ", "16 minutes old");
    assert_eq!(
        reply.header("x-amzn-errortype"),
        Some("InvalidSignatureException")
    );

    // Signed, but bad input: the function's problem documents, nothing published.
    for (bad, status) in [
        (json!({ "from": to, "to": from }), 422),
        (json!({ "from": from, "to": to, "owner": "alice" }), 400),
        (
            json!({ "from": "2026-01-01T00:00:00Z", "to": "2026-01-09T00:00:00Z" }),
            422,
        ),
        (json!({ "from": from, "to": to, "cursor": "forged" }), 400),
    ] {
        let reply = twin
            .client
            .send_signed(&creds, now, Method::POST, REPLAY, bad.to_string())
            .await
            .unwrap();
        assert_eq!(reply.status, status, "{bad}: {}", reply.text());
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
    }
    // Signed, but the body is declared compressed: never read.
    let mut encoded = signed_headers(&twin, &creds, now, REPLAY, &body);
    encoded.push(("content-encoding".into(), "gzip".into()));
    let reply = send(&twin, REPLAY, &encoded, &body).await;
    assert_eq!(reply.status, 415, "{}", reply.text());
    assert_eq!(reply.json()["type"], "/problems/unsupported-media-type");
    assert_eq!(reply.header("accept-encoding"), Some("identity"));
    assert_eq!(
        archived_per_item(&twin).await,
        before,
        "refused requests re-emit nothing"
    );

    // The signed replay: one more event for each item of the window, none for the others.
    let reply = twin
        .client
        .send_signed(
            &creds,
            OffsetDateTime::now_utc(),
            Method::POST,
            REPLAY,
            body.clone(),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({ "items": 3, "published": 3, "failed": 0, "next_cursor": null })
    );
    let after = archived_per_item(&twin).await;
    for item in &items {
        let id = item["id"].as_str().unwrap();
        let events = &after[id];
        let expected = if inside.iter().any(|i| i == id) { 2 } else { 1 };
        assert_eq!(events.len(), expected, "{id}");
        let (first, last) = (&events[0]["detail"], &events[events.len() - 1]["detail"]);
        for field in ["item_id", "owner", "created_at"] {
            assert_eq!(first[field], last[field], "{field} of {id}");
        }
        if expected == 2 {
            // The replay re-emits the item's own event: the creating request's ids.
            assert_eq!(first["request_id"], last["request_id"], "{id}");
        }
    }
    // The function read the signer's identity from `requestContext.authorizer.iam`.
    assert!(
        twin.lines()
            .iter()
            .any(|l| l.contains("ItemCreated events replayed")
                && l.contains("arn:aws:iam::000000000000:user/twin-operator")),
        "the replay's log line names the operator"
    );

    // The `internal` subcommand signs with the data folder's key.
    let output = tokio::process::Command::new(crate::common::binary())
        .args([
            "internal",
            REPLAY,
            "--data",
            &body,
            "--twin",
            &twin.url,
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["published"],
        3
    );
    let again = archived_per_item(&twin).await;
    assert!(inside.iter().all(|id| again[id].len() == 3));
}
