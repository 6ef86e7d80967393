//! The items table on DynamoDB: partition key `owner` (the caller's `sub`), sort key `id` (the
//! UUIDv7 as text, so text order is time order). A page is one `Query` inside one partition:
//! the same cost at any table size, and no way to read across owners.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::errors::{self, Class};
use crate::domain::{Item, ItemId};
use crate::ports::{ItemStore, Page, PageRequest, StoreError};

/// Attribute names: one place, read by Terraform's table definition test too.
pub mod attr {
    pub const OWNER: &str = "owner";
    pub const ID: &str = "id";
    pub const NAME: &str = "name";
    pub const DESCRIPTION: &str = "description";
    pub const CREATED_AT: &str = "created_at";
}

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
    let mut map = key(&item.owner, item.id);
    map.insert(attr::NAME.to_owned(), s(&item.name));
    if let Some(d) = &item.description {
        map.insert(attr::DESCRIPTION.to_owned(), s(d));
    }
    // Redundant with the id, kept for people reading the table in the console.
    map.insert(attr::CREATED_AT.to_owned(), s(&item.created_at_rfc3339()));
    map
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
    })
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
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attributes(item)))
            // Never overwrite: a second put of the same key fails and changes nothing.
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", attr::ID)
            .send()
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
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(owner, id)))
            // The creator reads their item right after the 201: read what was acknowledged.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        output.item().map(from_attributes).transpose()
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
        let output = query.send().await.map_err(|e| store_error("Query", e))?;
        let mut items = output
            .items()
            .iter()
            .map(from_attributes)
            .collect::<Result<Vec<_>, _>>()?;
        let more = items.len() > page.limit;
        items.truncate(page.limit);
        Ok(Page { items, more })
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
}
