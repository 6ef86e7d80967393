//! The X-Ray daemon stand-in: a UDP listener that keeps the segment documents the functions
//! send, so that a request's trace can be read back by trace id (`1-…-…`) or by API Gateway
//! request id (the `request_id` annotation the telemetry crate puts on each invocation's
//! subsegment), at `GET /_twin/traces/{id}` ([`crate::twin_api`]).
//!
//! Packets are what the real daemon accepts: `{"format": "json", "version": 1}`, a newline,
//! one segment document. Memory is bounded: past [`MAX_TRACES`] the oldest trace is dropped,
//! and a trace keeps at most [`MAX_DOCUMENTS_PER_TRACE`] documents.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

pub const MAX_TRACES: usize = 10_000;
pub const MAX_DOCUMENTS_PER_TRACE: usize = 1_000;
/// The largest document the daemon accepts, header excluded.
const MAX_PACKET: usize = 64 * 1024;

/// Why a packet was not kept.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    NoHeader,
    NotJson,
    NotASegment(&'static str),
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::NoHeader => f.write_str("no {\"format\": \"json\", \"version\": 1} header"),
            Rejected::NotJson => f.write_str("the document is not JSON"),
            Rejected::NotASegment(what) => write!(f, "not a segment document: {what}"),
        }
    }
}

/// A segment document as kept: its JSON text (parsed again only when its trace is read) and
/// what it is found by.
#[derive(Debug, PartialEq)]
pub struct Segment {
    text: String,
    trace_id: String,
    /// The `request_id` annotation, when it is a non-empty string.
    request_id: Option<String>,
}

/// What a document is kept by, read without building its tree.
#[derive(Deserialize)]
struct Keys<'a> {
    #[serde(borrow)]
    trace_id: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default, borrow)]
    annotations: Option<Annotations<'a>>,
}

#[derive(Deserialize)]
struct Annotations<'a> {
    #[serde(default, borrow)]
    request_id: Option<&'a RawValue>,
}

impl Segment {
    /// A document's text. Read by its keys alone; a document they do not fit (a key missing
    /// or not a string, a repeated key, not an object) is read as a tree, which says why.
    pub fn read(text: &str) -> Result<Self, Rejected> {
        let Ok(keys) = serde_json::from_str::<Keys>(text) else {
            let doc: Value = serde_json::from_str(text).map_err(|_| Rejected::NotJson)?;
            return Self::from_value(&doc);
        };
        // `id` is read only to hold the document to having one, a string.
        let _ = keys.id;
        let request_id = keys
            .annotations
            .and_then(|a| a.request_id)
            .and_then(|r| serde_json::from_str::<String>(r.get()).ok())
            .filter(|r| !r.is_empty());
        Ok(Self {
            text: text.to_owned(),
            trace_id: keys.trace_id.into_owned(),
            request_id,
        })
    }

    /// A document built as a tree (the twin's own segments, tests).
    pub fn from_value(doc: &Value) -> Result<Self, Rejected> {
        if !doc.is_object() {
            return Err(Rejected::NotASegment("not an object"));
        }
        let trace_id = doc
            .get("trace_id")
            .and_then(Value::as_str)
            .ok_or(Rejected::NotASegment("no trace_id"))?
            .to_owned();
        if doc.get("id").and_then(Value::as_str).is_none() {
            return Err(Rejected::NotASegment("no id"));
        }
        let request_id = doc
            .pointer("/annotations/request_id")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        Ok(Self {
            text: doc.to_string(),
            trace_id,
            request_id,
        })
    }

    /// A document the twin writes itself, with its trace id and no request id annotation.
    pub fn written(doc: &impl serde::Serialize, trace_id: &str) -> Result<Self, Rejected> {
        Ok(Self {
            text: serde_json::to_string(doc).map_err(|_| Rejected::NotJson)?,
            trace_id: trace_id.to_owned(),
            request_id: None,
        })
    }

