//! What the functions' integration tests share: counting the metrics a piece of code records.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// Runs `f` on a current-thread runtime with a recorder of its own; returns its output and the
/// counters it recorded, by name.
pub fn with_counters<T>(f: impl std::future::Future<Output = T>) -> (T, Vec<(String, u64)>) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = metrics::with_local_recorder(&recorder, || runtime.block_on(f));
    let counters = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| match value {
            DebugValue::Counter(n) => Some((key.key().name().to_owned(), n)),
            _ => None,
        })
        .collect();
    (out, counters)
}

pub fn counter(counters: &[(String, u64)], name: &str) -> u64 {
    counters
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v)
        .sum()
}
