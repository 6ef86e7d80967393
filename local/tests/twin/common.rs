//! A twin process for the tests: started on a free port with its own data folder, its stdout
//! collected line by line (the access log and the function logs), killed when dropped.
//! Everything it prints is also kept in `target/test-logs/`, where `scripts/scan-secrets` looks
//! for tokens, keys and passwords after the test run.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use local::client::{Reply, TwinClient};

pub struct TwinProcess {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    /// The file that keeps everything it prints.
    pub log_file: PathBuf,
    pub client: TwinClient,
    lines: Arc<Mutex<Vec<String>>>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_local")
}

impl TwinProcess {
    /// Starts a twin on `127.0.0.1:0` in `data_dir`, with extra flags.
    pub fn start_in(data_dir: &Path, extra_args: &[&str]) -> Self {
        Self::start_with_env(data_dir, extra_args, &[])
    }

    /// [`TwinProcess::start_in`] with extra environment variables.
    pub fn start_with_env(data_dir: &Path, extra_args: &[&str], env: &[(&str, String)]) -> Self {
        let mut child = Command::new(binary())
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra_args)
            .env("LOG_LEVEL", "INFO")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the twin binary");
        let log_name = format!("{}-{}", test_name(), child.id());
        let log_file = path_in(TEST_LOGS, &format!("{log_name}.log"));
        let log = Arc::new(Mutex::new(create_in(TEST_LOGS, &format!("{log_name}.log"))));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        {
            let lines = Arc::clone(&lines);
            let log = Arc::clone(&log);
            // Keep draining stdout for the twin's whole life, or a full pipe would block it.
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = writeln!(log.lock().unwrap(), "{line}");
                    if line.contains("local twin listening") {
                        let _ = tx.send(line.clone());
                    }
                    lines.lock().unwrap().push(line);
                }
            });
        }
        // stderr still reaches the test's own stderr, and the log file too.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(log.lock().unwrap(), "{line}");
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the twin printed its address");
        record_secrets(data_dir, &log_name);
        let url = serde_json::from_str::<serde_json::Value>(&first).unwrap()["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let client = TwinClient::new(url.clone());
        Self {
            child,
            url,
            data_dir: data_dir.to_owned(),
            log_file,
            client,
            lines,
        }
    }

    /// Sends SIGKILL: no shutdown code runs, as in a crash. Shared handles stay usable (their
    /// requests fail), and the process is reaped on drop.
    pub fn sigkill(&self) {
        self.signal("-9");
    }

    /// Sends SIGTERM: the twin stops taking connections and finishes the requests in flight.
    pub fn sigterm(&self) {
        self.signal("-TERM");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal}");
    }

    /// The process's exit status, waiting for it at most `within`.
    pub fn exit_status(&mut self, within: std::time::Duration) -> std::process::ExitStatus {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < within, "the twin did not exit");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Every stdout line so far. The twin writes a request's lines before it answers, but the
    /// thread that reads its stdout may not have read them yet: wait until the lines settle
    /// (no new one for 30 ms, at most 1 s).
    pub fn lines(&self) -> Vec<String> {
        let mut seen = self.lines.lock().unwrap().len();
        let mut quiet = 0;
        for _ in 0..100 {
            std::thread::sleep(std::time::Duration::from_millis(10));
            let now = self.lines.lock().unwrap().len();
            if now == seen {
                quiet += 1;
                if quiet == 3 {
                    break;
                }
            } else {
                (seen, quiet) = (now, 0);
            }
        }
        self.lines.lock().unwrap().clone()
    }

    /// Access-log lines (they carry `routeKey`), parsed.
    pub fn access_log(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("routeKey").is_some())
            .collect()
    }

    /// Adds a fault rule (`POST /_twin/faults`).
    pub async fn set_fault(&self, fault: &str) {
        let reply = self
            .client
            .post_json("/_twin/faults", &[], &serde_json::json!({ "fault": fault }))
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{fault}: {}", reply.text());
    }

    /// Clears every fault rule; a change on the twin's own routes is sent as JSON.
    pub async fn clear_faults(&self) {
        let reply = self
            .client
            .send(
                http::Method::DELETE,
                "/_twin/faults",
                &[("content-type", "application/json")],
                "",
            )
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["faults"], serde_json::json!([]));
    }

    pub async fn token(&self, user: &str) -> String {
        self.client.sign_in(user).await.expect("sign in")
    }

    pub async fn create(&self, token: &str, body: &serde_json::Value) -> Reply {
        let bearer = format!("Bearer {token}");
        self.client
            .post_json("/items", &[("authorization", &bearer)], body)
            .await
            .unwrap()
    }

    pub async fn get_auth(&self, token: &str, path: &str) -> Reply {
        let bearer = format!("Bearer {token}");
        self.client
            .get(path, &[("authorization", &bearer)])
            .await
            .unwrap()
    }

    /// The stream's event source mapping, as `/_twin/stream` shows it.
    pub async fn stream(&self) -> serde_json::Value {
        let reply = self.client.get("/_twin/stream", &[]).await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    }

    /// Waits until the event source mapping is done with every record of the table's stream
    /// written so far (events are published from the stream, a moment after the `201`);
    /// false if it is still behind after `within`.
    pub async fn caught_up_within(&self, within: std::time::Duration) -> bool {
        let started = std::time::Instant::now();
        loop {
            if self.stream().await["caughtUp"] == true {
                return true;
            }
            if started.elapsed() > within {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The archived events' envelopes, once the stream's records so far are handled (or,
    /// if the consumer keeps failing, after 20 s).
    pub async fn archive(&self) -> Vec<serde_json::Value> {
        self.caught_up_within(std::time::Duration::from_secs(20))
            .await;
        let reply = self.client.get("/_twin/archive", &[]).await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].clone())
            .collect()
    }

    /// Every item of a user, following cursors.
    pub async fn all_items(&self, token: &str) -> Vec<serde_json::Value> {
        let mut items = Vec::new();
        let mut path = "/items?limit=100".to_owned();
        loop {
            let reply = self.get_auth(token, &path).await;
            assert_eq!(reply.status, 200, "{}", reply.text());
            let page = reply.json();
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/items?limit=100&cursor={}", urlencode(c)),
                None => return items,
            }
        }
    }
}

