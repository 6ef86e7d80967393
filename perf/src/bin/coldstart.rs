//! Cold starts of the release binaries, measured the way Lambda runs them (see `perf::measure`),
//! side by side with the hello-world baseline in the same run:
//! `bash scripts/bench-coldstart` (builds them first). `items` runs against moto's server, so its
//! init includes reading the secret over loopback, as on Lambda it reads Secrets Manager.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use perf::measure::{ColdStart, cold_start};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn public_event() -> Bytes {
    Bytes::from(
        serde_json::json!({
            "version": "2.0", "routeKey": "GET /public", "rawPath": "/public", "rawQueryString": "",
            "headers": {"host": "api.example.com"},
            "requestContext": {
                "accountId": "000000000000", "apiId": "api", "domainName": "api.example.com",
                "http": {"method": "GET", "path": "/public", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
                "requestId": "JKJaXmPLvHcESHA=", "routeKey": "GET /public", "stage": "$default",
                "time": "21/Nov/2026:22:42:17 +0000", "timeEpoch": 1795300937000i64
            },
            "isBase64Encoded": false
        })
        .to_string(),
    )
}

/// A function to start: its binary's name, its environment, the event to invoke it with.
type Function = (&'static str, Vec<(String, String)>, Bytes);

struct Row {
    name: &'static str,
    runs: Vec<ColdStart>,
    size: u64,
}

#[tokio::main]
async fn main() {
    let dir = PathBuf::from(arg("--release-dir", "target/release"));
    let runs: usize = arg("--runs", "5").parse().expect("--runs N");
    let warm: usize = arg("--warm", "200").parse().expect("--warm N");

    let moto = testkit::Moto::start();
    let sdk = testkit::aws::sdk_config(&moto).await;
    testkit::aws::create_secret(&sdk, &serde_json::json!({"cursor_keys": [{"id": "k1", "secret_b64": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="}]}).to_string()).await;
    let mut items_env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    for (k, v) in [
        ("ITEMS_TABLE", testkit::aws::TABLE),
        ("EVENT_BUS_NAME", testkit::aws::BUS),
        ("CONFIG_SECRET_ID", testkit::aws::SECRET),
        ("POWERTOOLS_METRICS_NAMESPACE", "ItemsApi"),
        ("POWERTOOLS_SERVICE_NAME", "items"),
    ] {
        items_env.push((k.to_owned(), v.to_owned()));
    }
    let plan: [Function; 3] = [
        ("hello", vec![], Bytes::from_static(b"{}")),
        (
            "public",
            vec![("POWERTOOLS_SERVICE_NAME".into(), "public".into())],
            public_event(),
        ),
        ("items", items_env, public_event()),
    ];
    let mut rows = Vec::new();
    for (name, env, event) in plan {
        let binary = dir.join(name);
        let size = std::fs::metadata(&binary)
            .map(|m| m.len())
            .unwrap_or_else(|e| panic!("{}: {e} (build with --release first)", binary.display()));
        let mut all = Vec::new();
        for _ in 0..runs {
            all.push(
                cold_start(&binary, name, &env, event.clone(), warm)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}")),
            );
        }
        rows.push(Row {
            name,
            runs: all,
            size,
        });
    }

    let base = &rows[0];
    let base_init = median(base.runs.iter().map(|r| r.init).collect());
    let base_mem = base
        .runs
        .iter()
        .map(|r| r.peak_memory_kib)
        .max()
        .unwrap_or(1)
        .max(1);
    println!(
        "cold starts: {runs} runs each, {warm} warm invocations a run; medians (warm: p50/p99 of all runs)\n"
    );
    println!(
        "| function | binary | init | first invocation | warm p50 | warm p99 | peak memory | init vs hello | memory vs hello |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in &rows {
        let init = median(row.runs.iter().map(|r| r.init).collect());
        let first = median(row.runs.iter().map(|r| r.first).collect());
        let mut warm_all: Vec<Duration> = row
            .runs
            .iter()
            .flat_map(|r| r.warm.iter().copied())
            .collect();
        warm_all.sort();
        let p = |q: f64| warm_all[((warm_all.len() - 1) as f64 * q).round() as usize];
        let mem = row
            .runs
            .iter()
            .map(|r| r.peak_memory_kib)
            .max()
            .unwrap_or(0);
        println!(
            "| {} | {:.1} MB | {:.2} ms | {:.2} ms | {:.0} µs | {:.0} µs | {:.1} MiB | {:.2}× | {:.2}× |",
            row.name,
            row.size as f64 / 1e6,
            init.as_secs_f64() * 1e3,
            first.as_secs_f64() * 1e3,
            p(0.5).as_secs_f64() * 1e6,
            p(0.99).as_secs_f64() * 1e6,
            mem as f64 / 1024.0,
            init.as_secs_f64() / base_init.as_secs_f64(),
            mem as f64 / base_mem as f64,
        );
    }
}
