//! The log lines the console reads: the function's own telemetry lines, teed from the twin's
//! stdout into its log store, and the lines of one request grouped as CloudWatch Logs would
//! hold them (access log, function log group, archive).
//!
//! The functions run in the twin's process, so their lines go through the twin's `tracing`
//! subscriber: [`tee`] is its writer. A line does not say which function wrote it (on AWS
//! each function has its own log group); the function's EMF document of the same request,
//! kept under the function's group, says it when the lines are read.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::cloudwatch::{ACCESS_LOG_GROUP, CloudWatch, NAME_PREFIX};

/// Where a function line waits for its group to be known (see the module's comment).
pub const FUNCTION_LINES: &str = "/aws/lambda/(function)";
/// The functions' log groups start with this.
const LAMBDA_GROUPS: &str = "/aws/lambda/";

/// The store the teed lines go to; set when the console's routes are built.
static STORE: RwLock<Option<Arc<CloudWatch>>> = RwLock::new(None);
/// Counts the stores attached. A thread keeps the store it last read with this count, and
/// reads [`STORE`] again only when the count has moved: taking the lock for every line would
/// write its count, a cache line both workers share, several times a request.
static ATTACHED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static ATTACHED_HERE: RefCell<(u64, Option<Arc<CloudWatch>>)> = const { RefCell::new((0, None)) };
}

/// Sends the function lines written from now on to `cloudwatch`'s log store.
pub fn attach(cloudwatch: Arc<CloudWatch>) {
    let mut store = STORE.write().unwrap_or_else(|e| e.into_inner());
    *store = Some(cloudwatch);
    ATTACHED.fetch_add(1, Ordering::Release);
}

/// Runs `f` with the attached store, as this thread last saw it unless another has been
/// attached since; without cloning it (its count too is shared by both workers).
fn with_attached(f: impl FnOnce(&CloudWatch)) {
    ATTACHED_HERE.with(|cell| {
        let Ok(mut here) = cell.try_borrow_mut() else {
            // A line written while `f` runs on this thread: read the shared store.
            if let Some(cloudwatch) = STORE.read().unwrap_or_else(|e| e.into_inner()).as_deref() {
                f(cloudwatch);
            }
            return;
        };
        let now = ATTACHED.load(Ordering::Acquire);
        if here.0 != now {
            here.1 = STORE.read().unwrap_or_else(|e| e.into_inner()).clone();
            here.0 = now;
        }
        if let Some(cloudwatch) = here.1.as_deref() {
            f(cloudwatch);
        }
    });
}

/// The `MakeWriter` of the twin's telemetry: every line goes to stdout, and the lines of a
/// request (they carry `request_id`) to the attached store too.
pub fn tee() -> TeeWriter {
    TeeWriter(Vec::new())
}

/// One event's bytes, appended to the twin's output in one piece, so concurrent requests
/// never interleave inside a line. The fmt layer writes each event whole in one call, which
/// goes out at once; pieces (an `io::Write` may be given them) wait for the event to end.
pub struct TeeWriter(Vec<u8>);

impl std::io::Write for TeeWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.is_empty() && buf.ends_with(b"\n") {
            emit(buf);
        } else {
            self.0.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for TeeWriter {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            emit(&self.0);
        }
    }
}

/// Writes whole lines out, and keeps those of a request.
fn emit(bytes: &[u8]) {
    crate::output::write(&[bytes]);
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    with_attached(|cloudwatch| {
        for line in text.lines().filter(|l| l.contains("\"request_id\":")) {
            cloudwatch.keep_log_line(FUNCTION_LINES, line);
        }
    });
}

/// `lines` (group, line) with each function line under its function's group: the one its
/// `service` names, else the group of the EMF document of the same request, else the one the
/// access log's route points to.
pub fn resolve_groups(lines: Vec<(String, Value)>) -> Vec<(String, Value)> {
    let mut by_request: HashMap<String, String> = HashMap::new();
    for (group, line) in &lines {
        if group.starts_with(LAMBDA_GROUPS) && group != FUNCTION_LINES && line.get("_aws").is_some()
        {
            if let Some(id) = line["request_id"].as_str() {
                by_request.insert(id.to_owned(), group.clone());
            }
        } else if group == ACCESS_LOG_GROUP
            && let (Some(id), Some(route)) = (line["requestId"].as_str(), line["routeKey"].as_str())
        {
            let public = functions::router::routes::PUBLIC
                .iter()
                .any(|(method, path)| route == format!("{method} {path}"));
            let function = if public { "public" } else { "items" };
            by_request
                .entry(id.to_owned())
                .or_insert_with(|| format!("{LAMBDA_GROUPS}{NAME_PREFIX}-{function}"));
        }
    }
    lines
        .into_iter()
        .map(|(group, line)| {
            if group != FUNCTION_LINES {
                return (group, line);
            }
            // A line naming its service is its function's (`items-api-<service>`): the stream's
            // consumer logs with the request id of the request that created the item, beside
            // that request's own lines.
            let resolved = line["service"]
                .as_str()
                .map(|service| format!("{LAMBDA_GROUPS}{NAME_PREFIX}-{service}"))
                .or_else(|| {
                    line["request_id"]
                        .as_str()
                        .and_then(|id| by_request.get(id).cloned())
                });
            (resolved.unwrap_or(group), line)
        })
        .collect()
}

