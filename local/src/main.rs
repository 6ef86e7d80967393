//! `local`: serve the twin (the default), or talk to a running one.

use clap::Parser;
use local::auth::sigv4::LocalCredentials;
use local::client::TwinClient;
use local::settings::{Cli, Command};
use local::twin::{BoxError, Twin};
use local::xray_daemon::XrayDaemon;

// Every request allocates (its event, its log lines, its metrics) on two worker threads:
// mimalloc's per-thread heaps cost less per allocation than glibc's arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(*args).await,
        Some(Command::Token { user, twin }) => token(&TwinClient::new(twin.twin), &user).await,
        Some(Command::Items { user, twin }) => items(&TwinClient::new(twin.twin), &user).await,
        Some(Command::Archive { twin }) => archive(&TwinClient::new(twin.twin)).await,
        Some(Command::Internal {
            path,
            method,
            data,
            data_dir,
            iam,
            twin,
        }) => {
            internal(
                &TwinClient::new(twin.twin),
                &method,
                &path,
                data,
                &data_dir,
                &iam,
            )
            .await
        }
    };
    if let Err(err) = result {
        local::output::flush();
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

async fn serve(args: local::settings::ServeArgs) -> Result<(), BoxError> {
    let daemon = XrayDaemon::bind(args.xray_daemon_addr)
        .await
        .map_err(|e| format!("X-Ray daemon on {}: {e}", args.xray_daemon_addr))?;
    // The functions run in this process: their lines are teed into the console's log store.
    telemetry::init_with_writer_and_xray_daemon(
        "local-twin",
        local::ops::logs::tee,
        daemon.local_addr(),
    );
    let twin = Twin::bind(&args, daemon).await?;
    // The first line a test or a person reads: where it listens and whom it trusts.
    local::output::line(
        &serde_json::json!({
            "message": "local twin listening",
            "url": format!("http://{}", twin.addr),
            "issuer": twin.issuer_url,
            "audience": twin.audience,
            "data_dir": args.data_dir,
            "login": format!("http://{}/login", twin.addr),
        })
        .to_string(),
    );
    let served = twin.serve().await;
    // The last lines out before the process ends.
    local::output::flush();
    served
}

async fn token(client: &TwinClient, user: &str) -> Result<(), BoxError> {
    println!("{}", client.sign_in(user).await?);
    Ok(())
}

async fn items(client: &TwinClient, user: &str) -> Result<(), BoxError> {
    let token = client.sign_in(user).await?;
    let bearer = format!("Bearer {token}");
    let reply = client.get("/items", &[("authorization", &bearer)]).await?;
    println!("{}", reply.text());
    if !reply.status.is_success() {
        return Err(format!("GET /items answered {}", reply.status).into());
    }
    Ok(())
}

/// How long `archive` waits for the stream's consumer to publish the events of the items
/// stored so far.
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(10);

async fn archive(client: &TwinClient) -> Result<(), BoxError> {
    // Events come from the table's stream a moment after the 201s: wait until the mapping has
    // handled every record written so far (or give up waiting and print what is there).
    let started = std::time::Instant::now();
    while started.elapsed() < CATCH_UP {
        match client.get("/_twin/stream", &[]).await {
            Ok(r) if r.status.is_success() && r.json()["caughtUp"] == false => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            _ => break,
        }
    }
    let reply = client.get("/_twin/archive", &[]).await?;
    if !reply.status.is_success() {
        return Err(format!(
            "GET /_twin/archive answered {}: {}",
            reply.status,
            reply.text()
        )
        .into());
    }
    for event in reply.json()["events"].as_array().into_iter().flatten() {
        println!("{}", event["message"]);
    }
    Ok(())
}

/// A signed request to `/internal/*` with the running twin's key.
async fn internal(
    client: &TwinClient,
    method: &str,
    path: &str,
    data: Option<String>,
    data_dir: &std::path::Path,
    iam: &local::settings::IamArgs,
) -> Result<(), BoxError> {
    let credentials = match (&iam.iam_access_key_id, &iam.iam_secret_access_key) {
        (Some(id), Some(secret)) => LocalCredentials {
            access_key_id: id.clone(),
            secret_access_key: secret.clone(),
        },
        _ => {
            let file = data_dir.join(local::auth::sigv4::CREDENTIALS_FILE);
            if !file.exists() {
                return Err(format!(
                    "no IAM key at {}: give the running twin's --data-dir, or --iam-access-key-id",
                    file.display()
                )
                .into());
            }
            LocalCredentials::load_or_create(data_dir)?
        }
    };
    let method: http::Method = method.parse()?;
    let reply = client
        .send_signed(
            &credentials,
            time::OffsetDateTime::now_utc(),
            method.clone(),
            path,
            data.unwrap_or_default(),
        )
        .await?;
    println!("{}", reply.text());
    if !reply.status.is_success() {
        return Err(format!("{method} {path} answered {}", reply.status).into());
    }
    Ok(())
}
