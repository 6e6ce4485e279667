//! The driver's side of the local store: answering queries from any
//! [`HistoryStore`] (the one function every shell calls), and the queue that
//! keeps one put in flight and batches what arrives meanwhile.

use crate::client::io::{StoreAnswer, StoreQuery};
use crate::store::{HistoryStore, StoreError};
use catalk_proto::{ChannelName, Fact, FactBody};
use std::collections::VecDeque;

/// Held messages asked for per holdings page at start.
pub const HOLDINGS_PAGE: usize = 5_000;

/// Answers a [`StoreQuery`] from `store`: what a shell does for [`crate::client::Output::Load`].
pub async fn run_query<S: HistoryStore>(store: &S, query: &StoreQuery) -> Result<StoreAnswer, StoreError> {
    match query {
        StoreQuery::Startup => {
            let channels = store.channels().await?;
            let grants = store.grants().await?;
            let mut heads = Vec::new();
            for channel in &channels {
                if let FactBody::Channel { name, .. } = &channel.body {
                    heads.append(&mut store.messages_before(name, None, 1).await?);
                }
            }
            let presence = store.presence().await?;
            Ok(StoreAnswer::Startup { channels, grants, heads, presence })
        }
        StoreQuery::Holdings { channel, before, limit } => {
            Ok(StoreAnswer::Holdings(store.holdings(channel, *before, *limit).await?))
        }
        StoreQuery::Page { channel, before, after, limit } => {
            let (facts, more) = crate::sync::load_page(store, channel, *before, *after, *limit).await?;
            Ok(StoreAnswer::Page { facts, more })
        }
    }
}

/// Where facts to store came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Live from the relay (or the welcome).
    Live,
    /// Backfilled from a peer, verified.
    Backfill,
    /// A person's card (a presence fact): not history, not counted.
    Card,
}

/// Facts waiting to be stored, and the put in flight.
#[derive(Debug, Default)]
pub struct PutQueue {
    waiting: VecDeque<(Fact, Origin)>,
    in_flight: Option<(u64, Vec<(Fact, Origin)>)>,
}

impl PutQueue {
    /// Queues facts.
    pub fn push(&mut self, facts: Vec<Fact>, origin: Origin) {
        self.waiting.extend(facts.into_iter().map(|f| (f, origin)));
    }

    /// The next put to ask for, when none is in flight and facts wait.
    pub fn next(&mut self, ticket: u64) -> Option<Vec<Fact>> {
        if self.in_flight.is_some() || self.waiting.is_empty() {
            return None;
        }
        let batch: Vec<(Fact, Origin)> = self.waiting.drain(..).collect();
        let facts = batch.iter().map(|(f, _)| f.clone()).collect();
        self.in_flight = Some((ticket, batch));
        Some(facts)
    }

    /// Whether backfilled messages of `channel` wait or are being stored.
    pub fn unstored_backfill(&self, channel: &ChannelName) -> bool {
        let in_flight = self.in_flight.iter().flat_map(|(_, batch)| batch.iter());
        self.waiting.iter().chain(in_flight).any(|(fact, origin)| {
            *origin == Origin::Backfill && matches!(&fact.body, FactBody::Message { channel: c, .. } if c == channel)
        })
    }

    /// The put `ticket` finished: its facts and their origins.
    pub fn done(&mut self, ticket: u64) -> Option<Vec<(Fact, Origin)>> {
        match &self.in_flight {
            Some((t, _)) if *t == ticket => self.in_flight.take().map(|(_, batch)| batch),
            _ => None,
        }
    }
}

/// Backfilled messages per channel, in the order channels first appear.
pub fn backfill_counts(batch: &[(Fact, Origin)]) -> Vec<(ChannelName, usize)> {
    let mut counts: Vec<(ChannelName, usize)> = Vec::new();
    for (fact, origin) in batch {
        if let (Origin::Backfill, FactBody::Message { channel, .. }) = (origin, &fact.body) {
            match counts.iter_mut().find(|(c, _)| c == channel) {
                Some((_, n)) => *n += 1,
                None => counts.push((channel.clone(), 1)),
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::message;

    #[test]
    fn one_put_at_a_time_and_later_facts_go_together() {
        let mut queue = PutQueue::default();
        queue.push(vec![message("a", 1, 1)], Origin::Live);
        assert_eq!(queue.next(1).map(|f| f.len()), Some(1));
        queue.push(vec![message("a", 2, 2)], Origin::Live);
        queue.push(vec![message("b", 3, 3), message("b", 4, 4)], Origin::Backfill);
        assert_eq!(queue.next(2), None, "one in flight");
        assert_eq!(queue.done(9), None, "not that ticket");
        assert_eq!(queue.done(1).map(|b| b.len()), Some(1));
        let batch = queue.next(2).map(|f| f.len());
        assert_eq!(batch, Some(3));
        let done = queue.done(2).unwrap_or_default();
        let counts = backfill_counts(&done);
        assert_eq!(counts.len(), 1);
        assert_eq!(counts[0].1, 2, "only backfilled messages counted");
    }
}
