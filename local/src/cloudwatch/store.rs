//! The metric store: values kept per metric and per storage-resolution bucket, aggregated into
//! CloudWatch's statistics when read.
//!
//! Values are kept (each distinct value with its count) rather than pre-aggregated, because
//! percentiles over any period need them; CloudWatch keeps the same for the metrics it can
//! answer percentiles on. Data older than [`RETENTION_SECS`] is dropped: the longest range a
//! CloudWatch alarm may read (the SLO burn-rate alarms read up to three days back).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

use crate::per_thread::PerThread;

/// How long values are kept, seconds: seven days, the most an alarm's
/// `Period x EvaluationPeriods` may span in CloudWatch.
pub const RETENTION_SECS: i64 = 7 * 24 * 3600;

/// One metric: namespace, name and dimensions (sorted by name, as CloudWatch identifies them).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricId {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
}

impl MetricId {
    pub fn new(namespace: &str, name: &str, dimensions: &[(&str, &str)]) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            dimensions: dimensions
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }
}

impl MetricId {
    /// The dimensions as borrowed `(name, value)` pairs, sorted by name.
    fn dimension_pairs(&self) -> Vec<(&str, &str)> {
        self.dimensions
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

impl fmt::Display for MetricId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)?;
        for (k, v) in &self.dimensions {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

/// A statistic CloudWatch computes over a period.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Statistic {
    SampleCount,
    Sum,
    Average,
    Minimum,
    Maximum,
    /// `pNN` or `pNN.N`: a percentile, 0 to 100.
    Percentile(f64),
    /// `TC(low:high)` with absolute bounds, either may be left out: how many values are
    /// above `low` and at most `high` (CloudWatch's trimmed count; its bounds exclude the
    /// lower value and include the upper one, as for the trimmed mean).
    TrimmedCount(Option<f64>, Option<f64>),
}

impl Statistic {
    /// CloudWatch's names: `SampleCount`, `Sum`, `Average`, `Minimum`, `Maximum`, `p99`, `p99.9`.
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "SampleCount" => Self::SampleCount,
            "Sum" => Self::Sum,
            "Average" => Self::Average,
            "Minimum" => Self::Minimum,
            "Maximum" => Self::Maximum,
            _ if s.starts_with("TC(") => Self::trimmed_count(s)?,
            _ => {
                let p = s
                    .strip_prefix('p')
                    .and_then(|n| n.parse::<f64>().ok())
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| format!("unsupported statistic `{s}`"))?;
                Self::Percentile(p)
            }
        })
    }
}

impl Statistic {
    /// `TC(low:high)`, absolute bounds only (percentage bounds are refused by name).
    fn trimmed_count(s: &str) -> Result<Self, String> {
        let unsupported = || {
            format!(
                "unsupported statistic `{s}` (the twin takes TC(low:high) with absolute bounds)"
            )
        };
        let inner = s
            .strip_prefix("TC(")
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(unsupported)?;
        let (low, high) = inner.split_once(':').ok_or_else(unsupported)?;
        let bound = |b: &str| -> Result<Option<f64>, String> {
            let b = b.trim();
            if b.is_empty() {
                return Ok(None);
            }
            b.parse::<f64>().map(Some).map_err(|_| unsupported())
        };
        let (low, high) = (bound(low)?, bound(high)?);
        if low.is_none() && high.is_none() {
            return Err(unsupported());
        }
        Ok(Self::TrimmedCount(low, high))
    }
}

/// The values that fell in one bucket: each distinct value with how many times it was seen
/// (a map, so that a busy minute holds its distinct values, not every request's). Keyed by the
/// value's bits and unordered: a value is put on every request and read seldom, and reading
/// sorts them anyway ([`Aggregate::from_values`]). The keys are the twin's own numbers, not a
/// caller's strings: a fast hash, not one made to resist chosen keys.
#[derive(Clone, Debug, Default)]
struct Bucket {
    values: HashMap<u64, u64, foldhash::fast::RandomState>,
}

/// The values of one period, ready for any statistic.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Aggregate {
    /// Ascending distinct values with their counts.
    values: Vec<(f64, u64)>,
}

