//! The compact index of one channel's held messages: ids with their `prev`
//! and epoch, the channel facts known for the channel, and the order-free
//! fingerprint of the held ids. Inserting is idempotent, in any order.

use crate::sync::intervals::Range;
use catalk_proto::{FactId, Fingerprint};
use std::collections::{BTreeMap, BTreeSet};

/// What the index keeps of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    /// The chain predecessor (a message or channel fact), if any.
    pub prev: Option<FactId>,
    /// The epoch (relay run) the message was accepted in.
    pub epoch: FactId,
}

/// One channel's holdings.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChannelIndex {
    held: BTreeMap<FactId, Link>,
    /// Held messages whose `prev` is `None` or not a held message: where
    /// chains start or break. Usually a handful.
    roots: BTreeSet<FactId>,
    /// `prev` ids that are not held messages, with the held messages naming them.
    dangling: BTreeMap<FactId, Vec<FactId>>,
    /// Channel facts of this channel (the oldest is the creation fact).
    channel_facts: BTreeSet<FactId>,
    /// The fingerprint of `held`, as peers advertise it, kept up to date on insert.
    fingerprint: Fingerprint,
}

impl ChannelIndex {
    /// Adds a message; `false` when it was already held.
    pub fn insert(&mut self, id: FactId, link: Link) -> bool {
        if self.held.contains_key(&id) {
            return false;
        }
        self.held.insert(id, link);
        self.fingerprint = self.fingerprint.with(&id);
        if let Some(waiting) = self.dangling.remove(&id) {
            for child in waiting {
                self.roots.remove(&child);
            }
        }
        match link.prev {
            Some(prev) if self.held.contains_key(&prev) => {}
            Some(prev) => {
                self.roots.insert(id);
                self.dangling.entry(prev).or_default().push(id);
            }
            None => {
                self.roots.insert(id);
            }
        }
        true
    }

    /// Drops held messages older than `before`; returns how many. Messages whose
    /// predecessor went become chain starts (roots) again.
    pub fn forget_before(&mut self, before: FactId) -> usize {
        let kept = self.held.split_off(&before);
        let forgotten = std::mem::replace(&mut self.held, kept);
        if forgotten.is_empty() {
            return 0;
        }
        for id in forgotten.keys() {
            self.fingerprint = self.fingerprint.without(id);
        }
        self.roots.clear();
        self.dangling.clear();
        for (id, link) in &self.held {
            match link.prev {
                Some(prev) if self.held.contains_key(&prev) => {}
                Some(prev) => {
                    self.roots.insert(*id);
                    self.dangling.entry(prev).or_default().push(*id);
                }
                None => {
                    self.roots.insert(*id);
                }
            }
        }
        forgotten.len()
    }

    /// Records a channel fact of this channel; `false` when already known.
    pub fn add_channel_fact(&mut self, id: FactId) -> bool {
        self.channel_facts.insert(id)
    }

    /// Whether `id` is a known channel fact of this channel.
    pub fn is_channel_fact(&self, id: &FactId) -> bool {
        self.channel_facts.contains(id)
    }

    /// The channel's creation fact: the oldest channel fact known.
    pub fn creation(&self) -> Option<FactId> {
        self.channel_facts.first().copied()
    }

    /// How many messages are held.
    pub fn count(&self) -> u64 {
        self.held.len() as u64
    }

    /// The oldest held message.
    pub fn oldest(&self) -> Option<FactId> {
        self.held.first_key_value().map(|(id, _)| *id)
    }

    /// The newest held message.
    pub fn newest(&self) -> Option<FactId> {
        self.held.last_key_value().map(|(id, _)| *id)
    }

    /// The newest held message older than `id`.
    pub fn before(&self, id: FactId) -> Option<FactId> {
        self.held.range(..id).next_back().map(|(id, _)| *id)
    }

    /// The oldest held message newer than `id`.
    pub fn after(&self, id: FactId) -> Option<FactId> {
        self.held.range((std::ops::Bound::Excluded(id), std::ops::Bound::Unbounded)).next().map(|(id, _)| *id)
    }

