//! A standard OIDC client library this project did not write (Python's authlib, installed by
//! `scripts/oidc-env`) signs in to the twin's Hosted UI through the whole flow:
//! `local/tests/twin/oidc_client.py` says which steps and what each checks.

use std::path::PathBuf;

use crate::common::TwinProcess;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn python() -> PathBuf {
    let path = repo().join(".venv-oidc/bin/python");
    assert!(
        path.exists(),
        "authlib is not installed at {}: run `bash scripts/oidc-env` (or `bash scripts/test`)",
        path.display()
    );
    path
}

#[tokio::test]
async fn an_oidc_client_library_signs_in_through_the_hosted_ui() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    // The registered URLs are the defaults: the twin's own web app on its port.
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let port = twin.url.rsplit(':').next().unwrap();
    let app = format!("http://127.0.0.1:{port}/app/");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/twin/oidc_client.py");
    let output = tokio::process::Command::new(python)
        .arg(&script)
        .args(["--twin", &twin.url])
        .args(["--client-id", local::names::APP_CLIENT_ID])
        .args(["--callback-url", &app, "--logout-url", &app])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the OIDC client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all OIDC client checks passed"), "{stdout}");

    // The item the client created is the signed-in user's.
    let user = twin.token("oidc-user@example.com").await;
    let items = twin.all_items(&user).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["name"], "signed in with authlib");
}
