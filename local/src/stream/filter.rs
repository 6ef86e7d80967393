//! The mapping's filter criteria (`events/item-events.filter.json`, the file Terraform's
//! `filter_criteria` reads too), matched against each stream record with the EventBridge
//! pattern syntax, which Lambda's event filtering shares. A record that matches no filter is
//! dropped: the mapping moves past it without invoking the function.

use std::path::Path;

use functions::adapters::embedded::eventbridge::pattern::EventPattern;

use super::reader::StreamRecord;

/// The filter file, relative to the repository.
pub const FILTER_FILE: &str = "events/item-events.filter.json";

pub struct Filter {
    patterns: Vec<EventPattern>,
}

impl Filter {
    /// One pattern (the file holds one, as Terraform passes it).
    pub fn parse(json: &str) -> Result<Self, String> {
        let pattern = EventPattern::parse(json).map_err(|e| e.to_string())?;
        Ok(Self {
            patterns: vec![pattern],
        })
    }

    /// The file under `repo_dir`.
    pub fn load(repo_dir: &Path) -> Result<Self, String> {
        let path = repo_dir.join(FILTER_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("the stream filter {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    /// Whether Lambda passes `record` to the function: any pattern matches.
    pub fn passes(&self, record: &StreamRecord) -> bool {
        self.patterns.iter().any(|p| p.matches(record))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// Items' inserts only: `exists` tests a leaf (the attribute's `S`), as Lambda requires.
    /// The repository's filter file, the one Terraform and the twin read.
    pub(crate) const ITEMS_ONLY: &str = include_str!("../../../events/item-events.filter.json");

    fn record(event_name: &str, image: serde_json::Value) -> StreamRecord {
        json!({ "eventName": event_name, "dynamodb": { "NewImage": image } })
    }

    fn images() -> (serde_json::Value, serde_json::Value) {
        let item = json!({ "owner": { "S": "alice" }, "name": { "S": "one" } });
        let mut idem = item.clone();
        idem["fingerprint"] = json!({ "S": "abc" });
        (item, idem)
    }

    #[test]
    fn only_inserts_of_items_pass() {
        let filter = Filter::parse(ITEMS_ONLY).unwrap();
        let (item, idem) = images();
        assert!(filter.passes(&record("INSERT", item.clone())));
        assert!(
            !filter.passes(&record("INSERT", idem)),
            "idempotency records are dropped"
        );
        assert!(!filter.passes(&record("MODIFY", item)));
        assert!(!filter.passes(&json!({ "eventName": "REMOVE", "dynamodb": { "Keys": {} } })));
    }

    /// Lambda's `exists` only works on leaf nodes: on an attribute (`{"S": ...}`, not a leaf)
    /// `exists: false` holds whatever the image, so this form drops nothing.
    #[test]
    fn exists_on_an_attribute_rather_than_its_value_drops_nothing() {
        let filter = Filter::parse(
            r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"fingerprint": [{"exists": false}]}}}"#,
        )
        .unwrap();
        let (_, idem) = images();
        assert!(filter.passes(&record("INSERT", idem)));
    }

    /// The repository's file (read by Terraform too) must drop idempotency records.
    #[test]
    fn the_repository_s_filter_passes_items_and_drops_idempotency_records() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let filter = Filter::load(&repo).unwrap();
        let (item, idem) = images();
        assert!(filter.passes(&record("INSERT", item)));
        assert!(
            !filter.passes(&record("INSERT", idem)),
            "{FILTER_FILE} lets idempotency records through: `exists` must test the attribute's value (`\"fingerprint\": {{\"S\": [{{\"exists\": false}}]}}`)"
        );
    }
}
