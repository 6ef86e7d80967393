//! The threads that accept and serve the twin's requests.
//!
//! On Linux, each serving thread has a runtime of its own and a listener of its own on the
//! port (`SO_REUSEPORT`): the kernel spreads the connections among the listeners, and a
//! request is served from its accept to its response on one thread, which never hands work
//! to another or wakes it. With one runtime of several workers, a worker that takes in more
//! ready connections than it can poll wakes another to take some, and a good part of the
//! twin's time went to those wake-ups and the context switches around them. Elsewhere the
//! kernel does not spread connections among listeners: one listener, on the process's runtime.
//! The process's runtime keeps the twin's background tasks (alarms, the X-Ray daemon).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use futures_util::future::select_all;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tower::ServiceExt;

use super::BoxError;
use super::connection::{Requests, Timeouts, Watched};
use super::dispatch::Connections;

/// How many serving threads `asked` (0: one per core) gives on this system.
pub fn threads(asked: usize) -> usize {
    if !cfg!(target_os = "linux") {
        return 1;
    }
    match asked {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
}

/// A listener on `addr`, which other sockets may share when `shared` (`SO_REUSEPORT`).
pub fn listen(addr: SocketAddr, shared: bool) -> std::io::Result<TcpListener> {
    socket(addr, shared)?.listen(BACKLOG)
}

/// As tokio's `TcpListener::bind` has it.
const BACKLOG: u32 = 1024;

fn socket(addr: SocketAddr, shared: bool) -> std::io::Result<TcpSocket> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind` does: a restarted twin binds the port its last run held.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    #[cfg(target_os = "linux")]
    if shared {
        socket.set_reuseport(true)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = shared;
    socket.bind(addr)?;
    Ok(socket)
}

/// What the twin's connections are held to: their timeouts, and how many are served at once
/// (shared by the serving threads, a limit for the twin as a whole).
#[derive(Clone)]
pub struct Limits {
    pub timeouts: Timeouts,
    pub connections: Arc<Semaphore>,
}

impl Limits {
    pub fn new(timeouts: Timeouts, max_connections: usize) -> Self {
        Self {
            timeouts,
            connections: Arc::new(Semaphore::new(max_connections)),
        }
    }
}

/// Serves `service` on `threads` threads until `shutdown`, then lets each finish the
/// requests in flight. `first` is the twin's listener, bound shared; the others join it on
/// its address. A thread that fails stops the others, and its error is returned.
pub async fn on_threads(
    first: TcpListener,
    threads: usize,
    service: Connections,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), BoxError> {
    let addr = first.local_addr()?;
    // Each listener is registered with the runtime that polls it: the first is handed over as
    // a plain socket, the others are bound here (so that a failure is the caller's) and listen
    // on their thread.
    let mut listeners = vec![Listener::Ready(first.into_std()?)];
    for _ in 1..threads {
        listeners.push(Listener::Bound(socket(addr, true)?));
    }
    let (stop, stopping) = watch::channel(false);
    let mut ended = Vec::with_capacity(threads);
    for (i, listener) in listeners.into_iter().enumerate() {
        let (done, end) = oneshot::channel();
        let service = service.for_thread();
        let limits = limits.clone();
        let mut stopping = stopping.clone();
        std::thread::Builder::new()
            .name(format!("serve-{i}"))
            .spawn(move || {
                let served = serve_here(listener, service, limits, async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                });
                let _ = done.send(served);
            })?;
        ended.push(end);
    }
    let mut ends = select_all(ended);
    let result = tokio::select! {
        () = shutdown => Ok(()),
        (ended, _, rest) = &mut ends => {
            // A thread stopped by itself: the others stop too.
            let _ = stop.send(true);
            for end in rest {
                let _ = end.await;
            }
            return ended.unwrap_or_else(gone);
        }
    };
    let _ = stop.send(true);
    // Each finishes the requests it has in flight.
    for end in ends.into_inner() {
        end.await.unwrap_or_else(gone)?;
    }
    result
}

/// A thread's answer when it ended without one (it panicked).
fn gone(_: oneshot::error::RecvError) -> Result<(), BoxError> {
    Err("a serving thread ended".into())
}

enum Listener {
    Ready(std::net::TcpListener),
    Bound(TcpSocket),
}

/// Serves on a runtime of its own until `stop`: one worker, on a thread of its own (the
/// accept loop stays on this one). A single-threaded runtime would do as well for reads, but
/// it is woken through the kernel (an `eventfd` write) each time another thread completes
/// what a task awaits, however busy it is; a create awaits two (its commit, its archive
/// append), and that cost creates a tenth of their rate. A worker that is busy is not woken.
fn serve_here(
    listener: Listener,
    service: Connections,
    limits: Limits,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = match listener {
            Listener::Ready(listener) => TcpListener::from_std(listener)?,
            Listener::Bound(socket) => socket.listen(BACKLOG)?,
        };
        serve(listener, service, limits, stop).await;
        Ok(())
    })
}

/// Takes in and serves connections on `listener` until `stop`, then lets those open finish
/// the requests they have in flight.
///
/// A connection is taken in, then waits for a place among the `limits`' connections: above
/// the limit, the next connections wait (in the listener's queue, and one taken in by each
/// serving thread) until one closes, and those open are served as before. A thread that took a
/// place first would hold it while the connection that could use it waits in another
/// thread's queue.
pub async fn serve(
    listener: TcpListener,
    service: Connections,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let (stopping, stopped) = watch::channel(false);
    // Each connection holds a sender: when all are dropped, every connection has ended.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        let place = tokio::select! {
            place = Arc::clone(&limits.connections).acquire_owned() => {
                place.expect("the connections' semaphore is never closed")
            }
            () = &mut stop => break,
        };
        let Ok(local) = stream.local_addr() else {
            continue;
        };
        let requests = Arc::new(Requests::default());
        let dispatch = service.connection(peer, local, Arc::clone(&requests));
        let io = Watched::new(stream, requests, limits.timeouts);
        tokio::spawn(connection(
            io,
            dispatch,
            place,
            stopped.clone(),
            open.clone(),
        ));
    }
    let _ = stopping.send(true);
    drop(open);
    let _ = all_closed.recv().await;
}

/// Serves one connection until it ends, or until `stopping`, when it finishes the requests
/// it has in flight and closes.
async fn connection(
    io: Watched<TcpStream>,
    dispatch: super::dispatch::Dispatch,
    _place: OwnedSemaphorePermit,
    mut stopping: watch::Receiver<bool>,
    _open: mpsc::Sender<()>,
) {
    let service = TowerToHyperService::new(
        dispatch.map_request(|request: http::Request<Incoming>| request.map(Body::new)),
    );
    let builder = auto::Builder::new(TokioExecutor::new());
    let served = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(served);
    let stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let ended = tokio::select! {
        ended = served.as_mut() => ended,
        () = stop => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, "connection ended");
    }
}

/// As axum's own loop does: a connection that failed before it was taken in is the client's
/// affair; anything else (too many open files) is waited out.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot take in a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
