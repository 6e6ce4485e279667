//! Facts: everything the relay attests, signed by the relay over canonical bytes.

use crate::canonical::CanonicalWriter;
use crate::channel::ChannelName;
use crate::id::{DraftId, FactId};
use crate::key::{KeyError, PublicKey, Signature};
use crate::message::verify_author;
use crate::privileges::Privileges;
use crate::text::DisplayName;
use serde::{Deserialize, Serialize};

/// Domain-separation string of relay signatures over facts.
pub const FACT_DOMAIN: &str = "catalk/v1/fact";

/// A relay-signed statement with a relay-assigned, strictly increasing id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// ULID assigned by the relay; strictly increasing across one relay.
    pub id: FactId,
    /// The relay key that signed this fact.
    pub relay: PublicKey,
    /// What the fact says.
    pub body: FactBody,
    /// The relay's signature over [`Fact::signing_bytes`].
    pub sig: Signature,
}

/// The kinds of fact, with the byte that names each in signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FactKind {
    /// The relay (re)started.
    Epoch = 1,
    /// A channel was created.
    Channel = 2,
    /// A message was posted.
    Message = 3,
    /// A key came online or went offline.
    Presence = 4,
    /// An owner set a key's privileges.
    Grant = 5,
}

/// The content of a fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FactBody {
    /// The relay started a new run; message chains restart here unless a
    /// client re-presents the previous head.
    Epoch {},
    /// A channel was created by `creator`.
    Channel {
        /// The channel's name.
        name: ChannelName,
        /// Who created it (the relay's own key for `general`).
        creator: PublicKey,
    },
    /// A message, countersigned by the relay after checking the author's signature.
    Message {
        /// Channel posted to.
        channel: ChannelName,
        /// Author key (the login key of the posting connection).
        author: PublicKey,
        /// The author's draft id.
        draft: DraftId,
        /// Body text.
        text: String,
        /// The previous message (or channel fact) in this channel as known to
        /// this relay run; `None` when the run knows no earlier one.
        prev: Option<FactId>,
        /// The epoch fact of the relay run that accepted the message.
        epoch: FactId,
        /// The author's signature over [`crate::author_signing_bytes`].
        author_sig: Signature,
    },
    /// A key came online or went offline.
    Presence {
        /// Whose presence.
        key: PublicKey,
        /// Display name the key logged in with.
        name: DisplayName,
        /// `true` when the key came online, `false` when its last connection left.
        online: bool,
        /// The key's privileges as the relay sees them.
        privileges: Privileges,
    },
    /// An owner set `grantee`'s privileges; the newest grant for a key wins.
    Grant {
        /// Whose privileges.
        grantee: PublicKey,
        /// The privileges now held (a revoke is a grant with fewer).
        privileges: Privileges,
        /// The owner who made the grant (the relay's own key for a claim).
        issuer: PublicKey,
    },
}

impl FactBody {
    /// Which kind of fact this is.
    pub fn kind(&self) -> FactKind {
        match self {
            Self::Epoch {} => FactKind::Epoch,
            Self::Channel { .. } => FactKind::Channel,
            Self::Message { .. } => FactKind::Message,
            Self::Presence { .. } => FactKind::Presence,
            Self::Grant { .. } => FactKind::Grant,
        }
    }

    fn write_canonical(&self, w: &mut CanonicalWriter) {
        w.u8(self.kind() as u8);
        match self {
            Self::Epoch {} => {}
            Self::Channel { name, creator } => {
                w.str(name.as_str()).fixed(creator.as_bytes());
            }
            Self::Message { channel, author, draft, text, prev, epoch, author_sig } => {
                let prev = prev.map(|p| p.to_bytes());
                w.str(channel.as_str())
                    .fixed(author.as_bytes())
                    .fixed(&draft.to_bytes())
                    .str(text)
                    .optional(prev.as_ref().map(|p| p.as_slice()))
                    .fixed(&epoch.to_bytes())
                    .fixed(author_sig.as_bytes());
            }
            Self::Presence { key, name, online, privileges } => {
                w.fixed(key.as_bytes()).str(name.as_str()).u8(u8::from(*online)).u8(privileges.bits());
            }
            Self::Grant { grantee, privileges, issuer } => {
                w.fixed(grantee.as_bytes()).u8(privileges.bits()).fixed(issuer.as_bytes());
            }
        }
    }
}

