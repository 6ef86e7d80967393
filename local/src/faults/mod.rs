//! Fault injection: the twin's dependencies and functions misbehave on request, so that each
//! alarm of `alarms/*.json` can be rehearsed with real traffic.
//!
//! A fault is written `TARGET=KIND[:DELAY][:RATE]`, the same in the `--fault` flag and in the
//! operator route `/_twin/faults`:
//!
//! | fault | what happens | what moves |
//! | --- | --- | --- |
//! | `store=throttle` | the item store throttles every call it is hit on | `503`, `StoreThrottles`, DynamoDB throttle events |
//! | `store=fail` | the item store fails | `500`, DynamoDB `SystemErrors` |
//! | `bus=reject` | the bus rejects the entries (`InternalFailure`), retries included | `ItemEventPublishRetries`, `ItemEventPublishFailures` |
//! | `archive=fail` | the rule's target (the archive log group) cannot be written | `AWS/Events` `FailedInvocations` |
//! | `config=fail` | the configuration secret cannot be read | `503`, `ConfigLoadFailures` |
//! | `items=slow:1500ms` | the handler waits before it runs | `Duration`, `Latency`; a timeout past `--function-timeout` |
//! | `items=panic` | the invocation panics | Lambda `Errors`, `5xx` |
//! | `items=throttle` | Lambda refuses the invocation (reserved concurrency used up) | Lambda `Throttles`, `5xx` |
//! | `item-events=fail` | the stream consumer's invocation fails (`slow`, `panic` as for `items`) | Lambda `Errors`, `IteratorAge`, the dead-letter queue |
//! | `item-events=throttle` | Lambda refuses the consumer's invocations: the records wait in the stream, aging on the twin's clock, and go once it is cleared | Lambda `Throttles`, `IteratorAge`, then `ItemEventLag` |
//!
//! `public` takes the same faults as `items`. The rate (0 to 1, default 1) is the share of calls
//! that fail, each drawn at random.
//!
//! Reading order: this file (the registry and the syntax), then the decorators behind the
//! ports ([`store`], [`config`]) and around the functions ([`function`]). The bus's decorator is
//! the EventBridge stand-in's own; [`bus`] tells it when to fail.

pub mod bus;
pub mod config;
pub mod function;
pub mod store;

use std::fmt;
use std::str::FromStr;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// What a fault acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Store,
    Bus,
    Archive,
    Config,
    Items,
    Public,
    #[serde(rename = "item-events")]
    ItemEvents,
}

impl Target {
    const ALL: [Target; 7] = [
        Target::Store,
        Target::Bus,
        Target::Archive,
        Target::Config,
        Target::Items,
        Target::Public,
        Target::ItemEvents,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Store => "store",
            Target::Bus => "bus",
            Target::Archive => "archive",
            Target::Config => "config",
            Target::Items => "items",
            Target::Public => "public",
            Target::ItemEvents => "item-events",
        }
    }

    /// The faults this target can have.
    fn kinds(self) -> &'static [Kind] {
        match self {
            Target::Store => &[Kind::Throttle, Kind::Fail],
            Target::Bus => &[Kind::Reject],
            Target::Archive | Target::Config => &[Kind::Fail],
            Target::Items | Target::Public => &[Kind::Slow, Kind::Panic, Kind::Throttle],
            Target::ItemEvents => &[Kind::Fail, Kind::Slow, Kind::Panic, Kind::Throttle],
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|t| t.name()).collect();
                format!("unknown target `{text}`; targets: {}", names.join(", "))
            })
    }
}

/// How it misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Throttle,
    Fail,
    Reject,
    Slow,
    Panic,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Throttle,
        Kind::Fail,
        Kind::Reject,
        Kind::Slow,
        Kind::Panic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Throttle => "throttle",
            Kind::Fail => "fail",
            Kind::Reject => "reject",
            Kind::Slow => "slow",
            Kind::Panic => "panic",
        }
    }
}

/// The longest delay `slow` takes: Lambda's longest timeout.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// One fault: a target, a kind, the share of calls it hits and, for `slow`, the delay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fault {
    pub target: Target,
    pub kind: Kind,
    pub rate: f64,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "millis")]
    pub delay: Option<Duration>,
}

fn millis<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(d.as_millis() as u64),
        None => s.serialize_none(),
    }
}

const SYNTAX: &str = "TARGET=KIND[:DELAY][:RATE], e.g. store=throttle:0.5 or items=slow:1500ms";

