//! `opsctl`, the on-call command line: what the alarms say (with their runbooks), how many
//! requests and item events went through over a window, each SLO's budget and burn rates, and
//! re-emitting `ItemCreated` events through the API's IAM-authorized `/internal` route.
//!
//! Reading order: [`cli`] (commands and their checks), [`alarms`], [`rates`], [`slos`],
//! [`reemit`] with [`sign`] (SigV4), [`aws`] (where the SDK's configuration comes from).

pub mod alarms;
pub mod aws;
pub mod cli;
pub mod rates;
pub mod reemit;
pub mod sign;
pub mod slos;

/// Errors end the command with their message; each says what to fix where it can.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Runs one parsed command and returns what it prints.
pub async fn run(cli: cli::Cli) -> Result<String, Error> {
    let sdk = aws::sdk_config(&cli.aws).await;
    match cli.command {
        cli::Command::Alarms(args) => alarms::run(&sdk, &cli.stack_name, &args).await,
        cli::Command::Rates(args) => rates::run(&sdk, &args).await,
        cli::Command::Reemit(args) => reemit::run(&sdk, &args).await,
        cli::Command::Slo(args) => slos::run(&sdk, &args).await,
    }
}
