//! The store's tables, their keys, and the reads and writes every operation shares.
//!
//! Facts are kept as their JSON text, keyed by the 16 big-endian bytes of their
//! id (which sort like the id, so by time). Messages are keyed by
//! `(channel, id)`, so one channel's history is one contiguous, id-ordered key
//! range and a page of it is a range scan.

use super::error::backend;
use catalk_core::{HeldMessage, StoreError};
use catalk_proto::{ChannelName, Fact, FactBody, FactId};
use redb::{AccessGuard, ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction};

type Id = [u8; 16];

/// `(channel, id)` → message JSON.
const MESSAGES: TableDefinition<(&str, Id), &str> = TableDefinition::new("messages");
/// Message id → its channel: finds a message by id, and lists all messages oldest first for pruning.
const MESSAGE_IDS: TableDefinition<Id, &str> = TableDefinition::new("message_ids");
/// Channel-creation facts: id → JSON.
const CHANNELS: TableDefinition<Id, &str> = TableDefinition::new("channels");
/// Grant facts: id → JSON.
const GRANTS: TableDefinition<Id, &str> = TableDefinition::new("grants");
/// Epoch facts: id → JSON.
const EPOCHS: TableDefinition<Id, &str> = TableDefinition::new("epochs");
/// Channel → how many of its messages are held.
const COUNTS: TableDefinition<&str, u64> = TableDefinition::new("message_counts");
/// Store-wide totals, under [`BYTES`] and [`MESSAGE_COUNT`].
const TOTALS: TableDefinition<&str, u64> = TableDefinition::new("totals");

/// Sum of the JSON lengths of every fact held.
const BYTES: &str = "stored_bytes";
/// Messages held, across channels.
const MESSAGE_COUNT: &str = "message_count";

/// Where a fact of each stored kind lives. Presence is not history and has no table.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind<'f> {
    /// A message, in its channel's key range.
    Message(&'f ChannelName),
    /// A fact kept whole under its id.
    Keyed(Keyed),
}

/// The kinds kept whole under their id, never pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keyed {
    Channel,
    Grant,
    Epoch,
}

impl Keyed {
    const ALL: [Self; 3] = [Self::Channel, Self::Grant, Self::Epoch];

    fn table(self) -> TableDefinition<'static, Id, &'static str> {
        match self {
            Self::Channel => CHANNELS,
            Self::Grant => GRANTS,
            Self::Epoch => EPOCHS,
        }
    }
}

impl<'f> Kind<'f> {
    /// Where `body` is stored, or `None` when facts of its kind are not stored.
    pub(super) fn of(body: &'f FactBody) -> Option<Self> {
        match body {
            FactBody::Message { channel, .. } => Some(Self::Message(channel)),
            FactBody::Channel { .. } => Some(Self::Keyed(Keyed::Channel)),
            FactBody::Grant { .. } => Some(Self::Keyed(Keyed::Grant)),
            FactBody::Epoch {} => Some(Self::Keyed(Keyed::Epoch)),
            // Presence is not history; a kind added to the protocol later is
            // not stored until this store learns where it belongs.
            _ => None,
        }
    }
}

/// Creates every table, so read transactions never meet a missing one.
pub(super) fn create_all(txn: &WriteTransaction) -> Result<(), redb::Error> {
    txn.open_table(MESSAGES)?;
    txn.open_table(MESSAGE_IDS)?;
    for keyed in Keyed::ALL {
        txn.open_table(keyed.table())?;
    }
    txn.open_table(COUNTS)?;
    txn.open_table(TOTALS)?;
    Ok(())
}

/// Decodes a stored fact.
fn decode(json: &str) -> Result<Fact, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("stored fact: {e}")))
}

/// A row read from a table of fact JSON.
type Row<'a, K> = Result<(AccessGuard<'a, K>, AccessGuard<'a, &'static str>), redb::StorageError>;

/// Decodes the JSON of every row.
fn decode_all<'a, K: redb::Key + 'static>(rows: impl Iterator<Item = Row<'a, K>>) -> Result<Vec<Fact>, StoreError> {
    rows.map(|row| row.map_err(backend).and_then(|(_, json)| decode(json.value()))).collect()
}

