//! Hostile input as properties: generated request bodies, headers, queries, item ids and page
//! cursors, driven through the real router on the embedded adapters (redb store, pattern-matching
//! bus and log-group archive, secret file), as API Gateway payload 2.0 events. Whatever comes in,
//! the answer is a success or a `4xx` problem that carries the request id: never a panic or a `5xx`.
//! Where `docs/api.md` states a rule, the test states it again and checks the exact answer, and
//! what is accepted reads back as it was sent.
//!
//! Why proptest and not cargo-fuzz: cargo-fuzz needs a nightly toolchain (`-Z sanitizer`), which
//! neither CI nor the developers' machines have; proptest runs on stable within `cargo test`.
//! Each property prints how many cases it ran.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use functions::AppState;
use functions::adapters::embedded::config::FileConfig;
use functions::adapters::embedded::eventbridge::archive::LogArchive;
use functions::adapters::embedded::eventbridge::bus::{EmbeddedBus, rule_from_pattern_json};
use functions::adapters::embedded::store::RedbItemStore;
use functions::cursor::{self, CursorError};
use functions::domain::{ItemId, limits};
use functions::ports::{CursorKeys, SigningKey};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use tower::ServiceExt;

const REQUEST_ID: &str = "PropReqId0000A=";
const ARCHIVE: &str = "/aws/events/items-api";

/// Cases run by every property of this binary so far, for the printed figures.
static CASES_RUN: AtomicUsize = AtomicUsize::new(0);

/// Runs `cases` cases of a property and prints the count. The numbers keep the whole binary
/// near 20 s in a debug build on two cores.
fn run<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let config = Config {
        cases,
        // Regressions are kept as named cases in the tests, not as files next to them.
        failure_persistence: None,
        ..Config::default()
    };
    let ran = AtomicUsize::new(0);
    let result = TestRunner::new(config).run(&strategy, |value| {
        ran.fetch_add(1, Ordering::Relaxed);
        test(value)
    });
    let ran = ran.into_inner();
    let total = CASES_RUN.fetch_add(ran, Ordering::Relaxed) + ran;
    // Written past the test harness's capture, so that the counts show in every run's output.
    let _ = writeln!(
        std::io::stderr(),
        "property {name}: {ran} cases ({total} in this run so far)"
    );
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

/// The router on the embedded adapters, in a folder of its own.
struct Api {
    router: axum::Router,
    archive: Arc<LogArchive>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
    raw: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One request as API Gateway hands it to the function. `path` and `query` are as they travel
/// on the wire (already percent-encoded).
struct Call<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    sub: &'a str,
    headers: Vec<(&'a str, String)>,
    body: Option<&'a [u8]>,
}

impl<'a> Call<'a> {
    fn get(sub: &'a str, path: &'a str, query: &'a str) -> Self {
        Self {
            method: "GET",
            path,
            query,
            sub,
            headers: Vec::new(),
            body: None,
        }
    }

    fn post_json(sub: &'a str, body: &'a [u8]) -> Self {
        Self {
            method: "POST",
            path: "/items",
            query: "",
            sub,
            headers: vec![("content-type", "application/json".into())],
            body: Some(body),
        }
    }

    fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }
}

