//! The items table on DynamoDB: partition key `owner` (the caller's `sub`), sort key `id` (the
//! UUIDv7 as text, so text order is time order). A page is one `Query` inside one partition:
//! the same cost at any table size, and no way to read across owners.
//!
//! Idempotency records share the table, so that a record and its item are written in one
//! transaction, in partitions of their own: `idem#<owner>`, sort key the idempotency key. An
//! owner's `Query` and `GetItem` never reach them.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::errors::{self, Class};
use super::trace::traced;
use crate::domain::{Item, ItemId, Origin};
use crate::idempotency::{Fingerprint, IdempotencyKey, IdempotencyRecord};
use crate::ports::{
    Claim, CreatedWindow, ItemStore, Page, PageRequest, StoreError, Sweep, SweepPosition,
};

pub use crate::table::{attr, record_attr};

/// Waits before retrying a transaction that met another one on the same record.
const CONFLICT_BACKOFF: [Duration; 3] = [
    Duration::from_millis(25),
    Duration::from_millis(100),
    Duration::from_millis(250),
];

#[derive(Clone)]
pub struct DynamoDbItemStore {
    client: Client,
    table: String,
}

impl DynamoDbItemStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One row by its full key, read consistently: a caller reads what was acknowledged to it.
    async fn get_row(
        &self,
        key: HashMap<String, AttributeValue>,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let call = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send();
        let output = traced("DynamoDB", "GetItem", &self.table, call)
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(output.item)
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn key(owner: &str, id: ItemId) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (attr::OWNER.to_owned(), s(owner)),
        (attr::ID.to_owned(), s(&id.to_string())),
    ])
}

fn to_attributes(item: &Item) -> HashMap<String, AttributeValue> {
    crate::table::item_attributes(item)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), AttributeValue::S(value)))
        .collect()
}

fn from_attributes(map: &HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    let text = |name: &str| map.get(name).and_then(|v| v.as_s().ok()).cloned();
    let corrupt = |what: &str| StoreError::Internal(format!("stored item without a valid {what}"));
    let id = text(attr::ID)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| corrupt(attr::ID))?;
    Ok(Item {
        id,
        owner: text(attr::OWNER).ok_or_else(|| corrupt(attr::OWNER))?,
        name: text(attr::NAME).ok_or_else(|| corrupt(attr::NAME))?,
        description: text(attr::DESCRIPTION),
        // Items stored before their request's ids were kept have none.
        origin: text(attr::REQUEST_ID).map(|request_id| Origin {
            request_id,
            trace_header: text(attr::TRACE_HEADER),
        }),
    })
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn record_key(owner: &str, key: &IdempotencyKey) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            attr::OWNER.to_owned(),
            s(&format!("{}{owner}", record_attr::PARTITION_PREFIX)),
        ),
        (attr::ID.to_owned(), s(key.as_str())),
    ])
}

fn record_to_attributes(record: &IdempotencyRecord) -> HashMap<String, AttributeValue> {
    let mut map = record_key(&record.owner, &record.key);
    map.insert(
        record_attr::FINGERPRINT.to_owned(),
        s(record.fingerprint.as_str()),
    );
    map.insert(
        record_attr::ITEM_ID.to_owned(),
        s(&record.item_id.to_string()),
    );
    map.insert(record_attr::EXPIRES_AT.to_owned(), n(record.expires_at));
    map
}

fn record_from_attributes(
    map: &HashMap<String, AttributeValue>,
) -> Result<IdempotencyRecord, StoreError> {
    let text = |name: &str| {
        map.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    };
    let number = |name: &str| map.get(name).and_then(|v| v.as_n().ok());
    let corrupt =
        |what: &str| StoreError::Internal(format!("idempotency record without a valid {what}"));
    let owner = text(attr::OWNER)
        .and_then(|o| o.strip_prefix(record_attr::PARTITION_PREFIX))
        .ok_or_else(|| corrupt(attr::OWNER))?;
    let key = text(attr::ID)
        .and_then(|k| IdempotencyKey::parse(k.as_bytes()).ok())
        .ok_or_else(|| corrupt(attr::ID))?;
    Ok(IdempotencyRecord {
        owner: owner.to_owned(),
        key,
        fingerprint: text(record_attr::FINGERPRINT)
            .and_then(Fingerprint::from_hex)
            .ok_or_else(|| corrupt(record_attr::FINGERPRINT))?,
        item_id: text(record_attr::ITEM_ID)
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| corrupt(record_attr::ITEM_ID))?,
        expires_at: number(record_attr::EXPIRES_AT)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| corrupt(record_attr::EXPIRES_AT))?,
    })
}

