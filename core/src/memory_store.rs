//! An in-memory [`HistoryStore`], for tests and for clients without storage.

use crate::store::{HeldMessage, HistoryStore, StoreError};
use catalk_proto::{ChannelName, Fact, FactBody, FactId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[derive(Debug, Default)]
struct Inner {
    facts: HashMap<FactId, Fact>,
    by_channel: HashMap<ChannelName, BTreeMap<FactId, ()>>,
    /// The newest presence fact per key.
    cards: HashMap<catalk_proto::PublicKey, Fact>,
}

/// Facts in memory, indexed by channel.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Up to `limit` messages of `channel` below `before`, newest first, each seen through `view`.
    fn newest_first<T>(
        &self,
        channel: &ChannelName,
        before: Option<FactId>,
        limit: usize,
        view: impl Fn(&Fact) -> Option<T>,
    ) -> Vec<T> {
        self.with(|inner| {
            let Some(ids) = inner.by_channel.get(channel) else { return Vec::new() };
            let range = match before {
                Some(before) => ids.range(..before),
                None => ids.range(..),
            };
            range.rev().take(limit).filter_map(|(id, ())| inner.facts.get(id).and_then(&view)).collect()
        })
    }

    fn of_kind(&self, keep: impl Fn(&FactBody) -> bool) -> Vec<Fact> {
        self.with(|inner| {
            let mut facts: Vec<Fact> = inner.facts.values().filter(|f| keep(&f.body)).cloned().collect();
            facts.sort_by_key(|f| f.id);
            facts
        })
    }
}

impl HistoryStore for MemoryStore {
    async fn put_facts(&self, facts: &[Fact]) -> Result<usize, StoreError> {
        Ok(self.with(|inner| {
            let mut new = 0;
            for fact in facts {
                if let FactBody::Presence { key, .. } = &fact.body {
                    if inner.cards.get(key).is_none_or(|held| held.id < fact.id) {
                        inner.cards.insert(*key, fact.clone());
                    }
                    continue;
                }
                if inner.facts.contains_key(&fact.id) {
                    continue;
                }
                if let FactBody::Message { channel, .. } = &fact.body {
                    inner.by_channel.entry(channel.clone()).or_default().insert(fact.id, ());
                }
                inner.facts.insert(fact.id, fact.clone());
                new += 1;
            }
            new
        }))
    }

    async fn fact(&self, id: FactId) -> Result<Option<Fact>, StoreError> {
        Ok(self.with(|inner| inner.facts.get(&id).cloned()))
    }

    async fn messages_before(
        &self,
        channel: &ChannelName,
        before: Option<FactId>,
        limit: usize,
    ) -> Result<Vec<Fact>, StoreError> {
        let mut page = self.newest_first(channel, before, limit, |fact| Some(fact.clone()));
        page.reverse();
        Ok(page)
    }

    async fn holdings(
        &self,
        channel: &ChannelName,
        before: Option<FactId>,
        limit: usize,
    ) -> Result<Vec<HeldMessage>, StoreError> {
        Ok(self.newest_first(channel, before, limit, HeldMessage::of))
    }

    async fn channels(&self) -> Result<Vec<Fact>, StoreError> {
        Ok(self.of_kind(|b| matches!(b, FactBody::Channel { .. })))
    }

    async fn grants(&self) -> Result<Vec<Fact>, StoreError> {
        Ok(self.of_kind(|b| matches!(b, FactBody::Grant { .. })))
    }

    async fn presence(&self) -> Result<Vec<Fact>, StoreError> {
        Ok(self.with(|inner| inner.cards.values().cloned().collect()))
    }

    async fn count_messages(&self, channel: &ChannelName) -> Result<usize, StoreError> {
        Ok(self.with(|inner| inner.by_channel.get(channel).map_or(0, BTreeMap::len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_passes_the_conformance_suite() {
        let store = MemoryStore::new();
        let report = futures_executor::block_on(crate::conformance::run(&store));
        assert!(report.failures.is_empty(), "{:#?}", report.failures);
        assert!(report.passed >= 11, "{report:?}");
    }
}