impl Api {
    fn new() -> Self {
        // The properties are about parsing, not durability: on tmpfs, redb's and the archive's
        // fsyncs cost nothing, and many more cases fit in the time.
        let dir = tempfile::Builder::new()
            .prefix("properties-")
            .tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        let archive = Arc::new(LogArchive::open(dir.path().join("logs")).unwrap());
        let rule = rule_from_pattern_json(
            "items-api-item-created",
            functions::events::ITEM_CREATED_RULE_PATTERN,
            ARCHIVE,
        )
        .unwrap();
        let bus = EmbeddedBus::new(
            "items-api".into(),
            "123456789012".into(),
            "us-east-1".into(),
            vec![rule],
            Arc::clone(&archive),
        );
        let state = AppState {
            store: Arc::new(RedbItemStore::open(&dir.path().join("items.redb")).unwrap()),
            bus: Arc::new(bus),
            config: Arc::new(FileConfig::load_or_create(&dir.path().join("secret.json")).unwrap()),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Self {
            router: functions::router(state),
            archive,
            runtime,
            _dir: dir,
        }
    }

    fn send(&self, call: Call<'_>) -> Reply {
        let mut headers = serde_json::Map::new();
        headers.insert("host".into(), json!("api.example.com"));
        for (name, value) in &call.headers {
            headers.insert((*name).into(), json!(value));
        }
        let mut event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": call.path,
            "rawQueryString": call.query, "headers": headers,
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                "http": {"method": call.method, "path": call.path, "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "properties"},
                "requestId": REQUEST_ID, "routeKey": "$default", "stage": "$default",
                "time": "21/Nov/2026:22:42:17 +0000", "timeEpoch": 1795300937000i64,
                "authorizer": {"jwt": {"claims": {"sub": call.sub}, "scopes": null}}
            },
            "isBase64Encoded": true
        });
        if let Some(body) = call.body {
            // Base64, as API Gateway passes a body that is not text, so any bytes get through.
            event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
        }
        let request = lambda_http::request::from_str(&event.to_string())
            .expect("a well-formed payload 2.0 event");
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.unwrap();
            let (parts, body) = response.into_parts();
            let raw = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap()
                .to_vec();
            Reply {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
                raw,
            }
        })
    }

    /// Archived `ItemCreated` events, counted by item id.
    fn archived(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        let events = match self.archive.read(ARCHIVE) {
            Ok(events) => events,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("read the archive: {e}"),
        };
        for event in events {
            let message: Value = serde_json::from_str(&event.message).unwrap();
            let id = message["detail"]["item_id"].as_str().unwrap().to_owned();
            *counts.entry(id).or_insert(0) += 1;
        }
        counts
    }

    /// Creates store and publish nothing (`ItemCreated` comes from the table's stream): `created`
    /// items, and not one event.
    fn assert_nothing_published(&self, created: &[String]) {
        assert!(!created.is_empty(), "the property created no item");
        let archived = self.archived();
        assert!(
            archived.is_empty(),
            "events published by creates: {archived:?}"
        );
    }
}

/// Never a `5xx`; a `4xx` is a problem document with the request id and a detail.
fn check_answer(reply: &Reply) -> Result<(), TestCaseError> {
    prop_assert!(
        reply.status < 500,
        "server error {}: {}",
        reply.status,
        String::from_utf8_lossy(&reply.raw)
    );
    if reply.status >= 400 {
        prop_assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.raw)
        );
        prop_assert_eq!(&reply.body["status"], &json!(reply.status));
        prop_assert_eq!(&reply.body["request_id"], &json!(REQUEST_ID));
        prop_assert!(
            reply.body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("/problems/")),
            "{}",
            reply.body
        );
        prop_assert!(
            reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "says what is wrong: {}",
            reply.body
        );
    }
    Ok(())
}

fn check_problem(reply: &Reply, status: u16, slug: &str) -> Result<(), TestCaseError> {
    check_answer(reply)?;
    prop_assert_eq!(reply.status, status, "{}", reply.body);
    prop_assert_eq!(&reply.body["type"], &json!(format!("/problems/{slug}")));
    Ok(())
}

/// A `201` whose item reads back as sent, through its `Location`; returns the item id.
fn check_created(
    api: &Api,
    sub: &str,
    reply: &Reply,
    name: &str,
    description: Option<&str>,
) -> Result<String, TestCaseError> {
    prop_assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap_or_default().to_owned();
    prop_assert!(id.parse::<ItemId>().is_ok(), "a UUIDv7 id: {}", id);
    let location = reply.header("location").unwrap_or_default().to_owned();
    prop_assert_eq!(&location, &format!("/items/{id}"));
    let read = api.send(Call::get(sub, &location, ""));
    prop_assert_eq!(read.status, 200, "{}", read.body);
    prop_assert_eq!(&read.body, &reply.body, "reads back as created");
    prop_assert_eq!(&read.body["name"], &json!(name));
    let description = description.map(|d| json!(d));
    prop_assert_eq!(read.body.get("description"), description.as_ref());
    Ok(id)
}

// ---------------------------------------------------------------------------------------------
// The rules of a new item, as the "Limits" table of `docs/api.md` states them.

