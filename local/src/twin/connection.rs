//! The timeouts of one connection: a client that takes longer than the header-read timeout to
//! send a request's headers, once their first byte came, or that leaves the connection idle
//! (no request in flight, nothing received or sent) longer than the idle timeout, is
//! disconnected.
//!
//! hyper's own `header_read_timeout` runs from the moment a connection waits for a request,
//! so it would also close a keep-alive connection idle for that long: the two are kept apart
//! here, as web servers keep them (a short one for headers, a longer one between requests).
//! The connection's reads and writes tell when bytes come and go; the service tells when a
//! request is dispatched (its headers were read) and when its answer is ready.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

/// What the service of one connection tells its watch: requests dispatched, and those whose
/// answer is not ready yet. Counters, as HTTP/2 has several requests in flight at once.
#[derive(Default)]
pub struct Requests {
    dispatched: AtomicU64,
    in_flight: AtomicUsize,
}

impl Requests {
    /// A request's headers were read and it is handed to the service: in flight until the
    /// returned guard is dropped (its answer is ready, or the request was abandoned).
    pub fn dispatched(self: &Arc<Self>) -> InFlight {
        self.dispatched.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }
}

pub struct InFlight(Arc<Requests>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A service's answer, with the request in flight until it is ready.
pub struct Tracked<F> {
    answer: F,
    _in_flight: InFlight,
}

impl<F> Tracked<F> {
    pub fn new(answer: F, in_flight: InFlight) -> Self {
        Self {
            answer,
            _in_flight: in_flight,
        }
    }
}

impl<F: Future + Unpin> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        Pin::new(&mut self.answer).poll(cx)
    }
}

/// A connection's socket, closed (an error on its next read or write) when a timeout passes.
pub struct Watched<IO> {
    io: IO,
    requests: Arc<Requests>,
    timeouts: Timeouts,
    /// The request whose headers are coming: the count of requests dispatched when its first
    /// byte came (it is dispatched when the count moves on), and its deadline.
    head: Option<(u64, Instant)>,
    /// The deadline of the connection's idle time, once one began.
    idle_until: Option<Instant>,
    /// Whether bytes came or went since `idle_until` was set: the idle time begins anew.
    moved: bool,
    /// Made the first time the connection waits.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<IO> Watched<IO> {
    pub fn new(io: IO, requests: Arc<Requests>, timeouts: Timeouts) -> Self {
        Self {
            io,
            requests,
            timeouts,
            head: None,
            idle_until: None,
            moved: true,
            timer: None,
        }
    }

    fn in_flight(&self) -> usize {
        self.requests.in_flight.load(Ordering::Relaxed)
    }

    fn dispatched(&self) -> u64 {
        self.requests.dispatched.load(Ordering::Relaxed)
    }

    /// The count of requests dispatched when the headers now coming began, and their
    /// deadline, unless they were dispatched since.
    fn head(&mut self) -> Option<Instant> {
        match self.head {
            Some((dispatched, deadline)) if dispatched == self.dispatched() => Some(deadline),
            _ => {
                self.head = None;
                None
            }
        }
    }

    /// Bytes came: with no request in flight and none coming, they begin a request's headers.
    fn received(&mut self) {
        self.moved = true;
        if self.head().is_none() && self.in_flight() == 0 {
            let deadline = Instant::now() + self.timeouts.header_read;
            self.head = Some((self.dispatched(), deadline));
        }
    }

    /// When the connection is closed if it still waits then, if ever.
    fn deadline(&mut self) -> Option<Instant> {
        if let Some(deadline) = self.head() {
            return Some(deadline);
        }
        if self.in_flight() > 0 {
            // The service has the request; its answer is bounded by the function's timeout.
            return None;
        }
        if self.moved || self.idle_until.is_none() {
            self.moved = false;
            self.idle_until = Some(Instant::now() + self.timeouts.idle);
        }
        self.idle_until
    }

    /// After each read or write, whether it waits or not: the error that closes the
    /// connection if its deadline passed, else the timer set to wake the connection at it.
    /// hyper may not read or write again until the client sends more, however long that
    /// takes, so the timer is set even when the read or write went through.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        let deadline = self.deadline()?;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx).is_ready().then(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "the client was too slow or idle too long",
            )
        })
    }

    fn wrote(
        &mut self,
        written: Poll<io::Result<usize>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = written
            && n > 0
        {
            self.moved = true;
        }
        match (written, self.expired(cx)) {
            (Poll::Ready(Err(e)), _) => Poll::Ready(Err(e)),
            (_, Some(e)) => Poll::Ready(Err(e)),
            (written, None) => written,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read
            && buf.filled().len() > before
        {
            self.received();
        }
        match (read, self.expired(cx)) {
            (Poll::Ready(Err(e)), _) => Poll::Ready(Err(e)),
            (_, Some(e)) => Poll::Ready(Err(e)),
            (read, None) => read,
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(written, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(written, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