/// The fact with `id`, whatever its kind.
pub(super) fn read_fact(txn: &ReadTransaction, id: FactId) -> Result<Option<Fact>, StoreError> {
    let key = id.to_bytes();
    if let Some(channel) = txn.open_table(MESSAGE_IDS).map_err(backend)?.get(key).map_err(backend)? {
        let messages = txn.open_table(MESSAGES).map_err(backend)?;
        return match messages.get((channel.value(), key)).map_err(backend)? {
            Some(json) => decode(json.value()).map(Some),
            None => Err(StoreError::Corrupt(format!("message {id} is indexed but missing"))),
        };
    }
    for keyed in Keyed::ALL {
        if let Some(json) = txn.open_table(keyed.table()).map_err(backend)?.get(key).map_err(backend)? {
            return decode(json.value()).map(Some);
        }
    }
    Ok(None)
}

/// The message rows of `channel` below `before` (from the newest when `None`), newest first.
fn newest_first(
    txn: &ReadTransaction,
    channel: &ChannelName,
    before: Option<FactId>,
) -> Result<impl Iterator<Item = Row<'static, (&'static str, Id)>>, StoreError> {
    let messages = txn.open_table(MESSAGES).map_err(backend)?;
    let name = channel.as_str();
    let rows = match before {
        Some(before) => messages.range((name, [0; 16])..(name, before.to_bytes())),
        None => messages.range((name, [0; 16])..=(name, [0xff; 16])),
    }
    .map_err(backend)?;
    Ok(rows.rev())
}

/// Up to `limit` messages of `channel` below `before`, oldest first.
pub(super) fn read_page(
    txn: &ReadTransaction,
    channel: &ChannelName,
    before: Option<FactId>,
    limit: usize,
) -> Result<Vec<Fact>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut page = decode_all(newest_first(txn, channel, before)?.take(limit))?;
    page.reverse();
    Ok(page)
}

/// Up to `limit` held messages of `channel` below `before`, newest first.
pub(super) fn read_holdings(
    txn: &ReadTransaction,
    channel: &ChannelName,
    before: Option<FactId>,
    limit: usize,
) -> Result<Vec<HeldMessage>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    newest_first(txn, channel, before)?
        .take(limit)
        .map(|row| {
            let (_, json) = row.map_err(backend)?;
            let fact = decode(json.value())?;
            HeldMessage::of(&fact)
                .ok_or_else(|| StoreError::Corrupt(format!("{} is kept as a message but is not one", fact.id)))
        })
        .collect()
}

/// Every fact of one kept-whole kind, in id order.
pub(super) fn read_keyed(txn: &ReadTransaction, keyed: Keyed) -> Result<Vec<Fact>, StoreError> {
    let table = txn.open_table(keyed.table()).map_err(backend)?;
    decode_all(table.iter().map_err(backend)?)
}

/// How many messages of `channel` are held.
pub(super) fn read_count(txn: &ReadTransaction, channel: &ChannelName) -> Result<u64, StoreError> {
    let counts = txn.open_table(COUNTS).map_err(backend)?;
    Ok(counts.get(channel.as_str()).map_err(backend)?.map_or(0, |c| c.value()))
}

/// The store-wide totals: (stored bytes, message count).
pub(super) fn read_totals(txn: &ReadTransaction) -> Result<(u64, u64), StoreError> {
    let totals = txn.open_table(TOTALS).map_err(backend)?;
    let get = |key| Ok::<_, StoreError>(totals.get(key).map_err(backend)?.map_or(0, |v| v.value()));
    Ok((get(BYTES)?, get(MESSAGE_COUNT)?))
}

/// Every table open in one write transaction, with the totals kept in memory
/// until [`WriteTables::finish`] writes them back.
pub(super) struct WriteTables<'t> {
    messages: Table<'t, (&'static str, Id), &'static str>,
    message_ids: Table<'t, Id, &'static str>,
    channels: Table<'t, Id, &'static str>,
    grants: Table<'t, Id, &'static str>,
    epochs: Table<'t, Id, &'static str>,
    counts: Table<'t, &'static str, u64>,
    totals: Table<'t, &'static str, u64>,
    /// Sum of the JSON lengths of every fact held.
    pub(super) bytes: u64,
    /// Messages held, across channels.
    pub(super) message_count: u64,
}