#[derive(Debug, PartialEq)]
enum Expected {
    Created,
    InvalidBody,
    ValidationFailed,
}

/// Blank as `docs/api.md` says: nothing but whitespace and format characters (Unicode general
/// category `Cf`, read here from the `regex` crate's tables, not from the code under test).
fn is_blank(text: &str) -> bool {
    static FORMAT: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"^[\s\p{Cf}]*$").unwrap());
    FORMAT.is_match(text)
}

fn name_is_valid(name: &str) -> bool {
    !is_blank(name)
        && name.chars().count() <= limits::NAME_MAX_CHARS
        && !name.chars().any(char::is_control)
}

fn expected_for(body: &Value) -> Expected {
    let Value::Object(fields) = body else {
        return Expected::InvalidBody;
    };
    if fields.keys().any(|k| k != "name" && k != "description") {
        return Expected::InvalidBody;
    }
    let Some(Value::String(name)) = fields.get("name") else {
        return Expected::InvalidBody;
    };
    let description = match fields.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(d),
        Some(_) => return Expected::InvalidBody,
    };
    let description_ok = description
        .is_none_or(|d| !is_blank(d) && d.chars().count() <= limits::DESCRIPTION_MAX_CHARS);
    if name_is_valid(name) && description_ok {
        Expected::Created
    } else {
        Expected::ValidationFailed
    }
}

/// Characters that break naive text handling: controls, invisible and bidi marks, combining
/// marks, non-BMP, whitespace that `trim` knows, JSON's own specials.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('a', 'z'),
        1 => Just(' '),
        1 => prop::sample::select(vec![
            '\t', '\n', '\r', '\0', '\u{7f}', '\u{85}', '\u{9f}', '\u{a0}', '\u{2028}',
            '\u{3000}', '\u{200b}', '\u{200d}', '\u{202e}', '\u{2066}', '\u{feff}', '\u{fffd}',
            '\u{ad}', '\u{2060}', '\u{180e}', '\u{e0001}', '\u{e0041}', '\u{1d173}',
            '\u{fffe}', '\u{10ffff}', '\u{301}', 'é', 'ß', '中', '😀', '"', '\\', '/', '<',
        ]),
        1 => any::<char>(),
    ]
}

/// Text whose length in characters sits at 0-4, or just under, at and over `limit`.
fn text_near(limit: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(tricky_char(), 0..=4),
        prop::collection::vec(tricky_char(), limit - 2..=limit + 2),
        // Valid characters only, right at the edge: these must be accepted.
        prop::collection::vec(prop::char::range('a', 'z'), limit - 1..=limit),
    ]
    .prop_map(|chars| chars.into_iter().collect())
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        text_near(8).prop_map(Value::String),
    ];
    let key = prop_oneof![
        Just("name".to_owned()),
        Just("description".to_owned()),
        Just("id".to_owned()),
        Just("owner".to_owned()),
        Just("Name".to_owned()),
        ".{0,6}",
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects close to a valid item: the right fields with any values, sometimes an extra one.
fn item_like() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        3 => text_near(limits::NAME_MAX_CHARS).prop_map(Value::String),
        1 => any_json(),
    ];
    let description = prop_oneof![
        3 => text_near(limits::DESCRIPTION_MAX_CHARS).prop_map(Value::String),
        1 => any_json(),
    ];
    (
        prop::option::weighted(0.95, value),
        prop::option::weighted(0.6, description),
        prop::option::weighted(0.1, (".{1,8}", any_json())),
    )
        .prop_map(|(name, description, extra)| {
            let mut fields = serde_json::Map::new();
            if let Some(name) = name {
                fields.insert("name".into(), name);
            }
            if let Some(description) = description {
                fields.insert("description".into(), description);
            }
            if let Some((key, value)) = extra {
                fields.insert(key, value);
            }
            Value::Object(fields)
        })
}