    fn document(&self) -> Value {
        // Text checked when the segment was made.
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct Trace {
    docs: Vec<Segment>,
    /// The request ids that name this trace, forgotten with it.
    request_ids: Vec<Box<str>>,
}

/// Keyed by ids from the functions' segments (and so from callers' trace headers): a fast
/// hash seeded for each process, as a twin on one machine needs no more.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
struct Store {
    traces: Map<Arc<str>, Trace>,
    /// Trace ids, oldest first, for eviction.
    order: VecDeque<Arc<str>>,
    /// API Gateway request id → trace id.
    by_request: Map<Box<str>, Arc<str>>,
}

impl Store {
    fn insert(&mut self, segment: Segment) {
        let trace_id = match self.traces.get_key_value(segment.trace_id.as_str()) {
            Some((trace_id, _)) => Arc::clone(trace_id),
            None => {
                if self.order.len() == MAX_TRACES
                    && let Some(oldest) = self.order.pop_front()
                    && let Some(evicted) = self.traces.remove(&oldest)
                {
                    for request_id in evicted.request_ids {
                        self.by_request.remove(&request_id);
                    }
                }
                let trace_id: Arc<str> = segment.trace_id.as_str().into();
                self.order.push_back(Arc::clone(&trace_id));
                self.traces.insert(Arc::clone(&trace_id), Trace::default());
                trace_id
            }
        };
        let trace = self.traces.get_mut(&trace_id).expect("kept above");
        if let Some(request_id) = &segment.request_id {
            trace.request_ids.push(request_id.as_str().into());
            self.by_request
                .insert(request_id.as_str().into(), Arc::clone(&trace_id));
        }
        if trace.docs.len() < MAX_DOCUMENTS_PER_TRACE {
            trace.docs.push(segment);
        }
    }

    /// The trace with this trace id, or of the request with this request id.
    fn trace(&self, id: &str) -> Option<(&str, &[Segment])> {
        let trace_id = match self.traces.get_key_value(id) {
            Some((k, _)) => &**k,
            None => &**self.by_request.get(id)?,
        };
        Some((trace_id, &self.traces.get(trace_id)?.docs))
    }
}

/// Parses one packet: the daemon header line, then the document.
pub fn parse_packet(packet: &[u8]) -> Result<Segment, Rejected> {
    let newline = packet
        .iter()
        .position(|b| *b == b'\n')
        .ok_or(Rejected::NoHeader)?;
    #[derive(Deserialize)]
    struct Header<'a> {
        format: &'a str,
    }
    let header: Header =
        serde_json::from_slice(&packet[..newline]).map_err(|_| Rejected::NoHeader)?;
    if header.format != "json" {
        return Err(Rejected::NoHeader);
    }
    let text = std::str::from_utf8(&packet[newline + 1..]).map_err(|_| Rejected::NotJson)?;
    Segment::read(text)
}

struct Inner {
    store: Arc<Mutex<Store>>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // An empty datagram wakes the receiving thread to see it is done.
        let mut to = self.addr;
        if to.ip().is_unspecified() {
            to.set_ip(match to {
                SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
            });
        }
        let from = SocketAddr::new(to.ip(), 0);
        if let Ok(socket) = UdpSocket::bind(from) {
            let _ = socket.send_to(&[], to);
        }
    }
}

/// The daemon: cheap to clone, listening until the last clone is dropped.
#[derive(Clone)]
pub struct XrayDaemon(Arc<Inner>);

