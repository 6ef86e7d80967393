//! Which events are written: `LOG_LEVEL` (the name Powertools and Lambda users know),
//! else `RUST_LOG` (full `EnvFilter` syntax, for per-crate levels), else INFO.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

/// The filter from the process environment, and what was wrong with it, if anything.
pub(crate) fn from_env() -> (EnvFilter, Vec<String>) {
    choose(
        std::env::var("LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    )
}

/// The filter for these settings; an unusable setting is skipped and reported, so that a
/// typo in a function's configuration shows in its logs instead of silencing them.
pub(crate) fn choose(log_level: Option<&str>, rust_log: Option<&str>) -> (EnvFilter, Vec<String>) {
    let mut problems = Vec::new();
    if let Some(value) = log_level.map(str::trim).filter(|v| !v.is_empty()) {
        match level(value) {
            Some(level) => return (EnvFilter::default().add_directive(level.into()), problems),
            None => problems.push(format!("LOG_LEVEL={value:?} is not a level")),
        }
    }
    if let Some(value) = rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        match EnvFilter::try_new(value) {
            Ok(filter) => return (filter, problems),
            Err(err) => problems.push(format!("RUST_LOG={value:?}: {err}")),
        }
    }
    (
        EnvFilter::default().add_directive(LevelFilter::INFO.into()),
        problems,
    )
}

/// A `LOG_LEVEL` value, any case. Also the names other Powertools runtimes use.
fn level(value: &str) -> Option<LevelFilter> {
    const LEVELS: &[(&str, LevelFilter)] = &[
        ("TRACE", LevelFilter::TRACE),
        ("DEBUG", LevelFilter::DEBUG),
        ("INFO", LevelFilter::INFO),
        ("WARN", LevelFilter::WARN),
        ("WARNING", LevelFilter::WARN),
        ("ERROR", LevelFilter::ERROR),
        ("CRITICAL", LevelFilter::ERROR),
        ("SILENT", LevelFilter::OFF),
        ("OFF", LevelFilter::OFF),
    ];
    LEVELS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value))
        .map(|(_, level)| *level)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max(log_level: Option<&str>, rust_log: Option<&str>) -> (Option<LevelFilter>, usize) {
        let (filter, problems) = choose(log_level, rust_log);
        (filter.max_level_hint(), problems.len())
    }

    #[test]
    fn log_level_any_case_wins_over_rust_log() {
        assert_eq!(
            max(Some("debug"), Some("error")),
            (Some(LevelFilter::DEBUG), 0)
        );
        assert_eq!(max(Some("Warn"), None), (Some(LevelFilter::WARN), 0));
        assert_eq!(max(Some("ERROR"), None), (Some(LevelFilter::ERROR), 0));
        assert_eq!(max(Some(" info "), None), (Some(LevelFilter::INFO), 0));
    }

    #[test]
    fn rust_log_when_no_log_level() {
        assert_eq!(max(None, Some("warn")), (Some(LevelFilter::WARN), 0));
        assert_eq!(
            max(Some(""), Some("error,telemetry=debug")),
            (Some(LevelFilter::DEBUG), 0)
        );
    }

    #[test]
    fn info_by_default_and_bad_values_reported() {
        assert_eq!(max(None, None), (Some(LevelFilter::INFO), 0));
        assert_eq!(max(Some("loud"), None), (Some(LevelFilter::INFO), 1));
        assert_eq!(
            max(Some("loud"), Some("warn")),
            (Some(LevelFilter::WARN), 1)
        );
        assert_eq!(max(None, Some("=[")), (Some(LevelFilter::INFO), 1));
    }
}
