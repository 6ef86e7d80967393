//! The SQS stand-in for the item-events dead-letter queue (`items-api-item-events-dlq`), the
//! event source mapping's on-failure destination: a durable queue in redb
//! (`.twin/sqs.redb`), each message kept with an id until an operator deletes it. A message
//! is on disk before `send` answers, as SQS acknowledges a `SendMessage` once stored.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::Serialize;

/// Message number → `{"MessageId", "SentTimestamp", "Body"}`.
const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");

/// The dead-letter queue's name, as Terraform names it.
pub const DLQ_NAME: &str = "items-api-item-events-dlq";

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    pub message_id: String,
    /// Epoch milliseconds, as SQS's attribute.
    pub sent_timestamp: i64,
    pub body: String,
}

#[derive(Clone)]
pub struct Queue {
    pub name: String,
    db: Arc<Database>,
}

pub type SqsError = String;

fn err(e: impl std::fmt::Display) -> SqsError {
    e.to_string()
}

impl Queue {
    pub fn open(path: &Path, name: &str) -> Result<Self, SqsError> {
        let db = Database::create(path).map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(MESSAGES).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(Self {
            name: name.to_owned(),
            db: Arc::new(db),
        })
    }

    /// Stores `body`; answers its message id once it is on disk.
    pub fn send(&self, body: String) -> Result<String, SqsError> {
        let message = Message {
            message_id: uuid::Uuid::new_v4().to_string(),
            sent_timestamp: time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64
                / 1_000_000,
            body,
        };
        let bytes = serde_json::to_vec(&message).map_err(err)?;
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut table = txn.open_table(MESSAGES).map_err(err)?;
            let next = table.last().map_err(err)?.map_or(0, |(n, _)| n.value()) + 1;
            table.insert(next, bytes.as_slice()).map_err(err)?;
        }
        txn.commit().map_err(err)?;
        Ok(message.message_id)
    }

    /// Every message, oldest first.
    pub fn list(&self) -> Result<Vec<Message>, SqsError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(MESSAGES).map_err(err)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(err)? {
            let (_, value) = entry.map_err(err)?;
            out.push(serde_json::from_slice(value.value()).map_err(err)?);
        }
        Ok(out)
    }

    /// `ApproximateNumberOfMessagesVisible`: nothing is ever in flight here.
    pub fn depth(&self) -> Result<u64, SqsError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(MESSAGES).map_err(err)?;
        table.len().map_err(err)
    }

    /// Deletes one message by its id; false if there is none.
    pub fn delete(&self, message_id: &str) -> Result<bool, SqsError> {
        let txn = self.db.begin_write().map_err(err)?;
        let found = {
            let mut table = txn.open_table(MESSAGES).map_err(err)?;
            let mut found = None;
            for entry in table.iter().map_err(err)? {
                let (n, value) = entry.map_err(err)?;
                let message: Message = serde_json::from_slice(value.value()).map_err(err)?;
                if message.message_id == message_id {
                    found = Some(n.value());
                    break;
                }
            }
            if let Some(n) = found {
                table.remove(n).map_err(err)?;
            }
            found.is_some()
        };
        txn.commit().map_err(err)?;
        Ok(found)
    }

    /// Deletes every message (`PurgeQueue`); answers how many went.
    pub fn purge(&self) -> Result<u64, SqsError> {
        let txn = self.db.begin_write().map_err(err)?;
        let n = {
            let mut table = txn.open_table(MESSAGES).map_err(err)?;
            let n = table.len().map_err(err)?;
            table.retain(|_, _| false).map_err(err)?;
            n
        };
        txn.commit().map_err(err)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_kept_across_reopening_until_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sqs.redb");
        let (a, b) = {
            let queue = Queue::open(&path, DLQ_NAME).unwrap();
            (
                queue.send("one".into()).unwrap(),
                queue.send("two".into()).unwrap(),
            )
        };
        let queue = Queue::open(&path, DLQ_NAME).unwrap();
        let bodies: Vec<String> = queue.list().unwrap().into_iter().map(|m| m.body).collect();
        assert_eq!(bodies, ["one", "two"]);
        assert_eq!(queue.depth().unwrap(), 2);
        assert!(queue.delete(&a).unwrap());
        assert!(!queue.delete(&a).unwrap(), "already gone");
        assert_eq!(queue.list().unwrap()[0].message_id, b);
        queue.send("three".into()).unwrap();
        assert_eq!(queue.purge().unwrap(), 2);
        assert_eq!(queue.depth().unwrap(), 0);
    }
}