#[test]
fn any_bytes_as_a_create_body_get_a_4xx_or_a_201() {
    let api = Api::new();
    let created = std::cell::RefCell::new(Vec::new());
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        // JSON-looking noise: the parser's paths past the first byte.
        prop::collection::vec(
            prop::sample::select(br#"{}[]":,\ nameudscriptio0-1.eE+truefals"#.to_vec()),
            0..256
        ),
        // A valid body cut or with a byte changed.
        (item_like(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, at, b)| {
            let mut bytes = v.to_string().into_bytes();
            let i = at.index(bytes.len());
            if b % 2 == 0 {
                bytes.truncate(i);
            } else {
                bytes[i] = b;
            }
            bytes
        }),
    ];
    run("any_bytes_as_a_create_body", 1200, bytes, |bytes| {
        let reply = api.send(Call::post_json("alice", &bytes));
        check_answer(&reply)?;
        prop_assert!([201, 400, 422].contains(&reply.status), "{}", reply.status);
        if reply.status == 201 {
            // Accepted bytes are an item the rules accept, and it reads back as sent.
            let sent: Value = serde_json::from_slice(&bytes).expect("accepted bytes are JSON");
            prop_assert_eq!(expected_for(&sent), Expected::Created, "{}", sent);
            let id = check_created(
                &api,
                "alice",
                &reply,
                sent["name"].as_str().unwrap(),
                sent["description"].as_str(),
            )?;
            created.borrow_mut().push(id);
        }
        Ok(())
    });
    api.assert_nothing_published(&created.borrow());
}

#[test]
fn json_bodies_are_answered_as_the_documented_rules_say() {
    let api = Api::new();
    let created = std::cell::RefCell::new(Vec::new());
    let bodies = prop_oneof![3 => item_like(), 1 => any_json()];
    run("json_bodies_follow_the_rules", 1200, bodies, |body| {
        let bytes = body.to_string().into_bytes();
        // Every body here fits the size limit: sizes have their own property.
        prop_assume!(bytes.len() <= limits::MAX_BODY_BYTES);
        let reply = api.send(Call::post_json("bob", &bytes));
        check_answer(&reply)?;
        match expected_for(&body) {
            Expected::InvalidBody => check_problem(&reply, 400, "invalid-body")?,
            Expected::ValidationFailed => {
                check_problem(&reply, 422, "validation-failed")?;
                let errors = reply.body["errors"].as_array().cloned().unwrap_or_default();
                prop_assert!(!errors.is_empty(), "{}", reply.body);
                for e in errors {
                    let pointer = e["pointer"].as_str().unwrap_or_default();
                    prop_assert!(pointer == "/name" || pointer == "/description", "{}", e);
                }
            }
            Expected::Created => {
                let id = check_created(
                    &api,
                    "bob",
                    &reply,
                    body["name"].as_str().unwrap(),
                    body["description"].as_str(),
                )?;
                created.borrow_mut().push(id);
            }
        }
        Ok(())
    });
    let created = created.into_inner();
    assert!(
        !created.is_empty(),
        "some generated bodies were valid items"
    );
    api.assert_nothing_published(&created);
}

#[test]
fn bodies_past_the_size_limit_are_413_and_at_it_are_read() {
    let api = Api::new();
    let sizes = prop_oneof![
        limits::MAX_BODY_BYTES - 64..=limits::MAX_BODY_BYTES,
        limits::MAX_BODY_BYTES + 1..=limits::MAX_BODY_BYTES + 4096,
        limits::MAX_BODY_BYTES * 4..=limits::MAX_BODY_BYTES * 8,
    ];
    run("body_size_limit", 150, sizes, |size| {
        // A valid item padded with JSON whitespace to exactly `size` bytes.
        let item = br#"{"name": "padded"}"#;
        let mut body = vec![b' '; size - item.len()];
        body.extend_from_slice(item);
        let reply = api.send(Call::post_json("carol", &body));
        if size <= limits::MAX_BODY_BYTES {
            check_created(&api, "carol", &reply, "padded", None)?;
        } else {
            check_problem(&reply, 413, "payload-too-large")?;
        }
        Ok(())
    });
}

