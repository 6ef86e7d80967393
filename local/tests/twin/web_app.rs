//! The example web client (`examples/web/`, at the twin's `/app/`) in a real browser: Debian's
//! headless chromium, driven through its chromedriver by Selenium's Python client
//! (`web_app.py` beside this file), signs in at the Hosted UI stand-in with the code flow and
//! PKCE, creates an item, sees it listed with its `apigw-requestid`, gets a problem for a blank
//! name, refreshes its ID token and signs out. What the page showed is checked here against the
//! twin's own records. The screenshot is kept as a test artifact
//! (`target/test-artifacts/web-client.png`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::browser::{HEADLESS_FLAGS, artifacts_dir, chromium, repo_dir};
use crate::common::TwinProcess;

fn chromedriver() -> PathBuf {
    let path = std::env::var_os("CHROMEDRIVER")
        .map_or_else(|| PathBuf::from("/usr/bin/chromedriver"), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/browser-env` (it installs Debian's chromium-driver), or set CHROMEDRIVER",
        path.display()
    );
    path
}

fn webdriver_python() -> PathBuf {
    let path = repo_dir().join(".venv-webdriver/bin/python");
    let ready = Command::new(&path)
        .args(["-c", "import selenium"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ready,
        "Selenium is missing from {}: run `bash scripts/webdriver-env`",
        path.display()
    );
    path
}

/// Runs `web_app.py` on the app at `app`; what the page showed.
fn drive(app: &str, user: &str, item: &str, screenshot: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/twin/web_app.py");
    let mut child = Command::new(webdriver_python())
        .arg(script)
        .args(["--app", app, "--user", user, "--item", item])
        .arg("--chromium")
        .arg(chromium())
        .arg("--chromedriver")
        .arg(chromedriver())
        .args(HEADLESS_FLAGS.map(|flag| format!("--chromium-flag={flag}")))
        .arg("--screenshot")
        .arg(screenshot)
        // Selenium asks for nothing on the network with both binaries named; say it anyway.
        .env("SE_OFFLINE", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start web_app.py");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    // Each step of the script has its own bound; this one is for a browser that never returns.
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("web_app.py did not finish within 300 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(status.success(), "web_app.py: {status}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("web_app.py printed {out:?}: {e}"))
}

/// The access-log line of the request `id`.
fn logged(twin: &TwinProcess, id: &str) -> Value {
    twin.access_log()
        .into_iter()
        .find(|line| line["requestId"] == id)
        .unwrap_or_else(|| panic!("no access-log line for request {id}"))
}

#[tokio::test]
async fn the_web_client_signs_in_creates_lists_refreshes_and_signs_out() {
    chromium();
    chromedriver();
    webdriver_python();
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let app = format!("{}/app/", twin.url);
    let (user, item) = ("web-user@example.com", "made in the browser");
    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("web-client.png");
    let _ = std::fs::remove_file(&png);

    let seen = tokio::task::spawn_blocking({
        let (app, png) = (app.clone(), png.clone());
        move || drive(&app, user, item, &png)
    })
    .await
    .unwrap();

    // Signed in through the Hosted UI's form, and back on the app's page without the code.
    assert_eq!(seen["initial_state"], "signed-out", "{seen:#}");
    assert_ne!(seen["sign_in_page"], "/app/", "{seen:#}");
    assert_eq!(seen["after_sign_in_url"], app.as_str(), "{seen:#}");
    assert_eq!(seen["pending_sign_in_kept"], false, "{seen:#}");
    assert_eq!(seen["user"], user, "{seen:#}");

    // The item the page created is the user's in the store, and the request id it shows is
    // the one API Gateway logged for that create.
    let token = twin.token(user).await;
    let items = twin.all_items(&token).await;
    let id = seen["item"]["id"].as_str().unwrap();
    let stored = items
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not among the user's items: {items:#?}"));
    assert_eq!(stored["name"], item);
    assert_eq!(stored["description"], "created in headless Chromium");
    assert_eq!(items.len(), 1, "one create, one item: {items:#?}");
    assert!(seen["form_cleared"].as_bool().unwrap());
    let create = logged(&twin, seen["item"]["request_id"].as_str().unwrap());
    assert_eq!(create["routeKey"], "POST /items");
    assert_eq!(create["status"], "201");

    // The blank name's problem, shown with its request id.
    let problem = &seen["problem"];
    let text = problem["text"].as_str().unwrap();
    assert!(text.contains("(422)"), "{text}");
    assert!(text.contains("/name"), "the field in error: {text}");
    let refused = logged(&twin, problem["request_id"].as_str().unwrap());
    assert_eq!(refused["routeKey"], "POST /items");
    assert_eq!(refused["status"], "422");

    // The ID token was refreshed before the list was asked for again.
    let refresh = &seen["refresh"];
    assert!(
        refresh["expires_at"].as_i64().unwrap() > refresh["now"].as_i64().unwrap(),
        "{refresh:#}"
    );
    assert_eq!(refresh["refresh_token_kept"], true, "{refresh:#}");
    assert_eq!(refresh["listed"]["path"], "/items");
    assert_eq!(refresh["listed"]["status"], 200, "{refresh:#}");
    assert_eq!(refresh["error_shown"], false, "{refresh:#}");
    assert_eq!(seen["rows"], 1);

    // Every answer the page showed carries the request id API Gateway logged for it.
    let answers = seen["answers"].as_array().unwrap();
    assert!(answers.len() >= 4, "{answers:#?}");
    for answer in answers {
        let line = logged(&twin, answer["request_id"].as_str().unwrap());
        assert_eq!(
            line["routeKey"],
            format!(
                "{} {}",
                answer["method"].as_str().unwrap(),
                answer["path"].as_str().unwrap()
            )
        );
        assert_eq!(line["status"], answer["status"].to_string());
    }

    // Signed out: back on the page, tokens forgotten, the refresh token revoked, and the
    // Hosted UI asks who is signing in again.
    assert_eq!(seen["after_sign_out_url"], app.as_str(), "{seen:#}");
    assert_eq!(seen["tokens_after_sign_out"], false);
    assert_eq!(seen["revoked_refresh"]["status"], 400, "{seen:#}");
    assert_eq!(
        seen["revoked_refresh"]["error"], "invalid_grant",
        "{seen:#}"
    );
    assert_ne!(seen["asked_again"], "/app/", "{seen:#}");

    // A code and state the page did not ask for: refused, nothing kept, the code not shown.
    let forged = &seen["forged_answer"];
    assert!(
        forged["error"]
            .as_str()
            .unwrap()
            .contains("state does not match"),
        "{forged:#}"
    );
    assert_eq!(forged["state"], "signed-out", "{forged:#}");
    assert_eq!(forged["url"], app.as_str(), "{forged:#}");
    assert_eq!(forged["tokens"], false, "{forged:#}");

    // The screenshot of the signed-in page.
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert!(
        bytes.len() > 20_000,
        "a page with content, not a blank: {} bytes",
        bytes.len()
    );
}
