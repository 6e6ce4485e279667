//! The login challenge: what the client signs and how the relay checks it.

use crate::canonical::CanonicalWriter;
use crate::key::{KeyError, Nonce, PublicKey, Signature};

/// Domain-separation string of login signatures.
pub const LOGIN_DOMAIN: &str = "catalk/v1/login";

/// Why a login signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The client key is a small-order point.
    #[error("weak client key")]
    WeakKey,
    /// The client key is not a curve point.
    #[error("invalid client key")]
    InvalidKey,
    /// The signature does not verify.
    #[error("login signature does not verify")]
    BadSignature,
}

/// The bytes a client signs to log in: domain, nonce, relay key, client key.
pub fn login_signing_bytes(nonce: &Nonce, relay: &PublicKey, client: &PublicKey) -> Vec<u8> {
    CanonicalWriter::new(LOGIN_DOMAIN).fixed(nonce.as_bytes()).fixed(relay.as_bytes()).fixed(client.as_bytes()).finish()
}

/// Signs a login challenge; returns the client's public key and the signature.
pub fn sign_login(key: &ed25519_dalek::SigningKey, nonce: &Nonce, relay: &PublicKey) -> (PublicKey, Signature) {
    let client = PublicKey::of(key);
    let sig = Signature::sign(key, &login_signing_bytes(nonce, relay, &client));
    (client, sig)
}

/// Strictly verifies a login signature.
pub fn verify_login(client: &PublicKey, nonce: &Nonce, relay: &PublicKey, sig: &Signature) -> Result<(), LoginError> {
    client.verify_strict(&login_signing_bytes(nonce, relay, client), sig).map_err(|err| match err {
        KeyError::Weak => LoginError::WeakKey,
        KeyError::BadSignature => LoginError::BadSignature,
        _ => LoginError::InvalidKey,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_signature_binds_nonce_relay_and_client() {
        let client_key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let relay = PublicKey::from_bytes([2; 32]);
        let nonce = Nonce::from_bytes([3; 32]);
        let (client, sig) = sign_login(&client_key, &nonce, &relay);
        assert_eq!(verify_login(&client, &nonce, &relay, &sig), Ok(()));
        let other_nonce = Nonce::from_bytes([4; 32]);
        assert_eq!(verify_login(&client, &other_nonce, &relay, &sig), Err(LoginError::BadSignature));
        let other_relay = PublicKey::from_bytes([5; 32]);
        assert_eq!(verify_login(&client, &nonce, &other_relay, &sig), Err(LoginError::BadSignature));
    }

    #[test]
    fn login_signing_bytes_snapshot() {
        let bytes = login_signing_bytes(
            &Nonce::from_bytes([0xaa; 32]),
            &PublicKey::from_bytes([0xbb; 32]),
            &PublicKey::from_bytes([0xcc; 32]),
        );
        let mut expected = b"catalk/v1/login\0".to_vec();
        expected.extend([0xaa; 32]);
        expected.extend([0xbb; 32]);
        expected.extend([0xcc; 32]);
        assert_eq!(bytes, expected);
    }
}