/// Why a fact failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Signed by a relay key the verifier does not trust.
    #[error("fact {id} is signed by untrusted relay key {relay}")]
    UntrustedSigner {
        /// The fact.
        id: FactId,
        /// Its signer.
        relay: PublicKey,
    },
    /// The relay signature does not verify.
    #[error("fact {id}: relay signature invalid: {source}")]
    RelaySignature {
        /// The fact.
        id: FactId,
        /// Why.
        source: KeyError,
    },
    /// The author signature of a message does not verify.
    #[error("fact {id}: author signature invalid: {source}")]
    AuthorSignature {
        /// The fact.
        id: FactId,
        /// Why.
        source: KeyError,
    },
}

impl Fact {
    /// The canonical bytes the relay signs: domain, id, relay key, kind, body fields.
    pub fn signing_bytes(id: &FactId, relay: &PublicKey, body: &FactBody) -> Vec<u8> {
        let mut w = CanonicalWriter::new(FACT_DOMAIN);
        w.fixed(&id.to_bytes()).fixed(relay.as_bytes());
        body.write_canonical(&mut w);
        w.finish()
    }

    /// Signs `body` under `id` with the relay key.
    pub fn sign(key: &ed25519_dalek::SigningKey, id: FactId, body: FactBody) -> Self {
        let relay = PublicKey::of(key);
        let sig = Signature::sign(key, &Self::signing_bytes(&id, &relay, &body));
        Self { id, relay, body, sig }
    }

    /// Checks the signer is trusted, the relay signature and, for messages, the author signature.
    pub fn verify(&self, is_trusted: impl Fn(&PublicKey) -> bool) -> Result<(), VerifyError> {
        if !is_trusted(&self.relay) {
            return Err(VerifyError::UntrustedSigner { id: self.id, relay: self.relay });
        }
        self.relay
            .verify_strict(&Self::signing_bytes(&self.id, &self.relay, &self.body), &self.sig)
            .map_err(|source| VerifyError::RelaySignature { id: self.id, source })?;
        if let FactBody::Message { channel, author, draft, text, author_sig, .. } = &self.body {
            verify_author(author, &self.relay, channel, draft, text, author_sig)
                .map_err(|source| VerifyError::AuthorSignature { id: self.id, source })?;
        }
        Ok(())
    }
}

/// Proptest strategies for facts, shared by the frame round-trip tests.
#[cfg(test)]
pub(crate) mod strategies {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn arb_key() -> impl Strategy<Value = PublicKey> {
        any::<[u8; 32]>().prop_map(PublicKey::from_bytes)
    }
    pub(crate) fn arb_id() -> impl Strategy<Value = FactId> {
        (0u64..(1 << 48), any::<u128>()).prop_map(|(t, r)| FactId::from_parts(t, r))
    }
    pub(crate) fn arb_sig() -> impl Strategy<Value = Signature> {
        (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(a, b)| {
            let mut s = [0u8; 64];
            s[..32].copy_from_slice(&a);
            s[32..].copy_from_slice(&b);
            Signature::from_bytes(s)
        })
    }
    pub(crate) fn arb_channel() -> impl Strategy<Value = ChannelName> {
        "[a-z0-9][a-z0-9_-]{0,31}".prop_map(|n| ChannelName::new(&n).unwrap_or_else(|_| ChannelName::general()))
    }
    pub(crate) fn arb_body() -> impl Strategy<Value = FactBody> {
        prop_oneof![
            Just(FactBody::Epoch {}),
            (arb_channel(), arb_key()).prop_map(|(name, creator)| FactBody::Channel { name, creator }),
            (arb_channel(), arb_key(), arb_id(), ".{1,200}", proptest::option::of(arb_id()), arb_id(), arb_sig())
                .prop_map(|(channel, author, draft, text, prev, epoch, author_sig)| {
                    FactBody::Message {
                        channel,
                        author,
                        draft: DraftId::from_bytes(draft.to_bytes()),
                        text,
                        prev,
                        epoch,
                        author_sig,
                    }
                }),
            (arb_key(), "[a-zA-Z ]{0,20}[a-z]", any::<bool>(), 0u8..16).prop_map(|(key, name, online, bits)| {
                FactBody::Presence {
                    key,
                    name: DisplayName::new(&name).unwrap_or_else(|_| unreachable!()),
                    online,
                    privileges: Privileges::from_bits(bits),
                }
            }),
            (arb_key(), 0u8..16, arb_key()).prop_map(|(grantee, bits, issuer)| FactBody::Grant {
                grantee,
                privileges: Privileges::from_bits(bits),
                issuer
            }),
        ]
    }
    pub(crate) fn arb_fact() -> impl Strategy<Value = Fact> {
        (arb_id(), arb_key(), arb_body(), arb_sig()).prop_map(|(id, relay, body, sig)| Fact { id, relay, body, sig })
    }
}

