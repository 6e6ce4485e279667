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
}
