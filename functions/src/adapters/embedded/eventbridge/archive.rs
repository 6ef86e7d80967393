//! A CloudWatch Logs stand-in: each log group is an append-only JSON-lines file of
//! `{"timestamp", "ingestionTime", "message"}` records (the fields of `OutputLogEvent`).
//!
//! Appends are durable when they return (`sync_data`) and serialized per group, so lines from
//! concurrent appends never interleave. A crash mid-write can leave a torn last line: readers skip
//! it, and the next append in a process truncates it before writing, so it never ends up in the
//! middle of the file.
//!
//! Group commit: concurrent appends to one group share one write and one `sync_data`. Each
//! append queues its lines and waits for its answer; the group's writer thread writes every line
//! queued so far and answers all of their appends at once. Without it, every create waits for its
//! own fsync behind all the others. An async caller waits without holding a thread: the writer
//! is the only thread that blocks on the disk, instead of one per waiting append (each a hand-over
//! to a blocking thread, and a sleep and a wake-up behind the file's lock). The writer goes away
//! after a second without appends and is started again by the next.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

const SUFFIX: &str = ".jsonl";
/// Most file systems cap a file name at 255 bytes.
const MAX_FILE_NAME: usize = 255;

/// One archived log event, as `GetLogEvents`/`FilterLogEvents` return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Milliseconds since the epoch.
    pub ingestion_time: i64,
    pub message: String,
}

/// Borrowing twin of [`LogEvent`], so that appends do not copy messages.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogLine<'a> {
    timestamp: i64,
    ingestion_time: i64,
    message: &'a str,
}

pub struct LogArchive {
    dir: PathBuf,
    groups: Mutex<HashMap<String, Arc<Group>>>,
}

/// How long a group's writer waits for more appends before its thread ends.
const WRITER_IDLE: Duration = Duration::from_secs(1);

/// One group's appends: those waiting to be written, and the file.
#[derive(Default)]
struct Group {
    queue: Mutex<Queue>,
    /// Lines were queued while the writer waited for some.
    queued: Condvar,
    /// Held while writing; the flag says the file's tail is known to end on a full line.
    file: Mutex<bool>,
    /// Writes made, each with its `sync_data`.
    writes: std::sync::atomic::AtomicU64,
}

/// Lines queued for the next write, and the appends waiting for it.
#[derive(Default)]
struct Queue {
    lines: Vec<u8>,
    waiting: Vec<oneshot::Sender<Outcome>>,
    /// The group's writer thread runs.
    writer: bool,
    /// It waits for lines: an append must wake it.
    writer_idle: bool,
}

/// An append's outcome, the same for every append of a write. `io::Error` is not `Clone`: its
/// kind and message are kept.
type Outcome = Result<(), (io::ErrorKind, String)>;

fn outcome(answer: Result<Outcome, oneshot::error::RecvError>) -> io::Result<()> {
    match answer {
        Ok(result) => result.map_err(|(kind, message)| io::Error::new(kind, message)),
        // The writer went away without answering: whether the lines reached the disk is
        // unknown, so the append is not acknowledged.
        Err(_) => Err(io::Error::other("the append was lost by a failed write")),
    }
}

