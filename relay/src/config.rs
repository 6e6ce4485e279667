//! The relay's configuration, built by `main.rs` from flags or directly by tests.

use crate::clock::{Clock, SystemClock};
use catalk_proto::{Limits, Privileges, PublicKey};
use std::sync::Arc;
use std::time::Duration;

/// What a key with no grant may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NewcomerPolicy {
    /// May post in existing channels (the default).
    #[default]
    Post,
    /// May only read.
    ReadOnly,
}

impl NewcomerPolicy {
    /// The privileges this policy gives a key with no grant.
    pub fn privileges(self) -> Privileges {
        match self {
            Self::Post => Privileges::POSTER,
            Self::ReadOnly => Privileges::NONE,
        }
    }
}

/// Everything the relay needs to run.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The key the relay signs facts with.
    pub signing_key: ed25519_dalek::SigningKey,
    /// Earlier relay keys whose facts are still accepted when clients present them.
    pub trusted_keys: Vec<PublicKey>,
    /// Earlier relay signing keys (a planned rotation): trusted like `trusted_keys`, and each
    /// signs the current key once at start, so devices that trusted it keep trusting the relay.
    pub previous_keys: Vec<ed25519_dalek::SigningKey>,
    /// Keys that are always owners.
    pub owners: Vec<PublicKey>,
    /// STUN/TURN servers published to clients in `/.well-known/catalk.json` (none: LAN only).
    pub ice_servers: Vec<catalk_proto::IceServer>,
    /// Keys of the owner's virtual clients: attested `virtual_client`, nothing else.
    pub virtual_clients: Vec<PublicKey>,
    /// What keys without a grant may do.
    pub newcomers: NewcomerPolicy,
    /// Limits enforced and published.
    pub limits: Limits,
    /// One-time token that makes its presenter an owner (`None` disables claiming).
    pub claim_token: Option<String>,
    /// Header that carries the client IP when behind a proxy (e.g. `fly-client-ip`).
    pub client_ip_header: Option<String>,
    /// How long one write to a client may take before it counts as a slow consumer.
    pub write_timeout: Duration,
    /// Websocket read buffer per connection, in bytes.
    pub ws_read_buffer: usize,
    /// Websocket write buffer per connection, in bytes.
    pub ws_write_buffer: usize,
    /// Wall clock (injected so tests can expire nonces).
    pub clock: Arc<dyn Clock>,
    /// Bytes of peer sync frames per second the relay carries in all (the fallback of
    /// §12.2 over every connection together); 0: no relay-wide cap.
    pub sync_fallback_total_bytes_per_second: u32,
    /// TURN servers sharing a secret with the relay: each welcome carries short-lived credentials.
    pub turn: Option<crate::turn::TurnConfig>,
    /// A bound UDP socket on which to answer STUN Binding requests (none: no STUN).
    pub stun_socket: Option<Arc<std::net::UdpSocket>>,
}

impl RelayConfig {
    /// A configuration with defaults for everything but the key.
    pub fn new(signing_key: ed25519_dalek::SigningKey) -> Self {
        Self {
            signing_key,
            trusted_keys: Vec::new(),
            previous_keys: Vec::new(),
            owners: Vec::new(),
            virtual_clients: Vec::new(),
            ice_servers: Vec::new(),
            newcomers: NewcomerPolicy::default(),
            limits: Limits::default(),
            claim_token: None,
            client_ip_header: None,
            write_timeout: Duration::from_secs(10),
            ws_read_buffer: 1024,
            ws_write_buffer: 4 * 1024,
            clock: Arc::new(SystemClock),
            sync_fallback_total_bytes_per_second: 0,
            turn: None,
            stun_socket: None,
        }
    }

    /// The relay's current public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::of(&self.signing_key)
    }

    /// Current key first, then the configured earlier keys (each once).
    pub fn trusted(&self) -> Vec<PublicKey> {
        let mut keys = vec![self.public_key()];
        let previous = self.previous_keys.iter().map(PublicKey::of);
        for key in self.trusted_keys.iter().copied().chain(previous) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }

    /// The earlier signing keys' endorsements of the current key, for the challenge.
    pub fn endorsements(&self) -> Vec<catalk_proto::Endorsement> {
        let current = self.public_key();
        let previous = self.previous_keys.iter().filter(|key| PublicKey::of(key) != current);
        previous.map(|key| catalk_proto::Endorsement::sign(key, &current)).collect()
    }
}
