//! `POST /items`, `GET /items`, `GET /items/{id}`.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;

use super::AppState;
use super::context::{Caller, RequestMeta};
use super::problem::{Kind, Problem};
use crate::cursor;
use crate::domain::{Item, ItemId, NewItem, limits, rfc3339_millis};
use crate::idempotency::{
    self, Decision, Fingerprint, IdempotencyKey, IdempotencyRecord, InvalidIdempotencyKey,
};
use crate::ports::{Claim, ConfigError, PageRequest, StoreError};
use telemetry::metric_names as names;

/// An item as the API shows it.
#[derive(Debug, Serialize)]
pub struct ItemView<'a> {
    id: String,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    created_at: String,
}

impl<'a> From<&'a Item> for ItemView<'a> {
    fn from(item: &'a Item) -> Self {
        Self {
            id: item.id.to_string(),
            name: &item.name,
            description: item.description.as_deref(),
            created_at: rfc3339_millis(item.created_at()),
        }
    }
}

pub fn store_problem(meta: &RequestMeta, err: StoreError) -> Problem {
    match err {
        StoreError::Unavailable {
            reason,
            retry_after,
        } => {
            tracing::warn!(error = %reason, "item store unavailable");
            meta.problem(Kind::ServiceUnavailable, "the item store is unavailable")
                .retry_after(retry_after)
        }
        other => {
            tracing::error!(error = %other, "item store failed");
            meta.problem(Kind::Internal, "the item store failed")
        }
    }
}

fn config_problem(meta: &RequestMeta, err: ConfigError) -> Problem {
    tracing::error!(error = %err, "configuration unavailable");
    meta.problem(Kind::ServiceUnavailable, "the configuration is unavailable")
        .retry_after(Duration::from_secs(5))
}

/// `application/json`, optionally with `charset=utf-8`: the only body this API reads.
pub(super) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = value.split(';').map(str::trim);
    let essence_ok = parts
        .next()
        .is_some_and(|m| m.eq_ignore_ascii_case("application/json"));
    essence_ok
        && parts.all(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("charset")
                    && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            })
        })
}

/// Whether the body is sent as is: no `Content-Encoding`, or only `identity` (RFC 9110
/// §8.4). API Gateway's HTTP APIs pass a compressed body to the function untouched, and this
/// API reads none: a body in any other coding is refused rather than read as JSON.
pub(super) fn is_identity_encoded(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .all(|value| {
            value.to_str().is_ok_and(|list| {
                // A list may hold empty elements, which RFC 9110 §5.6.1 says to ignore.
                list.split(',')
                    .map(str::trim)
                    .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case("identity"))
            })
        })
}

/// The `415` checks of a request body, shared by every route that reads one: the body must be
/// unencoded (`Accept-Encoding: identity` says so, as RFC 9110 §15.5.16 asks), then JSON.
pub(super) fn check_media_type(
    meta: &RequestMeta,
    headers: &HeaderMap,
    what: &str,
) -> Result<(), Problem> {
    if !is_identity_encoded(headers) {
        return Err(meta
            .problem(
                Kind::UnsupportedMediaType,
                format!(
                    "send the {what} uncompressed, without `Content-Encoding` (or with `identity`)"
                ),
            )
            .accept_encoding_identity());
    }
    if !is_json(headers) {
        return Err(meta.problem(
            Kind::UnsupportedMediaType,
            format!("send the {what} as `Content-Type: application/json`"),
        ));
    }
    Ok(())
}

pub(super) async fn read_body(
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: Body,
) -> Result<bytes::Bytes, Problem> {
    let too_large = || {
        meta.problem(
            Kind::PayloadTooLarge,
            format!("the body must be at most {} bytes", limits::MAX_BODY_BYTES),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limits::MAX_BODY_BYTES) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limits::MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())
}

