//! Which relay keys this device trusts, and what to do when a relay shows a key it does not know.
//!
//! The device's own history says which keys signed it: every stored channel, grant and message
//! fact names its relay. A relay whose challenge shows one of those keys, or carries one of them's
//! signature over its new key (a planned rotation, [`Endorsement`]), is the same relay. Any other
//! key is an unexpected change: the session stops and asks the person, instead of logging in (and
//! being refused) again and again. Merely naming a known key proves nothing: an impostor can.

use catalk_proto::{Endorsement, Fact, PublicKey};
use serde::Serialize;

/// What a challenge's relay key means for this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The key is known, or a known key endorsed it (or nothing is known yet).
    Trusted,
    /// A key this device has never trusted, endorsed by none of the known ones.
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

    /// Judges a challenge from a relay signing as `relay`, endorsed by the older keys of `endorsed_by`.
    pub fn judge(&self, relay: &PublicKey, endorsed_by: &[Endorsement]) -> Verdict {
        let endorsed = || endorsed_by.iter().any(|e| self.known.contains(&e.key) && e.endorses(relay));
        if self.known.is_empty() || self.known.contains(relay) || endorsed() {
            Verdict::Trusted
        } else {
            Verdict::Changed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signing(seed: u8) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
    }

    fn key(seed: u8) -> PublicKey {
        PublicKey::of(&signing(seed))
    }

    #[test]
    fn a_device_with_no_history_trusts_the_first_relay_it_meets() {
        assert_eq!(RelayKeys::default().judge(&key(1), &[]), Verdict::Trusted);
    }

    #[test]
    fn an_unknown_key_is_a_change_unless_a_known_key_endorsed_it() {
        let mut keys = RelayKeys::default();
        keys.remember(key(1));
        assert_eq!(keys.judge(&key(1), &[]), Verdict::Trusted);
        assert_eq!(keys.judge(&key(2), &[]), Verdict::Changed);
        assert_eq!(keys.judge(&key(2), &[Endorsement::sign(&signing(3), &key(2))]), Verdict::Changed, "unknown");
        assert_eq!(keys.judge(&key(2), &[Endorsement::sign(&signing(1), &key(4))]), Verdict::Changed, "another key");
        assert_eq!(keys.judge(&key(2), &[Endorsement::sign(&signing(1), &key(2))]), Verdict::Trusted, "a rotation");
    }

    #[test]
    fn remembering_a_key_twice_keeps_one() {
        let mut keys = RelayKeys::default();
        keys.remember(key(1));
        keys.remember(key(1));
        assert_eq!(keys.known(), &[key(1)]);
    }
}