impl XrayDaemon {
    /// Binds the UDP socket at `addr` (port 0 for any) and starts receiving.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(addr)?;
        let addr = socket.local_addr()?;
        let store = Arc::new(Mutex::new(Store::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (kept, stopped) = (Arc::clone(&store), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("xray-daemon".into())
            .spawn(move || receive(&socket, &kept, &stopped))?;
        Ok(Self(Arc::new(Inner { store, addr, stop })))
    }

    /// Where the functions send segments: the value for `AWS_XRAY_DAEMON_ADDRESS`, or
    /// for `telemetry::init_with_xray_daemon`.
    pub fn local_addr(&self) -> SocketAddr {
        self.0.addr
    }

    /// Keeps a document that did not come over UDP (e.g. the segment the twin writes for
    /// each invocation, as Lambda does for the function).
    pub fn insert(&self, doc: Value) -> Result<(), Rejected> {
        self.insert_segment(Segment::from_value(&doc)?);
        Ok(())
    }

    /// Keeps a segment made by [`Segment::written`].
    pub fn insert_segment(&self, segment: Segment) {
        self.lock().insert(segment);
    }

    /// The documents of a trace, by trace id or request id, ordered by start time.
    pub fn trace(&self, id: &str) -> Option<(String, Vec<Value>)> {
        let store = self.lock();
        let (trace_id, segments) = store.trace(id)?;
        let mut docs: Vec<Value> = segments.iter().map(Segment::document).collect();
        docs.sort_by(|a, b| start_time(a).total_cmp(&start_time(b)));
        Some((trace_id.to_owned(), docs))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.0.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn start_time(doc: &Value) -> f64 {
    doc.get("start_time")
        .and_then(Value::as_f64)
        .unwrap_or(f64::MAX)
}

/// How long the receiving thread naps between draining the socket while datagrams keep
/// coming. The socket's buffer (about 200 KB) holds a few hundred segments: far more than
/// arrive in this time.
const BUSY_NAP: Duration = Duration::from_millis(1);

/// Receives until `stop` is set (and a datagram wakes it to see so), on a thread of its own.
///
/// Idle, it waits in `recv`, and the first datagram wakes it. While datagrams keep coming
/// it drains the socket and naps instead of waiting on it: a datagram sent to a socket
/// nobody waits on wakes no one, where one sent to a waiting thread costs the sender a
/// wake-up of another core (more than the send itself on a virtual machine). The
/// functions send a segment for every sampled invocation, from the threads serving
/// requests.
fn receive(socket: &UdpSocket, store: &Mutex<Store>, stop: &AtomicBool) {
    let mut buf = vec![0; MAX_PACKET + 64];
    let keep = |packet: &[u8]| {
        let kept = parse_packet(packet).map(|segment| {
            store
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(segment)
        });
        if let Err(reason) = kept {
            tracing::warn!(%reason, bytes = packet.len(), "xray daemon: packet dropped");
        }
    };
    loop {
        let received = socket.recv(&mut buf);
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match received {
            Ok(n) => keep(&buf[..n]),
            // ICMP errors from earlier sends surface here on some systems: not fatal.
            Err(error) => tracing::debug!(%error, "xray daemon: receive failed"),
        }
        if socket.set_nonblocking(true).is_err() {
            continue;
        }
        // A nap before each drain; one that finds nothing ends the busy spell.
        loop {
            std::thread::sleep(BUSY_NAP);
            let mut drained = 0;
            while let Ok(n) = socket.recv(&mut buf) {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                keep(&buf[..n]);
                drained += 1;
            }
            if drained == 0 || stop.load(Ordering::Relaxed) {
                break;
            }
        }
        // A failure leaves it non-blocking: it then naps between tries rather than spin.
        if socket.set_nonblocking(false).is_err() {
            std::thread::sleep(BUSY_NAP);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    const HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";
    const TRACE: &str = "1-6b023677-0123456789abcdef01234567";

    fn segment(id: &str, parent: &str, start: f64, request_id: Option<&str>) -> Value {
        let mut doc = json!({
            "name": "DynamoDB", "id": id, "parent_id": parent, "trace_id": TRACE,
            "type": "subsegment", "start_time": start, "end_time": start + 0.01,
        });
        if let Some(r) = request_id {
            doc["annotations"] = json!({ "request_id": r });
        }
        doc
    }

    /// A daemon on a free loopback port.
    async fn local_daemon() -> XrayDaemon {
        XrayDaemon::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap()
    }

    async fn wait_for(daemon: &XrayDaemon, id: &str, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            if let Some((_, docs)) = daemon.trace(id)
                && docs.len() >= n
            {
                return docs;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{n} documents of {id} never arrived");
    }

    #[test]
    fn packets_need_the_header_and_a_segment() {
        let doc = segment("64cb80f63ddc6388", "d364f966d0423f03", 1.0, None);
        let good = format!("{HEADER}{doc}");
        assert_eq!(parse_packet(good.as_bytes()), Segment::from_value(&doc));
        assert_eq!(parse_packet(good.as_bytes()).unwrap().document(), doc);
        assert_eq!(parse_packet(b"{}"), Err(Rejected::NoHeader));
        assert_eq!(
            parse_packet(b"{\"format\":\"xml\"}\n{}"),
            Err(Rejected::NoHeader)
        );
        assert_eq!(
            parse_packet(format!("{HEADER}not json").as_bytes()),
            Err(Rejected::NotJson)
        );
        // The keys read alone or from the tree: the same segment, the same refusals.
        let packet = |doc: &str| parse_packet(format!("{HEADER}{doc}").as_bytes());
        for (doc, expected) in [
            (r#"{"id": "a"}"#, Rejected::NotASegment("no trace_id")),
            (
                r#"{"trace_id": "t", "id": 7}"#,
                Rejected::NotASegment("no id"),
            ),
            (r#"[1]"#, Rejected::NotASegment("not an object")),
        ] {
            assert_eq!(packet(doc), Err(expected), "{doc}");
        }
        let repeated =
            r#"{"trace_id": "t", "id": "a", "id": "b", "annotations": {"request_id": "r"}}"#;
        let segment = packet(repeated).unwrap();
        assert_eq!(
            (segment.trace_id.as_str(), segment.request_id.as_deref()),
            ("t", Some("r"))
        );
        assert_eq!(
            segment.document()["id"],
            "b",
            "the last of a repeated key, as JSON reads it"
        );
        let numbered = r#"{"trace_id": "t", "id": "a", "annotations": {"request_id": 5}}"#;
        assert_eq!(packet(numbered).unwrap().request_id, None);
    }

    #[tokio::test]
    async fn segments_sent_over_udp_are_kept_by_trace_id_and_request_id() {
        let daemon = local_daemon().await;
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // Sent in end order (children first), as the functions do.
        let child = segment("64cb80f63ddc6388", "d364f966d0423f03", 2.0, None);
        let parent = segment(
            "d364f966d0423f03",
            "53995c3f42cd8ad8",
            1.0,
            Some("Jd8mXh3fIAMEbXw="),
        );
        for doc in [&child, &parent] {
            client
                .send_to(format!("{HEADER}{doc}").as_bytes(), daemon.local_addr())
                .unwrap();
        }
        client.send_to(b"garbage", daemon.local_addr()).unwrap();
        wait_for(&daemon, TRACE, 2).await;

        let trace = daemon.trace(TRACE).unwrap();
        assert_eq!(
            trace,
            (TRACE.to_owned(), vec![parent, child]),
            "by start time"
        );
        assert_eq!(daemon.trace("Jd8mXh3fIAMEbXw="), Some(trace));
        assert_eq!(daemon.trace("1-00000000-000000000000000000000000"), None);
    }

    #[tokio::test]
    async fn segments_sent_in_bursts_and_after_a_pause_are_all_kept() {
        let daemon = local_daemon().await;
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let packet = format!(
            "{HEADER}{}",
            segment("64cb80f63ddc6388", "d364f966d0423f03", 1.0, None)
        );
        let send = || {
            client
                .send_to(packet.as_bytes(), daemon.local_addr())
                .unwrap()
        };
        // Bursts a few naps apart: the receiver drains between naps, and waits once idle.
        for _ in 0..20 {
            for _ in 0..40 {
                send();
            }
            std::thread::sleep(Duration::from_millis(3));
        }
        wait_for(&daemon, TRACE, 800).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        send();
        assert_eq!(wait_for(&daemon, TRACE, 801).await.len(), 801);
    }

    #[tokio::test]
    async fn a_dropped_daemon_stops_receiving_and_frees_its_port() {
        let daemon = local_daemon().await;
        let addr = daemon.local_addr();
        let clone = daemon.clone();
        drop(daemon);
        assert!(
            UdpSocket::bind(addr).is_err(),
            "a clone still listens: the port is held"
        );
        drop(clone);
        // The receiving thread sees it is done, returns, and closes the socket.
        let freed = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            UdpSocket::bind(addr).is_ok()
        });
        assert!(freed, "{addr} still bound");
    }

    #[tokio::test]
    async fn memory_is_bounded() {
        let daemon = local_daemon().await;
        for i in 0..=MAX_TRACES {
            let mut doc = segment("64cb80f63ddc6388", "d364f966d0423f03", 1.0, None);
            doc["trace_id"] = json!(format!("1-6b023677-{i:024}"));
            if i == 0 {
                doc["annotations"] = json!({ "request_id": "first" });
            }
            daemon.insert(doc).unwrap();
        }
        assert!(
            daemon.trace(&format!("1-6b023677-{:024}", 0)).is_none(),
            "oldest dropped"
        );
        assert!(daemon.trace("first").is_none());
        assert!(
            daemon
                .trace(&format!("1-6b023677-{MAX_TRACES:024}"))
                .is_some()
        );
        for _ in 0..MAX_DOCUMENTS_PER_TRACE + 5 {
            daemon
                .insert(segment("64cb80f63ddc6388", "d364f966d0423f03", 1.0, None))
                .unwrap();
        }
        assert_eq!(
            daemon.trace(TRACE).unwrap().1.len(),
            MAX_DOCUMENTS_PER_TRACE
        );
    }
}
