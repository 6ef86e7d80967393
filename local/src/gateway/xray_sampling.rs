//! Lambda's tracing decision for an invocation. Under active tracing, a decision made upstream
//! (`Sampled=1` or `Sampled=0` in the request's `X-Amzn-Trace-Id`, with its `Root=` when well
//! formed) is kept, as X-Ray does for a caller that already decided; otherwise X-Ray's default
//! sampling rule decides: a reservoir of the first request(s) of each second, then a fixed
//! rate (5 %) of the rest. An unsampled invocation writes no segment and its spans cost the
//! function nothing (see the telemetry crate's `xray` module). Under pass-through tracing only
//! an upstream `Sampled=1` is traced: Lambda samples nothing itself, and an HTTP API sends no
//! trace header of its own (docs/cost.md, X-Ray).

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// X-Ray's default rule: one request a second, then 5 % of the rest.
pub const DEFAULT_RESERVOIR: u32 = 1;
pub const DEFAULT_FIXED_RATE: f64 = 0.05;

/// What a sampling rule decides with: its reservoir per second and its fixed rate.
pub struct XraySampler {
    reservoir: u32,
    fixed_rate: f64,
    /// The current second and how many of its requests the reservoir took.
    second: Mutex<(i64, u32)>,
    /// The last second whose reservoir is used up: past it, a request of that second needs
    /// only to read this, not to take the lock every request would otherwise share.
    spent: AtomicI64,
}

/// A function's tracing mode, as Terraform's `tracing_config` sets it (a conformance test ties
/// the two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracingMode {
    /// Lambda keeps an upstream decision, and samples the rest with the rule.
    Active,
    /// Lambda traces only what an upstream service sampled.
    PassThrough,
}

impl TracingMode {
    /// The mode's name in Lambda's `TracingConfig`.
    pub fn name(self) -> &'static str {
        match self {
            TracingMode::Active => "Active",
            TracingMode::PassThrough => "PassThrough",
        }
    }
}

/// The caller's own decision, read from its `X-Amzn-Trace-Id`.
#[derive(Debug, Default, PartialEq)]
pub struct Upstream<'a> {
    pub root: Option<&'a str>,
    pub sampled: Option<bool>,
}

impl<'a> Upstream<'a> {
    /// `Root=1-…-…;Parent=…;Sampled=0|1` in any order; a malformed root is ignored (a new
    /// trace is started), as is any other field.
    pub fn parse(header: Option<&'a str>) -> Self {
        let mut upstream = Self::default();
        for part in header.unwrap_or_default().split(';') {
            let (key, value) = part.trim().split_once('=').unwrap_or((part.trim(), ""));
            match key {
                "Root" if is_trace_id(value) => upstream.root = Some(value),
                "Sampled" if value == "1" => upstream.sampled = Some(true),
                "Sampled" if value == "0" => upstream.sampled = Some(false),
                _ => {}
            }
        }
        upstream
    }
}

/// `1-` + 8 hex digits (epoch seconds) + `-` + 24 hex digits.
fn is_trace_id(s: &str) -> bool {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let mut parts = s.split('-');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("1"), Some(epoch), Some(unique), None) if hex(epoch, 8) && hex(unique, 24)
    )
}

impl XraySampler {
    /// `fixed_rate` from 0 to 1; a reservoir of 0 leaves the fixed rate alone to decide.
    pub fn new(reservoir: u32, fixed_rate: f64) -> Self {
        Self {
            reservoir,
            fixed_rate: fixed_rate.clamp(0.0, 1.0),
            second: Mutex::new((i64::MIN, 0)),
            spent: AtomicI64::new(i64::MIN),
        }
    }

    /// Whether an invocation of a function traced in `mode`, for a request arriving at `now`
    /// with `upstream`, is traced.
    pub fn decide_for(
        &self,
        mode: TracingMode,
        upstream: &Upstream<'_>,
        now: OffsetDateTime,
    ) -> bool {
        match mode {
            TracingMode::Active => self.decide(upstream, now),
            TracingMode::PassThrough => upstream.sampled == Some(true),
        }
    }

