//! LOG_LEVEL through the global subscriber. Its own binary: it sets the environment and
//! installs the process-wide subscriber.

mod common;

use common::Capture;

#[test]
fn log_level_filters_and_a_second_init_is_a_no_op() {
    // SAFETY: the only test in this binary, run before anything reads the environment.
    unsafe {
        std::env::set_var("LOG_LEVEL", "warn");
        std::env::set_var("RUST_LOG", "trace");
    }
    let out = Capture::default();
    telemetry::init_with_writer("items", out.clone());
    let second = Capture::default();
    telemetry::init_with_writer("other", second.clone());
    telemetry::init("third");

    tracing::debug!("debug line");
    tracing::info!("info line");
    tracing::warn!("warn line");
    tracing::error!("error line");

    let messages: Vec<_> = out
        .lines()
        .into_iter()
        .map(|l| l["message"].clone())
        .collect();
    assert_eq!(messages, ["warn line", "error line"]);
    assert_eq!(out.line("warn line")["service"], "items");
    assert_eq!(second.text(), "");
}