/// `1500ms`, `2s`, `0.5s`.
fn parse_delay(text: &str) -> Option<Duration> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else {
        (text.strip_suffix('s')?, 1.0)
    };
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value * scale))
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (target, rest) = text
            .trim()
            .split_once('=')
            .ok_or_else(|| format!("`{text}`: expected {SYNTAX}"))?;
        let target = Target::parse(target.trim())?;
        let mut parts = rest.split(':').map(str::trim);
        let kind_text = parts.next().unwrap_or_default();
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.name() == kind_text && target.kinds().contains(k))
            .ok_or_else(|| {
                let kinds: Vec<&str> = target.kinds().iter().map(|k| k.name()).collect();
                format!(
                    "`{}` has no fault `{kind_text}`; its faults: {}",
                    target.name(),
                    kinds.join(", ")
                )
            })?;
        let mut rate = None;
        let mut delay = None;
        for part in parts {
            if kind == Kind::Slow && delay.is_none() && rate.is_none() {
                let d = parse_delay(part).ok_or_else(|| {
                    format!("`{part}` is not a delay: write it as 1500ms or 1.5s")
                })?;
                if d > MAX_DELAY {
                    return Err(format!(
                        "a delay of `{part}` is over {} s, Lambda's longest timeout",
                        MAX_DELAY.as_secs()
                    ));
                }
                delay = Some(d);
            } else if rate.is_none() {
                let r: f64 = part
                    .parse()
                    .ok()
                    .filter(|r: &f64| (0.0..=1.0).contains(r))
                    .ok_or_else(|| {
                        format!("the rate `{part}` must be a number from 0 to 1 (a share of calls)")
                    })?;
                rate = Some(r);
            } else {
                return Err(format!("`{text}`: too many parts; expected {SYNTAX}"));
            }
        }
        if kind == Kind::Slow && delay.is_none() {
            return Err(format!(
                "`{}=slow` needs a delay, e.g. {}=slow:1500ms",
                target.name(),
                target.name()
            ));
        }
        Ok(Fault {
            target,
            kind,
            rate: rate.unwrap_or(1.0),
            delay,
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.target.name(), self.kind.name())?;
        if let Some(d) = self.delay {
            write!(f, ":{}ms", d.as_millis())?;
        }
        write!(f, ":{}", self.rate)
    }
}

/// The faults in force, shared by the decorators and changed at run time by the operator
/// route. Empty by default: the twin behaves.
///
/// Every request asks a few times whether a fault is in force, from both serving threads; a
/// read lock is a write to the lock's word, which would move between their cores on every
/// ask. Which (target, kind) pairs have a fault is also kept as bits, read without the lock:
/// a pair without one is answered from them.
#[derive(Debug, Default)]
pub struct Faults {
    active: RwLock<Vec<Fault>>,
    /// Bit [`bit`] of each (target, kind) with a fault; written under `active`'s write lock.
    in_force: AtomicU64,
}

/// A (target, kind) pair's bit in [`Faults::in_force`].
fn bit(target: Target, kind: Kind) -> u64 {
    1 << (target as u64 * Kind::ALL.len() as u64 + kind as u64)
}

const _: () = assert!(Target::ALL.len() * Kind::ALL.len() <= 64, "a bit each");

impl Faults {
    pub fn new(initial: impl IntoIterator<Item = Fault>) -> Self {
        let faults = Self::default();
        for fault in initial {
            faults.set(fault);
        }
        faults
    }

    /// Adds a fault, replacing the one of the same target and kind.
    pub fn set(&self, fault: Fault) {
        let mut active = self.active.write().unwrap_or_else(|e| e.into_inner());
        active.retain(|f| (f.target, f.kind) != (fault.target, fault.kind));
        active.push(fault);
        active.sort_by_key(|f| (f.target, f.kind));
        self.note(&active);
    }

    /// Sets the bits of the faults in `active`, under its write lock.
    fn note(&self, active: &[Fault]) {
        let bits = active
            .iter()
            .fold(0, |bits, f| bits | bit(f.target, f.kind));
        self.in_force.store(bits, Ordering::Release);
    }

    /// Removes every fault, or those of one target.
    pub fn clear(&self, target: Option<Target>) {
        let mut active = self.active.write().unwrap_or_else(|e| e.into_inner());
        active.retain(|f| target.is_some_and(|t| f.target != t));
        self.note(&active);
    }

    pub fn list(&self) -> Vec<Fault> {
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn find(&self, target: Target, kind: Kind) -> Option<Fault> {
        if self.in_force.load(Ordering::Acquire) & bit(target, kind) == 0 {
            return None;
        }
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|f| f.target == target && f.kind == kind)
            .cloned()
    }

    /// Whether this call is hit by `target=kind`: drawn at the fault's rate.
    pub fn fires(&self, target: Target, kind: Kind) -> bool {
        self.find(target, kind).is_some_and(|f| hit(f.rate))
    }

