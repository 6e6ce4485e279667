//! Batch verification of many facts at once (a backfilled page, a presented
//! set): one multiscalar check over every relay and author signature, about
//! twice as fast per signature as verifying them one by one.
//!
//! The batch equation is the same cofactorless equation `verify_strict` checks,
//! and the inputs `verify_strict` refuses are refused here before the batch:
//! untrusted signers, keys that are not curve points or are small-order
//! ("weak"), signatures whose `R` is not a canonical encoding or is
//! small-order, and non-canonical `S` (ed25519-dalek refuses those itself).
//! (A batch can still accept, with probability 1/8, a signature that mixes a
//! torsion component into a valid one; only the key's owner can make such a
//! signature, so it forges nothing.)
//! When the batch fails, every fact is verified on its own with
//! [`Fact::verify`] so the error names the first bad fact.

use crate::fact::{Fact, FactBody, VerifyError};
use crate::key::{KeyError, PublicKey, Signature};
use crate::message::author_signing_bytes;
use ed25519_dalek::VerifyingKey;

/// Verifies every fact: trusted signer, relay signature and, for messages,
/// the author signature. `Ok` only when all of them verify; otherwise the
/// error of the first fact (in slice order) that fails on its own.
pub fn verify_facts(facts: &[Fact], is_trusted: impl Fn(&PublicKey) -> bool) -> Result<(), VerifyError> {
    let mut batch = Batch::with_capacity(facts.len() * 2);
    for fact in facts {
        if !is_trusted(&fact.relay) {
            return Err(VerifyError::UntrustedSigner { id: fact.id, relay: fact.relay });
        }
        let relay_error = |source| VerifyError::RelaySignature { id: fact.id, source };
        batch
            .push(&fact.relay, &fact.sig, Fact::signing_bytes(&fact.id, &fact.relay, &fact.body))
            .map_err(relay_error)?;
        if let FactBody::Message { channel, author, draft, text, author_sig, .. } = &fact.body {
            let author_error = |source| VerifyError::AuthorSignature { id: fact.id, source };
            batch
                .push(author, author_sig, author_signing_bytes(&fact.relay, channel, draft, text))
                .map_err(author_error)?;
        }
    }
    if batch.verify() {
        return Ok(());
    }
    // Name the culprit; strict single verification is the authority.
    facts.iter().try_for_each(|fact| fact.verify(&is_trusted))
}

/// The signatures of one batch, with their messages and decoded keys.
struct Batch {
    messages: Vec<Vec<u8>>,
    signatures: Vec<ed25519_dalek::Signature>,
    keys: Vec<VerifyingKey>,
    /// Keys decoded so far (a page has one relay key and a few authors).
    decoded: Vec<(PublicKey, VerifyingKey)>,
}

impl Batch {
    fn with_capacity(n: usize) -> Self {
        Self {
            messages: Vec::with_capacity(n),
            signatures: Vec::with_capacity(n),
            keys: Vec::with_capacity(n),
            decoded: Vec::new(),
        }
    }

    /// Adds one signature after the checks `verify_strict` makes beyond the equation.
    fn push(&mut self, key: &PublicKey, signature: &Signature, message: Vec<u8>) -> Result<(), KeyError> {
        let key = match self.decoded.iter().find(|(k, _)| k == key) {
            Some((_, decoded)) => *decoded,
            None => {
                let decoded = key.verifying_key()?;
                self.decoded.push((*key, decoded));
                decoded
            }
        };
        check_r(signature)?;
        self.messages.push(message);
        self.signatures.push(signature.to_dalek());
        self.keys.push(key);
        Ok(())
    }

    fn verify(&self) -> bool {
        if self.signatures.is_empty() {
            return true;
        }
        let messages: Vec<&[u8]> = self.messages.iter().map(Vec::as_slice).collect();
        ed25519_dalek::verify_batch(&messages, &self.signatures, &self.keys).is_ok()
    }
}

/// The y coordinates (little-endian, sign bit clear) of the eight small-order
/// points: 0 (order 4, both signs), 1 (the identity), p − 1 (order 2), and
/// the order-8 points' ±y.
const SMALL_ORDER_Y: [[u8; 32]; 5] = [
    [0; 32],
    [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf,
        0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20,
        0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
    ],
];

