//! An unusable LOG_LEVEL is reported, and INFO applies. Its own binary (environment, global
//! subscriber).

mod common;

use common::Capture;

#[test]
fn a_bad_log_level_is_reported_and_info_applies() {
    // SAFETY: the only test in this binary, run before anything reads the environment.
    unsafe {
        std::env::set_var("LOG_LEVEL", "loud");
        std::env::remove_var("RUST_LOG");
    }
    let out = Capture::default();
    telemetry::init_with_writer("items", out.clone());
    tracing::debug!("debug line");
    tracing::info!("info line");

    let warning = out.line("log level setting ignored");
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["problem"], "LOG_LEVEL=\"loud\" is not a level");
    out.line("info line");
    assert!(!out.text().contains("debug line"));
}