/// `application/json` spelled in any case, optionally with `charset=utf-8` in any case, quoted or
/// not, with spaces around the separators.
fn accepted_content_type() -> impl Strategy<Value = String> {
    fn any_case(s: &'static str) -> impl Strategy<Value = String> {
        prop::collection::vec(any::<bool>(), s.len()).prop_map(move |upper| {
            s.chars()
                .zip(upper)
                .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
                .collect()
        })
    }
    (
        any_case("application/json"),
        prop::option::of((
            " {0,2}",
            any_case("charset"),
            any_case("utf-8"),
            any::<bool>(),
        )),
    )
        .prop_map(|(essence, charset)| match charset {
            None => essence,
            Some((space, name, value, quoted)) => {
                let value = if quoted {
                    format!("\"{value}\"")
                } else {
                    value
                };
                format!("{essence};{space}{name}={value}")
            }
        })
}

#[test]
fn only_json_content_types_are_read() {
    let api = Api::new();
    let content_types = prop_oneof![
        accepted_content_type().prop_map(|c| (c, true)),
        // Near misses: another type, another charset, a suffix, a stray parameter.
        (
            accepted_content_type(),
            prop::sample::select(vec!["x", "p", "; charset=latin1", "; q=1", "+xml", "/"])
        )
            .prop_map(|(c, s)| (format!("{c}{s}"), false)),
        prop::sample::select(vec![
            "text/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonl",
            "json",
            "",
        ])
        .prop_map(|c| (c.to_owned(), false)),
        "[ -~]{0,40}"
            .prop_filter("not a JSON type", |c| !c
                .to_ascii_lowercase()
                .contains("json"))
            .prop_map(|c| (c, false)),
    ];
    run("content_types", 400, content_types, |(content_type, ok)| {
        let body = br#"{"name": "typed"}"#;
        let reply =
            api.send(Call::post_json("dave", body).header("content-type", content_type.clone()));
        if ok {
            check_created(&api, "dave", &reply, "typed", None)?;
        } else {
            check_problem(&reply, 415, "unsupported-media-type")?;
        }
        Ok(())
    });
}

