//! An EventBridge stand-in: validates entries as `PutEvents` does, wraps each in the envelope
//! EventBridge delivers to targets, and appends it to the log group of every rule it matches
//! (the CloudWatch Logs target of the real rule).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::archive::LogArchive;
use super::pattern::{EventPattern, PatternError};
use crate::ports::{BusError, BusEvent, EventBus};

/// `PutEvents` rejects an entry larger than 256 KiB, sized as the EventBridge guide computes it.
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// A rule with one target: a log group.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub pattern: EventPattern,
    pub log_group: String,
}

pub fn rule_from_pattern_json(
    name: impl Into<String>,
    json: &str,
    log_group: impl Into<String>,
) -> Result<Rule, PatternError> {
    Ok(Rule {
        name: name.into(),
        pattern: EventPattern::parse(json)?,
        log_group: log_group.into(),
    })
}

/// A rule's counters, as CloudWatch's `AWS/Events` metrics of the same names count them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleStats {
    pub rule: String,
    pub matched_events: u64,
    pub invocations: u64,
    pub failed_invocations: u64,
}

#[derive(Default)]
struct Counters {
    matched_events: AtomicU64,
    invocations: AtomicU64,
    failed_invocations: AtomicU64,
}

/// Says, for a rule, why its target fails now (`Some(reason)`), if it does: the local twin's
/// fault injection on the archive log group.
pub type TargetFault = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub struct EmbeddedBus {
    name: String,
    account: String,
    region: String,
    rules: Vec<(Rule, Counters)>,
    archive: Arc<LogArchive>,
    target_fault: Option<TargetFault>,
}

/// The event as EventBridge delivers it to targets; the field order is EventBridge's.
#[derive(Serialize)]
struct Envelope<'a> {
    version: &'static str,
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: &'a str,
    source: &'a str,
    account: &'a str,
    time: String,
    region: &'a str,
    resources: &'a [String],
    detail: &'a Value,
}

impl EmbeddedBus {
    pub fn new(
        bus_name: String,
        account: String,
        region: String,
        rules: Vec<Rule>,
        archive: Arc<LogArchive>,
    ) -> Self {
        let rules = rules
            .into_iter()
            .map(|r| (r, Counters::default()))
            .collect();
        EmbeddedBus {
            name: bus_name,
            account,
            region,
            rules,
            archive,
            target_fault: None,
        }
    }

    /// Fails a rule's deliveries whenever `fault` gives a reason, as a target that refuses them
    /// does: the put succeeds, the events are not archived, `FailedInvocations` counts them.
    pub fn with_target_fault(mut self, fault: TargetFault) -> Self {
        self.target_fault = Some(fault);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn rule_stats(&self) -> Vec<RuleStats> {
        self.rules
            .iter()
            .map(|(rule, c)| RuleStats {
                rule: rule.name.clone(),
                matched_events: c.matched_events.load(Relaxed),
                invocations: c.invocations.load(Relaxed),
                failed_invocations: c.failed_invocations.load(Relaxed),
            })
            .collect()
    }

    fn envelope<'a>(&'a self, event: &'a BusEvent) -> Envelope<'a> {
        Envelope {
            version: "0",
            id: uuid::Uuid::new_v4().to_string(),
            detail_type: &event.detail_type,
            source: &event.source,
            account: &self.account,
            time: rfc3339_seconds(event.time),
            region: &self.region,
            resources: &event.resources,
            detail: &event.detail,
        }
    }
}

/// Why `PutEvents` would reject this entry, if it would.
fn entry_error(event: &BusEvent) -> Option<String> {
    if event.source.is_empty() {
        return Some("Source is required".into());
    }
    if event.detail_type.is_empty() {
        return Some("DetailType is required".into());
    }
    if !event.detail.is_object() {
        return Some("Detail must be a JSON object".into());
    }
    // The guide's entry size: 14 bytes for Time, plus the UTF-8 bytes of Source, DetailType,
    // Detail and each resource.
    let size = 14
        + event.source.len()
        + event.detail_type.len()
        + event.detail.to_string().len()
        + event.resources.iter().map(String::len).sum::<usize>();
    (size > MAX_ENTRY_BYTES)
        .then(|| format!("entry is {size} bytes, over the {MAX_ENTRY_BYTES}-byte limit"))
}

/// Why a rule's delivery to the archive failed.
enum Delivery {
    /// The target refused it (an injected fault): permanent, as EventBridge treats a denied write.
    TargetRefused(String),
    /// The archive's file could not be written.
    ArchiveIo(String),
}

/// EventBridge's envelope time: UTC, whole seconds, e.g. `2026-11-21T22:42:17Z`.
fn rfc3339_seconds(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[async_trait]
impl EventBus for EmbeddedBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), BusError> {
        let mut failed = Vec::new();
        let mut reasons = Vec::new();
        let mut deliveries: Vec<Vec<String>> = vec![Vec::new(); self.rules.len()];
        for (index, event) in events.iter().enumerate() {
            // An invalid entry fails alone; the others are still delivered (`FailedEntryCount`).
            if let Some(reason) = entry_error(event) {
                failed.push(index);
                reasons.push(format!("entry {index}: {reason}"));
                continue;
            }
            let envelope = self.envelope(event);
            let as_value = serde_json::to_value(&envelope)
                .map_err(|e| BusError::Unavailable(e.to_string()))?;
            let line = serde_json::to_string(&envelope)
                .map_err(|e| BusError::Unavailable(e.to_string()))?;
            for ((rule, counters), lines) in self.rules.iter().zip(&mut deliveries) {
                if rule.pattern.matches(&as_value) {
                    counters.matched_events.fetch_add(1, Relaxed);
                    lines.push(line.clone());
                }
            }
        }

