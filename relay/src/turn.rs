//! Short-lived TURN credentials for logged-in clients, in the shared-secret
//! scheme coturn implements as `use-auth-secret` (the "TURN REST API"): the
//! username is `<expiry in Unix seconds>:<client key>`, the password the
//! base64 of HMAC-SHA1 over the username with the secret. The secret never
//! leaves the relay; each welcome carries credentials valid for `ttl`.

use catalk_proto::{IceServer, PublicKey};
use hmac::{Hmac, Mac};
use std::time::Duration;

/// Where the TURN servers are and the secret shared with them.
#[derive(Clone)]
pub struct TurnConfig {
    /// `turn:`/`turns:` URLs, without credentials.
    pub urls: Vec<String>,
    /// coturn's `static-auth-secret`.
    pub secret: String,
    /// How long credentials stay valid.
    pub ttl: Duration,
}

impl std::fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnConfig").field("urls", &self.urls).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl TurnConfig {
    /// Credentials for `key`, valid until `now_ms` + `ttl`.
    pub fn credentials(&self, key: &PublicKey, now_ms: u64) -> IceServer {
        let expiry = (now_ms / 1_000).saturating_add(self.ttl.as_secs());
        let username = format!("{expiry}:{key}");
        IceServer {
            urls: self.urls.clone(),
            username: Some(username.clone()),
            credential: Some(password(&self.secret, &username)),
        }
    }
}

/// base64(HMAC-SHA1(secret, username)), as coturn checks it.
pub fn password(secret: &str, username: &str) -> String {
    use base64::Engine as _;
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| {
        // HMAC takes keys of any length; this cannot fail.
        unreachable!("HMAC accepts any key length")
    });
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_coturns_hmac_sha1_of_the_username() {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        assert_eq!(password("Jefe", "what do ya want for nothing?"), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
    }

    #[test]
    fn credentials_expire_after_the_ttl_and_name_the_key() {
        let key = PublicKey::of(&ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
        let turn = TurnConfig {
            urls: vec!["turn:turn.example.org:3478".into()],
            secret: "s3cret".into(),
            ttl: Duration::from_secs(3_600),
        };
        let server = turn.credentials(&key, 1_700_000_000_123);
        let username = server.username.clone().unwrap_or_default();
        assert_eq!(username, format!("1700003600:{key}"));
        assert_eq!(server.credential, Some(password("s3cret", &username)));
        assert_eq!(server.urls, turn.urls);
    }
}