    /// The delay `target=slow` puts on this call, if it is hit.
    pub fn delay(&self, target: Target) -> Option<Duration> {
        self.find(target, Kind::Slow)
            .filter(|f| hit(f.rate))
            .and_then(|f| f.delay)
    }
}

fn hit(rate: f64) -> bool {
    rate >= 1.0 || (rate > 0.0 && fastrand::f64() < rate)
}

/// Text the decorators put in their errors, so that a log line names the fault that caused it.
pub fn injected(target: Target, kind: Kind) -> String {
    format!("injected fault {}={}", target.name(), kind.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_syntax_with_rates_and_delays() {
        let f: Fault = "store=throttle:0.5".parse().unwrap();
        assert_eq!(
            (f.target, f.kind, f.rate, f.delay),
            (Target::Store, Kind::Throttle, 0.5, None)
        );
        let f: Fault = "bus=reject".parse().unwrap();
        assert_eq!((f.target, f.kind, f.rate), (Target::Bus, Kind::Reject, 1.0));
        let f: Fault = "items=slow:1500ms".parse().unwrap();
        assert_eq!((f.delay, f.rate), (Some(Duration::from_millis(1500)), 1.0));
        let f: Fault = "public=slow:2.5s:0.25".parse().unwrap();
        assert_eq!((f.delay, f.rate), (Some(Duration::from_millis(2500)), 0.25));
        assert_eq!(f.to_string(), "public=slow:2500ms:0.25");
        assert_eq!(f.to_string().parse::<Fault>().unwrap(), f);
    }

    #[test]
    fn mistakes_are_named() {
        let err = |s: &str| s.parse::<Fault>().unwrap_err();
        assert!(
            err("store").contains("expected TARGET=KIND"),
            "{}",
            err("store")
        );
        assert!(err("disk=fail").contains("unknown target `disk`"));
        assert!(
            err("store=panic").contains("`store` has no fault `panic`; its faults: throttle, fail")
        );
        assert!(err("store=throttle:1.5").contains("from 0 to 1"));
        assert!(err("store=throttle:half").contains("from 0 to 1"));
        assert!(err("items=slow").contains("needs a delay"));
        assert!(err("items=slow:fast").contains("not a delay"));
        assert!(err("items=slow:901s").contains("over 900 s"));
        assert!(err("items=panic:0.5:0.5").contains("too many parts"));
    }

    #[test]
    fn set_replaces_clear_removes_and_rates_decide() {
        let faults = Faults::new(["store=throttle:0".parse().unwrap()]);
        assert!(
            !faults.fires(Target::Store, Kind::Throttle),
            "rate 0 never fires"
        );
        faults.set("store=throttle".parse().unwrap());
        faults.set("items=panic".parse().unwrap());
        assert_eq!(faults.list().len(), 2, "replaced, not added");
        assert!(faults.fires(Target::Store, Kind::Throttle));
        assert!(!faults.fires(Target::Store, Kind::Fail));
        assert_eq!(faults.delay(Target::Items), None);
        faults.clear(Some(Target::Store));
        assert_eq!(faults.list(), vec!["items=panic".parse::<Fault>().unwrap()]);
        faults.clear(None);
        assert!(faults.list().is_empty());

        // A rate of one half hits about half of many calls.
        faults.set("bus=reject:0.5".parse().unwrap());
        let hits = (0..4000)
            .filter(|_| faults.fires(Target::Bus, Kind::Reject))
            .count();
        assert!((1600..2400).contains(&hits), "{hits} of 4000");
    }

    /// Every (target, kind) pair answers for its own fault alone, however faults were set
    /// and cleared before (the bits read without the lock follow the list).
    #[test]
    fn each_pair_fires_for_its_own_fault_only() {
        let faults = Faults::default();
        for target in Target::ALL {
            for kind in Kind::ALL {
                faults.set(Fault {
                    target,
                    kind,
                    rate: 1.0,
                    delay: Some(Duration::from_millis(1)),
                });
                for t in Target::ALL {
                    for k in Kind::ALL {
                        let expected = (t, k) == (target, kind);
                        assert_eq!(
                            faults.fires(t, k),
                            expected,
                            "{t:?}={k:?} after {target:?}={kind:?}"
                        );
                    }
                }
                faults.clear(Some(target));
                assert!(Kind::ALL.iter().all(|k| !faults.fires(target, *k)));
            }
        }
        faults.set("items=slow:5ms".parse().unwrap());
        faults.set("store=fail".parse().unwrap());
        assert_eq!(faults.delay(Target::Items), Some(Duration::from_millis(5)));
        faults.clear(Some(Target::Items));
        assert_eq!(faults.delay(Target::Items), None);
        assert!(faults.fires(Target::Store, Kind::Fail));
    }
}
