//! The harness runs a function as Lambda does: the hello-world baseline and a failing init.

use std::path::Path;

use bytes::Bytes;
use perf::measure::cold_start;

#[tokio::test]
async fn a_function_runs_through_the_runtime_api() {
    let hello = Path::new(env!("CARGO_BIN_EXE_hello"));
    let run = cold_start(hello, "hello", &[], Bytes::from_static(b"{}"), 20)
        .await
        .unwrap();
    assert_eq!(run.warm.len(), 20);
    assert!(run.init > std::time::Duration::ZERO && run.first > std::time::Duration::ZERO);
    assert!(run.peak_memory_kib > 0, "VmHWM is read from /proc");
}

#[tokio::test]
async fn a_failing_init_is_reported_not_hung() {
    // A process that exits at once, without ever asking for an event.
    let err = cold_start(
        Path::new("/bin/false"),
        "broken",
        &[],
        Bytes::from_static(b"{}"),
        1,
    )
    .await
    .unwrap_err();
    assert!(err.contains("exited before its first `next`"), "{err}");
}