/// The folders of `target/` that `scripts/scan-secrets` reads: the twins' output, and the
/// secrets of their data folders to look for in it (kept apart, so they are not scanned).
const TEST_LOGS: &str = "test-logs";
const TEST_SECRETS: &str = "test-secrets";

fn path_in(folder: &str, file: &str) -> PathBuf {
    // `CARGO_TARGET_TMPDIR` is `target/tmp`.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .join(folder)
        .join(file)
}

fn create_in(folder: &str, file: &str) -> File {
    let path = path_in(folder, file);
    let dir = path.parent().expect("a folder");
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    File::create(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()))
}

/// The running test's name as a file name (`module.test`); spawned tasks have none of their own.
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("twin")
        .replace("::", ".")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .collect()
}

/// Writes the secrets the twin made in its data folder, one a line, for the scan: string values
/// of JSON fields whose name holds `secret` (cursor keys, IAM secret keys), and the base64 lines
/// of PEM files (the issuer's private key).
fn record_secrets(data_dir: &Path, log_name: &str) {
    fn secret_strings(value: &serde_json::Value, named_secret: bool, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) if named_secret => out.push(s.clone()),
            serde_json::Value::Array(items) => {
                for item in items {
                    secret_strings(item, named_secret, out);
                }
            }
            serde_json::Value::Object(fields) => {
                for (key, v) in fields {
                    let named = named_secret || key.to_ascii_lowercase().contains("secret");
                    secret_strings(v, named, out);
                }
            }
            _ => {}
        }
    }
    let mut secrets = Vec::new();
    let entries = std::fs::read_dir(data_dir).into_iter().flatten().flatten();
    for path in entries.map(|e| e.path()) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                if let Ok(value) = serde_json::from_str(&text) {
                    secret_strings(&value, false, &mut secrets);
                }
            }
            Some("pem") if text.contains("PRIVATE KEY") => secrets.extend(
                text.lines()
                    .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
                    .map(str::to_owned),
            ),
            _ => {}
        }
    }
    let mut file = create_in(TEST_SECRETS, &format!("{log_name}.txt"));
    for secret in secrets.iter().filter(|s| s.len() >= 16) {
        writeln!(file, "{secret}").expect("write the twin's secrets for the scan");
    }
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)]).unwrap()[2..].to_owned()
}

impl Drop for TwinProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
