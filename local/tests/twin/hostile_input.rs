//! Every class of bad input gets its 4xx with a problem body that says what is wrong and
//! carries the request id, and leaves the store and the archive as they were.

use http::Method;
use serde_json::json;

use crate::common::{TwinProcess, urlencode};

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    /// Other request headers.
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    status: u16,
    problem: &'static str,
}

fn post(
    name: &'static str,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
    status: u16,
    problem: &'static str,
) -> Case {
    Case {
        name,
        method: Method::POST,
        path: "/items".into(),
        content_type,
        headers: Vec::new(),
        body: body.into(),
        status,
        problem,
    }
}

fn get(name: &'static str, path: String, status: u16, problem: &'static str) -> Case {
    Case {
        name,
        method: Method::GET,
        path,
        content_type: None,
        headers: Vec::new(),
        body: Vec::new(),
        status,
        problem,
    }
}

/// A valid item's JSON, sent with `Content-Encoding: encoding`: never read (`415`).
fn encoded(name: &'static str, encoding: &'static str) -> Case {
    let mut case = post(
        name,
        JSON,
        r#"{"name": "x"}"#,
        415,
        "unsupported-media-type",
    );
    case.headers.push(("content-encoding", encoding));
    case
}

const JSON: Option<&str> = Some("application/json");

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let alice = twin.token("alice").await;
    for i in 0..3 {
        assert_eq!(
            twin.create(&alice, &json!({"name": format!("seed {i}")}))
                .await
                .status,
            201
        );
    }
    let before_items = twin.all_items(&alice).await;
    let before_archive = twin.archive().await;
    let page = twin.get_auth(&alice, "/items?limit=1").await.json();
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    let cases = vec![
        post(
            "malformed JSON",
            JSON,
            r#"{"name": "x""#,
            400,
            "invalid-body",
        ),
        post("not an object", JSON, r#"["name"]"#, 400, "invalid-body"),
        post("empty body", JSON, "", 400, "invalid-body"),
        post(
            "name of the wrong type",
            JSON,
            r#"{"name": 42}"#,
            400,
            "invalid-body",
        ),
        post(
            "missing name",
            JSON,
            r#"{"description": "no name"}"#,
            400,
            "invalid-body",
        ),
        post(
            "unknown field",
            JSON,
            r#"{"name": "x", "owner": "bob"}"#,
            400,
            "invalid-body",
        ),
        post(
            "wrong content type",
            Some("text/plain"),
            r#"{"name": "x"}"#,
            415,
            "unsupported-media-type",
        ),
        post(
            "form content type",
            Some("application/x-www-form-urlencoded"),
            "name=x",
            415,
            "unsupported-media-type",
        ),
        post(
            "no content type",
            None,
            r#"{"name": "x"}"#,
            415,
            "unsupported-media-type",
        ),
        encoded("gzip over a plain body", "gzip"),
        encoded("brotli over a plain body", "br"),
        encoded("coding in capitals", "GZIP"),
        encoded("identity listed after a coding", "gzip, identity"),
        encoded("unknown coding", "x-custom"),
        post(
            "oversized body",
            JSON,
            format!(
                r#"{{"name": "x", "description": "{}"}}"#,
                "d".repeat(17 * 1024)
            ),
            413,
            "payload-too-large",
        ),
        post(
            "empty name",
            JSON,
            r#"{"name": ""}"#,
            422,
            "validation-failed",
        ),
        post(
            "blank name",
            JSON,
            r#"{"name": "   "}"#,
            422,
            "validation-failed",
        ),
        post(
            "name of a byte order mark",
            JSON,
            "{\"name\": \"\u{feff}\"}",
            422,
            "validation-failed",
        ),
        post(
            "name of zero-width characters and spaces",
            JSON,
            r#"{"name": " \u200b\u200c\u200d\u2060\u00ad "}"#,
            422,
            "validation-failed",
        ),
        post(
            "blank description",
            JSON,
            r#"{"name": "x", "description": "\ufeff \u200b"}"#,
            422,
            "validation-failed",
        ),
        post(
            "over-long name",
            JSON,
            format!(r#"{{"name": "{}"}}"#, "n".repeat(201)),
            422,
            "validation-failed",
        ),
        post(
            "over-long description",
            JSON,
            format!(r#"{{"name": "x", "description": "{}"}}"#, "d".repeat(2001)),
            422,
            "validation-failed",
        ),
        get("bad id", "/items/not-an-id".into(), 400, "invalid-id"),
        get(
            "UUIDv4 id",
            "/items/0b6f2c1e-8f4a-4c1a-9d2e-3f4a5b6c7d8e".into(),
            400,
            "invalid-id",
        ),
        get("limit 0", "/items?limit=0".into(), 400, "invalid-query"),
        get("limit 101", "/items?limit=101".into(), 400, "invalid-query"),
        get(
            "limit not a number",
            "/items?limit=ten".into(),
            400,
            "invalid-query",
        ),
        get(
            "unknown parameter",
            "/items?sort=asc".into(),
            400,
            "invalid-query",
        ),
        get(
            "tampered cursor",
            format!("/items?cursor={}", urlencode(&tampered)),
            400,
            "invalid-cursor",
        ),
        get(
            "garbage cursor",
            "/items?cursor=abc".into(),
            400,
            "invalid-cursor",
        ),
    ];

    let bearer = format!("Bearer {alice}");
    for case in &cases {
        let mut headers = vec![("authorization", bearer.as_str())];
        if let Some(ct) = case.content_type {
            headers.push(("content-type", ct));
        }
        headers.extend(case.headers.iter().copied());
        let reply = twin
            .client
            .send(case.method.clone(), &case.path, &headers, case.body.clone())
            .await
            .unwrap();
        assert_eq!(
            reply.status.as_u16(),
            case.status,
            "{}: {}",
            case.name,
            reply.text()
        );
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{}",
            case.name
        );
        let problem = reply.json();
        assert_eq!(
            problem["type"],
            format!("/problems/{}", case.problem),
            "{}: {problem}",
            case.name
        );
        assert_eq!(problem["status"], case.status, "{}", case.name);
        if case.headers.iter().any(|(h, _)| *h == "content-encoding") {
            assert_eq!(
                reply.header("accept-encoding"),
                Some("identity"),
                "{}: says which coding is read",
                case.name
            );
        }
        assert!(
            !reply.text().contains(&alice),
            "{}: the problem repeats the caller's token",
            case.name
        );
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}: says what is wrong",
            case.name
        );
        assert_eq!(
            problem["request_id"].as_str(),
            reply.header("apigw-requestid"),
            "{}: carries the request id",
            case.name
        );
        if case.status == 422 {
            assert!(
                problem["errors"][0]["pointer"].as_str().is_some(),
                "{}: names the field",
                case.name
            );
        }
    }

    assert_eq!(
        twin.all_items(&alice).await,
        before_items,
        "the store is unchanged"
    );
    assert_eq!(
        twin.archive().await,
        before_archive,
        "the archive is unchanged"
    );
    // No 5xx anywhere: bad input is never the server's fault.
    assert!(
        twin.access_log()
            .iter()
            .all(|l| !l["status"].as_str().unwrap().starts_with('5'))
    );
}
