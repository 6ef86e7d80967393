//! One cold start of a function binary, as Lambda runs it: the process is spawned with Lambda's
//! environment and the Runtime API's address; init lasts until its first `next`; then one first
//! invocation and `warm` more, each from event handed out to response posted; peak memory is the
//! process's high-water mark (`VmHWM`).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::runtime_api::{Outcome, RuntimeApi};

#[derive(Debug, Clone)]
pub struct ColdStart {
    pub init: Duration,
    pub first: Duration,
    /// Warm invocation latencies, sorted.
    pub warm: Vec<Duration>,
    pub peak_memory_kib: u64,
    /// Bytes the process wrote to stdout and stderr (its log lines and EMF).
    pub output_bytes: u64,
}

impl ColdStart {
    pub fn warm_percentile(&self, p: f64) -> Duration {
        if self.warm.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.warm.len() - 1) as f64 * p).round() as usize;
        self.warm[index]
    }
}

fn peak_memory_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

const WAIT: Duration = Duration::from_secs(30);

async fn outcome(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Outcome>,
) -> Result<Outcome, String> {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .map_err(|_| "the function did not answer within 30 s".to_owned())?
        .ok_or_else(|| "the Runtime API stopped".to_owned())
}

/// Runs `binary` once from exec: init, one first invocation, `warm` warm ones, all with `event`.
pub async fn cold_start(
    binary: &Path,
    name: &str,
    env: &[(String, String)],
    event: Bytes,
    warm: usize,
) -> Result<ColdStart, String> {
    let (api, mut rx) = RuntimeApi::start(name).await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/21/[$LATEST]0")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
    let pid = child.id().unwrap_or(0);
    // Count what the function writes, and keep the pipes drained.
    let count = |pipe: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| {
        tokio::spawn(async move {
            let mut sink = tokio::io::sink();
            match pipe {
                Some(mut p) => tokio::io::copy(&mut p, &mut sink).await.unwrap_or(0),
                None => 0,
            }
        })
    };
    let out = count(child.stdout.take().map(|p| Box::new(p) as _));
    let err = count(child.stderr.take().map(|p| Box::new(p) as _));

    let first_outcome = tokio::select! {
        o = outcome(&mut rx) => o?,
        status = child.wait() => return Err(format!("the process exited before its first `next`: {status:?}")),
    };
    let init = match first_outcome {
        Outcome::Ready(at) => at - started,
        Outcome::InitError { body, .. } => {
            return Err(format!("init failed: {}", String::from_utf8_lossy(&body)));
        }
        other => return Err(format!("unexpected before init: {other:?}")),
    };
    let invoke = || {
        let api = api.clone();
        let event = event.clone();
        async move {
            let sent = Instant::now();
            let id = api.invoke(event).await;
            (id, sent)
        }
    };
    let mut latencies = Vec::with_capacity(warm + 1);
    for _ in 0..=warm {
        let (id, sent) = invoke().await;
        match outcome(&mut rx).await? {
            Outcome::Response { request_id, at, .. } if request_id == id => {
                latencies.push(at - sent)
            }
            Outcome::Error { body, .. } => {
                return Err(format!(
                    "invocation failed: {}",
                    String::from_utf8_lossy(&body)
                ));
            }
            other => return Err(format!("unexpected: {other:?}")),
        }
    }
    let peak_memory_kib = peak_memory_kib(pid);
    let _ = child.kill().await;
    let output_bytes = out.await.unwrap_or(0) + err.await.unwrap_or(0);
    let first = latencies.remove(0);
    latencies.sort();
    Ok(ColdStart {
        init,
        first,
        warm: latencies,
        peak_memory_kib,
        output_bytes,
    })
}