impl Aggregate {
    pub fn from_values(values: impl IntoIterator<Item = (f64, u64)>) -> Self {
        let mut values: Vec<(f64, u64)> = values
            .into_iter()
            .filter(|(v, n)| v.is_finite() && *n > 0)
            .collect();
        values.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, u64)> = Vec::with_capacity(values.len());
        for (v, n) in values {
            match merged.last_mut() {
                Some((last, c)) if *last == v => *c += n,
                _ => merged.push((v, n)),
            }
        }
        Self { values: merged }
    }

    pub fn sample_count(&self) -> u64 {
        self.values.iter().map(|(_, n)| n).sum()
    }

    pub fn statistic(&self, stat: Statistic) -> Option<f64> {
        let count = self.sample_count();
        if count == 0 {
            return None;
        }
        let sum: f64 = self.values.iter().map(|(v, n)| v * *n as f64).sum();
        Some(match stat {
            Statistic::SampleCount => count as f64,
            Statistic::Sum => sum,
            Statistic::Average => sum / count as f64,
            Statistic::Minimum => self.values[0].0,
            Statistic::Maximum => self.values[self.values.len() - 1].0,
            Statistic::TrimmedCount(low, high) => self
                .values
                .iter()
                .filter(|(v, _)| low.is_none_or(|l| *v > l) && high.is_none_or(|h| *v <= h))
                .map(|(_, n)| *n as f64)
                .sum(),
            Statistic::Percentile(p) => {
                // Nearest rank: the smallest value with at least p% of the samples at or
                // below it (p0 is the minimum, p100 the maximum).
                let rank = ((p / 100.0) * count as f64).ceil().max(1.0) as u64;
                let mut seen = 0;
                let mut out = self.values[self.values.len() - 1].0;
                for (v, n) in &self.values {
                    seen += n;
                    if seen >= rank {
                        out = *v;
                        break;
                    }
                }
                out
            }
        })
    }
}

/// Buckets by start (seconds since the epoch), ascending; buckets are 60 s, or 1 s for
/// high-resolution metrics. Nearly every put goes to the latest bucket, which is looked at
/// before any search (a tree would be searched on each of a request's dozen puts).
#[derive(Default)]
struct Buckets(VecDeque<(i64, Bucket)>);

impl Buckets {
    /// The bucket starting at `start`, made if there is none.
    fn at(&mut self, start: i64) -> &mut Bucket {
        let buckets = &mut self.0;
        let index = match buckets.back() {
            Some((last, _)) if *last == start => buckets.len() - 1,
            // An earlier bucket: values may be put up to two weeks back.
            Some((last, _)) if *last > start => {
                match buckets.binary_search_by_key(&start, |(t, _)| *t) {
                    Ok(index) => index,
                    Err(index) => {
                        buckets.insert(index, (start, Bucket::default()));
                        index
                    }
                }
            }
            _ => {
                buckets.push_back((start, Bucket::default()));
                buckets.len() - 1
            }
        };
        &mut buckets[index].1
    }

    /// Drops the buckets starting before `oldest`.
    fn drop_before(&mut self, oldest: i64) {
        while self.0.front().is_some_and(|(t, _)| *t < oldest) {
            self.0.pop_front();
        }
    }

    /// The buckets starting in `range`, ascending.
    fn range(&self, range: std::ops::Range<i64>) -> impl Iterator<Item = &(i64, Bucket)> {
        let first = self.0.partition_point(|(t, _)| *t < range.start);
        self.0
            .range(first..)
            .take_while(move |(t, _)| *t < range.end)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Default)]
struct Series {
    /// Every request puts values into the same few series, from whichever worker runs it.
    parts: PerThread<Buckets>,
    /// Set once, read on every put: the line stays shared by every core, never moved.
    high_resolution: AtomicBool,
    unit: OnceLock<Box<str>>,
}

impl Series {
    fn put(&self, secs: i64, values: &[(f64, u64)], unit: Option<&str>, high_resolution: bool) {
        // Once high resolution, kept so: CloudWatch keeps a metric's resolution as first put.
        if high_resolution && !self.high_resolution.load(Ordering::Relaxed) {
            self.high_resolution.store(true, Ordering::Relaxed);
        }
        if let Some(unit) = unit
            && self.unit.get().is_none()
        {
            let _ = self.unit.set(unit.into());
        }
        // Each width a constant: a division by a number only known here is a slow instruction.
        let start = if self.high_resolution.load(Ordering::Relaxed) {
            secs
        } else {
            secs - secs.rem_euclid(60)
        };
        let mut buckets = self.parts.mine();
        let bucket = buckets.at(start);
        for &(v, n) in values {
            if v.is_finite() && n > 0 {
                // -0 and 0 are one value.
                *bucket.values.entry((v + 0.0).to_bits()).or_default() += n;
            }
        }
        buckets.drop_before(secs - RETENTION_SECS);
    }