/// The request's `Idempotency-Key`, if it has one.
fn idempotency_key(
    meta: &RequestMeta,
    headers: &HeaderMap,
) -> Result<Option<IdempotencyKey>, Problem> {
    let mut values = headers.get_all(idempotency::HEADER).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let key = if values.next().is_some() {
        Err(InvalidIdempotencyKey::Repeated)
    } else {
        IdempotencyKey::parse(first.as_bytes())
    };
    key.map(Some)
        .map_err(|e| meta.problem(Kind::InvalidIdempotencyKey, e.to_string()))
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    // Size first: a huge body is refused before anything else is looked at.
    let bytes = read_body(&meta, &headers, body).await?;
    let key = idempotency_key(&meta, &headers)?;
    check_media_type(&meta, &headers, "item")?;
    // serde would also read a struct from a JSON array; the contract is an object.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(meta.problem(Kind::InvalidBody, "the body must be a JSON object"));
    }
    let new: NewItem = serde_json::from_slice(&bytes)
        .map_err(|e| meta.problem(Kind::InvalidBody, format!("{e}")))?;
    new.validate().map_err(|errors| {
        meta.problem(Kind::ValidationFailed, "see `errors`")
            .with_errors(errors)
    })?;

    // Stored with the item: its `ItemCreated`, made from the table's stream, carries them.
    let item = Item::create(&caller.sub, new).with_origin(meta.origin());
    if let Some(key) = key {
        return create_once(&state, &meta, item, key, &bytes).await;
    }
    state
        .store
        .put(&item)
        .await
        .map_err(|e| store_problem(&meta, e))?;
    metrics::counter!(names::ITEMS_CREATED).increment(1);
    tracing::info!(item_id = %item.id, "item created");
    Ok(created(&item, false))
}

/// `201`, `Location` and the item: the first response, and every replay of it.
fn created(item: &Item, replayed: bool) -> Response {
    let location = HeaderValue::from_str(&format!("/items/{}", item.id)).expect("ids are ASCII");
    let mut response = (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ItemView::from(item)),
    )
        .into_response();
    if replayed {
        response.headers_mut().insert(
            idempotency::REPLAYED_HEADER,
            HeaderValue::from_static("true"),
        );
    }
    response
}

/// A create with an `Idempotency-Key`: the item and the key's record in one write, or the
/// answer the key's live record calls for.
async fn create_once(
    state: &AppState,
    meta: &RequestMeta,
    item: Item,
    key: IdempotencyKey,
    body: &[u8],
) -> Result<Response, Problem> {
    let now = now_secs();
    let fingerprint = Fingerprint::of(&item.owner, body);
    let record = IdempotencyRecord::begin(&item.owner, key, fingerprint.clone(), item.id, now);
    let claim = state
        .store
        .put_with_record(&item, &record, now)
        .await
        .map_err(|e| store_problem(meta, e))?;
    match claim {
        Claim::Created => {
            metrics::counter!(names::ITEMS_CREATED).increment(1);
            tracing::info!(item_id = %item.id, "item created");
            Ok(created(&item, false))
        }
        Claim::Existing(existing) => replay(state, meta, existing, &fingerprint).await,
        Claim::Contended => Err(in_progress(meta, Duration::from_secs(1))),
    }
}

fn in_progress(meta: &RequestMeta, retry_after: Duration) -> Problem {
    meta.problem(
        Kind::IdempotencyKeyInProgress,
        format!(
            "a request with this key is still in progress; retry in {} s",
            retry_after.as_secs().max(1)
        ),
    )
    .retry_after(retry_after)
}