/// A transaction's cancellation reason code: `None` for an action that did not fail.
fn reason_code(reasons: &[CancellationReason], index: usize) -> &str {
    reasons
        .get(index)
        .and_then(CancellationReason::code)
        .unwrap_or("None")
}

fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("DynamoDB request: {e}"))
}

/// Maps an SDK error (after the SDK's own retries) to the port's error, counting throttles.
fn store_error<E, R>(operation: &str, err: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let reason = format!("DynamoDB {operation}: {}", errors::describe(&err));
    match errors::classify(&err) {
        Class::Throttled => {
            metrics::counter!(telemetry::metric_names::STORE_THROTTLES).increment(1);
            StoreError::Unavailable {
                reason,
                retry_after: errors::RETRY_AFTER,
            }
        }
        Class::Unavailable => StoreError::Unavailable {
            reason,
            retry_after: errors::RETRY_AFTER,
        },
        Class::Fault => StoreError::Internal(reason),
    }
}

#[async_trait]
impl ItemStore for DynamoDbItemStore {
    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        let result = traced(
            "DynamoDB",
            "PutItem",
            &self.table,
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(to_attributes(item)))
                // Never overwrite: a second put of the same key fails and changes nothing.
                .condition_expression("attribute_not_exists(#id)")
                .expression_attribute_names("#id", attr::ID)
                .send(),
        )
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::AlreadyExists)
            }
            Err(e) => Err(store_error("PutItem", e)),
        }
    }

    async fn get(&self, owner: &str, id: ItemId) -> Result<Option<Item>, StoreError> {
        self.get_row(key(owner, id))
            .await?
            .as_ref()
            .map(from_attributes)
            .transpose()
    }

    async fn list(&self, owner: &str, page: PageRequest) -> Result<Page, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#o", attr::OWNER)
            .expression_attribute_values(":o", s(owner))
            .scan_index_forward(false)
            .consistent_read(true)
            // One past the page: whether more remain is then known without a second call.
            .limit(i32::try_from(page.limit + 1).unwrap_or(i32::MAX));
        query = match page.before {
            Some(before) => query
                .key_condition_expression("#o = :o AND #id < :before")
                .expression_attribute_names("#id", attr::ID)
                .expression_attribute_values(":before", s(&before.to_string())),
            None => query.key_condition_expression("#o = :o"),
        };
        let output = traced("DynamoDB", "Query", &self.table, query.send())
            .await
            .map_err(|e| store_error("Query", e))?;
        let mut items = output
            .items()
            .iter()
            .map(from_attributes)
            .collect::<Result<Vec<_>, _>>()?;
        let more = items.len() > page.limit;
        items.truncate(page.limit);
        Ok(Page { items, more })
    }

    async fn put_with_record(
        &self,
        item: &Item,
        record: &IdempotencyRecord,
        now: i64,
    ) -> Result<Claim, StoreError> {
        crate::ports::check_record_about(record, item)?;
        let item_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_attributes(item)))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", attr::ID)
            .build()
            .map_err(build_error)?;
        // An expired record counts as absent before DynamoDB's TTL gets to delete it.
        let record_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record_to_attributes(record)))
            .condition_expression("attribute_not_exists(#id) OR #exp <= :now")
            .expression_attribute_names("#id", attr::ID)
            .expression_attribute_names("#exp", record_attr::EXPIRES_AT)
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        let mut backoff = CONFLICT_BACKOFF.iter();
        loop {
            let result = traced(
                "DynamoDB",
                "TransactWriteItems",
                &self.table,
                self.client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().put(item_put.clone()).build())
                    .transact_items(TransactWriteItem::builder().put(record_put.clone()).build())
                    // The item id is unique per request: if the SDK resends a transaction that had
                    // committed, DynamoDB answers it as a success instead of failing the conditions.
                    .client_request_token(item.id.to_string())
                    .send(),
            )
            .await;
            let err = match result {
                Ok(_) => return Ok(Claim::Created),
                Err(err) => err,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                err.as_service_error()
            else {
                return Err(store_error("TransactWriteItems", err));
            };
            let reasons = cancelled.cancellation_reasons();
            // Index 1 is the record: a live record with this key is the answer, whatever the
            // item's condition said.
            if reason_code(reasons, 1) == "ConditionalCheckFailed" {
                let existing = match reasons.get(1).and_then(CancellationReason::item) {
                    Some(old) => Some(record_from_attributes(old)?),
                    // Not every DynamoDB returns the old item; read it.
                    None => self.record(&record.owner, &record.key, now).await?,
                };
                match existing {
                    // Our own transaction, committed by a resent request.
                    Some(r) if r.item_id == item.id => return Ok(Claim::Created),
                    Some(r) if r.is_live(now) => return Ok(Claim::Existing(r)),
                    // It expired or went away between the check and the read: try again.
                    _ => {}
                }
            } else if reason_code(reasons, 0) == "ConditionalCheckFailed" {
                return Err(StoreError::AlreadyExists);
            } else if reasons.iter().any(|r| {
                matches!(
                    r.code(),
                    Some("ThrottlingError" | "ProvisionedThroughputExceeded")
                )
            }) {
                metrics::counter!(telemetry::metric_names::STORE_THROTTLES).increment(1);
                return Err(StoreError::Unavailable {
                    reason: format!("DynamoDB TransactWriteItems: {}", errors::describe(&err)),
                    retry_after: errors::RETRY_AFTER,
                });
            } else if !reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                return Err(StoreError::Internal(format!(
                    "DynamoDB TransactWriteItems: {}",
                    errors::describe(&err)
                )));
            }
            // Another transaction on the same record (a concurrent request with this key):
            // once it commits, the next try meets its record.
            match backoff.next() {
                Some(delay) => tokio::time::sleep(*delay).await,
                None => return Ok(Claim::Contended),
            }
        }
    }

    async fn record(
        &self,
        owner: &str,
        key: &IdempotencyKey,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = self.get_row(record_key(owner, key)).await?;
        let record = row.as_ref().map(record_from_attributes).transpose()?;
        Ok(record.filter(|r| r.is_live(now)))
    }

    /// One `Scan` page with a filter on the id range. The cost is honest but not small: a Scan
    /// reads (and bills, in read units) every row of the table, items of every owner and
    /// idempotency records, whatever the filter keeps; `rows` bounds one page. Eventually
    /// consistent reads, half the price of consistent ones: a sweep is for windows in the past.
    /// If sweeps become frequent, a sparse index keyed by creation day would make them Queries.
    async fn created_between(
        &self,
        window: &CreatedWindow,
        after: Option<&SweepPosition>,
        rows: usize,
    ) -> Result<Sweep, StoreError> {
        let ids = window.id_range();
        // Hyphenated lowercase hex sorts as text as it sorts as a number.
        let bound = |v: u128| s(&ItemId::from_u128(v).to_string());
        let call = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("#id >= :lo AND #id < :hi AND NOT begins_with(#owner, :records)")
            .expression_attribute_names("#id", attr::ID)
            .expression_attribute_names("#owner", attr::OWNER)
            .expression_attribute_values(":lo", bound(ids.start))
            .expression_attribute_values(":hi", bound(ids.end))
            .expression_attribute_values(":records", s(record_attr::PARTITION_PREFIX))
            .limit(i32::try_from(rows.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(after.map(|p| {
                HashMap::from([
                    (attr::OWNER.to_owned(), s(&p.owner)),
                    (attr::ID.to_owned(), s(&p.id)),
                ])
            }))
            .send();
        let output = traced("DynamoDB", "Scan", &self.table, call)
            .await
            .map_err(|e| store_error("Scan", e))?;
        let mut items = Vec::new();
        for row in output.items() {
            let item = from_attributes(row)?;
            // The filter already holds to the window; a row that does not is a bug, not data.
            if !window.contains(item.id) {
                return Err(StoreError::Internal(format!(
                    "Scan returned item {} outside the window",
                    item.id
                )));
            }
            items.push(item);
        }
        let next = match output.last_evaluated_key() {
            None => None,
            Some(key) => {
                let text = |name: &str| key.get(name).and_then(|v| v.as_s().ok()).cloned();
                match (text(attr::OWNER), text(attr::ID)) {
                    (Some(owner), Some(id)) => Some(SweepPosition { owner, id }),
                    _ => return Err(build_error("Scan's LastEvaluatedKey lacks the table's key")),
                }
            }
        };
        Ok(Sweep { items, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewItem;

    #[test]
    fn items_round_trip_through_attributes() {
        let item = Item::create(
            "alice",
            NewItem {
                name: "n".into(),
                description: Some("d".into()),
            },
        );
        let attrs = to_attributes(&item);
        assert_eq!(attrs[attr::OWNER], s("alice"));
        assert_eq!(attrs[attr::CREATED_AT], s(&item.created_at_rfc3339()));
        assert_eq!(from_attributes(&attrs).unwrap(), item);
        let bare = Item::create(
            "bob",
            NewItem {
                name: "n".into(),
                description: None,
            },
        );
        assert_eq!(from_attributes(&to_attributes(&bare)).unwrap(), bare);
        let made = bare.with_origin(Origin {
            request_id: "Jd8mXh3fIAMEbXw=".into(),
            trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into()),
        });
        let attrs = to_attributes(&made);
        assert_eq!(attrs[attr::REQUEST_ID], s("Jd8mXh3fIAMEbXw="));
        assert_eq!(from_attributes(&attrs).unwrap(), made);
    }

    /// The stream's `NewImage` of an item written here is what the twin writes for it, and
    /// what the item-events function reads.
    #[test]
    fn the_stream_image_has_the_attributes_written_here() {
        use crate::item_events::image::item_image;
        use serde_dynamo::AttributeValue as Image;
        let origin = |trace_header: Option<&str>| Origin {
            request_id: "Jd8mXh3fIAMEbXw=".into(),
            trace_header: trace_header.map(str::to_owned),
        };
        let new = |description: Option<&str>| NewItem {
            name: "a lamp".into(),
            description: description.map(str::to_owned),
        };
        for item in [
            Item::create("alice", new(None)),
            Item::create("alice", new(Some("brass"))).with_origin(origin(None)),
            Item::create("bob", new(Some("brass"))).with_origin(origin(Some(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            ))),
        ] {
            let written = to_attributes(&item);
            let image = item_image(&item);
            let mut names: Vec<_> = written.keys().collect();
            let mut image_names: Vec<_> = image.keys().collect();
            names.sort();
            image_names.sort();
            assert_eq!(names, image_names, "{item:?}");
            for (name, value) in &written {
                match (value, &image[name]) {
                    (AttributeValue::S(a), Image::S(b)) => assert_eq!(a, b, "{name}"),
                    (a, b) => panic!("{name}: {a:?} written, {b:?} in the image"),
                }
            }
        }
    }

    #[test]
    fn corrupt_rows_are_errors_not_panics() {
        let mut attrs = to_attributes(&Item::create(
            "a",
            NewItem {
                name: "n".into(),
                description: None,
            },
        ));
        attrs.insert(attr::ID.into(), s("not-a-uuid"));
        assert!(matches!(
            from_attributes(&attrs),
            Err(StoreError::Internal(_))
        ));
    }

    #[test]
    fn records_round_trip_through_attributes_in_their_own_partition() {
        use crate::idempotency::{Fingerprint, IdempotencyKey, IdempotencyRecord};
        let record = IdempotencyRecord::begin(
            "alice",
            IdempotencyKey::parse(b"key 1").unwrap(),
            Fingerprint::of("alice", b"{}"),
            ItemId::generate(),
            1_000,
        );
        let attrs = record_to_attributes(&record);
        assert_eq!(attrs[attr::OWNER], s("idem#alice"));
        assert_eq!(attrs[attr::ID], s("key 1"));
        assert_eq!(attrs[record_attr::EXPIRES_AT], n(1_000 + 86_400));
        assert_eq!(record_from_attributes(&attrs).unwrap(), record);
        // Written when requests published events: read the same, the rest ignored.
        let mut old = attrs.clone();
        old.insert("state".into(), s("in_progress"));
        old.insert("lease_until".into(), n(1_010));
        old.insert("event_published".into(), AttributeValue::Bool(false));
        old.insert("version".into(), n(2));
        assert_eq!(record_from_attributes(&old).unwrap(), record);
        let mut bad = attrs.clone();
        bad.insert(record_attr::FINGERPRINT.into(), s("not hex"));
        assert!(matches!(
            record_from_attributes(&bad),
            Err(StoreError::Internal(_))
        ));
    }
}