    /// Held message ids inside `range`, ascending.
    pub fn ids_in(&self, range: &Range) -> impl DoubleEndedIterator<Item = FactId> + '_ {
        use std::ops::Bound::{Excluded, Unbounded};
        let lower = range.after.map_or(Unbounded, Excluded);
        let upper = range.before.map_or(Unbounded, Excluded);
        // `BTreeMap::range` panics on an inverted range; an empty one holds nothing.
        (!range.is_empty()).then(|| self.held.range((lower, upper))).into_iter().flatten().map(|(id, _)| *id)
    }

    /// How many held messages lie inside `range`, and their fingerprint.
    pub fn summary(&self, range: &Range) -> (u64, Fingerprint) {
        self.ids_in(range).fold((0, Fingerprint::EMPTY), |(count, fp), id| (count + 1, fp.with(&id)))
    }

    /// Whether the message `id` is held.
    pub fn holds(&self, id: &FactId) -> bool {
        self.held.contains_key(id)
    }

    /// The link of a held message.
    pub fn link(&self, id: &FactId) -> Option<Link> {
        self.held.get(id).copied()
    }

    /// Held messages not linked to a held predecessor, oldest first.
    pub fn roots(&self) -> impl Iterator<Item = (FactId, Link)> + '_ {
        self.roots.iter().filter_map(|id| self.held.get(id).map(|link| (*id, *link)))
    }

    /// The fingerprint of the held ids as peers advertise it (32 hex digits).
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use catalk_proto::fingerprint;

    fn id(n: u64) -> FactId {
        FactId::from_parts(1_000 + n, 0)
    }

    fn link(prev: Option<u64>) -> Link {
        Link { prev: prev.map(id), epoch: id(0) }
    }

    #[test]
    fn inserting_in_any_order_leaves_only_true_chain_starts_as_roots() {
        let mut forward = ChannelIndex::default();
        let mut backward = ChannelIndex::default();
        let chain: Vec<(u64, Option<u64>)> = vec![(1, None), (2, Some(1)), (3, Some(2)), (4, Some(3))];
        for (n, prev) in &chain {
            forward.insert(id(*n), link(*prev));
        }
        for (n, prev) in chain.iter().rev() {
            backward.insert(id(*n), link(*prev));
        }
        for index in [&forward, &backward] {
            assert_eq!(index.roots().map(|(r, _)| r).collect::<Vec<_>>(), vec![id(1)]);
            assert_eq!(index.count(), 4);
        }
        assert_eq!(forward.fingerprint(), backward.fingerprint());
        assert_eq!(forward.fingerprint(), fingerprint(&[id(1), id(2), id(3), id(4)]));
    }

    #[test]
    fn duplicates_change_nothing() {
        let mut index = ChannelIndex::default();
        assert!(index.insert(id(1), link(None)));
        let fp = index.fingerprint();
        assert!(!index.insert(id(1), link(None)));
        assert_eq!((index.count(), index.fingerprint()), (1, fp));
    }

    #[test]
    fn forgetting_the_oldest_makes_the_first_kept_a_root_and_updates_the_fingerprint() {
        let mut index = ChannelIndex::default();
        index.insert(id(1), link(None));
        for n in 2..=5 {
            index.insert(id(n), link(Some(n - 1)));
        }
        assert_eq!(index.forget_before(id(3)), 2);
        assert_eq!((index.count(), index.oldest()), (3, Some(id(3))));
        assert_eq!(index.roots().map(|(r, _)| r).collect::<Vec<_>>(), vec![id(3)]);
        assert_eq!(index.fingerprint(), fingerprint(&[id(3), id(4), id(5)]));
        // The forgotten predecessor arriving again links the chain as before.
        index.insert(id(2), link(Some(1)));
        assert_eq!(index.roots().map(|(r, _)| r).collect::<Vec<_>>(), vec![id(2)]);
        assert_eq!(index.forget_before(id(0)), 0);
    }

    #[test]
    fn a_missing_prev_stays_a_root_until_it_arrives() {
        let mut index = ChannelIndex::default();
        index.insert(id(1), link(None));
        index.insert(id(5), link(Some(4)));
        assert_eq!(index.roots().count(), 2);
        assert_eq!((index.before(id(4)), index.after(id(4))), (Some(id(1)), Some(id(5))));
        index.insert(id(4), link(Some(1)));
        assert_eq!(index.roots().map(|(r, _)| r).collect::<Vec<_>>(), vec![id(1)]);
    }
}
