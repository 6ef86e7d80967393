//! The Lambda Runtime API (`/2018-06-01/runtime/...`), as Lambda serves it to a custom runtime:
//! `GET invocation/next` hands out one event at a time, `POST invocation/{id}/response` and
//! `/error` answer it, `POST init/error` reports a failed init. Each call is timestamped, so a
//! harness can read init time (spawn to the first `next`) and invocation latency (event handed
//! out to response posted).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Mutex, Notify, mpsc};

/// What the function did, with when.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The first `GET next`: init is over.
    Ready(Instant),
    Response {
        request_id: String,
        at: Instant,
        body: Bytes,
    },
    Error {
        request_id: String,
        at: Instant,
        body: Bytes,
    },
    InitError {
        at: Instant,
        body: Bytes,
    },
}

struct Inner {
    queue: Mutex<VecDeque<(String, Bytes)>>,
    queued: Notify,
    outcomes: mpsc::UnboundedSender<Outcome>,
    seen_next: std::sync::atomic::AtomicBool,
    function_arn: String,
}

/// A Runtime API endpoint for one function process.
#[derive(Clone)]
pub struct RuntimeApi {
    inner: Arc<Inner>,
    addr: SocketAddr,
}

impl RuntimeApi {
    /// Serves on a free loopback port; outcomes arrive on the returned receiver.
    pub async fn start(
        function_name: &str,
    ) -> std::io::Result<(Self, mpsc::UnboundedReceiver<Outcome>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            outcomes: tx,
            seen_next: std::sync::atomic::AtomicBool::new(false),
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function_name}"),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((Self { inner, addr }, rx))
    }

    /// `AWS_LAMBDA_RUNTIME_API`: host and port.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues one event; returns its request id.
    pub async fn invoke(&self, event: Bytes) -> String {
        let request_id = uuid::Uuid::new_v4().to_string();
        self.inner
            .queue
            .lock()
            .await
            .push_back((request_id.clone(), event));
        self.inner.queued.notify_one();
        request_id
    }
}

async fn next(State(inner): State<Arc<Inner>>) -> Response {
    if !inner
        .seen_next
        .swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        let _ = inner.outcomes.send(Outcome::Ready(Instant::now()));
    }
    // Long poll, as Lambda's: the runtime waits here until there is an event.
    let (request_id, event) = loop {
        let notified = inner.queued.notified();
        if let Some(item) = inner.queue.lock().await.pop_front() {
            break item;
        }
        notified.await;
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + 10_000)
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", request_id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        inner.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-6b024388-f6c5a45f1781e22fe63f3c51;Parent=2ad2a1b6a89bd972;Sampled=0".into(),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, event).into_response()
}

async fn response(
    State(inner): State<Arc<Inner>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = inner.outcomes.send(Outcome::Response {
        request_id,
        at: Instant::now(),
        body,
    });
    StatusCode::ACCEPTED
}

async fn error(
    State(inner): State<Arc<Inner>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = inner.outcomes.send(Outcome::Error {
        request_id,
        at: Instant::now(),
        body,
    });
    StatusCode::ACCEPTED
}

async fn init_error(State(inner): State<Arc<Inner>>, body: Bytes) -> StatusCode {
    let _ = inner.outcomes.send(Outcome::InitError {
        at: Instant::now(),
        body,
    });
    StatusCode::ACCEPTED
}
