//! Typed errors of link setup and sending.

/// The `webrtc` crate's error, boxed so its type does not leak into this crate's API.
pub type WebrtcError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why making or completing a link failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RtcError {
    /// The peer connection could not be built (no tokio runtime, UDP bind failed, bad ICE server).
    #[error("cannot create the peer connection")]
    Create(#[source] WebrtcError),
    /// The remote SDP is not valid SDP, or not a description this side can accept.
    #[error("invalid remote {kind} SDP")]
    InvalidSdp {
        /// `"offer"` or `"answer"`.
        kind: &'static str,
        /// What the `webrtc` crate reported.
        #[source]
        source: WebrtcError,
    },
    /// Creating the local offer or answer, or the data channel, failed.
    #[error("cannot create the local description")]
    Negotiate(#[source] WebrtcError),
    /// The peer connection closed before the local description was available.
    #[error("no local description (the connection closed)")]
    NoLocalDescription,
}

impl RtcError {
    pub(crate) fn create(error: webrtc::error::Error) -> Self {
        Self::Create(Box::new(error))
    }

    pub(crate) fn negotiate(error: webrtc::error::Error) -> Self {
        Self::Negotiate(Box::new(error))
    }

    pub(crate) fn invalid_sdp(kind: &'static str, error: webrtc::error::Error) -> Self {
        Self::InvalidSdp { kind, source: Box::new(error) }
    }
}

/// Why [`PeerLink::send`](crate::PeerLink::send) refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The send queue holds its limit: the peer is not reading fast enough (or at all).
    #[error("send queue full ({queued} of {limit} bytes queued)")]
    QueueFull {
        /// Bytes waiting in the queue.
        queued: usize,
        /// [`RtcConfig::send_queue_limit`](crate::RtcConfig::send_queue_limit).
        limit: usize,
    },
    /// The message is longer than [`MAX_MESSAGE_BYTES`](crate::MAX_MESSAGE_BYTES).
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The message's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The link has closed.
    #[error("link closed")]
    Closed,
}
