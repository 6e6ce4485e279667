//! Limits a relay enforces and publishes in `/.well-known/catalk.json` and the welcome frame.

use serde::{Deserialize, Serialize};

/// Every size and rate limit of a relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest websocket message a client may send, in bytes.
    pub max_frame_bytes: usize,
    /// Largest message body, in bytes of UTF-8.
    pub max_body_bytes: usize,
    /// Largest signaling payload, in bytes.
    pub max_signal_bytes: usize,
    /// Most facts in one `login` or `present` frame.
    pub max_present_facts: usize,
    /// Milliseconds a login nonce stays valid.
    pub nonce_ttl_ms: u64,
    /// Sustained frames per second one connection may send.
    pub frames_per_second: u32,
    /// Burst of frames one connection may send at once.
    pub frames_burst: u32,
    /// Sustained posts per second per public key (across its connections).
    pub posts_per_second_per_key: u32,
    /// Burst of posts per public key.
    pub posts_burst_per_key: u32,
    /// Sustained signaling frames per second per connection.
    pub signals_per_second: u32,
    /// Simultaneous websocket connections per client IP address.
    pub max_connections_per_ip: u32,
    /// Frames queued towards one connection before it counts as a slow consumer.
    pub outbound_queue_frames: usize,
    /// Most presence facts listed in a welcome frame.
    pub max_welcome_presence: usize,
    /// While this many keys are online, a newcomer's presence is announced only once it
    /// posts (owners and virtual clients always are): logins cost O(N), not O(N²), frames.
    #[serde(default = "default_presence_announce_max")]
    pub presence_announce_max: usize,
    /// Bytes per second one connection may send in `peer` frames (sync messages carried by
    /// the relay when WebRTC cannot connect). 0: the fallback is off (the default).
    #[serde(default)]
    pub sync_fallback_bytes_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024,
            max_body_bytes: 4 * 1024,
            max_signal_bytes: 16 * 1024,
            max_present_facts: 512,
            nonce_ttl_ms: 30_000,
            frames_per_second: 50,
            frames_burst: 200,
            posts_per_second_per_key: 20,
            posts_burst_per_key: 100,
            signals_per_second: 50,
            max_connections_per_ip: 64,
            outbound_queue_frames: 1024,
            max_welcome_presence: 1000,
            presence_announce_max: default_presence_announce_max(),
            sync_fallback_bytes_per_second: 0,
        }
    }
}

fn default_presence_announce_max() -> usize {
    256
}
