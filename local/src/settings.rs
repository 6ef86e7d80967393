//! The twin's settings: flags with embedded defaults, so `cargo run --release` needs none.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The resource names the defaults below take, also reachable here as `settings::names`.
pub use crate::names;

#[derive(Debug, Parser)]
#[command(
    name = "local",
    about = "The local twin of the items API: API Gateway, Lambda, DynamoDB, EventBridge, CloudWatch Logs and Cognito on one machine"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve(Box<ServeArgs>),
    /// Sign in at the running twin and print an ID token.
    Token {
        #[arg(long, default_value = "alice")]
        user: String,
        #[command(flatten)]
        twin: TwinArgs,
    },
    /// Print a user's items, newest first, from the running twin.
    Items {
        #[arg(long, default_value = "alice")]
        user: String,
        #[command(flatten)]
        twin: TwinArgs,
    },
    /// Print the archived events (the rule's log group), one JSON envelope a line.
    Archive {
        #[command(flatten)]
        twin: TwinArgs,
    },
    /// Send a SigV4-signed request to an `/internal/*` route of the running twin, with the key
    /// of its data folder (or `--iam-access-key-id`), and print the answer.
    Internal {
        /// The path, e.g. `/internal/events/replay`.
        path: String,
        #[arg(long, default_value = "POST")]
        method: String,
        /// A JSON body, e.g. `{"from": "2026-11-21T00:00:00Z", "to": "2026-11-22T00:00:00Z"}`.
        #[arg(long)]
        data: Option<String>,
        /// The running twin's data folder, where its key is.
        #[arg(long, default_value = ".twin", env = "TWIN_DATA_DIR")]
        data_dir: PathBuf,
        #[command(flatten)]
        iam: IamArgs,
        #[command(flatten)]
        twin: TwinArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct TwinArgs {
    /// Where the twin listens.
    #[arg(long, default_value = "http://127.0.0.1:3000", env = "TWIN_URL")]
    pub twin: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:3000", env = "TWIN_ADDR")]
    pub addr: SocketAddr,
    /// Folder for the store, the archive, the issuer key and the secret; made if missing.
    #[arg(long, default_value = ".twin", env = "TWIN_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Stage throttling: steady requests per second.
    #[arg(long, default_value_t = 50.0)]
    pub throttle_rate: f64,
    /// Stage throttling: burst.
    #[arg(long, default_value_t = 100)]
    pub throttle_burst: u32,
    /// JWT issuer to trust (`iss`); the local issuer when not given.
    #[arg(long)]
    pub issuer_url: Option<String>,
    /// JWKS to verify tokens with; the local issuer's when not given.
    #[arg(long)]
    pub jwks_url: Option<String>,
    /// Accepted audience (the app client id).
    #[arg(long, default_value = names::APP_CLIENT_ID)]
    pub audience: String,
    /// A callback URL of the app client (repeat the flag): where the Hosted UI may send the
    /// browser back with a code, as Terraform's `callback_urls`. The twin's own web app
    /// (`http://localhost:PORT/app/` and `http://127.0.0.1:PORT/app/`) when not given.
    #[arg(long = "callback-url", value_name = "URL", value_parser = crate::auth::oauth::client::registered_url)]
    pub callback_urls: Vec<String>,
    /// A sign-out URL of the app client (repeat the flag): where `/logout` may send the browser,
    /// as Terraform's `logout_urls`. The twin's own web app when not given.
    #[arg(long = "logout-url", value_name = "URL", value_parser = crate::auth::oauth::client::registered_url)]
    pub logout_urls: Vec<String>,
    /// CORS allowed origins (repeat the flag); any origin when not given.
    #[arg(long = "cors-origin")]
    pub cors_origins: Vec<String>,
    /// Threads that accept and serve requests, each with a runtime and a listener of its own
    /// on the port, among which Linux spreads the connections; 0 is one per core. Elsewhere
    /// (no such spreading) requests are served by the process's runtime.
    #[arg(long, default_value_t = 0)]
    pub serve_threads: usize,
    /// Function timeout, seconds (as the Lambda's `timeout`).
    #[arg(long, default_value_t = 10)]
    pub function_timeout: u64,
    /// The X-Ray daemon stand-in's UDP address (port 0 picks a free one); the functions send
    /// their segments there, and `/_twin/traces/{id}` reads a request's trace back.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub xray_daemon_addr: SocketAddr,
    /// X-Ray sampling: requests traced at the start of each second (the rule's reservoir).
    /// A caller's `X-Amzn-Trace-Id` with `Sampled=0|1` decides for itself.
    #[arg(long, default_value_t = crate::gateway::xray_sampling::DEFAULT_RESERVOIR)]
    pub xray_reservoir: u32,
    /// X-Ray sampling: the share of the other requests traced, 0 to 1 (`1` traces all).
    #[arg(long, default_value_t = crate::gateway::xray_sampling::DEFAULT_FIXED_RATE, value_parser = unit_interval)]
    pub xray_fixed_rate: f64,
    /// The folder holding `alarms/`, `dashboards/` and `runbooks/` (the repository): the
    /// twin evaluates those alarms and renders those dashboards at `/_ops`.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/.."), env = "TWIN_OBSERVABILITY_DIR")]
    pub observability_dir: PathBuf,
    /// How often the alarms are evaluated and the bus's counters sampled, seconds.
    #[arg(long, default_value_t = 10)]
    pub alarm_evaluation_interval: u64,
    /// A fault to inject from the start (repeat the flag): TARGET=KIND[:DELAY][:RATE], e.g.
    /// `store=throttle:0.5`, `bus=reject`, `archive=fail`, `config=fail`, `items=panic:0.2`,
    /// `items=slow:2500ms`, `items=throttle`, `item-events=fail`. Changed at run time at
    /// `/_twin/faults`.
    #[arg(long = "fault", value_name = "TARGET=KIND[:DELAY][:RATE]")]
    pub faults: Vec<crate::faults::Fault>,
    #[command(flatten)]
    pub iam: IamArgs,
    #[command(flatten)]
    pub item_events: ItemEventsArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The event source mapping from the table's stream to the `item-events` function: the
/// variables of `terraform/variables.tf`, same names, same defaults (a test holds them to it).
#[derive(Debug, Clone, Args)]
pub struct ItemEventsArgs {
    /// Most records in one invocation (`item_events_batch_size`).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub item_events_batch_size: u32,
    /// Longest wait to gather a batch, seconds (`item_events_batching_window_seconds`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=300))]
    pub item_events_batching_window_seconds: u32,
    /// Retries of a failing batch before it goes to the dead-letter queue, -1 for no limit
    /// (`item_events_maximum_retry_attempts`).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(-1..=10000))]
    pub item_events_maximum_retry_attempts: i64,
    /// Oldest record still sent to the function, seconds, -1 for no limit
    /// (`item_events_maximum_record_age_seconds`).
    #[arg(long, default_value_t = 3600, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(-1..=604800))]
    pub item_events_maximum_record_age_seconds: i64,
}

/// The access key that signs `/internal/*` requests (API Gateway's `AWS_IAM`); made at first
/// start in the data folder (`iam-credentials.json`) when not given.
#[derive(Debug, Clone, Args)]
pub struct IamArgs {
    /// Access key id accepted on `/internal/*`.
    #[arg(
        long,
        env = "TWIN_IAM_ACCESS_KEY_ID",
        requires = "iam_secret_access_key"
    )]
    pub iam_access_key_id: Option<String>,
    /// Its secret; from the environment rather than the command line.
    #[arg(
        long,
        env = "TWIN_IAM_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "iam_access_key_id"
    )]
    pub iam_secret_access_key: Option<String>,
}

