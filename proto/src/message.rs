//! The author's signature over a message: what only the author controls.

use crate::canonical::CanonicalWriter;
use crate::channel::ChannelName;
use crate::key::{KeyError, PublicKey, Signature};

pub use crate::id::DraftId;

/// Domain-separation string of author signatures.
pub const POST_DOMAIN: &str = "catalk/v1/post";

/// The bytes an author signs: domain, relay key, channel, draft id, body.
///
/// Binding the relay key stops a post made on one relay from being replayed on another.
pub fn author_signing_bytes(relay: &PublicKey, channel: &ChannelName, draft: &DraftId, text: &str) -> Vec<u8> {
    CanonicalWriter::new(POST_DOMAIN)
        .fixed(relay.as_bytes())
        .str(channel.as_str())
        .fixed(&draft.to_bytes())
        .str(text)
        .finish()
}

/// Signs a post as its author.
pub fn sign_post(
    key: &ed25519_dalek::SigningKey,
    relay: &PublicKey,
    channel: &ChannelName,
    draft: &DraftId,
    text: &str,
) -> Signature {
    Signature::sign(key, &author_signing_bytes(relay, channel, draft, text))
}

/// Strictly verifies an author signature.
pub fn verify_author(
    author: &PublicKey,
    relay: &PublicKey,
    channel: &ChannelName,
    draft: &DraftId,
    text: &str,
    sig: &Signature,
) -> Result<(), KeyError> {
    author.verify_strict(&author_signing_bytes(relay, channel, draft, text), sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_signature_covers_channel_and_text() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let author = PublicKey::of(&key);
        let relay = PublicKey::from_bytes([1; 32]);
        let general = ChannelName::general();
        let draft = DraftId::from_parts(5, 5);
        let sig = sign_post(&key, &relay, &general, &draft, "hi");
        assert_eq!(verify_author(&author, &relay, &general, &draft, "hi", &sig), Ok(()));
        assert_eq!(verify_author(&author, &relay, &general, &draft, "hi!", &sig), Err(KeyError::BadSignature));
        let other = ChannelName::new("other").unwrap_or_else(|_| ChannelName::general());
        assert_eq!(verify_author(&author, &relay, &other, &draft, "hi", &sig), Err(KeyError::BadSignature));
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Snapshot of the post bytes of docs/protocol.md §8.4 (relay seed 32 × `11`,
    /// channel `general`, draft ULID(1 700 000 000 000 ms, 42), text `hi`): changing
    /// them breaks every stored author signature.
    #[test]
    fn author_signing_bytes_snapshot() {
        let relay = PublicKey::of(&ed25519_dalek::SigningKey::from_bytes(&[0x11; 32]));
        let draft = DraftId::from_parts(1_700_000_000_000, 42);
        let bytes = author_signing_bytes(&relay, &ChannelName::general(), &draft, "hi");
        let expected = concat!(
            "636174616c6b2f76312f706f737400",                                   // "catalk/v1/post\0"
            "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737", // relay key
            "0000000767656e6572616c",                                           // len 7, "general"
            "018bcfe568000000000000000000002a",                                 // draft
            "000000026869",                                                     // len 2, "hi"
        );
        assert_eq!(bytes.len(), 80);
        assert_eq!(hex(&bytes), expected);
    }

    /// The author signature of §8.4 is deterministic (Ed25519) and stays the documented one.
    #[test]
    fn author_signature_snapshot() {
        let relay = PublicKey::of(&ed25519_dalek::SigningKey::from_bytes(&[0x11; 32]));
        let author = ed25519_dalek::SigningKey::from_bytes(&[0x22; 32]);
        let draft = DraftId::from_parts(1_700_000_000_000, 42);
        let sig = sign_post(&author, &relay, &ChannelName::general(), &draft, "hi");
        assert_eq!(
            sig.to_string(),
            "_UP5FLsOtB4EXIX_2-orJSd7DSXYRjWMYVgNwvoqa_XqVoz85oDwCRqJcLo4suWroFmGQ0NexK0U10dyDg5KCA"
        );
    }
}
