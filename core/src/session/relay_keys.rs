//! Which relay keys this device trusts, and what to do when a relay shows a key it does not know.
//!
//! The device's own history says which keys signed it: every stored channel, grant and message
//! fact names its relay. A relay whose challenge shows one of those keys, or names one of them as
//! an older key it still accepts (a planned rotation with `--trusted-key`), is the same relay.
//! Any other key is an unexpected change: the session stops and asks the person, instead of
//! logging in (and being refused) again and again.

use catalk_proto::{Fact, PublicKey};
use serde::Serialize;

/// What a challenge's relay key means for this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The key is known, or the relay names a known key as its older one (or nothing is known yet).
    Trusted,
    /// A key this device has never trusted, from a relay that names none of the known ones.
    Changed,
}

/// An unexpected relay key, waiting for the person's choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelayKeyChange {
    /// The keys this device trusted so far.
    pub previous: Vec<PublicKey>,
    /// The key the relay shows now.
    pub current: PublicKey,
}

/// The relay keys this device trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayKeys {
    known: Vec<PublicKey>,
}

impl RelayKeys {
    /// Adds the keys that signed stored facts.
    pub fn remember_signers<'a>(&mut self, facts: impl IntoIterator<Item = &'a Fact>) {
        for fact in facts {
            self.remember(fact.relay);
        }
    }

    /// Trusts `key` from now on.
    pub fn remember(&mut self, key: PublicKey) {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
    }

    /// The trusted keys, oldest first.
    pub fn known(&self) -> &[PublicKey] {
        &self.known
    }

    /// Judges a challenge from a relay signing as `relay` that still accepts `older` keys.
    pub fn judge(&self, relay: &PublicKey, older: &[PublicKey]) -> Verdict {
        if self.known.is_empty() || self.known.contains(relay) || older.iter().any(|k| self.known.contains(k)) {
            Verdict::Trusted
        } else {
            Verdict::Changed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> PublicKey {
        PublicKey::of(&ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
    }

    #[test]
    fn a_device_with_no_history_trusts_the_first_relay_it_meets() {
        assert_eq!(RelayKeys::default().judge(&key(1), &[]), Verdict::Trusted);
    }

    #[test]
    fn an_unknown_key_is_a_change_unless_the_relay_names_a_known_key_as_older() {
        let mut keys = RelayKeys::default();
        keys.remember(key(1));
        assert_eq!(keys.judge(&key(1), &[]), Verdict::Trusted);
        assert_eq!(keys.judge(&key(2), &[]), Verdict::Changed);
        assert_eq!(keys.judge(&key(2), &[key(3)]), Verdict::Changed);
        assert_eq!(keys.judge(&key(2), &[key(1)]), Verdict::Trusted, "a planned rotation");
    }

    #[test]
    fn remembering_a_key_twice_keeps_one() {
        let mut keys = RelayKeys::default();
        keys.remember(key(1));
        keys.remember(key(1));
        assert_eq!(keys.known(), &[key(1)]);
    }
}
