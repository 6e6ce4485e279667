//! Public keys, signatures and nonces with their text encoding (base64url, no padding).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a key, signature or nonce could not be decoded or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not base64url without padding.
    #[error("not base64url: {0}")]
    Encoding(String),
    /// The decoded bytes have the wrong length.
    #[error("expected {expected} bytes, got {actual}")]
    Length {
        /// Required length.
        expected: usize,
        /// Length found.
        actual: usize,
    },
    /// The bytes are not a valid Ed25519 point.
    #[error("not a valid Ed25519 public key")]
    InvalidPoint,
    /// The key is a small-order ("weak") point; signatures by it prove nothing.
    #[error("weak (small-order) Ed25519 public key")]
    Weak,
    /// The signature does not verify (strictly) for this key and message.
    #[error("signature does not verify")]
    BadSignature,
}

fn decode_fixed<const N: usize>(text: &str) -> Result<[u8; N], KeyError> {
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|e| KeyError::Encoding(e.to_string()))?;
    let actual = bytes.len();
    bytes.try_into().map_err(|_| KeyError::Length { expected: N, actual })
}

fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

macro_rules! text_newtype {
    ($name:ident, $len:expr) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&encode(&self.0))
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
        impl $name {
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }
    };
}

/// An Ed25519 public key (32 bytes). Text form: 43 characters of base64url.
///
/// Parsing only checks the length; [`PublicKey::verifying_key`] checks the point.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);
text_newtype!(PublicKey, 32);

impl PublicKey {
    /// Wraps raw bytes without checking them.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key of a signing key.
    pub fn of(signing: &ed25519_dalek::SigningKey) -> Self {
        Self(signing.verifying_key().to_bytes())
    }

    /// Decodes the point and rejects weak (small-order) keys.
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::InvalidPoint)?;
        if key.is_weak() {
            return Err(KeyError::Weak);
        }
        Ok(key)
    }

    /// Strictly verifies `signature` over `message` by this key.
    pub fn verify_strict(&self, message: &[u8], signature: &Signature) -> Result<(), KeyError> {
        let key = self.verifying_key()?;
        key.verify_strict(message, &signature.to_dalek()).map_err(|_| KeyError::BadSignature)
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode_fixed::<32>(s).map(Self)
    }
}

/// An Ed25519 signature (64 bytes). Text form: 86 characters of base64url.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; 64]);
text_newtype!(Signature, 64);

impl Signature {
    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    /// Signs `message` with `key`.
    pub fn sign(key: &ed25519_dalek::SigningKey, message: &[u8]) -> Self {
        use ed25519_dalek::Signer;
        Self(key.sign(message).to_bytes())
    }

    pub(crate) fn to_dalek(self) -> ed25519_dalek::Signature {
        ed25519_dalek::Signature::from_bytes(&self.0)
    }
}

impl FromStr for Signature {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode_fixed::<64>(s).map(Self)
    }
}

/// A login challenge nonce (32 random bytes chosen by the relay).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce([u8; 32]);
text_newtype!(Nonce, 32);

impl Nonce {
    /// Wraps raw bytes; the caller supplies the randomness.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl FromStr for Nonce {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode_fixed::<32>(s).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_text_round_trips() {
        let key = PublicKey::from_bytes([7; 32]);
        let text = key.to_string();
        assert_eq!(text.len(), 43);
        assert_eq!(text.parse::<PublicKey>(), Ok(key));
    }

    #[test]
    fn wrong_length_is_rejected() {
        assert_eq!("AAAA".parse::<PublicKey>(), Err(KeyError::Length { expected: 32, actual: 3 }));
    }

    #[test]
    fn small_order_key_is_weak() {
        // The identity point (y = 1) has order 1.
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        assert_eq!(PublicKey::from_bytes(bytes).verifying_key().err(), Some(KeyError::Weak));
    }
}
