//! A signed channel history for tests and the simulator: an epoch, a channel
//! creation fact, messages whose `prev` chain links back to it, and
//! optionally a relay restart in the middle (a new epoch, and a chain that
//! starts again with `prev: None`, as when nobody presented a head).

use catalk_proto::{ChannelName, DraftId, Fact, FactBody, FactId, PublicKey, sign_post};

/// The relay key of every simulated fact (the one `conformance::message` uses).
pub const RELAY_SEED: [u8; 32] = [0x5a; 32];

/// The relay key that signs the history.
pub fn relay_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&RELAY_SEED)
}

/// The public key of [`relay_key`].
pub fn relay_public() -> PublicKey {
    PublicKey::of(&relay_key())
}

/// One channel's full history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// The channel.
    pub channel: ChannelName,
    /// Epoch facts, oldest first.
    pub epochs: Vec<Fact>,
    /// The channel's creation fact.
    pub creation: Fact,
    /// Messages, oldest first.
    pub messages: Vec<Fact>,
}

impl History {
    /// `count` messages in `channel`; when `restart_at` is `Some(k)` with
    /// `0 < k < count`, message `k` is the first of a second relay run and has `prev: None`.
    pub fn new(channel: &str, count: usize, restart_at: Option<usize>) -> Self {
        Self::build(channel, count, restart_at, None)
    }

    /// As [`History::new`] with a restart at `restart_at`, where a client
    /// presented the stale head `messages[head]` (`head + 1 < restart_at`): the
    /// second run's first message links to it, so run one's tail after it is
    /// linked from nothing (a fork, protocol §10.4).
    pub fn with_stale_head(channel: &str, count: usize, restart_at: usize, head: usize) -> Self {
        Self::build(channel, count, Some(restart_at), Some(head))
    }

    fn build(channel: &str, count: usize, restart_at: Option<usize>, stale_head: Option<usize>) -> Self {
        let relay = relay_key();
        let relay_public = PublicKey::of(&relay);
        let channel = ChannelName::new(channel).unwrap_or_else(|_| ChannelName::general());
        let authors: Vec<ed25519_dalek::SigningKey> =
            (1..=4u8).map(|n| ed25519_dalek::SigningKey::from_bytes(&[n.wrapping_mul(0x3b); 32])).collect();
        let base = 1_700_000_000_000u64;
        let at = |n: usize, k: u128| FactId::from_parts(base + 10 * n as u64, k);
        let epoch1 = Fact::sign(&relay, at(0, 1), FactBody::Epoch {});
        let creation = Fact::sign(&relay, at(0, 2), FactBody::Channel { name: channel.clone(), creator: relay_public });
        let mut epochs = vec![epoch1];
        let mut messages: Vec<Fact> = Vec::with_capacity(count);
        for n in 0..count {
            let restart = restart_at == Some(n) && n > 0;
            if restart {
                epochs.push(Fact::sign(&relay, at(n + 1, 0), FactBody::Epoch {}));
            }
            let prev = if n == 0 {
                Some(creation.id)
            } else if restart {
                stale_head.and_then(|head| messages.get(head)).map(|m| m.id)
            } else {
                messages.last().map(|m| m.id)
            };
            let epoch = epochs.last().map_or(creation.id, |e| e.id);
            let author = &authors[n % authors.len()];
            let draft = DraftId::from_parts(base + 10 * n as u64, n as u128);
            let text = format!("message {n:05} in #{channel}: a typical short chat line of some sixty bytes");
            let author_sig = sign_post(author, &relay_public, &channel, &draft, &text);
            let body = FactBody::Message {
                channel: channel.clone(),
                author: PublicKey::of(author),
                draft,
                text,
                prev,
                epoch,
                author_sig,
            };
            messages.push(Fact::sign(&relay, at(n + 1, 7), body));
        }
        Self { channel, epochs, creation, messages }
    }

    /// What a client that just logged in stores: the epochs and the channel fact.
    pub fn preamble(&self) -> Vec<Fact> {
        let mut facts = self.epochs.clone();
        facts.push(self.creation.clone());
        facts
    }

    /// Everything: preamble and all messages.
    pub fn all(&self) -> Vec<Fact> {
        let mut facts = self.preamble();
        facts.extend(self.messages.iter().cloned());
        facts
    }
}

/// A copy of `fact` with an altered text and the original signatures: what a lying peer serves.
pub fn forge(fact: &Fact) -> Fact {
    let mut forged = fact.clone();
    if let FactBody::Message { text, .. } = &mut forged.body {
        text.push_str(" (altered)");
    }
    forged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_verifies_and_chains_back_to_the_creation_fact() {
        let history = History::new("general", 12, Some(5));
        let relay = relay_public();
        assert_eq!(catalk_proto::verify_facts(&history.all(), |k| *k == relay), Ok(()));
        let prevs: Vec<Option<FactId>> = history
            .messages
            .iter()
            .map(|m| match &m.body {
                FactBody::Message { prev, .. } => *prev,
                _ => None,
            })
            .collect();
        assert_eq!(prevs[0], Some(history.creation.id));
        assert_eq!(prevs[5], None);
        assert_eq!(prevs[6], Some(history.messages[5].id));
        assert!(history.messages.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(history.epochs.len(), 2);
        assert!(forge(&history.messages[3]).verify(|k| *k == relay).is_err());
    }
}