/// Running the functions on AWS services (a real account, moto, LocalStack) instead of the
/// embedded stand-ins. Credentials and region come from the SDK's usual environment.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// Use DynamoDB, EventBridge and Secrets Manager instead of the embedded stand-ins.
    #[arg(long = "aws")]
    pub enabled: bool,
    /// Endpoint for every AWS service (e.g. moto's `http://127.0.0.1:5000`); the SDK's default
    /// (or `AWS_ENDPOINT_URL`) when not given.
    #[arg(long, requires = "enabled")]
    pub aws_endpoint: Option<String>,
    #[arg(long, default_value = names::ITEMS_TABLE)]
    pub items_table: String,
    #[arg(long, default_value = names::EVENT_BUS)]
    pub event_bus: String,
    #[arg(long, default_value = names::CONFIG_SECRET)]
    pub config_secret_id: String,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Cli::parse_from(["local"]).serve
    }
}

/// A number from 0 to 1.
fn unit_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number from 0 to 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `default = N` of `variable "NAME"` in a Terraform file.
    fn terraform_default(text: &str, name: &str) -> Option<i64> {
        let start = text.find(&format!("variable \"{name}\""))?;
        let block = &text[start..];
        let block = &block[..block[1..]
            .find("\nvariable ")
            .map_or(block.len(), |i| i + 1)];
        block.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "default").then(|| value.trim().parse().ok())?
        })
    }

    #[test]
    fn registered_urls_repeat_and_are_checked() {
        let cli = Cli::try_parse_from([
            "local",
            "--callback-url",
            "https://app.example/cb",
            "--callback-url",
            "http://localhost:5173/",
            "--logout-url",
            "https://app.example/bye",
        ])
        .unwrap();
        assert_eq!(
            cli.serve.callback_urls,
            ["https://app.example/cb", "http://localhost:5173/"]
        );
        assert_eq!(cli.serve.logout_urls, ["https://app.example/bye"]);
        // None given: empty here, the twin's own web app once its port is known.
        assert!(ServeArgs::default().callback_urls.is_empty());
        for bad in ["/app/", "https://app.example/#frag", "ftp://app.example/"] {
            assert!(
                Cli::try_parse_from(["local", "--logout-url", bad]).is_err(),
                "{bad}"
            );
        }
    }

    /// The `--item-events-*` flags default to Terraform's variables of the same names.
    #[test]
    fn item_events_flags_default_to_terraform_s_variables() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../terraform/variables.tf");
        let text = std::fs::read_to_string(path).unwrap();
        let args = ServeArgs::default().item_events;
        let flags = [
            (
                "item_events_batch_size",
                i64::from(args.item_events_batch_size),
            ),
            (
                "item_events_batching_window_seconds",
                i64::from(args.item_events_batching_window_seconds),
            ),
            (
                "item_events_maximum_retry_attempts",
                args.item_events_maximum_retry_attempts,
            ),
            (
                "item_events_maximum_record_age_seconds",
                args.item_events_maximum_record_age_seconds,
            ),
        ];
        for (name, flag) in flags {
            assert_eq!(
                terraform_default(&text, name),
                Some(flag),
                "--{} and variable \"{name}\"",
                name.replace('_', "-")
            );
        }
    }
}
