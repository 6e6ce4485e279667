//! A planned change of the relay's key: the older key signs the newer one, so that a
//! device that trusted the older key can trust the newer one without asking its person —
//! and a server that only claims to know the older key cannot.

use crate::canonical::CanonicalWriter;
use crate::key::{PublicKey, Signature};
use serde::{Deserialize, Serialize};

/// Domain-separation string of rotation endorsements.
pub const ROTATION_DOMAIN: &str = "catalk/v1/rotation";

/// The bytes an older relay key signs to endorse a newer one: domain, older key, newer key.
pub fn rotation_signing_bytes(older: &PublicKey, newer: &PublicKey) -> Vec<u8> {
    CanonicalWriter::new(ROTATION_DOMAIN).fixed(older.as_bytes()).fixed(newer.as_bytes()).finish()
}

/// An older relay key's signature over the current one (the challenge's `endorsed_by`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endorsement {
    /// The older key that signed.
    pub key: PublicKey,
    /// Its signature over [`rotation_signing_bytes`].
    pub sig: Signature,
}

impl Endorsement {
    /// `older` endorses `newer`.
    pub fn sign(older: &ed25519_dalek::SigningKey, newer: &PublicKey) -> Self {
        let key = PublicKey::of(older);
        Self { key, sig: Signature::sign(older, &rotation_signing_bytes(&key, newer)) }
    }

    /// Whether this endorsement strictly verifies for `newer`.
    pub fn endorses(&self, newer: &PublicKey) -> bool {
        self.key.verify_strict(&rotation_signing_bytes(&self.key, newer), &self.sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signing(seed: u8) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn an_endorsement_names_exactly_one_newer_key() {
        let (old, new, other) = (signing(1), PublicKey::of(&signing(2)), PublicKey::of(&signing(3)));
        let endorsement = Endorsement::sign(&old, &new);
        assert!(endorsement.endorses(&new));
        assert!(!endorsement.endorses(&other));
    }

    #[test]
    fn a_claimed_key_without_its_signature_endorses_nothing() {
        let new = PublicKey::of(&signing(2));
        let forged = Endorsement { key: PublicKey::of(&signing(1)), sig: Endorsement::sign(&signing(9), &new).sig };
        assert!(!forged.endorses(&new));
    }

    #[test]
    fn the_signed_bytes_are_domain_older_newer() {
        let (a, b) = (PublicKey::from_bytes([1; 32]), PublicKey::from_bytes([2; 32]));
        let bytes = rotation_signing_bytes(&a, &b);
        assert_eq!(&bytes[..19], b"catalk/v1/rotation\0");
        assert_eq!(bytes.len(), 19 + 64);
    }
}