#[cfg(test)]
mod tests {
    use super::strategies::*;
    use super::*;
    use crate::message::sign_post;
    use proptest::prelude::*;

    fn relay_key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[0x11; 32])
    }

    fn message_fact(text: &str) -> Fact {
        let relay = relay_key();
        let author = ed25519_dalek::SigningKey::from_bytes(&[0x22; 32]);
        let channel = ChannelName::general();
        let draft = DraftId::from_parts(1_700_000_000_000, 42);
        let author_sig = sign_post(&author, &PublicKey::of(&relay), &channel, &draft, text);
        Fact::sign(
            &relay,
            FactId::from_parts(1_700_000_000_001, 7),
            FactBody::Message {
                channel,
                author: PublicKey::of(&author),
                draft,
                text: text.to_owned(),
                prev: Some(FactId::from_parts(1_700_000_000_000, 1)),
                epoch: FactId::from_parts(1_600_000_000_000, 0),
                author_sig,
            },
        )
    }

    #[test]
    fn signed_message_verifies_and_tampering_fails() {
        let fact = message_fact("hello");
        let relay = fact.relay;
        assert_eq!(fact.verify(|k| *k == relay), Ok(()));
        let mut forged = fact.clone();
        if let FactBody::Message { text, .. } = &mut forged.body {
            text.push('!');
        }
        assert!(matches!(forged.verify(|k| *k == relay), Err(VerifyError::RelaySignature { .. })));
        assert!(matches!(fact.verify(|_| false), Err(VerifyError::UntrustedSigner { .. })));
    }

    #[test]
    fn relay_cannot_forge_the_author() {
        // A relay (or stolen relay key) re-signs a changed text: the relay
        // signature is valid, the author's is not.
        let fact = message_fact("hello");
        let mut body = fact.body.clone();
        if let FactBody::Message { text, .. } = &mut body {
            *text = "goodbye".to_owned();
        }
        let forged = Fact::sign(&relay_key(), fact.id, body);
        let relay = forged.relay;
        assert!(matches!(forged.verify(|k| *k == relay), Err(VerifyError::AuthorSignature { .. })));
    }

    /// Snapshot of the canonical signed bytes: changing it breaks every stored signature.
    #[test]
    fn message_signing_bytes_snapshot() {
        let fact = message_fact("hi");
        let bytes = Fact::signing_bytes(&fact.id, &fact.relay, &fact.body);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let expected = concat!(
            "636174616c6b2f76312f6661637400",                                   // "catalk/v1/fact\0"
            "018bcfe5680100000000000000000007",                                 // id
            "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737", // relay key
            "03",                                                               // kind = message
            "0000000767656e6572616c",                                           // channel "general"
            "a09aa5f47a6759802ff955f8dc2d2a14a5c99d23be97f864127ff9383455a4f0", // author
            "018bcfe568000000000000000000002a",                                 // draft
            "000000026869",                                                     // text "hi"
            "01018bcfe5680000000000000000000001",                               // prev (present)
            "0174876e800000000000000000000000",                                 // epoch
            "fd43f914bb0eb41e045c85ffdbea2b25277b0d25d846358c61580dc2fa2a6bf5", // author signature
            "ea568cfce680f0091a8970ba38b2e5aba0598643435ec4ad14d747720e0e4a08",
        );
        assert_eq!(hex, expected);
    }

    #[test]
    fn presence_signing_bytes_snapshot() {
        let body = FactBody::Presence {
            key: PublicKey::from_bytes([0xab; 32]),
            name: DisplayName::new("ada").unwrap_or_else(|_| unreachable!()),
            online: true,
            privileges: Privileges::POSTER,
        };
        let bytes = Fact::signing_bytes(&FactId::from_parts(1, 2), &PublicKey::from_bytes([0xcd; 32]), &body);
        let mut expected = b"catalk/v1/fact\0".to_vec();
        expected.extend(FactId::from_parts(1, 2).to_bytes());
        expected.extend([0xcd; 32]);
        expected.push(4);
        expected.extend([0xab; 32]);
        expected.extend([0, 0, 0, 3, b'a', b'd', b'a', 1, 1]);
        assert_eq!(bytes, expected);
    }

    /// Common head of fact bytes: domain, id ULID(1 ms, 2), relay 32 × `cd`, kind byte.
    fn head(kind: u8) -> Vec<u8> {
        let mut bytes = b"catalk/v1/fact\0".to_vec();
        bytes.extend([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        bytes.extend([0xcd; 32]);
        bytes.push(kind);
        bytes
    }

    fn snapshot_bytes(body: &FactBody) -> Vec<u8> {
        Fact::signing_bytes(&FactId::from_parts(1, 2), &PublicKey::from_bytes([0xcd; 32]), body)
    }

    #[test]
    fn epoch_signing_bytes_snapshot() {
        let bytes = snapshot_bytes(&FactBody::Epoch {});
        assert_eq!(bytes, head(1));
        assert_eq!(bytes.len(), 64);
    }

    #[test]
    fn channel_signing_bytes_snapshot() {
        let name = ChannelName::new("dev").unwrap_or_else(|_| unreachable!());
        let bytes = snapshot_bytes(&FactBody::Channel { name, creator: PublicKey::from_bytes([0xab; 32]) });
        let mut expected = head(2);
        expected.extend([0, 0, 0, 3, b'd', b'e', b'v']);
        expected.extend([0xab; 32]);
        assert_eq!(bytes, expected);
        assert_eq!(bytes.len(), 103);
    }

    #[test]
    fn grant_signing_bytes_snapshot() {
        let body = FactBody::Grant {
            grantee: PublicKey::from_bytes([0xab; 32]),
            privileges: Privileges { post: true, create_channel: true, owner: false, virtual_client: false },
            issuer: PublicKey::from_bytes([0xef; 32]),
        };
        let mut expected = head(5);
        expected.extend([0xab; 32]);
        expected.push(0b0011);
        expected.extend([0xef; 32]);
        assert_eq!(snapshot_bytes(&body), expected);
        assert_eq!(expected.len(), 129);
    }

    #[test]
    fn message_without_prev_signs_an_absent_tag() {
        let mut fact = message_fact("hi");
        let with_prev = Fact::signing_bytes(&fact.id, &fact.relay, &fact.body);
        if let FactBody::Message { prev, .. } = &mut fact.body {
            *prev = None;
        }
        let without = Fact::signing_bytes(&fact.id, &fact.relay, &fact.body);
        // The 17-byte `01 ‖ prev` at offset 129 becomes the single tag `00`.
        assert_eq!(without.len(), with_prev.len() - 16);
        assert_eq!(without[..129], with_prev[..129]);
        assert_eq!(without[129], 0);
        assert_eq!(without[130..], with_prev[146..]);
    }

    /// The complete fact of docs/protocol.md §8.4, JSON and both signatures (Ed25519
    /// signing is deterministic, so fixed seeds give fixed signatures).
    #[test]
    fn message_fact_json_snapshot() {
        let fact = message_fact("hi");
        let expected = serde_json::json!({
            "id": "01HF7YAT010000000000000007",
            "relay": "0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc",
            "body": {
                "kind": "message",
                "channel": "general",
                "author": "oJql9HpnWYAv-VX43C0qFKXJnSO-l_hkEn_5ODRVpPA",
                "draft": "01HF7YAT00000000000000001A",
                "text": "hi",
                "prev": "01HF7YAT000000000000000001",
                "epoch": "01EJ3PX0000000000000000000",
                "author_sig": "_UP5FLsOtB4EXIX_2-orJSd7DSXYRjWMYVgNwvoqa_XqVoz85oDwCRqJcLo4suWroFmGQ0NexK0U10dyDg5KCA"
            },
            "sig": "jBfugT_SWXAP00RtKRAWIcFmJhsPBwNAD7g-bAkt7QcUGJKwt8DOHKHwSjS07HEinemIxoZOxvSveQ1IISxvBA"
        });
        assert_eq!(serde_json::to_value(&fact).unwrap(), expected);
        let parsed: Fact = serde_json::from_value(expected).unwrap();
        let relay = parsed.relay;
        assert_eq!(parsed.verify(|k| *k == relay), Ok(()));
    }

    proptest! {
        #[test]
        fn fact_json_round_trips(id in arb_id(), relay in arb_key(), body in arb_body(), sig in arb_sig()) {
            let fact = Fact { id, relay, body, sig };
            let json = serde_json::to_string(&fact).unwrap();
            let back: Fact = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, fact);
        }
    }
}
