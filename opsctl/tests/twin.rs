//! `opsctl reemit` and `opsctl slo` end to end: a twin in this process (gateway, SigV4
//! verifier, functions, embedded store and bus, CloudWatch), the binary signing with the twin's
//! IAM key as on-call signs with theirs. `reemit`: the archive shows each item's `ItemCreated`
//! once more. `slo`: real traffic, a known share of it failed by a fault and spread over the
//! twin's clock, read back through the twin's GetMetricData.

use std::process::{Command, Output};

use clap::Parser;
use local::client::TwinClient;
use local::twin::Twin;
use local::xray_daemon::XrayDaemon;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

// A key shaped like IAM's, given to the twin with its flags; the secret reaches opsctl through
// its environment only.
const ACCESS_KEY_ID: &str = "AKIAOPSCTLTEST000001";
const SECRET: &str = "b3BzY3RsLXRlc3Qtc2VjcmV0LW9mLWZvcnR5LWNo";

/// Lists the test's secret for `scripts/scan-secrets`, which fails the run if the test output
/// (the twin's lines, opsctl's answers) shows it.
fn record_secret() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .join("test-secrets");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("opsctl.twin.txt"), format!("{SECRET}\n")).unwrap();
}

/// A twin on a free port, serving until the test's runtime ends.
async fn start_twin(data_dir: &std::path::Path) -> String {
    record_secret();
    let dir = data_dir.to_str().unwrap();
    let cli = local::settings::Cli::parse_from([
        "local",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        dir,
        "--iam-access-key-id",
        ACCESS_KEY_ID,
        "--iam-secret-access-key",
        SECRET,
        // The SLO test's thousand requests, none of them throttled by the stage.
        "--throttle-rate",
        "100000",
        "--throttle-burst",
        "100000",
    ]);
    let daemon = XrayDaemon::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let twin = Twin::bind(&cli.serve, daemon)
        .await
        .expect("the twin binds");
    let url = format!("http://{}", twin.addr);
    tokio::spawn(twin.serve());
    url
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

fn reemit(url: &str, from: &str, to: &str, secret: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsctl"))
        .args(["reemit", "--api", url, "--region", "us-east-1"])
        .args(["--access-key-id", ACCESS_KEY_ID, "--from", from, "--to", to])
        .env_clear()
        .env("OPSCTL_SECRET_ACCESS_KEY", secret)
        // No profile or instance role of the machine: the flags are the only keys.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run opsctl")
}

/// The archive once it holds `count` events: the stream's consumer publishes items' events a
/// moment after they are stored (the mapping's batching window), not in the request.
async fn archived_count(client: &TwinClient, count: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let ids = archived_ids(client).await;
        if ids.len() >= count || std::time::Instant::now() > deadline {
            return ids;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn archived_ids(client: &TwinClient) -> Vec<String> {
    let reply = client.get("/_twin/archive", &[]).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["message"]["detail-type"] == "ItemCreated")
        .map(|e| {
            e["message"]["detail"]["item_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reemit_publishes_the_windows_items_again_through_the_signed_route() {
    let data = tempfile::tempdir().unwrap();
    let url = start_twin(data.path()).await;
    let client = TwinClient::new(url.clone());

    let before = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let mut ids = Vec::new();
    for user in ["alice", "bob"] {
        let bearer = format!("Bearer {}", client.sign_in(user).await.unwrap());
        for n in 0..2 {
            let body = json!({"name": format!("{user} {n}")});
            let reply = client
                .post_json("/items", &[("authorization", &bearer)], &body)
                .await
                .unwrap();
            assert_eq!(reply.status, 201, "{}", reply.text());
            ids.push(reply.json()["id"].as_str().unwrap().to_owned());
        }
    }
    let after = OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let first = archived_count(&client, ids.len()).await;
    for id in &ids {
        assert_eq!(
            first.iter().filter(|a| *a == id).count(),
            1,
            "{id} archived once"
        );
    }

    let out = reemit(&url, &rfc3339(before), &rfc3339(after), SECRET);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{stdout}");
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer, json!({"items": 4, "published": 4, "failed": 0}));
    // Every item of the window (both owners) is on the bus once more, nothing else is.
    let second = archived_ids(&client).await;
    assert_eq!(second.len(), first.len() + ids.len());
    for id in &ids {
        assert_eq!(
            second.iter().filter(|a| *a == id).count(),
            2,
            "{id} re-emitted"
        );
    }

    // A window before the items: nothing to publish.
    let earlier = before - time::Duration::hours(1);
    let out = reemit(&url, &rfc3339(earlier), &rfc3339(before), SECRET);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"items\": 0, \"published\": 0, \"failed\": 0}\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_signature_or_window_is_an_error_with_the_apis_answer() {
    let data = tempfile::tempdir().unwrap();
    let url = start_twin(data.path()).await;

    let out = reemit(
        &url,
        "2026-11-21T00:00:00Z",
        "2026-11-22T00:00:00Z",
        "not-the-secret",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("answered 403"), "{stderr}");
    assert!(
        !stderr.contains("not-the-secret"),
        "the secret is never printed: {stderr}"
    );

    // Wider than the API replays in one window: its 422 problem is quoted.
    let out = reemit(&url, "2026-11-01T00:00:00Z", "2026-11-22T00:00:00Z", SECRET);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("answered 422") && stderr.contains("/to"),
        "{stderr}"
    );
}

/// `opsctl slo` against the twin's CloudWatch endpoint, signed with the twin's key.
fn slo(url: &str, at: &str, secret: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsctl"))
        .args(["slo", "--region", local::names::REGION, "--at", at])
        .args(["--endpoint-url", &format!("{url}/_aws/cloudwatch")])
        .args(["--api-id", local::names::API_ID])
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run opsctl")
}

/// `n` item listings, 8 at a time, each answered `want`.
async fn list(client: &TwinClient, bearer: &str, n: usize, want: u16) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in chunk {
            let client = client.clone();
            let bearer = bearer.to_owned();
            tasks.spawn(async move {
                let auth = [("authorization", bearer.as_str())];
                let reply = client.get("/items?limit=10", &auth).await.unwrap();
                (reply.status, reply.text())
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (status, text) = done.unwrap();
            assert_eq!(status, want, "{text}");
        }
    }
}

/// The twin's CloudWatch clock now, as `--at` takes it.
async fn twin_now(client: &TwinClient) -> String {
    let reply = client.get("/_twin/clock", &[]).await.unwrap();
    reply.json()["now"].as_str().unwrap().to_owned()
}

async fn move_clock(client: &TwinClient, seconds: u32) {
    let reply = client
        .post_json("/_twin/clock", &[], &json!({ "advance_seconds": seconds }))
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// The lines of one objective's section of `opsctl slo`'s report.
fn section<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    out.lines()
        .skip_while(|l| !l.starts_with(&format!("{name}:")))
        .take(6)
        .collect()
}

fn report(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slo_reads_the_sli_budget_and_burn_rates_from_the_twins_cloudwatch() {
    let data = tempfile::tempdir().unwrap();
    let url = start_twin(data.path()).await;
    let client = TwinClient::new(url.clone());
    let bearer = format!("Bearer {}", client.sign_in("slo").await.unwrap());

    // 1 failure in 1000 requests: the availability budget spent exactly at its own pace, over
    // every window.
    let fault = client
        .post_json("/_twin/faults", &[], &json!({ "fault": "store=fail" }))
        .await
        .unwrap();
    assert_eq!(fault.status, 200, "{}", fault.text());
    list(&client, &bearer, 1, 500).await;
    let json_body = [("content-type", "application/json")];
    let cleared = client
        .send(http::Method::DELETE, "/_twin/faults", &json_body, "")
        .await
        .unwrap();
    assert_eq!(cleared.status, 200, "{}", cleared.text());
    list(&client, &bearer, 999, 200).await;

    let stdout = report(&slo(&url, &twin_now(&client).await, SECRET));
    let availability = section(&stdout, "api-availability");
    assert!(
        availability[1].starts_with("  SLI          99.900 %  (1 bad of 1000 events since "),
        "{stdout}"
    );
    assert_eq!(
        availability[2], "  budget left  0.0 %  (0.0 of 43.2 min of full outage)",
        "{stdout}"
    );
    for (line, long, short) in [
        (3, "1.00x over 60 min", "1.00x over 5 min"),
        (4, "1.00x over 360 min", "1.00x over 30 min"),
        (5, "1.00x over 4320 min", "1.00x over 360 min"),
    ] {
        assert!(
            availability[line].contains(long) && availability[line].contains(short),
            "{stdout}"
        );
    }
    // No item was created: freshness has no events, which is no data, not 100 %.
    let freshness = section(&stdout, "item-event-freshness");
    assert!(
        freshness[1].starts_with("  SLI          no data  (no events since "),
        "{stdout}"
    );
    assert!(freshness[3].contains("no data over 60 min"), "{stdout}");

    // Seven hours later, 1000 good requests: the hour and six-hour windows hold only those,
    // the three-day window and the compliance window both batches.
    move_clock(&client, 7 * 3600).await;
    list(&client, &bearer, 1000, 200).await;
    let stdout = report(&slo(&url, &twin_now(&client).await, SECRET));
    let availability = section(&stdout, "api-availability");
    assert!(
        availability[1].starts_with("  SLI          99.950 %  (1 bad of 2000 events since "),
        "{stdout}"
    );
    assert_eq!(
        availability[2], "  budget left  50.0 %  (21.6 of 43.2 min of full outage)",
        "{stdout}"
    );
    for (line, long, short) in [
        (3, "0.00x over 60 min", "0.00x over 5 min"),
        (4, "0.00x over 360 min", "0.00x over 30 min"),
        (5, "0.50x over 4320 min", "0.00x over 360 min"),
    ] {
        assert!(
            availability[line].contains(long) && availability[line].contains(short),
            "{stdout}"
        );
    }

    // Signed with another secret: CloudWatch's refusal, and the secret is not printed.
    let out = slo(&url, &twin_now(&client).await, "not-the-secret");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SignatureDoesNotMatch"), "{stderr}");
    assert!(!stderr.contains("not-the-secret"), "{stderr}");
}
