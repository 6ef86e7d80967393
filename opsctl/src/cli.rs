//! The commands and their arguments. Every value is checked here, before any AWS call, so that a
//! bad window or period is a clear message and exit status 2 (clap's), not a service error.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// CloudWatch keeps one-minute data for 15 days: a longer window would read coarser data
/// than the periods asked for.
pub const MAX_WINDOW: Duration = Duration::from_secs(15 * 24 * 3600);
/// More rows than this is no longer a table to read: ask for a longer period.
pub const MAX_ROWS: u64 = 1440;

#[derive(Debug, Parser)]
#[command(name = "opsctl", version, about = "On-call tool for the items API")]
pub struct Cli {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The stack's name (Terraform's `name`): alarms are named `<stack name>-<alarm name>`.
    #[arg(
        long,
        global = true,
        default_value = "items-api",
        env = "OPSCTL_STACK_NAME"
    )]
    pub stack_name: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct AwsArgs {
    /// AWS endpoint for every call (moto, LocalStack); otherwise the SDK's own, or
    /// `AWS_ENDPOINT_URL`.
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// AWS region; otherwise the SDK's usual chain (`AWS_REGION`, the profile).
    #[arg(long, global = true)]
    pub region: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The project's alarms: state, reason, when it changed, and the runbook.
    Alarms(AlarmsArgs),
    /// API requests (count, 4xx, 5xx) and item events, per period and in total, over a window.
    Rates(RatesArgs),
    /// Re-emit `ItemCreated` for the items created in a window, through `/internal` (SigV4).
    Reemit(ReemitArgs),
    /// Each objective of `slos/*.json`: its SLI over the window, the error budget left and the
    /// burn rate over each alert window.
    Slo(SloArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Alarm => "ALARM",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

#[derive(Debug, Args)]
pub struct AlarmsArgs {
    /// Only the alarms in this state.
    #[arg(long, value_enum)]
    pub state: Option<AlarmState>,
    /// The alarm definitions (`alarms/*.json` of the repository): the names to look up.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../alarms"), env = "OPSCTL_ALARMS_DIR")]
    pub alarms_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct RatesArgs {
    /// How far back: a number with `s`, `m`, `h` or `d` (`90s`, `15m`, `1h`, `2d`); at most 15 days.
    #[arg(long, value_parser = parse_window)]
    pub since: Duration,
    /// Seconds per row: a multiple of 60.
    #[arg(long, default_value_t = 60, value_parser = parse_period)]
    pub period: u32,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// The `service` dimension of the items function's metrics.
    #[arg(long, default_value = "items")]
    pub service: String,
}

/// Where the stack's metrics are: the values Terraform fills into `${api_id}`, `${stage}` and
/// `${metrics_namespace}`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The HTTP API's id (the `ApiId` dimension; Terraform's `api_id` output).
    #[arg(long, env = "OPSCTL_API_ID")]
    pub api_id: String,
    /// The API stage (the `Stage` dimension).
    #[arg(long, default_value = "$default")]
    pub stage: String,
    /// The functions' EMF namespace (Terraform's `metrics_namespace`).
    #[arg(long, default_value = "ItemsApi")]
    pub namespace: String,
}

#[derive(Debug, Args)]
pub struct SloArgs {
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// The objectives and their burn-rate policy (`slos/` of the repository).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../slos"), env = "OPSCTL_SLOS_DIR")]
    pub slos_dir: PathBuf,
    /// As of this instant (RFC 3339) rather than now: the windows end with the minute that holds
    /// it, what was stamped at that instant included.
    #[arg(long, value_parser = parse_instant)]
    pub at: Option<OffsetDateTime>,
}

impl RatesArgs {
    /// The window and period together: a window shorter than a period, or one with more rows
    /// than a table should have, is refused.
    pub fn check(&self) -> Result<(), String> {
        let window = self.since.as_secs();
        let period = u64::from(self.period);
        if window < period {
            return Err(format!(
                "--since {window}s is shorter than --period {period}: give a longer window or a shorter period"
            ));
        }
        if window / period > MAX_ROWS {
            return Err(format!(
                "--since {window}s in periods of {period}s is {} rows (at most {MAX_ROWS}): give a longer --period",
                window / period
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct ReemitArgs {
    /// The API's base URL (the stage's invoke URL, e.g. `https://ID.execute-api.REGION.amazonaws.com`).
    #[arg(long, value_parser = parse_api_url)]
    pub api: String,
    /// Items created at or after this instant (RFC 3339).
    #[arg(long, value_parser = parse_instant)]
    pub from: OffsetDateTime,
    /// Items created before this instant (RFC 3339).
    #[arg(long, value_parser = parse_instant)]
    pub to: OffsetDateTime,
    /// Sign with this access key instead of the SDK's credential chain (the local twin's keys).
    #[arg(long, requires = "secret_access_key")]
    pub access_key_id: Option<String>,
    /// The secret of `--access-key-id`; read from the environment rather than typed.
    #[arg(
        long,
        env = "OPSCTL_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "access_key_id"
    )]
    pub secret_access_key: Option<String>,
    /// The session token of temporary keys given with `--access-key-id`.
    #[arg(
        long,
        env = "OPSCTL_SESSION_TOKEN",
        hide_env_values = true,
        requires = "access_key_id"
    )]
    pub session_token: Option<String>,
}

impl ReemitArgs {
    pub fn check(&self) -> Result<(), String> {
        if self.from >= self.to {
            return Err(format!(
                "--from {} is not before --to {}",
                format_instant(self.from),
                format_instant(self.to)
            ));
        }
        Ok(())
    }
}

/// `90s`, `15m`, `1h`, `2d`: a whole number, then its unit.
pub fn parse_window(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit: write e.g. 15m, 1h or 2d"))?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(format!(
            "`{text}` does not start with a whole number: write e.g. 15m, 1h or 2d"
        ));
    }
    // Only digits: a parse error is an overflow, far past the longest window.
    let n: u64 = number.parse().unwrap_or(u64::MAX);
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{unit}` is not a unit: use s, m, h or d")),
    };
    let secs = n.checked_mul(unit_secs).filter(|s| *s > 0).ok_or_else(|| {
        format!("`{text}` is not a window: it must be more than 0 and at most 15d")
    })?;
    if secs > MAX_WINDOW.as_secs() {
        return Err(format!(
            "`{text}` is longer than 15d: CloudWatch keeps one-minute data for 15 days"
        ));
    }
    Ok(Duration::from_secs(secs))
}

/// A period of whole minutes, as CloudWatch keeps standard-resolution data.
pub fn parse_period(text: &str) -> Result<u32, String> {
    let secs: u32 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if secs == 0 || !secs.is_multiple_of(60) {
        return Err(format!(
            "`{text}` is not a multiple of 60 seconds (60, 300, 3600, ...)"
        ));
    }
    Ok(secs)
}

pub fn parse_instant(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("`{text}` is not an RFC 3339 instant like 2026-11-22T03:00:00Z: {e}"))
}

pub fn parse_api_url(text: &str) -> Result<String, String> {
    let uri: http::Uri = text
        .parse()
        .map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("https" | "http"), Some(_)) if uri.query().is_none() => {
            Ok(text.trim_end_matches('/').to_owned())
        }
        _ => Err(format!(
            "`{text}` is not an http(s) URL without a query, like https://ID.execute-api.REGION.amazonaws.com"
        )),
    }
}

/// RFC 3339 in UTC, as the API writes its timestamps.
pub fn format_instant(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("opsctl").chain(args.iter().copied()))
    }

    #[test]
    fn windows_take_a_number_and_a_unit() {
        assert_eq!(parse_window("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_window("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_window("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_window("15d"), Ok(MAX_WINDOW));
        for bad in [
            "",
            "h",
            "1",
            "0m",
            "-5m",
            "1.5h",
            "1w",
            "1 h",
            "16d",
            "99999999999999999999d",
        ] {
            let err = parse_window(bad).expect_err(bad);
            assert!(!err.is_empty(), "{bad}");
        }
        assert!(parse_window("16d").unwrap_err().contains("15 days"));
        assert!(parse_window("1w").unwrap_err().contains("use s, m, h or d"));
    }

    #[test]
    fn periods_are_whole_minutes() {
        assert_eq!(parse_period("60"), Ok(60));
        assert_eq!(parse_period("300"), Ok(300));
        for bad in ["0", "30", "90", "-60", "1m", ""] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_refuse_a_window_shorter_than_a_period_or_too_many_rows() {
        let cli = parse(&["rates", "--since", "1h", "--api-id", "a1"]).unwrap();
        let Command::Rates(args) = cli.command else {
            panic!("rates")
        };
        assert_eq!((args.since.as_secs(), args.period), (3600, 60));
        assert_eq!(args.check(), Ok(()));

        let cli = parse(&[
            "rates", "--since", "2m", "--period", "300", "--api-id", "a1",
        ])
        .unwrap();
        let Command::Rates(args) = cli.command else {
            panic!("rates")
        };
        assert!(args.check().unwrap_err().contains("shorter than --period"));

        let cli = parse(&["rates", "--since", "2d", "--api-id", "a1"]).unwrap();
        let Command::Rates(args) = cli.command else {
            panic!("rates")
        };
        assert!(args.check().unwrap_err().contains("give a longer --period"));
    }

    #[test]
    fn a_bad_window_is_a_usage_error() {
        let err = parse(&["rates", "--since", "yesterday", "--api-id", "a1"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(err.to_string().contains("--since"), "{err}");
        let err =
            parse(&["rates", "--since", "1h", "--period", "45", "--api-id", "a1"]).unwrap_err();
        assert!(err.to_string().contains("multiple of 60"), "{err}");
    }

    #[test]
    fn reemit_needs_an_ordered_rfc3339_window_and_an_http_url() {
        let ok = [
            "reemit",
            "--api",
            "http://127.0.0.1:3000/",
            "--from",
            "2026-11-22T01:00:00Z",
            "--to",
            "2026-11-22T02:00:00+01:00",
        ];
        let cli = parse(&ok).unwrap();
        let Command::Reemit(args) = cli.command else {
            panic!("reemit")
        };
        assert_eq!(args.api, "http://127.0.0.1:3000");
        // 02:00+01:00 is 01:00Z: an empty window.
        assert!(args.check().unwrap_err().contains("is not before"));

        let err = parse(&["reemit", "--api", "x", "--from", "a", "--to", "b"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        for (flag, value) in [
            ("--api", "ftp://host"),
            ("--api", "https://h/?q=1"),
            ("--from", "2026-11-22"),
        ] {
            let mut args = ok.to_vec();
            let i = args.iter().position(|a| *a == flag).unwrap();
            args[i + 1] = value;
            let err = parse(&args).unwrap_err();
            assert!(err.to_string().contains(value), "{flag} {value}: {err}");
        }
    }

    #[test]
    fn explicit_keys_come_in_pairs() {
        let err = parse(&[
            "reemit",
            "--api",
            "http://h",
            "--from",
            "2026-11-22T01:00:00Z",
            "--to",
            "2026-11-22T02:00:00Z",
            "--access-key-id",
            "AKID",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }
}
