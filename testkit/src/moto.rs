//! moto's server (`moto_server -H 127.0.0.1 -p PORT`), from the virtualenv that `scripts/test`
//! installs. A missing moto is a failure with the fix, never a skip.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto's fixed account id.
pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";

pub struct Moto {
    child: Child,
    port: u16,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit sits in the workspace")
        .to_owned()
}

/// `MOTO_SERVER`, else `.venv-moto/bin/moto_server` in the workspace.
pub fn server_path() -> PathBuf {
    std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-moto/bin/moto_server"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One plain HTTP/1.0 request on loopback; enough for moto's control API.
fn http(port: u16, method: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// One plain HTTP/1.0 request with a text body on loopback (moto's control API).
fn http_with_body(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

impl Moto {
    /// Starts moto on a free port and waits until it answers (about a second).
    pub fn start() -> Self {
        let path = server_path();
        assert!(
            path.exists(),
            "moto's server is not installed at {}.\nRun `bash scripts/test` (it installs moto into .venv-moto), or:\n  \
             python3 -m venv .venv-moto && .venv-moto/bin/pip install 'moto[server]'\n(or set MOTO_SERVER to a moto_server binary)",
            path.display()
        );
        // A port can be taken between the probe and moto's bind; try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&path)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if http(port, "GET", "/moto-api/")
                    .is_ok_and(|r| r.starts_with("HTTP/1.") && r.contains(" 200 "))
                {
                    return Self { child, port };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // it exited: most likely the port was taken
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not come up on a loopback port");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, the endpoint for every AWS client of a test.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Clears every resource (moto keeps state in memory).
    pub fn reset(&self) {
        http(self.port, "POST", "/moto-api/reset").expect("reset moto");
    }

    /// From this request on, moto authenticates and authorizes every AWS request: it must be
    /// signed with an IAM user's access key (see [`crate::iam`]) whose policies allow the action.
    /// Until then (from the start) moto checks nothing, so a test sets up its resources and
    /// principals first, then calls this.
    ///
    /// moto counts the AWS requests it has served and checks none while the count is below
    /// `INITIAL_NO_AUTH_ACTION_COUNT` (unbounded by default); `/moto-api/reset-auth` sets that
    /// bound and zeroes the count. Setting it to 0 switches the checks on at once, whatever was
    /// served before: nothing depends on counting the set-up's requests. `/moto-api/` requests
    /// are never counted nor checked, and [`Moto::reset`] leaves this setting alone.
    pub fn enforce_iam(&self) {
        let answer = http_with_body(self.port, "POST", "/moto-api/reset-auth", "0")
            .expect("switch on moto's IAM checks");
        assert!(
            answer.starts_with("HTTP/1.") && answer.contains(" 200 ") && answer.contains("\"ok\""),
            "moto refused to switch on its IAM checks: {answer}"
        );
    }

    /// Environment for a process that talks to this moto with the SDK's default chain.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            // Keep the SDK away from profile files and instance metadata of the machine.
            ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
