//! A twin safe to leave running: its own surfaces answer only to its own address, send no CORS
//! header, refuse a preflight and take only JSON changes; a slow or idle connection is closed;
//! and above the cap on connections the next one waits while the others are served.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::Method;
use local::client::Reply;
use local::twin::TWIN_SURFACES;
use serde_json::json;

use crate::common::TwinProcess;

/// A wait long enough for anything the twin does at once: the tests wait up to it for what
/// they expect, never assert that something took less.
const PATIENCE: Duration = Duration::from_secs(30);

fn host_and_port(twin: &TwinProcess) -> (String, u16) {
    let authority = twin.url.trim_start_matches("http://").to_owned();
    let port = authority.rsplit_once(':').unwrap().1.parse().unwrap();
    (authority, port)
}

fn access_control_headers(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn twin_surfaces_answer_only_to_the_twin_s_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let (own, port) = host_and_port(&twin);
    let mut paths: Vec<String> = TWIN_SURFACES.iter().map(|p| (*p).to_owned()).collect();
    paths.extend(
        [
            "/_twin/health",
            "/_twin/faults",
            "/_twin/issuer/.well-known/jwks.json",
            "/_ops/assets/ops.js",
            "/login",
            "/oauth2/authorize",
            "/app/",
        ]
        .map(String::from),
    );
    let rebound = format!("rebind.example:{port}");
    let other_port = format!("localhost:{}", port.wrapping_add(1));
    for path in &paths {
        for host in [rebound.as_str(), other_port.as_str(), "localhost"] {
            let reply = twin.client.get(path, &[("host", host)]).await.unwrap();
            assert_eq!(reply.status, 421, "{path} as {host}: {}", reply.text());
            let message = reply.json()["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(message.contains(&format!("localhost:{port}")), "{message}");
        }
        for host in [
            own.clone(),
            format!("localhost:{port}"),
            format!("LOCALHOST:{port}"),
            format!("[::1]:{port}"),
        ] {
            let reply = twin.client.get(path, &[("host", &host)]).await.unwrap();
            assert_ne!(reply.status, 421, "{path} as {host}: {}", reply.text());
        }
    }
    // A refused change is not made.
    let reply = twin
        .client
        .send(
            Method::POST,
            "/_twin/faults",
            &[("host", &rebound), ("content-type", "application/json")],
            json!({ "fault": "store=fail" }).to_string(),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 421);
    let listed = twin.client.get("/_twin/faults", &[]).await.unwrap();
    assert_eq!(listed.json()["faults"], json!([]));
    // The API's routes follow API Gateway, which answers whatever the `Host`.
    let reply = twin
        .client
        .get("/public", &[("host", &rebound)])
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn only_the_api_s_routes_answer_cors() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let origin = ("origin", "http://elsewhere.example");
    // No `--cors-origin`: the API answers any origin, on its routes and on API Gateway's
    // `404` for a path it has no route for.
    for path in ["/public", "/no-such-route"] {
        let reply = twin.client.get(path, &[origin]).await.unwrap();
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
    }
    // The sign-in's token is the page's alone: no other origin may read it.
    let login = twin
        .client
        .post_json(
            "/login",
            &[origin, ("accept", "application/json")],
            &json!({ "username": "alice" }),
        )
        .await
        .unwrap();
    assert_eq!(login.status, 200, "{}", login.text());
    assert!(login.json()["id_token"].is_string());
    assert_eq!(access_control_headers(&login), Vec::<String>::new());
    for path in [
        "/login",
        "/_twin/health",
        "/_twin/issuer/.well-known/openid-configuration",
        "/_ops",
        "/_ops/api/alarms",
        "/_twin/no-such-route",
    ] {
        let reply = twin.client.get(path, &[origin]).await.unwrap();
        assert_eq!(
            access_control_headers(&reply),
            Vec::<String>::new(),
            "{path}"
        );
    }

    // With `--cors-origin`, the API answers that origin only; the twin's surfaces, none.
    let dir = tempfile::tempdir().unwrap();
    let app = "http://localhost:5173";
    let twin = TwinProcess::start_in(dir.path(), &["--cors-origin", app]);
    let reply = twin
        .client
        .get("/public", &[("origin", app)])
        .await
        .unwrap();
    assert_eq!(reply.header("access-control-allow-origin"), Some(app));
    let reply = twin.client.get("/public", &[origin]).await.unwrap();
    assert_eq!(reply.header("access-control-allow-origin"), None);
    let login = twin
        .client
        .post_json(
            "/login",
            &[("origin", app), ("accept", "application/json")],
            &json!({ "username": "alice" }),
        )
        .await
        .unwrap();
    assert_eq!(login.status, 200, "{}", login.text());
    assert_eq!(access_control_headers(&login), Vec::<String>::new());
}

#[tokio::test]
async fn twin_surfaces_refuse_a_preflight() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let preflight = |method: &'static str| {
        [
            ("origin", "http://elsewhere.example"),
            ("access-control-request-method", method),
            ("access-control-request-headers", "content-type"),
        ]
    };
    for (path, method) in [
        ("/_twin/faults", "POST"),
        ("/_twin/faults", "DELETE"),
        ("/_twin/clock", "POST"),
        ("/login", "POST"),
        ("/oauth2/token", "POST"),
        ("/_ops", "GET"),
        ("/app/", "GET"),
    ] {
        let reply = twin
            .client
            .send(Method::OPTIONS, path, &preflight(method), "")
            .await
            .unwrap();
        assert_eq!(reply.status, 403, "{method} {path}: {}", reply.text());
        assert_eq!(
            access_control_headers(&reply),
            Vec::<String>::new(),
            "{method} {path}"
        );
    }
    // The API's, as configured.
    let reply = twin
        .client
        .send(Method::OPTIONS, "/items", &preflight("POST"), "")
        .await
        .unwrap();
    assert!(reply.status.is_success(), "{}", reply.status);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn a_change_on_twin_routes_takes_json_only() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let body = json!({ "fault": "store=fail" }).to_string();
    // What a page of another origin may send without asking first.
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=b"),
    ] {
        let headers: Vec<(&str, &str)> = content_type
            .map(|c| ("content-type", c))
            .into_iter()
            .collect();
        let reply = twin
            .client
            .send(Method::POST, "/_twin/faults", &headers, body.clone())
            .await
            .unwrap();
        assert_eq!(reply.status, 415, "{content_type:?}: {}", reply.text());
        assert!(
            reply.json()["message"]
                .as_str()
                .is_some_and(|m| m.contains("application/json")),
            "{}",
            reply.text()
        );
    }
    let listed = twin.client.get("/_twin/faults", &[]).await.unwrap();
    assert_eq!(listed.json()["faults"], json!([]), "no fault was set");

    let set = twin
        .client
        .send(
            Method::POST,
            "/_twin/faults",
            &[("content-type", "application/json; charset=utf-8")],
            body,
        )
        .await
        .unwrap();
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["faults"].as_array().unwrap().len(), 1);
    let cleared = twin
        .client
        .send(Method::DELETE, "/_twin/faults", &[], "")
        .await
        .unwrap();
    assert_eq!(cleared.status, 415, "{}", cleared.text());
    let cleared = twin
        .client
        .send(
            Method::DELETE,
            "/_twin/faults",
            &[("content-type", "application/json")],
            "",
        )
        .await
        .unwrap();
    assert_eq!(cleared.status, 200, "{}", cleared.text());
    assert_eq!(cleared.json()["faults"], json!([]));
}

