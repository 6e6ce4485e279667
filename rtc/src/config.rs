//! Link configuration: ICE servers, the local UDP bind address, the gathering timeout.

pub use catalk_proto::{IceServer, IceServerParseError};
use std::net::SocketAddr;
use std::time::Duration;

/// How a native link connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcConfig {
    /// STUN/TURN servers. Empty: host candidates only, which is enough on a LAN or loopback.
    pub ice_servers: Vec<IceServer>,
    /// Local UDP address to bind, e.g. `127.0.0.1:0` or `0.0.0.0:50000`. A wildcard address binds
    /// one socket per non-loopback interface (so `0.0.0.0:0` yields no loopback candidate); use
    /// `127.0.0.1:0` for peers on the same machine. `None` means `0.0.0.0:0`.
    pub udp_bind: Option<SocketAddr>,
    /// Longest wait for ICE gathering before the SDP is returned with what was gathered so far.
    pub gather_timeout: Duration,
    /// Most bytes handed to the data channel and not yet acknowledged by the peer; the link's
    /// sending task waits above it (the native `bufferedAmount` high-water mark). The default,
    /// 1 MiB, matches the browser side and allows 1 MiB per round trip on a WAN path. On
    /// loopback a smaller value is faster (see the crate docs).
    pub send_high_water: usize,
    /// Most bytes of text that [`PeerLink::send`](crate::PeerLink::send) queues before it
    /// reports [`SendError::QueueFull`](crate::SendError::QueueFull).
    pub send_queue_limit: usize,
}

impl Default for RtcConfig {
    fn default() -> Self {
        Self {
            ice_servers: Vec::new(),
            udp_bind: None,
            gather_timeout: Duration::from_secs(3),
            send_high_water: 1024 * 1024,
            send_queue_limit: 4 * 1024 * 1024,
        }
    }
}
