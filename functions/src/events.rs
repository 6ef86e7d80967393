//! The event contract: every new item becomes one `ItemCreated` event on the project's bus.
//! The item id is the consumers' de-duplication key (delivery is at least once).

use serde::{Deserialize, Serialize};

use crate::domain::{Item, Origin};
use crate::ports::BusEvent;

pub const SOURCE: &str = "items.api";
pub const ITEM_CREATED: &str = "ItemCreated";

/// The rule that archives item events, as the JSON event pattern that Terraform's
/// `aws_cloudwatch_event_rule` reads too.
pub const ITEM_CREATED_RULE_PATTERN: &str = include_str!("../../events/item-created.rule.json");

/// `Detail` of `ItemCreated`. Item names and descriptions stay out: the archive is a log group,
/// and item bodies are not logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemCreated {
    pub item_id: String,
    pub owner: String,
    /// RFC 3339, milliseconds, UTC.
    pub created_at: String,
    pub request_id: String,
    pub trace_id: Option<String>,
}

impl ItemCreated {
    pub fn new(item: &Item, request_id: &str, trace_id: Option<&str>) -> Self {
        Self {
            item_id: item.id.to_string(),
            owner: item.owner.clone(),
            created_at: item.created_at_rfc3339(),
            request_id: request_id.to_owned(),
            trace_id: trace_id.map(str::to_owned),
        }
    }

    /// The event of a stored item, with the ids of the request that created it, its trace
    /// continued (`TraceHeader`). An item stored before those were kept has `fallback`'s: the
    /// request or invocation that publishes it.
    pub fn bus_event(item: &Item, fallback: &Origin) -> BusEvent {
        let origin = item.origin.as_ref().unwrap_or(fallback);
        BusEvent {
            trace_header: origin.trace_header.clone(),
            ..Self::new(item, &origin.request_id, origin.trace_id()).to_bus_event(item)
        }
    }

    /// The entry of this detail, continuing no trace.
    pub fn to_bus_event(&self, item: &Item) -> BusEvent {
        BusEvent {
            source: SOURCE.to_owned(),
            detail_type: ITEM_CREATED.to_owned(),
            detail: serde_json::to_value(self).expect("a struct of strings serializes"),
            time: item.created_at(),
            resources: Vec::new(),
            trace_header: None,
        }
    }
}
