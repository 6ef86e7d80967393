//! Schemathesis against the twin, from the OpenAPI document in the repository, with and without a
//! valid token: no 5xx, every response as documented (status, content type, headers, schema).

use std::path::PathBuf;

use crate::common::TwinProcess;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn schemathesis() -> PathBuf {
    let path = repo().join(".venv-schemathesis/bin/schemathesis");
    assert!(
        path.exists(),
        "schemathesis is not installed at {}: run `bash scripts/test`, or `bash scripts/schemathesis-env`",
        path.display()
    );
    path
}

/// One run; returns the "N generated" count of its summary.
async fn run(twin: &TwinProcess, headers: &[String]) -> u64 {
    let mut command = tokio::process::Command::new(schemathesis());
    command
        .current_dir(repo())
        .args([
            "--no-color",
            "--config-file",
            "schemathesis.toml",
            "run",
            "functions/openapi.json",
        ])
        .args([
            "--url",
            &twin.url,
            "--max-examples",
            "40",
            "--seed",
            "20261121",
            // One worker: CPython 3.11's AST builder keeps its recursion depth per interpreter,
            // not per thread, and two workers parsing at once (hypothesis describes its
            // strategies with `ast`) fail now and then with "AST constructor recursion depth
            // mismatch" (python/cpython#106905), more often on a loaded machine.
            "--workers",
            "1",
        ]);
    for header in headers {
        command.args(["--header", header]);
    }
    let output = command.output().await.unwrap();
    // A failure report repeats its requests, headers and all: the credentials given here are
    // cut out before anything is printed, so the token never reaches the test output.
    let redact = |bytes: &[u8]| {
        headers
            .iter()
            .filter_map(|h| h.split_once(':').map(|(_, v)| v.trim()))
            .flat_map(|v| [v, v.rsplit(' ').next().unwrap_or(v)])
            .filter(|secret| !secret.is_empty())
            .fold(
                String::from_utf8_lossy(bytes).into_owned(),
                |text, secret| text.replace(secret, "<redacted>"),
            )
    };
    let stdout = redact(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        redact(&output.stderr)
    );
    let generated = stdout
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" generated")
                .and_then(|(n, _)| n.trim().parse::<u64>().ok())
        })
        .unwrap_or_else(|| panic!("no summary in:\n{stdout}"));
    println!("schemathesis: {generated} cases generated");
    generated
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_twin_answers_as_its_openapi_document_says() {
    let dir = tempfile::tempdir().unwrap();
    // Throttling is tested elsewhere; here every generated request should reach the function.
    let twin = TwinProcess::start_in(
        dir.path(),
        &["--throttle-rate", "100000", "--throttle-burst", "100000"],
    );
    let token = twin.token("schemathesis").await;
    let with_token = run(&twin, &[format!("Authorization: Bearer {token}")]).await;
    let without = run(&twin, &[]).await;
    assert!(
        with_token > 100 && without > 100,
        "{with_token} and {without} cases"
    );
    // Served by the twin too, byte for byte.
    let served = twin.client.get("/_twin/openapi.json", &[]).await.unwrap();
    assert_eq!(served.body, functions::router::OPENAPI.as_bytes());
    assert!(
        twin.access_log()
            .iter()
            .all(|l| !l["status"].as_str().unwrap().starts_with('5')),
        "no 5xx"
    );
}