/// A `Content-Encoding` list: codings in any case, empty elements, spaces around the commas.
fn content_encoding() -> impl Strategy<Value = String> {
    let coding = prop_oneof![
        3 => prop::sample::select(vec!["identity", "IDENTITY", "Identity", ""]),
        2 => prop::sample::select(vec![
            "gzip", "GZIP", "br", "deflate", "compress", "zstd", "x-gzip", "aes128gcm", "identityx",
        ]),
        1 => prop::sample::select(vec!["x-custom", "identity;q=1", "*"]),
    ];
    prop::collection::vec((coding, " {0,2}"), 1..=3).prop_map(|codings| {
        codings
            .into_iter()
            .map(|(c, space)| format!("{space}{c}{space}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// RFC 9110's reading of the list: every element empty or `identity`.
fn is_identity(list: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .all(|c| c.is_empty() || c.eq_ignore_ascii_case("identity"))
}

#[test]
fn only_unencoded_bodies_are_read() {
    let api = Api::new();
    let newest = std::cell::RefCell::new(None::<String>);
    run("content_encodings", 200, content_encoding(), |encoding| {
        let body = br#"{"name": "plain"}"#;
        let reply =
            api.send(Call::post_json("erin", body).header("content-encoding", encoding.clone()));
        if is_identity(&encoding) {
            *newest.borrow_mut() = Some(check_created(&api, "erin", &reply, "plain", None)?);
        } else {
            check_problem(&reply, 415, "unsupported-media-type")?;
            prop_assert_eq!(
                reply.header("accept-encoding"),
                Some("identity"),
                "{}",
                encoding
            );
            // Nothing was created: the newest item is still the last one accepted.
            let page = api.send(Call::get("erin", "/items", "limit=1"));
            let newest = newest.borrow().clone();
            prop_assert_eq!(page.body["items"][0]["id"].as_str(), newest.as_deref());
        }
        Ok(())
    });
    assert!(newest.borrow().is_some(), "some encodings were identity");
}

#[test]
fn idempotency_keys_follow_their_limits_and_replay() {
    let api = Api::new();
    let n = AtomicUsize::new(0);
    // Characters a header value can carry: printable ASCII, tab, and UTF-8 (obs-text).
    let key_char = prop_oneof![
        8 => prop::char::range(' ', '~'),
        1 => Just(' '),
        1 => prop::sample::select(vec!['\t', 'é', '😀', '\u{a0}']),
    ];
    let keys = prop_oneof![
        prop::collection::vec(key_char.clone(), 0..=6),
        prop::collection::vec(key_char, 250..=260),
    ]
    .prop_map(|c| c.into_iter().collect::<String>());
    run("idempotency_keys", 300, keys, |key| {
        // A user per case, so that keys of different cases never meet.
        let sub = format!("keys-{}", n.fetch_add(1, Ordering::Relaxed));
        let body = br#"{"name": "keyed"}"#;
        let valid = (1..=limits::IDEMPOTENCY_KEY_MAX_CHARS).contains(&key.len())
            && key.bytes().all(|b| (b' '..=b'~').contains(&b))
            && !key.bytes().all(|b| b == b' ');
        let call = || Call::post_json(&sub, body).header("idempotency-key", key.clone());
        let first = api.send(call());
        if !valid {
            return check_problem(&first, 400, "invalid-idempotency-key");
        }
        check_created(&api, &sub, &first, "keyed", None)?;
        prop_assert_eq!(first.header("idempotent-replayed"), None);
        let again = api.send(call());
        prop_assert_eq!(again.status, 201);
        prop_assert_eq!(again.header("idempotent-replayed"), Some("true"));
        prop_assert_eq!(&again.body, &first.body, "the same item");
        let page = api.send(Call::get(&sub, "/items", ""));
        prop_assert_eq!(page.body["items"].as_array().map(Vec::len), Some(1));
        Ok(())
    });
}

#[test]
fn the_callers_sub_is_an_owner_of_1_to_256_bytes() {
    let api = Api::new();
    // What a token's `sub` may hold once the gateway has verified it: the item store's partition
    // key, capped by the API below DynamoDB's 2048 bytes.
    let subs = prop_oneof![
        prop::collection::vec(tricky_char(), 0..=3),
        prop::collection::vec(tricky_char(), 60..=70),
        prop::collection::vec(prop::char::range('a', 'z'), 250..=260),
    ]
    .prop_map(|c| c.into_iter().collect::<String>());
    run("caller_sub", 200, subs, |sub| {
        let reply = api.send(Call::post_json(&sub, br#"{"name": "owned"}"#));
        if (1..=limits::OWNER_MAX_BYTES).contains(&sub.len()) {
            check_created(&api, &sub, &reply, "owned", None)?;
        } else {
            check_problem(&reply, 401, "unauthorized")?;
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// Queries, ids and cursors.

/// Percent-encodes everything but RFC 3986's unreserved characters, as a client does.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[test]
fn page_limits_are_whole_numbers_from_1_to_100() {
    let api = Api::new();
    let limits_ = prop_oneof![-3i64..=110, any::<i64>()];
    run("page_limits", 400, limits_, |limit| {
        let query = format!("limit={limit}");
        let reply = api.send(Call::get("erin", "/items", &query));
        if (limits::PAGE_MIN as i64..=limits::PAGE_MAX as i64).contains(&limit) {
            check_answer(&reply)?;
            prop_assert_eq!(reply.status, 200, "{}", reply.body);
        } else {
            check_problem(&reply, 400, "invalid-query")?;
        }
        Ok(())
    });
}

#[test]
fn any_list_query_gets_a_page_or_a_400() {
    let api = Api::new();
    let key = prop_oneof![
        Just("limit".to_owned()),
        Just("cursor".to_owned()),
        ".{0,8}"
    ];
    let value = prop_oneof![
        Just("v1.e30.AA".to_owned()),
        "[0-9]{1,4}",
        ".{0,40}",
        "v1\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,44}",
    ];
    let queries = prop_oneof![
        // Pairs encoded as a client encodes them.
        prop::collection::vec((key, value), 0..4).prop_map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect::<Vec<_>>()
                .join("&")
        }),
        // Raw query text: stray `%`, `&`, `=`, `+` and `;` in any order.
        "[A-Za-z0-9%&=+;._~-]{0,60}",
    ];
    run("list_queries", 600, queries, |query| {
        let reply = api.send(Call::get("frank", "/items", &query));
        check_answer(&reply)?;
        prop_assert!(
            reply.status == 200
                || reply.body["type"] == "/problems/invalid-query"
                || reply.body["type"] == "/problems/invalid-cursor",
            "{query}: {} {}",
            reply.status,
            reply.body
        );
        Ok(())
    });
}

/// A UUIDv7 from a time and random bits, made with the uuid crate's builder.
fn uuid_v7() -> impl Strategy<Value = uuid::Uuid> {
    (0u64..(1 << 48), any::<[u8; 10]>()).prop_map(|(millis, random)| {
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
    })
}

#[test]
fn item_ids_are_lowercase_hyphenated_uuidv7_and_nothing_else() {
    let api = Api::new();
    let ids = prop_oneof![
        // Valid and unknown: a 404 problem, not an error.
        uuid_v7().prop_map(|u| (u.hyphenated().to_string(), true)),
        // Other spellings and versions of the same kind of value.
        (uuid_v7(), 0..5u8).prop_map(|(u, how)| {
            let spelled = match how {
                0 => u.hyphenated().to_string().to_uppercase(),
                1 => u.simple().to_string(),
                2 => u.braced().to_string(),
                3 => u.urn().to_string(),
                _ => {
                    // Version nibble changed: still a UUID, no longer a v7.
                    let mut bytes = *u.as_bytes();
                    bytes[6] = (bytes[6] & 0x0f) | 0x40;
                    uuid::Uuid::from_bytes(bytes).hyphenated().to_string()
                }
            };
            (spelled, false)
        }),
        ".{0,40}".prop_map(|s| (s, false)),
    ];
    run("item_ids", 600, ids, |(id, valid)| {
        // `.` and `..` are dot segments, not ids: `/items/.` is `/items/` (RFC 3986, 5.2.4),
        // no route; checked on their own after the run.
        prop_assume!(!id.is_empty() && id != "." && id != "..");
        let path = format!("/items/{}", percent_encode(&id));
        let reply = api.send(Call::get("gina", &path, ""));
        if valid {
            check_problem(&reply, 404, "not-found")?;
        } else {
            check_problem(&reply, 400, "invalid-id")?;
        }
        Ok(())
    });
    for dots in [".", ".."] {
        let reply = api.send(Call::get("gina", &format!("/items/{dots}"), ""));
        check_problem(&reply, 404, "not-found").unwrap();
    }
}

#[test]
fn raw_item_paths_never_fail_the_server() {
    let api = Api::new();
    // What a client may put on the wire, including broken percent-encoding and non-UTF-8.
    let segments = "([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2}|%){1,40}";
    run("raw_item_paths", 400, segments, |segment| {
        let path = format!("/items/{segment}");
        let reply = api.send(Call::get("gina", &path, ""));
        check_answer(&reply)?;
        prop_assert!(
            [400, 404].contains(&reply.status),
            "{path}: {}",
            reply.status
        );
        Ok(())
    });
}

const NOW: i64 = 1_795_300_000;

fn signing_key() -> impl Strategy<Value = SigningKey> {
    ("k[0-9]{1,3}", prop::collection::vec(any::<u8>(), 32..48))
        .prop_map(|(id, secret)| SigningKey { id, secret })
}

fn cursor_keys() -> impl Strategy<Value = CursorKeys> {
    (signing_key(), prop::collection::vec(signing_key(), 0..3))
        .prop_map(|(current, previous)| CursorKeys { current, previous })
}

fn owner() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        ".{1,64}"
    ]
}

#[test]
fn a_cursor_round_trips_for_its_owner_until_it_expires() {
    let cases = (
        cursor_keys(),
        owner(),
        uuid_v7(),
        0..limits::CURSOR_TTL_SECS,
    );
    run(
        "cursor_round_trip",
        1000,
        cases,
        |(keys, owner, last, age)| {
            let last: ItemId = last.hyphenated().to_string().parse().unwrap();
            let c = cursor::encode(&keys, &owner, last, NOW);
            prop_assert!(c.len() <= limits::CURSOR_MAX_BYTES);
            prop_assert_eq!(cursor::decode(&keys, &owner, &c, NOW + age), Ok(last));
            prop_assert_eq!(
                cursor::decode(&keys, &owner, &c, NOW + limits::CURSOR_TTL_SECS),
                Err(CursorError::Expired)
            );
            Ok(())
        },
    );
}

#[test]
fn a_changed_or_borrowed_cursor_is_rejected() {
    let cases = (
        cursor_keys(),
        owner(),
        owner(),
        uuid_v7(),
        any::<prop::sample::Index>(),
        0..8u8,
    );
    run(
        "cursor_tampering",
        2000,
        cases,
        |(keys, owner, other, last, at, bit)| {
            let last: ItemId = last.hyphenated().to_string().parse().unwrap();
            let c = cursor::encode(&keys, &owner, last, NOW);
            // One bit flipped anywhere; the result need not be text any more.
            let mut bytes = c.clone().into_bytes();
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            let flipped = String::from_utf8_lossy(&bytes).into_owned();
            prop_assert!(
                cursor::decode(&keys, &owner, &flipped, NOW).is_err(),
                "{flipped}"
            );
            if other != owner {
                prop_assert_eq!(
                    cursor::decode(&keys, &other, &c, NOW),
                    Err(CursorError::BadSignature)
                );
            }
            // Signed by a key that is not (or no longer) in the configuration.
            let foreign = CursorKeys {
                current: SigningKey {
                    id: keys.current.id.clone(),
                    secret: keys.current.secret.iter().map(|b| b ^ 0x5a).collect(),
                },
                previous: Vec::new(),
            };
            prop_assert_eq!(
                cursor::decode(&foreign, &owner, &c, NOW),
                Err(CursorError::BadSignature)
            );
            Ok(())
        },
    );
}

#[test]
fn any_text_as_a_cursor_is_rejected_without_a_panic() {
    let texts = prop_oneof![
        ".{0,80}",
        "v1\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,60}",
        // Base64 of JSON of any shape in the payload position.
        (any_json(), "[A-Za-z0-9_-]{0,44}").prop_map(|(v, tag)| {
            let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            format!("v1.{payload}.{tag}")
        }),
        ".{500,600}",
    ];
    let keys = CursorKeys {
        current: SigningKey {
            id: "k1".into(),
            secret: vec![7; 32],
        },
        previous: Vec::new(),
    };
    run("cursor_garbage", 2000, texts, |text| {
        prop_assert!(
            cursor::decode(&keys, "alice", &text, NOW).is_err(),
            "{text}"
        );
        Ok(())
    });
}

#[test]
fn pages_cover_every_item_once_newest_first_and_cursors_stay_with_their_user() {
    let api = Api::new();
    let users = ["hana", "ivan", "jun"];
    let mut made: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (u, user) in users.iter().enumerate() {
        for i in 0..(7 + 11 * u) {
            let body = json!({"name": format!("{user} {i}")}).to_string();
            let reply = api.send(Call::post_json(user, body.as_bytes()));
            assert_eq!(reply.status, 201, "{}", reply.body);
            made.entry(user)
                .or_default()
                .push(reply.body["id"].as_str().unwrap().to_owned());
        }
    }
    let cases = (0..users.len(), 0..users.len(), 1..=limits::PAGE_MAX);
    run("pagination", 120, cases, |(u, thief, limit)| {
        let user = users[u];
        let mut seen = Vec::new();
        let mut query = format!("limit={limit}");
        loop {
            let page = api.send(Call::get(user, "/items", &query));
            check_answer(&page)?;
            prop_assert_eq!(page.status, 200, "{}", page.body);
            let items = page.body["items"].as_array().cloned().unwrap_or_default();
            prop_assert!(items.len() <= limit);
            seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
            let Some(cursor) = page.body["next_cursor"].as_str() else {
                break;
            };
            if thief != u {
                // Another user's cursor is refused, not read as their page.
                let q = format!("cursor={}", percent_encode(cursor));
                let stolen = api.send(Call::get(users[thief], "/items", &q));
                check_problem(&stolen, 400, "invalid-cursor")?;
            }
            query = format!("limit={limit}&cursor={}", percent_encode(cursor));
        }
        let mut newest_first = made[user].clone();
        newest_first.reverse();
        prop_assert_eq!(seen, newest_first, "every item once, newest first");
        Ok(())
    });
}