/// Refuses an `R` that `verify_strict` would refuse, from its bytes alone
/// (the batch decodes the point itself): a y coordinate that is not
/// canonical (≥ p = 2²⁵⁵ − 19), or a small-order point (either sign).
fn check_r(signature: &Signature) -> Result<(), KeyError> {
    let mut y = [0u8; 32];
    y.copy_from_slice(&signature.as_bytes()[..32]);
    y[31] &= 0x7f;
    let at_least_p = y[31] == 0x7f && y[1..31].iter().all(|b| *b == 0xff) && y[0] >= 0xed;
    if at_least_p || SMALL_ORDER_Y.contains(&y) {
        return Err(KeyError::BadSignature);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelName;
    use crate::id::{DraftId, FactId};
    use crate::message::sign_post;

    fn relay_key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[0x21; 32])
    }

    fn message(n: u8) -> Fact {
        let relay = relay_key();
        let author = ed25519_dalek::SigningKey::from_bytes(&[n; 32]);
        let channel = ChannelName::general();
        let draft = DraftId::from_parts(1_000, u128::from(n));
        let text = format!("message {n}");
        let author_sig = sign_post(&author, &PublicKey::of(&relay), &channel, &draft, &text);
        Fact::sign(
            &relay,
            FactId::from_parts(2_000, u128::from(n)),
            FactBody::Message {
                channel,
                author: PublicKey::of(&author),
                draft,
                text,
                prev: None,
                epoch: FactId::from_parts(1, 0),
                author_sig,
            },
        )
    }

    fn page(n: u8) -> Vec<Fact> {
        (1..=n).map(message).collect()
    }

    fn trusted(key: &PublicKey) -> bool {
        *key == PublicKey::of(&relay_key())
    }

    #[test]
    fn a_valid_batch_verifies() {
        assert_eq!(verify_facts(&page(40), trusted), Ok(()));
        assert_eq!(verify_facts(&[], trusted), Ok(()));
    }

    #[test]
    fn a_forged_fact_in_a_batch_is_named() {
        let mut facts = page(30);
        if let FactBody::Message { text, .. } = &mut facts[17].body {
            text.push('!');
        }
        let forged = facts[17].id;
        assert!(matches!(verify_facts(&facts, trusted), Err(VerifyError::RelaySignature { id, .. }) if id == forged));
    }

    #[test]
    fn a_resigned_fact_with_a_changed_text_fails_the_author_signature() {
        let mut facts = page(10);
        let mut body = facts[4].body.clone();
        if let FactBody::Message { text, .. } = &mut body {
            *text = "changed".into();
        }
        facts[4] = Fact::sign(&relay_key(), facts[4].id, body);
        let id = facts[4].id;
        assert!(
            matches!(verify_facts(&facts, trusted), Err(VerifyError::AuthorSignature { id: bad, .. }) if bad == id)
        );
    }

    #[test]
    fn an_untrusted_signer_is_refused_before_any_signature_check() {
        let facts = page(3);
        assert!(matches!(verify_facts(&facts, |_| false), Err(VerifyError::UntrustedSigner { .. })));
    }

    #[test]
    fn a_weak_author_key_is_refused() {
        let mut facts = page(3);
        let mut identity = [0u8; 32];
        identity[0] = 1;
        if let FactBody::Message { author, .. } = &mut facts[1].body {
            *author = PublicKey::from_bytes(identity);
        }
        let body = facts[1].body.clone();
        facts[1] = Fact::sign(&relay_key(), facts[1].id, body);
        assert!(matches!(
            verify_facts(&facts, trusted),
            Err(VerifyError::AuthorSignature { source: KeyError::Weak, .. })
        ));
    }

    #[test]
    fn a_small_order_r_is_refused_like_verify_strict() {
        let mut facts = page(2);
        let mut sig = *facts[0].sig.as_bytes();
        sig[..32].copy_from_slice(&[0u8; 32]);
        sig[0] = 1; // the identity point: small order
        facts[0].sig = Signature::from_bytes(sig);
        assert!(matches!(
            verify_facts(&facts, trusted),
            Err(VerifyError::RelaySignature { source: KeyError::BadSignature, .. })
        ));
    }

    #[test]
    fn the_small_order_list_is_exactly_the_weak_points() {
        for y in SMALL_ORDER_Y {
            for sign in [0u8, 0x80] {
                let mut bytes = y;
                bytes[31] |= sign;
                // Every listed encoding is a small-order point (or not a point at all).
                let weak = VerifyingKey::from_bytes(&bytes).map_or(true, |p| p.is_weak());
                assert!(weak, "{bytes:02x?}");
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(&bytes);
                assert_eq!(check_r(&Signature::from_bytes(sig)), Err(KeyError::BadSignature));
            }
        }
        // The two order-8 y values are each other's negation mod p (they sum to p).
        let (mut carry, mut sum) = (0u16, [0u8; 32]);
        for i in 0..32 {
            let s = u16::from(SMALL_ORDER_Y[3][i]) + u16::from(SMALL_ORDER_Y[4][i]) + carry;
            sum[i] = s as u8;
            carry = s >> 8;
        }
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert_eq!(sum, p);
    }

    #[test]
    fn a_non_canonical_r_is_refused() {
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&[0xff; 32]);
        sig[31] = 0x7f;
        assert_eq!(check_r(&Signature::from_bytes(sig)), Err(KeyError::BadSignature));
        let facts = page(2);
        assert_eq!(check_r(&facts[0].sig), Ok(()));
    }

    #[test]
    fn batch_and_single_verification_agree() {
        let facts = page(20);
        for fact in &facts {
            assert_eq!(verify_facts(std::slice::from_ref(fact), trusted), fact.verify(trusted));
        }
    }
}