/// Answers a key that already made an item: the first response again. The item's event
/// comes from the table's stream, once, whatever the retries.
async fn replay(
    state: &AppState,
    meta: &RequestMeta,
    record: IdempotencyRecord,
    fingerprint: &Fingerprint,
) -> Result<Response, Problem> {
    if idempotency::decide(&record, fingerprint) == Decision::KeyReused {
        return Err(meta.problem(
            Kind::IdempotencyKeyReused,
            "this key was first used with another request body; use a new key for a new item",
        ));
    }
    let item = state
        .store
        .get(&record.owner, record.item_id)
        .await
        .map_err(|e| store_problem(meta, e))?
        .ok_or_else(|| {
            // They are written in one transaction: a record without its item is a bug.
            tracing::error!(item_id = %record.item_id, "idempotency record without its item");
            meta.problem(Kind::Internal, "the item of this key is missing")
        })?;
    tracing::info!(item_id = %item.id, "idempotent replay");
    Ok(created(&item, true))
}

#[derive(Serialize)]
struct ListView<'a> {
    items: Vec<ItemView<'a>>,
    next_cursor: Option<String>,
}

struct ListQuery {
    limit: usize,
    cursor: Option<String>,
}

fn parse_list_query(meta: &RequestMeta, raw: Option<&str>) -> Result<ListQuery, Problem> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| meta.problem(Kind::InvalidQuery, format!("{e}")))?;
    let mut query = ListQuery {
        limit: limits::PAGE_DEFAULT,
        cursor: None,
    };
    let mut seen = Vec::new();
    for (key, value) in pairs {
        if seen.contains(&key) {
            return Err(meta.problem(
                Kind::InvalidQuery,
                format!("`{key}` is given more than once"),
            ));
        }
        match key.as_str() {
            "limit" => {
                query.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (limits::PAGE_MIN..=limits::PAGE_MAX).contains(n))
                    .ok_or_else(|| {
                        meta.problem(
                            Kind::InvalidQuery,
                            format!(
                                "`limit` must be a whole number from {} to {}",
                                limits::PAGE_MIN,
                                limits::PAGE_MAX
                            ),
                        )
                    })?;
            }
            "cursor" => query.cursor = Some(value),
            other => {
                return Err(meta.problem(
                    Kind::InvalidQuery,
                    format!("unknown parameter `{other}`; known: `limit`, `cursor`"),
                ));
            }
        }
        seen.push(key);
    }
    Ok(query)
}

