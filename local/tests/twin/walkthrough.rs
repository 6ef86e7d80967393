//! The README's "Try it" walk-through, line for line, against a twin of the test's own.

use crate::common::{TwinProcess, binary};

#[tokio::test]
async fn readme_walkthrough_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let script = testkit::readme::sh_block_after("## Try it");
    assert!(
        script.contains("TWIN=http://127.0.0.1:3000"),
        "the README names the default address"
    );
    // The only two substitutions: the twin's address, and the built binary for `cargo run`.
    let script = script
        .replace("TWIN=http://127.0.0.1:3000", &format!("TWIN={}", twin.url))
        .replace("cargo run --release -q --", binary());
    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env("TWIN_URL", &twin.url)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "walk-through failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(r#"{"ok":true}"#), "{stdout}");
    assert!(stdout.contains("HTTP/1.1 201"), "{stdout}");
    assert!(
        stdout.to_ascii_lowercase().contains("location: /items/"),
        "{stdout}"
    );
    assert!(stdout.contains(r#""name":"first item""#), "{stdout}");
    assert!(
        stdout.contains(r#""detail-type":"ItemCreated""#),
        "{stdout}"
    );

    // What the walk-through made: one item for alice, and its one archived event.
    let alice = twin.token("alice").await;
    let items = twin.all_items(&alice).await;
    assert_eq!(items.len(), 1);
    let archive = twin.archive().await;
    assert_eq!(archive.len(), 1);
    assert_eq!(archive[0]["detail"]["item_id"], items[0]["id"]);
}
