//! People's cards: the newest presence fact of each key (their name for messages whose author is
//! away), kept beside the history in their own table and never pruned with it.

use super::error::backend;
use catalk_core::StoreError;
use catalk_proto::{Fact, FactBody};
use redb::{Database, Durability, ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};

/// Public key bytes → the newest presence fact's JSON.
const CARDS: TableDefinition<[u8; 32], &str> = TableDefinition::new("presence_cards");

/// Creates the table, so read transactions never meet it missing.
pub(super) fn create(txn: &WriteTransaction) -> Result<(), redb::Error> {
    txn.open_table(CARDS)?;
    Ok(())
}

/// Keeps each presence fact of `facts` unless a newer one of its key is held, in one durable write.
pub(super) fn put(db: &Database, facts: &[&Fact]) -> Result<(), StoreError> {
    let mut txn = db.begin_write().map_err(backend)?;
    txn.set_durability(Durability::Immediate).map_err(backend)?;
    {
        let mut table = txn.open_table(CARDS).map_err(backend)?;
        for fact in facts {
            let FactBody::Presence { key, .. } = &fact.body else { continue };
            let held = table.get(key.as_bytes()).map_err(backend)?.map(|json| decode(json.value())).transpose()?;
            if held.is_some_and(|held| held.id >= fact.id) {
                continue;
            }
            let json = serde_json::to_string(fact).map_err(|e| StoreError::Backend(e.to_string()))?;
            table.insert(key.as_bytes(), json.as_str()).map_err(backend)?;
        }
    }
    txn.commit().map_err(backend)
}

/// Every card held.
pub(super) fn read(txn: &ReadTransaction) -> Result<Vec<Fact>, StoreError> {
    let table = txn.open_table(CARDS).map_err(backend)?;
    table.iter().map_err(backend)?.map(|row| row.map_err(backend).and_then(|(_, json)| decode(json.value()))).collect()
}

fn decode(json: &str) -> Result<Fact, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("stored card: {e}")))
}