    fn is_empty(&self) -> bool {
        self.parts.each().all(|buckets| buckets.is_empty())
    }

    /// Every part's values in buckets starting in `range`, as `(bucket start, value, count)`.
    fn values_in(&self, range: std::ops::Range<i64>, mut f: impl FnMut(i64, f64, u64)) {
        for buckets in self.parts.each() {
            for (t, bucket) in buckets.range(range.clone()) {
                for (v, n) in &bucket.values {
                    f(*t, f64::from_bits(*v), *n);
                }
            }
        }
    }
}

/// One metric's series, found once and written to without looking it up again: what the
/// stand-ins that publish the same metrics on every request hold.
#[derive(Clone)]
pub struct MetricHandle(Arc<Series>);

impl MetricHandle {
    /// Adds values (each with a count) at `timestamp_ms`.
    pub fn put(
        &self,
        timestamp_ms: i64,
        values: &[(f64, u64)],
        unit: Option<&str>,
        high_resolution: bool,
    ) {
        self.0
            .put(timestamp_ms.div_euclid(1000), values, unit, high_resolution);
    }

    /// One value at `timestamp_ms`.
    pub fn put_value(&self, timestamp_ms: i64, value: f64, unit: &str) {
        self.put(timestamp_ms, &[(value, 1)], Some(unit), false);
    }
}

/// A metric and what is known of it, for listings.
#[derive(Clone, Debug, Serialize)]
pub struct MetricInfo {
    #[serde(rename = "Namespace")]
    pub namespace: String,
    #[serde(rename = "MetricName")]
    pub name: String,
    #[serde(rename = "Dimensions")]
    pub dimensions: Vec<Dimension>,
    #[serde(rename = "Unit", skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(rename = "StorageResolution")]
    pub storage_resolution: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Dimension {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Value")]
    pub value: String,
}

/// All metrics of the twin. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct MetricStore {
    /// By [`key`]: found from borrowed names without building a [`MetricId`].
    series: Mutex<HashMap<String, (MetricId, MetricHandle)>>,
}

/// A metric's identity as one string: namespace, name, then the dimensions sorted by name.
/// The separator cannot occur in CloudWatch's names (they are printable).
fn key(out: &mut String, namespace: &str, name: &str, dimensions: &[(&str, &str)]) {
    out.clear();
    for part in [namespace, name] {
        out.push_str(part);
        out.push('\u{1f}');
    }
    let mut sorted: [Option<(&str, &str)>; 32] = [None; 32];
    if dimensions.len() <= sorted.len() {
        for (slot, d) in sorted.iter_mut().zip(dimensions) {
            *slot = Some(*d);
        }
        let sorted = &mut sorted[..dimensions.len()];
        sorted.sort_unstable();
        for (k, v) in sorted.iter().flatten() {
            push_dimension(out, k, v);
        }
    } else {
        // CloudWatch allows 30 dimensions; more only through the twin's own tests.
        let mut sorted = dimensions.to_vec();
        sorted.sort_unstable();
        for (k, v) in sorted {
            push_dimension(out, k, v);
        }
    }
}

fn push_dimension(out: &mut String, k: &str, v: &str) {
    out.push_str(k);
    out.push('\u{1e}');
    out.push_str(v);
    out.push('\u{1f}');
}

