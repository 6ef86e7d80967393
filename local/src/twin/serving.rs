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

use futures_util::future::select_all;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{oneshot, watch};

use super::BoxError;
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

/// Serves `service` on `threads` threads until `shutdown`, then lets each finish the
/// requests in flight. `first` is the twin's listener, bound shared; the others join it on
/// its address. A thread that fails stops the others, and its error is returned.
pub async fn on_threads(
    first: TcpListener,
    threads: usize,
    service: Connections,
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
        let mut stopping = stopping.clone();
        std::thread::Builder::new()
            .name(format!("serve-{i}"))
            .spawn(move || {
                let served = serve_here(listener, service, async move {
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
        axum::serve(listener, service)
            .with_graceful_shutdown(stop)
            .await?;
        Ok(())
    })
}
