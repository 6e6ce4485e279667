//! Stable error codes carried by `error` frames.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Every error a relay may report. The wire form is the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame is not valid JSON or misses required fields.
    Malformed,
    /// The frame's `t` names no known frame kind.
    UnknownFrame,
    /// The websocket message exceeds `max_frame_bytes`.
    FrameTooLarge,
    /// A frame other than `login` arrived before login.
    NotLoggedIn,
    /// A second `login` on a connection that is logged in.
    AlreadyLoggedIn,
    /// The login names a nonce this connection was not given, or one already used.
    NonceMismatch,
    /// The nonce is older than `nonce_ttl_ms`.
    NonceExpired,
    /// A signature does not verify.
    BadSignature,
    /// The public key is a small-order (weak) point.
    WeakKey,
    /// The public key is not a valid Ed25519 point.
    InvalidKey,
    /// The key lacks the privilege for this action.
    Forbidden,
    /// The channel does not exist on this relay.
    UnknownChannel,
    /// A channel with this name already exists.
    ChannelExists,
    /// The channel name breaks the naming rules.
    InvalidChannelName,
    /// The display name is empty, too long or has control characters.
    InvalidName,
    /// The message body is blank or larger than `max_body_bytes`.
    InvalidBody,
    /// This author already posted this draft id during this relay run.
    DuplicateDraft,
    /// Too many frames; slow down. The frame was not applied.
    RateLimited,
    /// The addressed key has no connection on this relay.
    NotOnline,
    /// The addressee's outbound queue is full; the signal was not delivered.
    PeerBusy,
    /// The signaling payload exceeds `max_signal_bytes`.
    SignalTooLarge,
    /// This relay does not carry peer sync messages (`sync_fallback_bytes_per_second` is 0).
    FallbackDisabled,
    /// A presented fact is signed by a key this relay does not trust.
    UntrustedSigner,
    /// More facts than `max_present_facts` in one frame.
    TooManyFacts,
    /// The owner-claim token is wrong or already used.
    InvalidClaim,
    /// The connection could not keep up with its outbound queue.
    SlowConsumer,
    /// Too many connections from this address.
    TooManyConnections,
    /// No login within `nonce_ttl_ms`.
    LoginTimeout,
    /// The relay is shutting down.
    ShuttingDown,
    /// A fault inside the relay; nothing was applied.
    Internal,
}

impl ErrorCode {
    /// The wire name, e.g. `bad_signature`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownFrame => "unknown_frame",
            Self::FrameTooLarge => "frame_too_large",
            Self::NotLoggedIn => "not_logged_in",
            Self::AlreadyLoggedIn => "already_logged_in",
            Self::NonceMismatch => "nonce_mismatch",
            Self::NonceExpired => "nonce_expired",
            Self::BadSignature => "bad_signature",
            Self::WeakKey => "weak_key",
            Self::InvalidKey => "invalid_key",
            Self::Forbidden => "forbidden",
            Self::UnknownChannel => "unknown_channel",
            Self::ChannelExists => "channel_exists",
            Self::InvalidChannelName => "invalid_channel_name",
            Self::InvalidName => "invalid_name",
            Self::InvalidBody => "invalid_body",
            Self::DuplicateDraft => "duplicate_draft",
            Self::RateLimited => "rate_limited",
            Self::NotOnline => "not_online",
            Self::PeerBusy => "peer_busy",
            Self::SignalTooLarge => "signal_too_large",
            Self::FallbackDisabled => "fallback_disabled",
            Self::UntrustedSigner => "untrusted_signer",
            Self::TooManyFacts => "too_many_facts",
            Self::InvalidClaim => "invalid_claim",
            Self::SlowConsumer => "slow_consumer",
            Self::TooManyConnections => "too_many_connections",
            Self::LoginTimeout => "login_timeout",
            Self::ShuttingDown => "shutting_down",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_name_matches_serde() {
        for code in [ErrorCode::BadSignature, ErrorCode::FrameTooLarge, ErrorCode::NotOnline] {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