impl<'t> WriteTables<'t> {
    /// Opens every table of `txn` and loads the totals.
    pub(super) fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        let totals = txn.open_table(TOTALS).map_err(backend)?;
        let get = |key| Ok::<_, StoreError>(totals.get(key).map_err(backend)?.map_or(0, |v| v.value()));
        let (bytes, message_count) = (get(BYTES)?, get(MESSAGE_COUNT)?);
        Ok(Self {
            messages: txn.open_table(MESSAGES).map_err(backend)?,
            message_ids: txn.open_table(MESSAGE_IDS).map_err(backend)?,
            channels: txn.open_table(CHANNELS).map_err(backend)?,
            grants: txn.open_table(GRANTS).map_err(backend)?,
            epochs: txn.open_table(EPOCHS).map_err(backend)?,
            counts: txn.open_table(COUNTS).map_err(backend)?,
            totals,
            bytes,
            message_count,
        })
    }

    fn keyed(&mut self, keyed: Keyed) -> &mut Table<'t, Id, &'static str> {
        match keyed {
            Keyed::Channel => &mut self.channels,
            Keyed::Grant => &mut self.grants,
            Keyed::Epoch => &mut self.epochs,
        }
    }

    /// Whether a fact with `id` is held, whatever its kind.
    pub(super) fn holds(&self, id: FactId) -> Result<bool, StoreError> {
        let key = id.to_bytes();
        for table in [&self.message_ids, &self.channels, &self.grants, &self.epochs] {
            if table.get(key).map_err(backend)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Stores `fact` (not yet held) under `kind`.
    pub(super) fn insert(&mut self, kind: Kind<'_>, fact: &Fact) -> Result<(), StoreError> {
        let json = serde_json::to_string(fact).map_err(|e| StoreError::Backend(format!("encode fact: {e}")))?;
        let key = fact.id.to_bytes();
        match kind {
            Kind::Message(channel) => {
                let name = channel.as_str();
                self.messages.insert((name, key), json.as_str()).map_err(backend)?;
                self.message_ids.insert(key, name).map_err(backend)?;
                self.add_to_count(name, 1)?;
                self.message_count += 1;
            }
            Kind::Keyed(keyed) => {
                self.keyed(keyed).insert(key, json.as_str()).map_err(backend)?;
            }
        }
        self.bytes += json.len() as u64;
        Ok(())
    }

    /// The oldest message held: its id and channel.
    pub(super) fn oldest_message(&self) -> Result<Option<(FactId, String)>, StoreError> {
        let first = self.message_ids.first().map_err(backend)?;
        Ok(first.map(|(id, channel)| (FactId::from_bytes(id.value()), channel.value().to_owned())))
    }

    /// Deletes the message `id` of `channel`.
    pub(super) fn remove_message(&mut self, id: FactId, channel: &str) -> Result<(), StoreError> {
        let key = id.to_bytes();
        self.message_ids.remove(key).map_err(backend)?;
        let json_len = self.messages.remove((channel, key)).map_err(backend)?.map_or(0, |j| j.value().len());
        self.add_to_count(channel, -1)?;
        self.message_count = self.message_count.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(json_len as u64);
        Ok(())
    }

    fn add_to_count(&mut self, channel: &str, delta: i64) -> Result<(), StoreError> {
        let old = self.counts.get(channel).map_err(backend)?.map_or(0, |c| c.value());
        let new = old.saturating_add_signed(delta);
        if new == 0 {
            self.counts.remove(channel).map_err(backend)?;
        } else {
            self.counts.insert(channel, new).map_err(backend)?;
        }
        Ok(())
    }

    /// Writes the totals back; call before committing.
    pub(super) fn finish(mut self) -> Result<(), StoreError> {
        self.totals.insert(BYTES, self.bytes).map_err(backend)?;
        self.totals.insert(MESSAGE_COUNT, self.message_count).map_err(backend)?;
        Ok(())
    }
}
