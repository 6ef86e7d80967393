//! `/internal/*`: operator actions, authorized at the gateway by IAM (SigV4), never by a user's
//! token. `POST /internal/events/replay` re-publishes `ItemCreated` for the items created in a
//! window, across owners: consumers de-duplicate by item id, so a replay is always safe.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use http::request::Parts;
use lambda_http::request::RequestContext;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::AppState;
use super::context::RequestMeta;
use super::items::{check_media_type, read_body, store_problem};
use super::problem::{Kind, Problem};
use crate::domain::{FieldError, Item, limits};
use crate::events::ItemCreated;
use crate::ports::{CreatedWindow, PUT_EVENTS_MAX_ENTRIES, SweepPosition};
use telemetry::metric_names as names;

/// Rows read from the store per call, and at most per request: one request stays well within
/// the function's timeout (a DynamoDB Scan page of 100 rows takes milliseconds; 5,000 rows are
/// 50 pages and 500 `PutEvents` calls at most). A larger sweep continues with `next_cursor`.
const ROWS_PER_PAGE: usize = 100;
const ROWS_PER_REQUEST: usize = 5_000;

/// The verified IAM caller, from `requestContext.authorizer.iam` (API Gateway's `AWS_IAM`).
#[derive(Debug, Clone)]
pub struct Operator {
    pub user_arn: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Operator {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let iam = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => {
                ctx.authorizer.as_ref().and_then(|a| a.iam.clone())
            }
            _ => None,
        };
        // Only reachable if the route is deployed without its IAM authorizer: refuse.
        iam.and_then(|iam| iam.user_arn)
            .filter(|arn| !arn.is_empty())
            .map(|user_arn| Operator { user_arn })
            .ok_or_else(|| {
                RequestMeta::from_parts(parts).problem(
                    Kind::Unauthorized,
                    "no verified IAM identity in the request context",
                )
            })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    from: String,
    to: String,
    #[serde(default)]
    cursor: Option<String>,
}

/// Where a replay goes on, bound to its window: a cursor of another window is refused.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayCursor {
    from: String,
    to: String,
    at: SweepPosition,
}

#[derive(Debug, Serialize)]
struct ReplayOutcome {
    items: usize,
    published: usize,
    failed: usize,
    next_cursor: Option<String>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("an in-range time formats")
}

/// Checks the window: both RFC 3339 times, `from` before `to`, at most the documented width.
fn parse_window(meta: &RequestMeta, req: &ReplayRequest) -> Result<CreatedWindow, Problem> {
    let mut errors = Vec::new();
    let mut time = |pointer: &'static str, value: &str| match OffsetDateTime::parse(value, &Rfc3339)
    {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(FieldError {
                pointer,
                detail: format!("must be an RFC 3339 time such as 2026-11-21T22:00:00Z: {e}"),
            });
            None
        }
    };
    let (from, to) = (time("/from", &req.from), time("/to", &req.to));
    if let (Some(from), Some(to)) = (from, to) {
        let max = time::Duration::days(limits::REPLAY_MAX_WINDOW_DAYS);
        if from >= to {
            errors.push(FieldError {
                pointer: "/to",
                detail: "must be later than `from`".into(),
            });
        } else if to - from > max {
            errors.push(FieldError {
                pointer: "/to",
                detail: format!(
                    "the window is at most {} days; split the replay",
                    limits::REPLAY_MAX_WINDOW_DAYS
                ),
            });
        } else if errors.is_empty() {
            return Ok(CreatedWindow { from, to });
        }
    }
    Err(meta
        .problem(Kind::ValidationFailed, "see `errors`")
        .with_errors(errors))
}

fn decode_cursor(
    meta: &RequestMeta,
    window: &CreatedWindow,
    cursor: &str,
) -> Result<SweepPosition, Problem> {
    let invalid = |why: &str| meta.problem(Kind::InvalidCursor, why.to_owned());
    if cursor.len() > limits::REPLAY_CURSOR_MAX_BYTES {
        return Err(invalid("the cursor is longer than any this API issues"));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid("not a cursor this API issued"))?;
    let decoded: ReplayCursor =
        serde_json::from_slice(&bytes).map_err(|_| invalid("not a cursor this API issued"))?;
    let same = |a: &str, b: OffsetDateTime| OffsetDateTime::parse(a, &Rfc3339).ok() == Some(b);
    if !same(&decoded.from, window.from) || !same(&decoded.to, window.to) {
        return Err(invalid(
            "the cursor belongs to another window: send the `from` and `to` it was issued for",
        ));
    }
    Ok(decoded.at)
}

fn encode_cursor(window: &CreatedWindow, at: SweepPosition) -> String {
    let cursor = ReplayCursor {
        from: rfc3339(window.from),
        to: rfc3339(window.to),
        at,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).expect("strings serialize"))
}