    /// Whether a request arriving at `now` with `upstream` is traced under active tracing.
    pub fn decide(&self, upstream: &Upstream<'_>, now: OffsetDateTime) -> bool {
        if let Some(sampled) = upstream.sampled {
            return sampled;
        }
        let this = now.unix_timestamp();
        if self.reservoir > 0 && self.spent.load(Ordering::Relaxed) != this {
            let mut second = self.second.lock().unwrap_or_else(|e| e.into_inner());
            if second.0 != this {
                *second = (this, 0);
            }
            if second.1 < self.reservoir {
                second.1 += 1;
                return true;
            }
            self.spent.store(this, Ordering::Relaxed);
        }
        self.fixed_rate >= 1.0 || (self.fixed_rate > 0.0 && fastrand::f64() < self.fixed_rate)
    }
}

impl Default for XraySampler {
    fn default() -> Self {
        Self::new(DEFAULT_RESERVOIR, DEFAULT_FIXED_RATE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(second).unwrap()
    }

    #[test]
    fn the_reservoir_takes_the_first_request_of_each_second_then_the_rate_decides() {
        let sampler = XraySampler::new(1, 0.0);
        let none = Upstream::default();
        assert!(sampler.decide(&none, at(100)));
        assert!(!sampler.decide(&none, at(100)));
        assert!(!sampler.decide(&none, at(100)));
        assert!(sampler.decide(&none, at(101)));
        assert!(!sampler.decide(&none, at(101)));
    }

    #[test]
    fn pass_through_traces_only_what_upstream_sampled() {
        // Even a rule that samples everything samples nothing for a pass-through function.
        let sampler = XraySampler::new(1, 1.0);
        let none = Upstream::default();
        assert!(!sampler.decide_for(TracingMode::PassThrough, &none, at(300)));
        let sampled = Upstream::parse(Some("Root=1-5759e988-0123456789abcdef0123cafe;Sampled=1"));
        assert!(sampler.decide_for(TracingMode::PassThrough, &sampled, at(300)));
        let declined = Upstream::parse(Some("Sampled=0"));
        assert!(!sampler.decide_for(TracingMode::PassThrough, &declined, at(300)));
        // Active keeps its own rule: the first request of the second.
        assert!(sampler.decide_for(TracingMode::Active, &none, at(300)));
    }

    #[test]
    fn concurrent_requests_share_one_reservoir_a_second() {
        let sampler = XraySampler::new(3, 0.0);
        let none = Upstream::default();
        for second in [200, 201] {
            let sampled: usize = std::thread::scope(|scope| {
                let threads: Vec<_> = (0..8)
                    .map(|_| {
                        scope.spawn(|| {
                            (0..1000)
                                .filter(|_| sampler.decide(&none, at(second)))
                                .count()
                        })
                    })
                    .collect();
                threads.into_iter().map(|t| t.join().unwrap()).sum()
            });
            assert_eq!(sampled, 3, "second {second}");
        }
    }

    #[test]
    fn the_fixed_rate_samples_its_share_of_the_rest() {
        let sampler = XraySampler::new(0, 0.05);
        let none = Upstream::default();
        let sampled = (0..100_000)
            .filter(|_| sampler.decide(&none, at(7)))
            .count();
        // 5 % of 100,000 is 5,000; 4,700..5,300 is more than six standard deviations wide.
        assert!((4_700..5_300).contains(&sampled), "{sampled}");
        assert!((0..1000).all(|_| XraySampler::new(0, 1.0).decide(&none, at(7))));
        assert!((0..1000).all(|_| !XraySampler::new(0, 0.0).decide(&none, at(7))));
    }

    #[test]
    fn an_upstream_decision_is_kept_either_way() {
        let sampler = XraySampler::new(1, 1.0);
        let no = Upstream::parse(Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"));
        assert_eq!(no.root, Some("1-5759e988-bd862e3fe1be46a994272793"));
        assert!(!sampler.decide(&no, at(1)));
        let never = XraySampler::new(0, 0.0);
        assert!(never.decide(&Upstream::parse(Some("Sampled=1")), at(1)));
    }

    #[test]
    fn a_malformed_header_is_no_decision() {
        for header in [
            "Root=1-5759e988-bd862e3fe1be46a99427279;Sampled=1x",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98g-bd862e3fe1be46a994272793;Sampled=?",
            "Root=1-5759e988-bd862e3fe1be46a994272793-00",
            "",
            ";;;",
        ] {
            assert_eq!(
                Upstream::parse(Some(header)),
                Upstream::default(),
                "{header}"
            );
        }
    }
}
