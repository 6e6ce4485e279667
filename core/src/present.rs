//! Choosing and batching the facts a client re-presents to the relay at login.

use catalk_proto::{Fact, FactBody, PublicKey};

/// JSON bytes of facts per frame, under the relay's default 64 KiB frame limit.
pub const PRESENT_BUDGET_BYTES: usize = 48 * 1024;
/// Facts per frame, under the relay's default `max_present_facts`.
pub const PRESENT_BUDGET_FACTS: usize = 256;

/// What `own` should present, most important first: the grants that concern it
/// (as grantee or issuer, newest first), every channel fact, then each
/// channel's newest message (its chain head).
pub fn facts_to_present(own: &PublicKey, grants: &[Fact], channels: &[Fact], heads: &[Fact]) -> Vec<Fact> {
    let mut mine: Vec<&Fact> = grants
        .iter()
        .filter(|g| matches!(&g.body, FactBody::Grant { grantee, issuer, .. } if grantee == own || issuer == own))
        .collect();
    mine.sort_by_key(|g| std::cmp::Reverse(g.id));
    mine.into_iter().chain(channels).chain(heads).cloned().collect()
}

/// The facts a session re-presents at each login, kept current as facts
/// arrive, so a reconnect presents the grants, channels and chain heads of
/// now, not those of when the page loaded.
#[derive(Debug, Clone, Default)]
pub struct Presentable {
    grants: Vec<Fact>,
    channels: Vec<Fact>,
    heads: Vec<Fact>,
}

impl Presentable {
    /// Starts from `facts` (as [`facts_to_present`] chose them from the store).
    pub fn new(facts: Vec<Fact>) -> Self {
        let mut present = Self::default();
        for fact in facts {
            match fact.body {
                FactBody::Grant { .. } => present.grants.push(fact),
                FactBody::Channel { .. } => present.channels.push(fact),
                _ => present.heads.push(fact),
            }
        }
        present
    }

    /// Takes note of a verified fact: a grant concerning `own`, a channel
    /// fact, or a message that becomes its channel's head.
    pub fn note(&mut self, own: &PublicKey, fact: &Fact) {
        let known = |list: &[Fact]| list.iter().any(|f| f.id == fact.id);
        match &fact.body {
            FactBody::Grant { grantee, issuer, .. } if (grantee == own || issuer == own) && !known(&self.grants) => {
                self.grants.push(fact.clone());
            }
            FactBody::Channel { .. } if !known(&self.channels) => self.channels.push(fact.clone()),
            FactBody::Message { channel, .. } => {
                let same_channel = |f: &Fact| matches!(&f.body, FactBody::Message { channel: c, .. } if c == channel);
                if self.heads.iter().any(|f| same_channel(f) && f.id >= fact.id) {
                    return;
                }
                self.heads.retain(|f| !same_channel(f));
                self.heads.push(fact.clone());
            }
            _ => {}
        }
    }

    /// What to present, in [`facts_to_present`]'s order.
    pub fn facts(&self, own: &PublicKey) -> Vec<Fact> {
        facts_to_present(own, &self.grants, &self.channels, &self.heads)
    }
}

/// Splits facts into frames that respect the byte and count budgets, keeping order.
pub fn batches(facts: Vec<Fact>, max_bytes: usize, max_count: usize) -> Vec<Vec<Fact>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for fact in facts {
        let size = serde_json::to_string(&fact).map_or(0, |s| s.len() + 1);
        if !current.is_empty() && (bytes + size > max_bytes || current.len() >= max_count) {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(fact);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::message;

    #[test]
    fn presentable_facts_follow_new_grants_channels_and_heads() {
        let own = PublicKey::of(&ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
        let old_head = message("general", 5, 1);
        let mut present = Presentable::new(vec![old_head.clone()]);
        let newer = message("general", 6, 2);
        let older = message("general", 4, 3);
        let elsewhere = message("random", 7, 4);
        for fact in [&newer, &older, &elsewhere, &newer] {
            present.note(&own, fact);
        }
        assert_eq!(present.facts(&own), vec![newer, elsewhere]);
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let facts: Vec<Fact> = (0..10).map(|n| message("b", 1, n)).collect();
        let by_count = batches(facts.clone(), usize::MAX, 4);
        assert_eq!(by_count.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
        let one = serde_json::to_string(&facts[0]).map(|s| s.len()).unwrap_or(0);
        let by_bytes = batches(facts.clone(), one * 3 + 3, 100);
        assert!(by_bytes.iter().all(|b| b.len() <= 3), "{:?}", by_bytes.iter().map(Vec::len).collect::<Vec<_>>());
        assert_eq!(by_bytes.concat(), facts, "order and content kept");
    }
}