/// A connection of the test's own, byte by byte.
struct Raw {
    stream: TcpStream,
    host: String,
}

impl Raw {
    fn connect(twin: &TwinProcess) -> Self {
        let (host, _) = host_and_port(twin);
        let stream = TcpStream::connect(&host).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        Self { stream, host }
    }

    fn send_request(&mut self) {
        let request = format!("GET /_twin/health HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.stream.write_all(request.as_bytes()).unwrap();
    }

    /// The answer to the request sent: its status line and body (by `Content-Length`).
    fn answer(&mut self) -> std::io::Result<(String, String)> {
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            match self.stream.read(&mut byte)? {
                0 => return Err(ErrorKind::UnexpectedEof.into()),
                _ => got.push(byte[0]),
            }
        }
        let head = String::from_utf8(got).unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body)?;
        let status = head.lines().next().unwrap().to_owned();
        Ok((status, String::from_utf8(body).unwrap()))
    }

    fn request(&mut self) -> String {
        self.send_request();
        let (status, body) = self.answer().expect("an answer");
        assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
        body
    }

    /// Waits for the twin to close the connection (at most [`PATIENCE`]).
    fn closed_by_the_twin(&mut self) {
        let mut rest = Vec::new();
        match self.stream.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest)),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("still open after {PATIENCE:?}: {e}"),
        }
    }
}

