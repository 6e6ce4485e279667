//! [`HistoryStore`] for [`DiskStore`].

use super::DiskStore;
use super::error::backend;
use super::tables::{self, Keyed, Kind, WriteTables};
use catalk_core::{HeldMessage, HistoryStore, StoreError};
use catalk_proto::{ChannelName, Fact, FactBody, FactId};
use redb::{Durability, ReadableDatabase};

impl HistoryStore for DiskStore {
    /// Stores the new facts in one durable write transaction; when none is new,
    /// nothing is written.
    async fn put_facts(&self, facts: &[Fact]) -> Result<usize, StoreError> {
        let cards: Vec<&Fact> = facts.iter().filter(|f| matches!(f.body, FactBody::Presence { .. })).collect();
        if !cards.is_empty() {
            super::cards::put(&self.db, &cards)?;
        }
        let stored: Vec<(Kind<'_>, &Fact)> = facts.iter().filter_map(|f| Some((Kind::of(&f.body)?, f))).collect();
        if stored.is_empty() {
            return Ok(0);
        }
        let mut txn = self.db.begin_write().map_err(backend)?;
        txn.set_durability(Durability::Immediate).map_err(backend)?;
        let mut new = 0;
        {
            let mut tables = WriteTables::open(&txn)?;
            for (kind, fact) in stored {
                if !tables.holds(fact.id)? {
                    tables.insert(kind, fact)?;
                    new += 1;
                }
            }
            tables.finish()?;
        }
        if new == 0 {
            txn.abort().map_err(backend)?;
        } else {
            txn.commit().map_err(backend)?;
        }
        Ok(new)
    }

    async fn fact(&self, id: FactId) -> Result<Option<Fact>, StoreError> {
        tables::read_fact(&self.db.begin_read().map_err(backend)?, id)
    }

    async fn messages_before(
        &self,
        channel: &ChannelName,
        before: Option<FactId>,
        limit: usize,
    ) -> Result<Vec<Fact>, StoreError> {
        tables::read_page(&self.db.begin_read().map_err(backend)?, channel, before, limit)
    }

    async fn holdings(
        &self,
        channel: &ChannelName,
        before: Option<FactId>,
        limit: usize,
    ) -> Result<Vec<HeldMessage>, StoreError> {
        tables::read_holdings(&self.db.begin_read().map_err(backend)?, channel, before, limit)
    }

    async fn channels(&self) -> Result<Vec<Fact>, StoreError> {
        tables::read_keyed(&self.db.begin_read().map_err(backend)?, Keyed::Channel)
    }

    async fn grants(&self) -> Result<Vec<Fact>, StoreError> {
        tables::read_keyed(&self.db.begin_read().map_err(backend)?, Keyed::Grant)
    }

    async fn presence(&self) -> Result<Vec<Fact>, StoreError> {
        super::cards::read(&self.db.begin_read().map_err(backend)?)
    }

    async fn count_messages(&self, channel: &ChannelName) -> Result<usize, StoreError> {
        let count = tables::read_count(&self.db.begin_read().map_err(backend)?, channel)?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }
}