thread_local! {
    /// The key being looked up: one buffer per thread, not a string per value.
    static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

impl MetricStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The series of a metric, made when first asked for.
    pub fn handle(&self, namespace: &str, name: &str, dimensions: &[(&str, &str)]) -> MetricHandle {
        KEY.with_borrow_mut(|buffer| {
            key(buffer, namespace, name, dimensions);
            let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, handle)) = all.get(buffer.as_str()) {
                return handle.clone();
            }
            let handle = MetricHandle(Arc::default());
            all.insert(
                buffer.clone(),
                (MetricId::new(namespace, name, dimensions), handle.clone()),
            );
            handle
        })
    }

    fn find(&self, id: &MetricId) -> Option<MetricHandle> {
        let mut buffer = String::new();
        key(&mut buffer, &id.namespace, &id.name, &id.dimension_pairs());
        let all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        all.get(&buffer).map(|(_, handle)| handle.clone())
    }

    /// Adds values (each with a count) at `timestamp_ms`.
    pub fn put(
        &self,
        id: MetricId,
        timestamp_ms: i64,
        values: &[(f64, u64)],
        unit: Option<&str>,
        high_resolution: bool,
    ) {
        self.handle(&id.namespace, &id.name, &id.dimension_pairs())
            .put(timestamp_ms, values, unit, high_resolution);
    }

    /// One value, now or at a given time.
    pub fn put_value(&self, id: MetricId, timestamp_ms: i64, value: f64, unit: Option<&str>) {
        self.put(id, timestamp_ms, &[(value, 1)], unit, false);
    }

    /// The values of `id` in each `period`-second period starting in `[start, end)` (seconds,
    /// `start` a multiple of `period`); periods without values are absent.
    pub fn aggregates(
        &self,
        id: &MetricId,
        start: i64,
        end: i64,
        period: i64,
    ) -> BTreeMap<i64, Aggregate> {
        let mut out: BTreeMap<i64, Vec<(f64, u64)>> = BTreeMap::new();
        if let Some(handle) = self.find(id) {
            handle.0.values_in(start..end, |t, v, n| {
                let slot = t - (t - start).rem_euclid(period.max(1));
                out.entry(slot).or_default().push((v, n));
            });
        }
        out.into_iter()
            .map(|(t, v)| (t, Aggregate::from_values(v)))
            .filter(|(_, a)| a.sample_count() > 0)
            .collect()
    }

    /// `stat` of `id` for each period with data in `[start, end)`.
    pub fn statistic(
        &self,
        id: &MetricId,
        stat: Statistic,
        start: i64,
        end: i64,
        period: i64,
    ) -> BTreeMap<i64, f64> {
        self.aggregates(id, start, end, period)
            .into_iter()
            .filter_map(|(t, a)| a.statistic(stat).map(|v| (t, v)))
            .collect()
    }

    /// Every metric that has values, sorted.
    pub fn list(&self) -> Vec<(MetricId, MetricInfo)> {
        let all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(MetricId, MetricInfo)> = all
            .values()
            .filter_map(|(id, handle)| {
                let s = &handle.0;
                (!s.is_empty()).then(|| {
                    (
                        id.clone(),
                        MetricInfo {
                            namespace: id.namespace.clone(),
                            name: id.name.clone(),
                            dimensions: id
                                .dimensions
                                .iter()
                                .map(|(k, v)| Dimension {
                                    name: k.clone(),
                                    value: v.clone(),
                                })
                                .collect(),
                            unit: s.unit.get().map(|u| u.to_string()),
                            storage_resolution: if s.high_resolution.load(Ordering::Relaxed) {
                                1
                            } else {
                                60
                            },
                        },
                    )
                })
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::per_thread::PARTS;

    fn id() -> MetricId {
        MetricId::new("AWS/ApiGateway", "Latency", &[("ApiId", "local")])
    }

    #[test]
    fn statistics_of_one_period() {
        let a = Aggregate::from_values([(3.0, 1), (1.0, 2), (10.0, 1)]);
        assert_eq!(a.statistic(Statistic::SampleCount), Some(4.0));
        assert_eq!(a.statistic(Statistic::Sum), Some(15.0));
        assert_eq!(a.statistic(Statistic::Average), Some(3.75));
        assert_eq!(a.statistic(Statistic::Minimum), Some(1.0));
        assert_eq!(a.statistic(Statistic::Maximum), Some(10.0));
        assert_eq!(Aggregate::default().statistic(Statistic::Sum), None);
    }

    #[test]
    fn trimmed_counts_exclude_the_lower_bound_and_include_the_upper() {
        let a = Aggregate::from_values([(100.0, 3), (300.0, 2), (301.0, 4), (60000.0, 1)]);
        let tc = |s: &str| a.statistic(Statistic::parse(s).unwrap());
        assert_eq!(tc("TC(:300)"), Some(5.0));
        assert_eq!(tc("TC(100:300)"), Some(2.0));
        assert_eq!(tc("TC(300:)"), Some(5.0));
        assert_eq!(tc("TC(:60000)"), Some(10.0));
        assert_eq!(
            tc("TC(:50)"),
            Some(0.0),
            "samples, none in range: a count of 0"
        );
        for refused in ["TC(:)", "TC(10%:90%)", "TC(:300", "TC(a:1)"] {
            let err = Statistic::parse(refused).unwrap_err();
            assert!(err.contains(refused), "{err}");
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        // 1..=100: p50 is 50, p90 is 90, p99 is 99, p100 the maximum.
        let a = Aggregate::from_values((1..=100).map(|v| (f64::from(v), 1)));
        assert_eq!(a.statistic(Statistic::Percentile(50.0)), Some(50.0));
        assert_eq!(a.statistic(Statistic::Percentile(90.0)), Some(90.0));
        assert_eq!(a.statistic(Statistic::Percentile(99.0)), Some(99.0));
        assert_eq!(a.statistic(Statistic::Percentile(99.9)), Some(100.0));
        assert_eq!(a.statistic(Statistic::Percentile(0.0)), Some(1.0));
        // Counts weigh: 98 fast requests and 2 slow ones put p99 among the slow.
        let b = Aggregate::from_values([(10.0, 98), (2000.0, 2)]);
        assert_eq!(b.statistic(Statistic::Percentile(98.0)), Some(10.0));
        assert_eq!(b.statistic(Statistic::Percentile(99.0)), Some(2000.0));
        assert_eq!(b.statistic(Statistic::Percentile(50.0)), Some(10.0));
    }

    #[test]
    fn statistic_names() {
        assert_eq!(
            Statistic::parse("p99").unwrap(),
            Statistic::Percentile(99.0)
        );
        assert_eq!(
            Statistic::parse("p99.9").unwrap(),
            Statistic::Percentile(99.9)
        );
        assert_eq!(Statistic::parse("Sum").unwrap(), Statistic::Sum);
        assert!(Statistic::parse("tm99").is_err());
        assert!(Statistic::parse("p101").is_err());
    }

    #[test]
    fn values_fall_in_their_minute() {
        let store = MetricStore::new();
        // 12:00:10 and 12:00:50 share a minute; 12:01:00 starts the next.
        // A minute boundary.
        let base = 1_800_000_000;
        store.put_value(id(), (base + 10) * 1000, 5.0, Some("Milliseconds"));
        store.put_value(id(), (base + 50) * 1000, 7.0, None);
        store.put_value(id(), (base + 60) * 1000, 1.0, None);
        let sums = store.statistic(&id(), Statistic::Sum, base, base + 180, 60);
        assert_eq!(
            sums.into_iter().collect::<Vec<_>>(),
            [(base, 12.0), (base + 60, 1.0)]
        );
        // A 5-minute period gathers both minutes.
        let five = store.statistic(&id(), Statistic::SampleCount, base, base + 300, 300);
        assert_eq!(five.get(&base), Some(&3.0));
        let listed = store.list();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].1.unit.as_deref(), Some("Milliseconds"));
        assert_eq!(listed[0].1.storage_resolution, 60);
    }

    #[test]
    fn values_put_out_of_order_land_in_their_minutes() {
        let store = MetricStore::new();
        let base = 1_800_000_000;
        // Latest first, then earlier minutes (before the first, between two), then the
        // latest and an earlier one again.
        for (minute, value) in [(5, 1.0), (0, 2.0), (3, 4.0), (5, 8.0), (0, 16.0), (1, 32.0)] {
            store.put_value(id(), (base + minute * 60 + 7) * 1000, value, None);
        }
        let sums = store.statistic(&id(), Statistic::Sum, base, base + 600, 60);
        assert_eq!(
            sums.into_iter().collect::<Vec<_>>(),
            [
                (base, 18.0),
                (base + 60, 32.0),
                (base + 180, 4.0),
                (base + 300, 9.0)
            ]
        );
        // A range that starts and ends between buckets.
        let middle = store.statistic(&id(), Statistic::Sum, base + 30, base + 200, 60);
        assert_eq!(middle.into_values().sum::<f64>(), 36.0);
        // A put past the retention drops what is older than it.
        store.put_value(id(), (base + RETENTION_SECS + 120) * 1000, 64.0, None);
        let all = store.statistic(&id(), Statistic::Sum, base, base + 2 * RETENTION_SECS, 60);
        assert_eq!(all.into_values().sum::<f64>(), 4.0 + 9.0 + 64.0);
    }

    #[test]
    fn high_resolution_keeps_seconds() {
        let store = MetricStore::new();
        // A minute boundary.
        let base = 1_800_000_000;
        store.put(id(), (base + 1) * 1000, &[(1.0, 1)], None, true);
        store.put(id(), (base + 2) * 1000, &[(2.0, 3)], None, true);
        let per_second = store.statistic(&id(), Statistic::Sum, base, base + 60, 1);
        assert_eq!(
            per_second.into_iter().collect::<Vec<_>>(),
            [(base + 1, 1.0), (base + 2, 6.0)]
        );
        let per_minute = store.statistic(&id(), Statistic::SampleCount, base, base + 60, 60);
        assert_eq!(per_minute.get(&base), Some(&4.0));
    }

    #[test]
    fn a_busy_minute_keeps_its_distinct_values_not_every_put() {
        let store = MetricStore::new();
        let base = 1_800_000_000;
        for n in 0..10_000 {
            store.put_value(id(), (base + n % 60) * 1000, (n % 2) as f64, None);
        }
        store.put_value(id(), (base + 1) * 1000, -0.0, None);
        let handle = store.find(&id()).unwrap();
        let mut distinct = 0;
        handle.0.values_in(base..base + 1, |_, _, _| distinct += 1);
        assert_eq!(distinct, 2, "0 (and -0) and 1");
        let count = store.statistic(&id(), Statistic::SampleCount, base, base + 60, 60);
        assert_eq!(count.get(&base), Some(&10_001.0));
        let sum = store.statistic(&id(), Statistic::Sum, base, base + 60, 60);
        assert_eq!(sum.get(&base), Some(&5_000.0));
    }

    #[test]
    fn values_put_from_many_threads_are_read_as_one_series() {
        let store = MetricStore::new();
        let base = 1_800_000_000;
        let handle = store.handle("AWS/ApiGateway", "Latency", &[("ApiId", "local")]);
        // More threads than parts: some threads share a part.
        std::thread::scope(|scope| {
            for thread in 0..2 * PARTS {
                let handle = handle.clone();
                scope.spawn(move || {
                    for n in 0..100 {
                        handle.put_value((base + n % 60) * 1000, thread as f64, "Milliseconds");
                    }
                });
            }
        });
        let stat = |stat| store.statistic(&id(), stat, base, base + 60, 60)[&base];
        assert_eq!(stat(Statistic::SampleCount), (2 * PARTS * 100) as f64);
        let threads = (2 * PARTS) as f64;
        assert_eq!(
            stat(Statistic::Sum),
            100.0 * threads * (threads - 1.0) / 2.0
        );
        assert_eq!(stat(Statistic::Maximum), threads - 1.0);
        assert_eq!(stat(Statistic::Percentile(50.0)), threads / 2.0 - 1.0);
        // Put high resolution from one thread: the whole series is, for every thread after.
        std::thread::scope(|scope| {
            scope.spawn(|| handle.put((base + 61) * 1000, &[(1.0, 1)], None, true));
        });
        handle.put((base + 62) * 1000, &[(1.0, 1)], None, false);
        let per_second = store.statistic(&id(), Statistic::Sum, base + 60, base + 120, 1);
        assert_eq!(
            per_second.keys().copied().collect::<Vec<_>>(),
            [base + 61, base + 62]
        );
        assert_eq!(store.list()[0].1.storage_resolution, 1);
    }

    #[test]
    fn a_value_for_an_older_minute_lands_in_it_between_newer_ones() {
        let store = MetricStore::new();
        let base = 1_800_000_000;
        for (at, value) in [(base + 65, 1.0), (base + 5, 10.0), (base + 70, 2.0)] {
            store.put_value(id(), at * 1000, value, None);
        }
        let sums = store.statistic(&id(), Statistic::Sum, base, base + 120, 60);
        assert_eq!(
            sums.into_iter().collect::<Vec<_>>(),
            [(base, 10.0), (base + 60, 3.0)]
        );
    }

    #[test]
    fn old_values_are_dropped() {
        let store = MetricStore::new();
        // A minute boundary.
        let base = 1_800_000_000;
        store.put_value(id(), base * 1000, 1.0, None);
        store.put_value(id(), (base + RETENTION_SECS + 120) * 1000, 1.0, None);
        assert!(
            store
                .statistic(&id(), Statistic::Sum, base, base + 60, 60)
                .is_empty()
        );
    }
}