/// One request's kept lines, oldest first, under their groups.
pub fn lines_of_request(cloudwatch: &CloudWatch, request_id: &str) -> Vec<(String, Value)> {
    resolve_groups(cloudwatch.lines_of_request(request_id))
}

/// Every kept line, parsed, under its group (lines that are not JSON are left out).
pub fn all_lines(cloudwatch: &CloudWatch) -> Vec<(String, Value)> {
    let parsed = cloudwatch
        .kept_lines()
        .into_iter()
        .filter_map(|(group, line)| Some((group, serde_json::from_str(&line).ok()?)))
        .collect();
    resolve_groups(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    use serde_json::json;

    /// The attached store is the process's: tests that attach one take turns.
    static ATTACHING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn the_tee_keeps_the_lines_of_requests_only_in_the_store_attached_last() {
        let _turn = ATTACHING.lock().unwrap_or_else(|e| e.into_inner());
        let cloudwatch =
            Arc::new(CloudWatch::load(&crate::cloudwatch::default_repo_dir(), 10).unwrap());
        attach(Arc::clone(&cloudwatch));
        for line in [
            "{\"message\":\"alarm state changed\"}\n",
            "{\"request_id\":\"r-1\",\"message\":\"request completed\"}\n",
        ] {
            let mut writer = tee();
            writer.write_all(line.as_bytes()).unwrap();
        }
        let kept = cloudwatch.kept_lines();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0].0, FUNCTION_LINES);
        assert!(kept[0].1.contains("r-1"));
        // Another store attached: this thread's next line goes there, not to the first.
        let next = Arc::new(CloudWatch::load(&crate::cloudwatch::default_repo_dir(), 10).unwrap());
        attach(Arc::clone(&next));
        tee()
            .write_all(b"{\"request_id\":\"r-2\",\"message\":\"request completed\"}\n")
            .unwrap();
        assert_eq!(cloudwatch.kept_lines().len(), 1);
        let kept = next.kept_lines();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(kept[0].1.contains("r-2"));
    }

    #[test]
    fn an_event_written_in_pieces_is_kept_whole_when_it_ends() {
        let _turn = ATTACHING.lock().unwrap_or_else(|e| e.into_inner());
        let cloudwatch =
            Arc::new(CloudWatch::load(&crate::cloudwatch::default_repo_dir(), 10).unwrap());
        attach(Arc::clone(&cloudwatch));
        let mut writer = tee();
        writer.write_all(b"{\"request_id\":\"r-3\",").unwrap();
        writer.write_all(b"\"message\":\"a\"}\n").unwrap();
        // Not out before the event ends: its pieces would be lines of their own.
        assert!(cloudwatch.kept_lines().is_empty());
        drop(writer);
        let kept = cloudwatch.kept_lines();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0].1, "{\"request_id\":\"r-3\",\"message\":\"a\"}");
    }

    #[test]
    fn function_lines_take_the_group_of_their_emf_document_or_route() {
        let lines = vec![
            (
                FUNCTION_LINES.to_owned(),
                json!({"request_id": "a", "message": "request completed"}),
            ),
            (
                "/aws/lambda/items-api-items".to_owned(),
                json!({"_aws": {}, "request_id": "a"}),
            ),
            (
                FUNCTION_LINES.to_owned(),
                json!({"request_id": "b", "message": "request completed"}),
            ),
            (
                ACCESS_LOG_GROUP.to_owned(),
                json!({"requestId": "b", "routeKey": "GET /public"}),
            ),
            (
                FUNCTION_LINES.to_owned(),
                json!({"request_id": "c", "message": "orphan"}),
            ),
        ];
        let groups: Vec<String> = resolve_groups(lines).into_iter().map(|(g, _)| g).collect();
        assert_eq!(
            groups,
            [
                "/aws/lambda/items-api-items",
                "/aws/lambda/items-api-items",
                "/aws/lambda/items-api-public",
                ACCESS_LOG_GROUP,
                FUNCTION_LINES,
            ]
        );
    }
}