impl LogArchive {
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<LogArchive> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(LogArchive {
            dir,
            groups: Mutex::new(HashMap::new()),
        })
    }

    /// Appends one event per message; `Ok` means the lines are on disk. Blocks the thread:
    /// not for async code, which has [`LogArchive::append_async`].
    pub fn append(&self, group: &str, messages: &[String]) -> io::Result<()> {
        match self.enqueue(group, messages)? {
            Some(answer) => outcome(answer.blocking_recv()),
            None => Ok(()),
        }
    }

    /// [`LogArchive::append`] for async callers: waits for the write without a thread.
    pub async fn append_async(&self, group: &str, messages: &[String]) -> io::Result<()> {
        match self.enqueue(group, messages)? {
            Some(answer) => outcome(answer.await),
            None => Ok(()),
        }
    }

    /// Queues the lines of `messages` for the group's writer (started if not running); `None`
    /// when there is nothing to write.
    fn enqueue(
        &self,
        group: &str,
        messages: &[String],
    ) -> io::Result<Option<oneshot::Receiver<Outcome>>> {
        let path = self.path_for(group)?;
        if messages.is_empty() {
            return Ok(None);
        }
        let now = now_millis();
        let mut lines = Vec::new();
        for message in messages {
            serde_json::to_writer(
                &mut lines,
                &LogLine {
                    timestamp: now,
                    ingestion_time: now,
                    message,
                },
            )?;
            lines.push(b'\n');
        }
        let group = self.group(group);
        let (reply, answer) = oneshot::channel();
        let start_writer = {
            let mut queue = lock(&group.queue);
            queue.lines.extend_from_slice(&lines);
            queue.waiting.push(reply);
            if queue.writer_idle {
                queue.writer_idle = false;
                group.queued.notify_one();
            }
            !std::mem::replace(&mut queue.writer, true)
        };
        if start_writer {
            let (dir, writer_group) = (self.dir.clone(), Arc::clone(&group));
            let started = std::thread::Builder::new()
                .name("archive-writer".into())
                .spawn(move || write_queued(&dir, &path, &writer_group));
            if let Err(e) = started {
                // Nobody will write what is queued: answer every append waiting for it.
                let mut queue = lock(&group.queue);
                queue.writer = false;
                queue.lines.clear();
                let failed = Err((e.kind(), format!("no thread for the archive writer: {e}")));
                for waiting in queue.waiting.drain(..) {
                    let _ = waiting.send(failed.clone());
                }
            }
        }
        Ok(Some(answer))
    }

    /// The group's events, oldest first; a group never written to has none. An incomplete last
    /// line (a crash mid-append) is skipped; any other unreadable line is an error.
    pub fn read(&self, group: &str) -> io::Result<Vec<LogEvent>> {
        let path = self.path_for(group)?;
        match fs::read(&path) {
            Ok(data) => parse_lines(&data, group),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The names of the groups that have a file, sorted.
    pub fn groups(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let file_name = entry.file_name();
            let decoded = file_name
                .to_str()
                .and_then(|n| n.strip_suffix(SUFFIX))
                .and_then(decode);
            // Foreign files in the directory are not groups.
            if let Some(name) = decoded.filter(|n| validate_group_name(n).is_ok()) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn path_for(&self, group: &str) -> io::Result<PathBuf> {
        validate_group_name(group)?;
        let file_name = format!("{}{SUFFIX}", encode(group));
        if file_name.len() > MAX_FILE_NAME {
            return Err(invalid(format!(
                "log group name {group:?} is too long for a file name here"
            )));
        }
        Ok(self.dir.join(file_name))
    }

    fn group(&self, group: &str) -> Arc<Group> {
        let mut groups = self
            .groups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(groups.entry(group.to_owned()).or_default())
    }
}

/// CloudWatch Logs' rule for log group names: 1 to 512 characters of `[.\-_/#A-Za-z0-9]`.
pub fn validate_group_name(name: &str) -> io::Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#');
    if name.is_empty() || name.len() > 512 || !name.chars().all(allowed) {
        return Err(invalid(format!(
            "invalid log group name {name:?}: expected 1-512 characters of [.-_/#A-Za-z0-9]"
        )));
    }
    Ok(())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Percent-encodes every character but `[A-Za-z0-9_-]`: no `/` (no traversal), no leading dot
/// (no `.`, `..` or hidden files), and decoding gives the name back.
fn encode(group: &str) -> String {
    group
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c.to_string(),
            other => format!("%{:02X}", other as u32),
        })
        .collect()
}

fn decode(encoded: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            let hex: String = chars.by_ref().take(2).collect();
            out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
        } else {
            out.push(c);
        }
    }
    (encode(&out) == encoded).then_some(out)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A group's writer: writes whatever is queued in one piece, answers its appends, and again,
/// until nothing has been queued for [`WRITER_IDLE`].
fn write_queued(dir: &Path, path: &Path, group: &Group) {
    loop {
        {
            let mut queue = lock(&group.queue);
            while queue.waiting.is_empty() {
                queue.writer_idle = true;
                let (guard, wait) = group
                    .queued
                    .wait_timeout(queue, WRITER_IDLE)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                queue = guard;
                if wait.timed_out() && queue.waiting.is_empty() {
                    queue.writer_idle = false;
                    queue.writer = false;
                    return;
                }
            }
            queue.writer_idle = false;
        }
        // A panic while holding the lock may have left a torn tail: check it again.
        let mut tail_clean = group.file.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            *guard = false;
            guard
        });
        let (lines, waiting) = {
            let mut queue = lock(&group.queue);
            (
                std::mem::take(&mut queue.lines),
                std::mem::take(&mut queue.waiting),
            )
        };
        let result = std::panic::catch_unwind(|| append_durably(dir, path, &lines, !*tail_clean))
            .unwrap_or_else(|_| Err(io::Error::other("the archive writer panicked")));
        group
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *tail_clean = result.is_ok();
        let shared = result.map_err(|e| (e.kind(), e.to_string()));
        for waiting in waiting {
            let _ = waiting.send(shared.clone());
        }
    }
}