#[test]
fn an_idle_or_slow_client_is_closed_and_the_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(
        dir.path(),
        &["--header-read-timeout", "1", "--idle-timeout", "1"],
    );
    // Connected, and never a byte.
    let mut silent = Raw::connect(&twin);
    // Idle after an answer.
    let mut served = Raw::connect(&twin);
    served.request();
    // Headers at a byte every 100 ms, never ending.
    let mut slow = Raw::connect(&twin);
    let sending = Arc::new(AtomicBool::new(true));
    let writer = {
        let mut stream = slow.stream.try_clone().unwrap();
        let head = format!(
            "GET /_twin/health HTTP/1.1\r\nHost: {}\r\nX-Slow: ",
            slow.host
        );
        let sending = Arc::clone(&sending);
        std::thread::spawn(move || {
            let bytes = head.into_bytes().into_iter().chain(std::iter::repeat(b'a'));
            for byte in bytes {
                if !sending.load(Ordering::Relaxed) || stream.write_all(&[byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    // Meanwhile, another client is answered.
    let mut other = Raw::connect(&twin);
    assert!(other.request().contains("\"ok\":true"));

    silent.closed_by_the_twin();
    served.closed_by_the_twin();
    slow.closed_by_the_twin();
    sending.store(false, Ordering::Relaxed);
    writer.join().unwrap();
    // And after them, a new one is.
    Raw::connect(&twin).request();
}

#[test]
fn the_header_timeout_runs_from_a_request_s_first_byte_not_between_requests() {
    let dir = tempfile::tempdir().unwrap();
    // On the process's own runtime (one serving thread), as on systems other than Linux.
    let twin = TwinProcess::start_in(
        dir.path(),
        &[
            "--header-read-timeout",
            "1",
            "--idle-timeout",
            "600",
            "--serve-threads",
            "1",
        ],
    );
    let mut client = Raw::connect(&twin);
    // Idle for longer than the header timeout, before a request and between two: still open.
    std::thread::sleep(Duration::from_secs(3));
    client.request();
    std::thread::sleep(Duration::from_secs(3));
    client.request();
    // A request's headers that never end are cut at the header timeout, long before idle.
    let head = format!("GET /_twin/health HTTP/1.1\r\nHost: {}\r\n", client.host);
    client.stream.write_all(head.as_bytes()).unwrap();
    client.closed_by_the_twin();
}

#[test]
fn above_the_cap_a_connection_waits_and_the_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &["--max-connections", "2"]);
    let mut first = Raw::connect(&twin);
    first.request();
    let mut second = Raw::connect(&twin);
    second.request();
    // The third is connected (the listener's queue) but not served while two are open.
    let mut third = Raw::connect(&twin);
    third.send_request();
    third
        .stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    match third.stream.read(&mut byte) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("the third connection was answered above the cap: {other:?}"),
    }
    third.stream.set_read_timeout(Some(PATIENCE)).unwrap();
    // Those open are served as before.
    first.request();
    second.request();
    // One closes: the third takes its place and is answered.
    drop(first);
    let (status, body) = third.answer().expect("an answer once a place is free");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    second.request();
}
