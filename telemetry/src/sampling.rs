//! Debug sampling: a share of invocations, decided when each starts, log at DEBUG whatever
//! the level, as Powertools' `POWERTOOLS_LOGGER_SAMPLE_RATE` does (e.g. `0.01`: one in a
//! hundred). The decision travels with the invocation like its metrics recorder: a
//! thread-local set around every poll of its future.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber, span};
use tracing_subscriber::layer::{Context, Filter};

/// The rate, as `f64` bits; 0 (the default) turns sampling and its cost off.
static RATE: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static SAMPLED: Cell<bool> = const { Cell::new(false) };
    static RNG: Cell<u64> = Cell::new(seed());
}

/// The rate from the environment, or what is wrong with the setting.
pub(crate) fn rate_from_env() -> Result<f64, String> {
    match std::env::var("POWERTOOLS_LOGGER_SAMPLE_RATE") {
        Err(_) => Ok(0.0),
        Ok(value) => parse(&value),
    }
}

fn parse(value: &str) -> Result<f64, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(0.0);
    }
    match value.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "POWERTOOLS_LOGGER_SAMPLE_RATE={value:?} is not a number from 0 to 1"
        )),
    }
}

pub(crate) fn set_rate(rate: f64) {
    RATE.store(rate.to_bits(), Ordering::Relaxed);
}

fn rate() -> f64 {
    f64::from_bits(RATE.load(Ordering::Relaxed))
}

/// Whether the invocation starting now logs at DEBUG.
pub(crate) fn decide() -> bool {
    let rate = rate();
    rate > 0.0 && (rate >= 1.0 || next_unit() < rate)
}

/// Runs `f` with `sampled` as the current invocation's decision.
pub(crate) fn in_scope<T>(sampled: bool, f: impl FnOnce() -> T) -> T {
    if !sampled {
        return f();
    }
    let before = SAMPLED.replace(true);
    // Restored even if `f` unwinds: the request layer catches handler panics.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SAMPLED.set(self.0);
        }
    }
    let _restore = Restore(before);
    f()
}

/// A uniform number in [0, 1): xorshift, enough to pick invocations, no dependency.
fn next_unit() -> f64 {
    let mut x = RNG.get();
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    RNG.set(x);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let local = 0u8;
    (nanos ^ (&local as *const u8 as u64).rotate_left(32)) | 1
}

/// The log filter, letting DEBUG events through in sampled invocations.
pub(crate) struct Sampled<F>(pub F);

fn may_sample(meta: &Metadata<'_>) -> bool {
    *meta.level() == Level::DEBUG && rate() > 0.0
}

impl<S: Subscriber, F: Filter<S>> Filter<S> for Sampled<F> {
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        self.0.enabled(meta, cx) || (meta.is_event() && may_sample(meta) && SAMPLED.get())
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        let interest = self.0.callsite_enabled(meta);
        if interest.is_never() && meta.is_event() && may_sample(meta) {
            Interest::sometimes()
        } else {
            interest
        }
    }

    fn event_enabled(&self, event: &Event<'_>, cx: &Context<'_, S>) -> bool {
        self.0.event_enabled(event, cx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let inner = self.0.max_level_hint();
        if rate() > 0.0 {
            inner.map(|level| level.max(LevelFilter::DEBUG))
        } else {
            inner
        }
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, cx: Context<'_, S>) {
        self.0.on_new_span(attrs, id, cx);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, cx: Context<'_, S>) {
        self.0.on_record(id, values, cx);
    }

    fn on_enter(&self, id: &span::Id, cx: Context<'_, S>) {
        self.0.on_enter(id, cx);
    }

    fn on_exit(&self, id: &span::Id, cx: Context<'_, S>) {
        self.0.on_exit(id, cx);
    }

    fn on_close(&self, id: span::Id, cx: Context<'_, S>) {
        self.0.on_close(id, cx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_setting() {
        assert_eq!(parse(""), Ok(0.0));
        assert_eq!(parse(" 0.25 "), Ok(0.25));
        assert_eq!(parse("1"), Ok(1.0));
        assert!(parse("2").is_err());
        assert!(parse("-0.1").is_err());
        assert!(parse("often").is_err());
    }

    #[test]
    fn about_the_rate_of_invocations_is_sampled() {
        let n = 100_000;
        let hits = (0..n).filter(|_| next_unit() < 0.1).count();
        assert!((8_000..12_000).contains(&hits), "{hits}");
        assert!((0..n).all(|_| (0.0..1.0).contains(&next_unit())));
    }

    #[test]
    fn the_decision_is_scoped() {
        assert!(!SAMPLED.get());
        in_scope(true, || {
            assert!(SAMPLED.get());
            in_scope(false, || {
                assert!(SAMPLED.get(), "an unsampled call inside keeps it")
            });
        });
        assert!(!SAMPLED.get());
        let _ = std::panic::catch_unwind(|| in_scope(true, || panic!("unwinds")));
        assert!(!SAMPLED.get());
    }
}