        let jobs: Vec<(usize, String, Vec<String>, Option<String>)> = deliveries
            .into_iter()
            .enumerate()
            .filter(|(_, lines)| !lines.is_empty())
            .map(|(i, lines)| {
                let rule = &self.rules[i].0;
                let fault = self.target_fault.as_ref().and_then(|f| f(&rule.name));
                (i, rule.log_group.clone(), lines, fault)
            })
            .collect();
        if !jobs.is_empty() {
            // The archive's writer does the file IO; this task only waits for its answer.
            let mut outcomes = Vec::with_capacity(jobs.len());
            for (i, group, lines, fault) in jobs {
                let outcome = match fault {
                    Some(reason) => Err(Delivery::TargetRefused(reason)),
                    None => self
                        .archive
                        .append_async(&group, &lines)
                        .await
                        .map_err(|e| Delivery::ArchiveIo(e.to_string())),
                };
                outcomes.push((i, lines.len() as u64, outcome));
            }

            let mut io_errors = Vec::new();
            for (i, count, outcome) in outcomes {
                let (rule, counters) = &self.rules[i];
                counters.invocations.fetch_add(count, Relaxed);
                match outcome {
                    Ok(()) => {}
                    // As on AWS: the put has succeeded, the target refused the delivery for good
                    // (a removed resource policy is not retried), the events are not archived
                    // and only the rule's `FailedInvocations` says so.
                    Err(Delivery::TargetRefused(reason)) => {
                        counters.failed_invocations.fetch_add(count, Relaxed);
                        tracing::warn!(rule = %rule.name, log_group = %rule.log_group, error = %reason, "archive append failed");
                    }
                    // The twin's own disk failed: it cannot retry in the background as
                    // EventBridge does, so the caller learns of it and can retry the put.
                    Err(Delivery::ArchiveIo(e)) => {
                        counters.failed_invocations.fetch_add(count, Relaxed);
                        tracing::warn!(rule = %rule.name, log_group = %rule.log_group, error = %e, "archive append failed");
                        io_errors.push(format!("rule {}: {e}", rule.name));
                    }
                }
            }
            // Valid entries were not all delivered, so the whole call is retryable.
            if !io_errors.is_empty() {
                return Err(BusError::Unavailable(io_errors.join("; ")));
            }
        }