/// Publishes the items' events in `PutEvents`-sized batches; returns how many failed. Failures
/// are logged as the create path logs them, so the documented query finds them too.
async fn publish(state: &AppState, meta: &RequestMeta, items: &[Item]) -> usize {
    let origin = meta.origin();
    let mut failed_total = 0;
    for batch in items.chunks(PUT_EVENTS_MAX_ENTRIES) {
        // The ids of the request that created each item, as the stream's events carry them; an
        // item stored before those were kept gets this request's.
        let events: Vec<_> = batch
            .iter()
            .map(|item| ItemCreated::bus_event(item, &origin))
            .collect();
        let failed: Vec<usize> = match state.bus.publish(&events).await {
            Ok(()) => Vec::new(),
            Err(crate::ports::BusError::EntriesFailed { failed, .. }) => failed,
            Err(crate::ports::BusError::Unavailable(_)) => (0..batch.len()).collect(),
        };
        for &i in &failed {
            let item = &batch[i];
            tracing::error!(item_id = %item.id, owner = %item.owner, "ItemCreated was not published");
        }
        metrics::counter!(names::ITEM_EVENTS_PUBLISHED)
            .increment((batch.len() - failed.len()) as u64);
        // Written only when some failed, as the stream's consumer does: the dashboard's series
        // reads a missing datapoint as none failed, and a zero is bytes on every re-emit.
        if !failed.is_empty() {
            metrics::counter!(names::ITEM_EVENT_PUBLISH_FAILURES).increment(failed.len() as u64);
        }
        failed_total += failed.len();
    }
    failed_total
}

pub async fn replay(
    State(state): State<AppState>,
    meta: RequestMeta,
    operator: Operator,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let bytes = read_body(&meta, &headers, body).await?;
    check_media_type(&meta, &headers, "window")?;
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(meta.problem(Kind::InvalidBody, "the body must be a JSON object"));
    }
    let request: ReplayRequest = serde_json::from_slice(&bytes)
        .map_err(|e| meta.problem(Kind::InvalidBody, format!("{e}")))?;
    let window = parse_window(&meta, &request)?;
    let mut at = match &request.cursor {
        Some(c) => Some(decode_cursor(&meta, &window, c)?),
        None => None,
    };

    let (mut found, mut failed, mut read) = (0, 0, 0);
    loop {
        let sweep = state
            .store
            .created_between(&window, at.as_ref(), ROWS_PER_PAGE)
            .await
            .map_err(|e| store_problem(&meta, e))?;
        read += ROWS_PER_PAGE;
        found += sweep.items.len();
        failed += publish(&state, &meta, &sweep.items).await;
        at = sweep.next;
        if at.is_none() || read >= ROWS_PER_REQUEST {
            break;
        }
    }
    tracing::info!(
        operator = %operator.user_arn,
        from = %rfc3339(window.from),
        to = %rfc3339(window.to),
        items = found,
        failed,
        done = at.is_none(),
        "ItemCreated events replayed"
    );
    let outcome = ReplayOutcome {
        items: found,
        published: found - failed,
        failed,
        next_cursor: at.map(|at| encode_cursor(&window, at)),
    };
    Ok(Json(outcome).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(from: &str, to: &str) -> ReplayRequest {
        ReplayRequest {
            from: from.into(),
            to: to.into(),
            cursor: None,
        }
    }

    #[test]
    fn windows_are_checked() {
        let meta = RequestMeta::default();
        let ok = parse_window(
            &meta,
            &request("2026-11-21T00:00:00Z", "2026-11-28T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(ok.to - ok.from, time::Duration::days(7));
        for (from, to) in [
            ("2026-11-21", "2026-11-22T00:00:00Z"),
            ("2026-11-21T00:00:00Z", "tomorrow"),
            ("2026-11-22T00:00:00Z", "2026-11-21T00:00:00Z"),
            ("2026-11-21T00:00:00Z", "2026-11-21T00:00:00Z"),
            ("2026-11-21T00:00:00Z", "2026-11-28T00:00:00.001Z"),
        ] {
            let p = parse_window(&meta, &request(from, to)).unwrap_err();
            assert_eq!(p.kind(), Some(Kind::ValidationFailed), "{from} {to}");
        }
    }

    #[test]
    fn cursors_are_bound_to_their_window() {
        let meta = RequestMeta::default();
        let window = parse_window(
            &meta,
            &request("2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z"),
        )
        .unwrap();
        let at = SweepPosition {
            owner: "alice".into(),
            id: "0190abcd-ef01-7000-8000-000000000000".into(),
        };
        let cursor = encode_cursor(&window, at.clone());
        assert_eq!(decode_cursor(&meta, &window, &cursor).unwrap(), at);
        let other = CreatedWindow {
            to: window.to + time::Duration::hours(1),
            ..window
        };
        for (w, c) in [
            (&other, cursor.as_str()),
            (&window, "not-a-cursor!"),
            (&window, "e30"),
        ] {
            let p = decode_cursor(&meta, w, c).unwrap_err();
            assert_eq!(p.kind(), Some(Kind::InvalidCursor), "{c}");
        }
    }
}