pub async fn list(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let query = parse_list_query(&meta, raw.as_deref())?;
    let keys = state
        .config
        .cursor_keys()
        .await
        .map_err(|e| config_problem(&meta, e))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let before = match &query.cursor {
        None => None,
        Some(c) => Some(
            cursor::decode(&keys, &caller.sub, c, now)
                .map_err(|e| meta.problem(Kind::InvalidCursor, e.to_string()))?,
        ),
    };
    let page = state
        .store
        .list(
            &caller.sub,
            PageRequest {
                limit: query.limit,
                before,
            },
        )
        .await
        .map_err(|e| store_problem(&meta, e))?;
    let next_cursor = match (page.more, page.items.last()) {
        (true, Some(last)) => Some(cursor::encode(&keys, &caller.sub, last.id, now)),
        _ => None,
    };
    let view = ListView {
        items: page.items.iter().map(ItemView::from).collect(),
        next_cursor,
    };
    Ok(Json(view).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Response, Problem> {
    // A segment that is not UTF-8 once percent-decoded (`%AA`) is a bad id like any other: a
    // problem document, not axum's plain-text rejection.
    let id: ItemId = id
        .ok()
        .and_then(|Path(id)| id.parse().ok())
        .ok_or_else(|| meta.problem(Kind::InvalidId, crate::domain::InvalidItemId.to_string()))?;
    // The key includes the owner: another user's item is simply not found, never forbidden.
    match state
        .store
        .get(&caller.sub, id)
        .await
        .map_err(|e| store_problem(&meta, e))?
    {
        Some(item) => Ok(Json(ItemView::from(&item)).into_response()),
        None => Err(meta.problem(Kind::NotFound, format!("no item {id}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        let ok = [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
        ];
        let bad = [
            "",
            "text/plain",
            "application/jsonp",
            "application/json; charset=latin1",
            "application/x-www-form-urlencoded",
        ];
        for (value, want) in ok
            .iter()
            .map(|v| (v, true))
            .chain(bad.iter().map(|v| (v, false)))
        {
            let mut headers = HeaderMap::new();
            if !value.is_empty() {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            }
            assert_eq!(is_json(&headers), want, "{value}");
        }
    }

    #[test]
    fn only_an_unencoded_body_is_read() {
        let identity: &[&[&str]] = &[
            &[],
            &["identity"],
            &["IDENTITY"],
            &[" identity , "],
            &[""],
            &["identity", "Identity"],
        ];
        let encoded: &[&[&str]] = &[
            &["gzip"],
            &["br"],
            &["deflate"],
            &["zstd"],
            &["GZip"],
            &["gzip, identity"],
            &["identity, br"],
            &["identity", "gzip"],
            &["x-gzip"],
            &["identityx"],
        ];
        let meta = RequestMeta::default();
        for (values, want) in identity
            .iter()
            .map(|v| (v, true))
            .chain(encoded.iter().map(|v| (v, false)))
        {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            for v in *values {
                headers.append(header::CONTENT_ENCODING, HeaderValue::from_str(v).unwrap());
            }
            assert_eq!(is_identity_encoded(&headers), want, "{values:?}");
            let checked = check_media_type(&meta, &headers, "item");
            if want {
                assert!(checked.is_ok(), "{values:?}");
            } else {
                let problem = checked.unwrap_err();
                assert_eq!(
                    problem.kind(),
                    Some(Kind::UnsupportedMediaType),
                    "{values:?}"
                );
                let response = problem.into_response();
                assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
                assert_eq!(response.headers()[header::ACCEPT_ENCODING], "identity");
            }
        }
        // A value that is not text names no coding this API knows.
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_bytes(b"gz\xffip").unwrap(),
        );
        assert!(!is_identity_encoded(&headers));
    }

    #[test]
    fn idempotency_key_header() {
        let meta = RequestMeta::default();
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_key(&meta, &headers).unwrap(), None);
        headers.insert("idempotency-key", HeaderValue::from_static("k-1"));
        assert_eq!(
            idempotency_key(&meta, &headers).unwrap().unwrap().as_str(),
            "k-1"
        );
        headers.append("idempotency-key", HeaderValue::from_static("k-2"));
        let p = idempotency_key(&meta, &headers).unwrap_err();
        assert_eq!(p.kind(), Some(Kind::InvalidIdempotencyKey));
        for bad in [
            HeaderValue::from_static(""),
            HeaderValue::from_str(&"k".repeat(256)).unwrap(),
            HeaderValue::from_bytes("clé".as_bytes()).unwrap(),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert("idempotency-key", bad.clone());
            let p = idempotency_key(&meta, &headers).unwrap_err();
            assert_eq!(p.kind(), Some(Kind::InvalidIdempotencyKey), "{bad:?}");
        }
    }

    #[test]
    fn list_query_limits() {
        let meta = RequestMeta::default();
        assert_eq!(
            parse_list_query(&meta, None).unwrap().limit,
            limits::PAGE_DEFAULT
        );
        assert_eq!(parse_list_query(&meta, Some("limit=1")).unwrap().limit, 1);
        assert_eq!(
            parse_list_query(&meta, Some("limit=100")).unwrap().limit,
            100
        );
        for bad in [
            "limit=0",
            "limit=101",
            "limit=-1",
            "limit=ten",
            "limit=",
            "limit=1&limit=2",
            "colour=red",
        ] {
            let p = parse_list_query(&meta, Some(bad))
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(p.kind(), Some(Kind::InvalidQuery), "{bad}");
        }
        assert_eq!(
            parse_list_query(&meta, Some("cursor=abc"))
                .unwrap()
                .cursor
                .as_deref(),
            Some("abc")
        );
    }
}