        if failed.is_empty() {
            Ok(())
        } else {
            Err(BusError::EntriesFailed {
                failed,
                reason: reasons.join("; "),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;
    use crate::events::{ITEM_CREATED, ITEM_CREATED_RULE_PATTERN, SOURCE};

    const GROUP: &str = "/aws/events/items-api";

    fn item_created(n: usize) -> BusEvent {
        BusEvent {
            source: SOURCE.to_owned(),
            detail_type: ITEM_CREATED.to_owned(),
            detail: json!({"item_id": format!("item-{n}"), "owner": "alice"}),
            time: OffsetDateTime::from_unix_timestamp(1_795_300_937).unwrap()
                + time::Duration::milliseconds(203),
            resources: Vec::new(),
            trace_header: None,
        }
    }

    fn bus() -> (tempfile::TempDir, Arc<LogArchive>, EmbeddedBus) {
        let dir = tempfile::tempdir().unwrap();
        let archive = Arc::new(LogArchive::open(dir.path()).unwrap());
        let rule =
            rule_from_pattern_json("item-created", ITEM_CREATED_RULE_PATTERN, GROUP).unwrap();
        let bus = EmbeddedBus::new(
            "items".into(),
            "000000000000".into(),
            "eu-west-1".into(),
            vec![rule],
            Arc::clone(&archive),
        );
        (dir, archive, bus)
    }

    fn archived(archive: &LogArchive) -> Vec<Value> {
        archive
            .read(GROUP)
            .unwrap()
            .iter()
            .map(|e| serde_json::from_str(&e.message).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn item_created_reaches_the_archive_in_the_eventbridge_envelope() {
        let (_dir, archive, bus) = bus();
        bus.publish(&[item_created(1)]).await.unwrap();
        let lines = archived(&archive);
        assert_eq!(lines.len(), 1);
        let envelope = lines[0].as_object().unwrap();
        let mut keys: Vec<_> = envelope.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = [
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
            "resources",
            "detail",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(envelope["version"], "0");
        assert_eq!(
            uuid::Uuid::parse_str(envelope["id"].as_str().unwrap())
                .unwrap()
                .get_version_num(),
            4
        );
        assert_eq!(envelope["detail-type"], "ItemCreated");
        assert_eq!(envelope["source"], "items.api");
        assert_eq!(envelope["account"], "000000000000");
        assert_eq!(envelope["time"], "2026-11-21T22:42:17Z");
        assert_eq!(envelope["region"], "eu-west-1");
        assert_eq!(envelope["resources"], json!([]));
        assert_eq!(
            envelope["detail"],
            json!({"item_id": "item-1", "owner": "alice"})
        );
        assert_eq!(
            bus.rule_stats(),
            [RuleStats {
                rule: "item-created".into(),
                matched_events: 1,
                invocations: 1,
                failed_invocations: 0
            }]
        );
    }

    #[tokio::test]
    async fn non_matching_events_are_not_archived() {
        let (_dir, archive, bus) = bus();
        let mut other_source = item_created(1);
        other_source.source = "billing.api".into();
        let mut other_type = item_created(2);
        other_type.detail_type = "ItemDeleted".into();
        bus.publish(&[other_source, other_type]).await.unwrap();
        assert!(archived(&archive).is_empty());
        assert_eq!(bus.rule_stats()[0].matched_events, 0);
        assert_eq!(bus.rule_stats()[0].invocations, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_publishes_archive_every_event_once() {
        let (_dir, archive, bus) = bus();
        let bus = Arc::new(bus);
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let bus = Arc::clone(&bus);
                tokio::spawn(async move {
                    for i in 0..25 {
                        bus.publish(&[item_created(t * 25 + i)]).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        // Every line parses on its own (none interleaved), and each event appears exactly once.
        let lines = archived(&archive);
        assert_eq!(lines.len(), 200);
        let items: HashSet<_> = lines
            .iter()
            .map(|l| l["detail"]["item_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(items.len(), 200);
        let ids: HashSet<_> = lines
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 200);
        assert_eq!(bus.rule_stats()[0].invocations, 200);
    }

    #[tokio::test]
    async fn a_torn_final_line_is_skipped_on_read() {
        let (dir, archive, bus) = bus();
        bus.publish(&[item_created(1), item_created(2)])
            .await
            .unwrap();
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str(r#"{"timestamp":1795300937203,"ingestionTime":17953"#);
        std::fs::write(&file, text).unwrap();
        let lines = archived(&archive);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["detail"]["item_id"], "item-2");
    }

    #[tokio::test]
    async fn invalid_entries_fail_alone_and_the_others_are_delivered() {
        let (_dir, archive, bus) = bus();
        let mut no_source = item_created(1);
        no_source.source.clear();
        let mut not_an_object = item_created(3);
        not_an_object.detail = json!("a string");
        let mut too_big = item_created(4);
        too_big.detail = json!({"blob": "x".repeat(MAX_ENTRY_BYTES)});
        let mut no_type = item_created(5);
        no_type.detail_type.clear();
        let batch = [
            no_source,
            item_created(2),
            not_an_object,
            too_big,
            no_type,
            item_created(6),
        ];

        match bus.publish(&batch).await {
            Err(BusError::EntriesFailed { failed, reason }) => {
                assert_eq!(failed, [0, 2, 3, 4]);
                assert!(
                    reason.contains("entry 3") && reason.contains("limit"),
                    "{reason}"
                );
            }
            other => panic!("expected EntriesFailed, got {other:?}"),
        }
        let delivered: Vec<_> = archived(&archive)
            .iter()
            .map(|l| l["detail"]["item_id"].clone())
            .collect();
        assert_eq!(delivered, [json!("item-2"), json!("item-6")]);
    }

    #[test]
    fn the_entry_size_limit_is_inclusive() {
        let mut event = item_created(1);
        let overhead = 14 + event.source.len() + event.detail_type.len() + r#"{"b":""}"#.len();
        event.detail = json!({"b": "x".repeat(MAX_ENTRY_BYTES - overhead)});
        assert_eq!(entry_error(&event), None);
        event.detail = json!({"b": "x".repeat(MAX_ENTRY_BYTES - overhead + 1)});
        assert!(entry_error(&event).is_some());
    }

    #[tokio::test]
    async fn an_archive_failure_is_unavailable_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Arc::new(LogArchive::open(dir.path()).unwrap());
        let bad =
            rule_from_pattern_json("bad-target", ITEM_CREATED_RULE_PATTERN, "not a valid group")
                .unwrap();
        let bus = EmbeddedBus::new(
            "items".into(),
            "0".into(),
            "eu-west-1".into(),
            vec![bad],
            archive,
        );
        assert!(matches!(
            bus.publish(&[item_created(1)]).await,
            Err(BusError::Unavailable(_))
        ));
        assert_eq!(first_rule_counters(&bus), (1, 1, 1));
    }

    /// `(MatchedEvents, Invocations, FailedInvocations)` of the bus's first rule.
    fn first_rule_counters(bus: &EmbeddedBus) -> (u64, u64, u64) {
        let stats = &bus.rule_stats()[0];
        (
            stats.matched_events,
            stats.invocations,
            stats.failed_invocations,
        )
    }

    #[tokio::test]
    async fn a_refusing_target_fails_the_delivery_not_the_put() {
        let (_dir, archive, bus) = bus();
        let bus = bus.with_target_fault(Arc::new(|_: &str| Some("AccessDenied".to_owned())));
        bus.publish(&[item_created(1)]).await.unwrap();
        assert_eq!(first_rule_counters(&bus), (1, 1, 1));
        assert!(archive.read(GROUP).unwrap().is_empty(), "nothing archived");
    }

    #[test]
    fn the_item_created_pattern_matches_only_item_created_from_items_api() {
        let rule = rule_from_pattern_json("r", ITEM_CREATED_RULE_PATTERN, GROUP).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bus = EmbeddedBus::new(
            "b".into(),
            "1".into(),
            "r".into(),
            Vec::new(),
            Arc::new(LogArchive::open(dir.path()).unwrap()),
        );
        let envelope = |e: &BusEvent| serde_json::to_value(bus.envelope(e)).unwrap();
        assert!(rule.pattern.matches(&envelope(&item_created(1))));
        let mut other = item_created(1);
        other.source = "items.api.v2".into();
        assert!(!rule.pattern.matches(&envelope(&other)));
        let mut other = item_created(1);
        other.detail_type = "itemcreated".into();
        assert!(!rule.pattern.matches(&envelope(&other)));
    }

    #[test]
    fn rule_from_pattern_json_rejects_invalid_patterns() {
        assert!(rule_from_pattern_json("r", r#"{"source": "items.api"}"#, GROUP).is_err());
    }
}
