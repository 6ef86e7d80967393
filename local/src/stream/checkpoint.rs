//! The mapping's checkpoint: the sequence number of the last record it is done with (handed
//! to the function successfully, filtered out, or sent to the on-failure destination), in
//! redb (`.twin/event-source-mapping.redb`), on disk before the mapping reads on. A crash
//! between a batch's invocation and its checkpoint replays the batch: at least once, as
//! Lambda delivers.

use std::path::Path;

use redb::{Database, ReadableDatabase, TableDefinition};

const CHECKPOINTS: TableDefinition<&str, &str> = TableDefinition::new("checkpoints");

pub struct Checkpoint {
    db: Database,
    /// The mapping's name: one checkpoint per mapping and shard.
    key: String,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Checkpoint {
    pub fn open(path: &Path, key: &str) -> Result<Self, String> {
        let db = Database::create(path).map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(CHECKPOINTS).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(Self {
            db,
            key: key.to_owned(),
        })
    }

    /// The last sequence number done with; `None` before the first (`TRIM_HORIZON`).
    pub fn get(&self) -> Result<Option<String>, String> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(CHECKPOINTS).map_err(err)?;
        Ok(table
            .get(self.key.as_str())
            .map_err(err)?
            .map(|v| v.value().to_owned()))
    }

    /// Moves the checkpoint to `sequence_number`; answers once it is on disk.
    pub fn set(&self, sequence_number: &str) -> Result<(), String> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut table = txn.open_table(CHECKPOINTS).map_err(err)?;
            table
                .insert(self.key.as_str(), sequence_number)
                .map_err(err)?;
        }
        txn.commit().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("esm.redb");
        {
            let checkpoint = Checkpoint::open(&path, "m").unwrap();
            assert_eq!(checkpoint.get().unwrap(), None);
            checkpoint.set("100000000000000000007").unwrap();
        }
        let checkpoint = Checkpoint::open(&path, "m").unwrap();
        assert_eq!(
            checkpoint.get().unwrap().as_deref(),
            Some("100000000000000000007")
        );
    }
}