fn append_durably(dir: &Path, path: &Path, lines: &[u8], check_tail: bool) -> io::Result<()> {
    let created = !path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    if check_tail && !created {
        drop_torn_tail(&mut file, path)?;
    }
    file.write_all(lines)?;
    file.sync_data()?;
    if created {
        // The new directory entry must be durable too, or the file could vanish in a crash.
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Truncates an incomplete last line. It was never acknowledged (its append did not return
/// `Ok`), so dropping it loses nothing that was promised.
fn drop_torn_tail(file: &mut File, path: &Path) -> io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    // Rare (only after a crash), so reading the whole file is fine.
    let mut data = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut data)?;
    let keep = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    file.set_len(keep as u64)?;
    file.sync_data()?;
    tracing::warn!(path = %path.display(), dropped_bytes = data.len() - keep, "dropped a torn log line");
    Ok(())
}

fn parse_lines(data: &[u8], group: &str) -> io::Result<Vec<LogEvent>> {
    // Everything after the last newline is a torn append: skip it.
    let complete = data
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(&data[..0], |i| &data[..=i]);
    complete
        .split_inclusive(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_slice(&line[..line.len() - 1]).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("log group {group:?}, line {}: {e}", i + 1),
                )
            })
        })
        .collect()
}

fn now_millis() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn archive() -> (tempfile::TempDir, LogArchive) {
        let dir = tempfile::tempdir().unwrap();
        let archive = LogArchive::open(dir.path().join("logs")).unwrap();
        (dir, archive)
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn appends_and_reads_back_in_order() {
        let (_dir, archive) = archive();
        archive
            .append("/aws/events/items", &strings(&["one", "two"]))
            .unwrap();
        archive
            .append(
                "/aws/events/items",
                &strings(&["three \"quoted\"\nnewline"]),
            )
            .unwrap();
        let events = archive.read("/aws/events/items").unwrap();
        let messages: Vec<_> = events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["one", "two", "three \"quoted\"\nnewline"]);
        assert!(
            events
                .iter()
                .all(|e| e.timestamp > 1_700_000_000_000 && e.ingestion_time == e.timestamp)
        );
    }

    #[test]
    fn lines_use_cloudwatch_field_names() {
        let (_dir, archive) = archive();
        archive.append("g", &strings(&["m"])).unwrap();
        let text = fs::read_to_string(archive.path_for("g").unwrap()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        let mut keys: Vec<_> = line.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["ingestionTime", "message", "timestamp"]);
    }

    #[test]
    fn unknown_group_reads_empty_and_groups_lists_written_ones() {
        let (_dir, archive) = archive();
        assert!(archive.read("never-written").unwrap().is_empty());
        archive.append("/aws/events/b", &strings(&["x"])).unwrap();
        archive.append("a.b#c_d-e", &strings(&["x"])).unwrap();
        fs::write(archive.dir.join("stray.txt"), "not a group").unwrap();
        assert_eq!(archive.groups().unwrap(), ["/aws/events/b", "a.b#c_d-e"]);
    }

    #[test]
    fn group_names_are_validated_like_cloudwatch() {
        let (_dir, archive) = archive();
        for bad in ["", "has space", "ünicode", "a:b", &"x".repeat(513)] {
            let err = archive.append(bad, &strings(&["x"])).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
            assert_eq!(
                archive.read(bad).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
        }
        assert!(validate_group_name(&"x".repeat(512)).is_ok());
    }

    #[test]
    fn file_names_stay_inside_the_directory() {
        let (_dir, archive) = archive();
        for group in ["..", ".", "/", "../../etc/passwd", ".hidden"] {
            let path = archive.path_for(group).unwrap();
            assert_eq!(path.parent(), Some(archive.dir.as_path()), "{group}");
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(!name.starts_with('.') && !name.contains('/'), "{name}");
            assert_eq!(
                decode(name.strip_suffix(SUFFIX).unwrap()).as_deref(),
                Some(group)
            );
        }
    }

    #[test]
    fn a_torn_last_line_is_skipped_then_repaired() {
        let (_dir, archive) = archive();
        archive.append("g", &strings(&["a", "b"])).unwrap();
        // What `kill -9` in the middle of a write leaves behind.
        let path = archive.path_for("g").unwrap();
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(br#"{"timestamp":1,"ingest"#)
            .unwrap();
        let messages = |a: &LogArchive| {
            a.read("g")
                .unwrap()
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
        };
        assert_eq!(messages(&archive), ["a", "b"]);
        // A restarted process repairs the tail before its first append.
        let reopened = LogArchive::open(archive.dir.clone()).unwrap();
        reopened.append("g", &strings(&["c"])).unwrap();
        assert_eq!(messages(&reopened), ["a", "b", "c"]);
    }

    #[test]
    fn a_torn_only_line_reads_as_empty() {
        let (_dir, archive) = archive();
        fs::write(archive.path_for("g").unwrap(), b"{\"times").unwrap();
        assert!(archive.read("g").unwrap().is_empty());
    }

    #[test]
    fn a_corrupt_line_before_the_end_is_an_error() {
        let (_dir, archive) = archive();
        archive.append("g", &strings(&["a"])).unwrap();
        let path = archive.path_for("g").unwrap();
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"garbage\n")
            .unwrap();
        archive.append("g", &strings(&["b"])).unwrap();
        let err = archive.read("g").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn appends_waiting_for_a_write_share_the_next_one() {
        let (dir, archive) = archive();
        archive.append("/g", &strings(&["first"])).unwrap();
        let group = archive.group("/g");
        let held = group.file.lock().unwrap();
        std::thread::scope(|s| {
            let writers: Vec<_> = (0..8)
                .map(|i| {
                    let archive = &archive;
                    s.spawn(move || archive.append("/g", &[format!("m{i}")]))
                })
                .collect();
            // Until all eight are queued behind the held lock.
            while group.queue.lock().unwrap().waiting.len() < 8 {
                std::thread::yield_now();
            }
            drop(held);
            for writer in writers {
                writer.join().unwrap().unwrap();
            }
        });
        assert!(group.queue.lock().unwrap().waiting.is_empty());
        let writes = group.writes.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(writes, 2, "the first append, then the eight together");
        let messages: HashSet<String> = archive
            .read("/g")
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        let expected: HashSet<String> = std::iter::once("first".to_owned())
            .chain((0..8).map(|i| format!("m{i}")))
            .collect();
        assert_eq!(messages, expected);
        drop(dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_appends_share_writes_and_the_idle_writer_goes_away() {
        let (_dir, archive) = archive();
        let archive = Arc::new(archive);
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let archive = Arc::clone(&archive);
                tokio::spawn(async move { archive.append_async("g", &[format!("m{i}")]).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let messages: HashSet<String> = archive
            .read("g")
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(messages, (0..64).map(|i| format!("m{i}")).collect());
        let group = archive.group("g");
        let writes = group.writes.load(std::sync::atomic::Ordering::Relaxed);
        assert!((1..=64).contains(&writes), "{writes}");
        // Idle for longer than WRITER_IDLE: the writer's thread has ended, the next append
        // starts another.
        tokio::time::sleep(WRITER_IDLE + Duration::from_millis(300)).await;
        assert!(!group.queue.lock().unwrap().writer);
        archive
            .append_async("g", &strings(&["after"]))
            .await
            .unwrap();
        assert_eq!(archive.read("g").unwrap().last().unwrap().message, "after");
    }

    #[test]
    fn concurrent_appends_never_interleave() {
        let (_dir, archive) = archive();
        let archive = Arc::new(archive);
        let big = "x".repeat(64 * 1024);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let archive = Arc::clone(&archive);
                let big = big.clone();
                std::thread::spawn(move || {
                    for i in 0..10 {
                        let batch = vec![format!("{t}-{i}-a-{big}"), format!("{t}-{i}-b")];
                        archive.append("g", &batch).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let events = archive.read("g").unwrap();
        assert_eq!(events.len(), 160);
        // A batch's lines stay together.
        for pair in events.chunks(2) {
            let a = pair[0].message.split('-').take(2).collect::<Vec<_>>();
            let b = pair[1].message.split('-').take(2).collect::<Vec<_>>();
            assert_eq!(a, b);
            assert!(pair[1].message.ends_with("-b"));
        }
        let unique: HashSet<_> = events.iter().map(|e| e.message.clone()).collect();
        assert_eq!(unique.len(), 160);
    }
}
