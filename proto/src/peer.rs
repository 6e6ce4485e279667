//! Peer-to-peer history sync messages, sent over WebRTC data channels (or, as
//! a fallback, relayed). JSON text, tagged by `t`, each under 64 KiB.

use crate::channel::ChannelName;
use crate::fact::Fact;
use crate::fingerprint::Fingerprint;
use crate::id::FactId;
use serde::{Deserialize, Serialize};

/// Largest peer message in bytes (data channels split larger ones badly).
pub const MAX_PEER_MESSAGE_BYTES: usize = 60 * 1024;
/// Most facts a `page` request may ask for.
pub const MAX_PAGE_FACTS: u32 = 100;
/// Most presence facts one `authors` message carries (one page has at most [`MAX_PAGE_FACTS`] authors).
pub const MAX_AUTHOR_FACTS: usize = MAX_PAGE_FACTS as usize;
/// Most parts in a `parts` answer.
pub const MAX_SUM_PARTS: usize = 16;
/// Most ids a `parts` answer lists in one part (a part holding more gives its count and fingerprint).
pub const MAX_PART_IDS: usize = 16;

/// What kind of peer this is; browsers prefer browsers, virtual clients are the last resort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerKind {
    /// A person's browser.
    Browser,
    /// An owner's headless history keeper.
    Virtual,
}

/// What a [`SyncSignal`] asks (its `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A WebRTC offer (the SDP).
    Offer,
    /// The answer to an offer (the SDP).
    Answer,
    /// The data channel did not open: exchange peer messages through the relay (§12.2).
    Relay,
    /// End a link through the relay.
    Close,
}

/// A signaling payload that opens (or replaces, or ends) a sync link, carried in `signal`
/// frames: `{"sync":1,"type":"offer"|"answer"|"relay"|"close","sdp":…,"kind":…}`. The SDP is
/// complete (non-trickle ICE: the candidates are in it); empty for `relay` and `close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSignal {
    /// Always 1.
    pub sync: u32,
    /// What the signal asks.
    #[serde(rename = "type")]
    pub signal: SignalKind,
    /// The SDP, candidates included (empty for `relay` and `close`).
    pub sdp: String,
    /// The sender's peer kind.
    pub kind: PeerKind,
}

impl SyncSignal {
    /// An offer from a peer of `kind`.
    pub fn offer(sdp: String, kind: PeerKind) -> Self {
        Self { sync: 1, signal: SignalKind::Offer, sdp, kind }
    }

    /// An answer from a peer of `kind`.
    pub fn answer(sdp: String, kind: PeerKind) -> Self {
        Self { sync: 1, signal: SignalKind::Answer, sdp, kind }
    }

    /// A `relay` or `close` signal (no SDP) from a peer of `kind`.
    pub fn bare(signal: SignalKind, kind: PeerKind) -> Self {
        Self { sync: 1, signal, sdp: String::new(), kind }
    }
}

/// Why a peer refused a request (`refused`): the codes of docs/protocol.md §12.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// Over the peer's serving rate: ask again later, or elsewhere.
    RateLimited,
    /// The request was malformed (unknown channel, limit out of bounds).
    BadRequest,
    /// The peer could not read its own store just now: ask again later, or elsewhere.
    Unavailable,
}

impl RefusalCode {
    /// Whether asking the same peer again later may succeed (unlike a bad request).
    pub fn is_temporary(self) -> bool {
        matches!(self, Self::RateLimited | Self::Unavailable)
    }
}

/// A peer's holdings in one channel, as advertised in `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelHoldings {
    /// The channel.
    pub channel: ChannelName,
    /// How many messages the peer holds.
    pub count: u64,
    /// Its oldest message, if any.
    pub oldest: Option<FactId>,
    /// Its newest message, if any.
    pub newest: Option<FactId>,
    /// Fingerprint of the set of held message ids.
    pub fp: Fingerprint,
    /// Whether the peer's chain reaches the channel's creation fact with no gap.
    pub complete: bool,
}

/// One part of a `parts` answer: what the answering peer holds in
/// `previous part's before ≤ id < before` (the first part: `asked after < id < before`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangePart {
    /// Exclusive upper bound; the last part's equals the asked `before` (`None`: unbounded).
    pub before: Option<FactId>,
    /// How many message ids the peer holds in the part.
    pub count: u64,
    /// The fingerprint of those ids; left out when `ids` lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp: Option<Fingerprint>,
    /// All of those ids, ascending, when the part holds at most [`MAX_PART_IDS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<FactId>>,
}

/// A message between two peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PeerMessage {
    /// First message each way: who I am and what I hold.
    Hello {
        /// Protocol version (1).
        v: u32,
        /// Browser or virtual client.
        kind: PeerKind,
        /// Holdings per channel.
        channels: Vec<ChannelHoldings>,
    },
    /// Ask for up to `limit` messages of `channel` with `after < id < before`, newest first.
    Page {
        /// Request id, echoed in the answer.
        rid: u64,
        /// The channel.
        channel: ChannelName,
        /// Exclusive upper bound; `None` means the newest.
        before: Option<FactId>,
        /// Exclusive lower bound; `None` means the oldest.
        after: Option<FactId>,
        /// At most this many (≤ [`MAX_PAGE_FACTS`]).
        limit: u32,
    },
    /// The answer to `page`: facts newest first; `more` when the range holds more than were sent.
    Facts {
        /// The request id.
        rid: u64,
        /// The facts.
        facts: Vec<Fact>,
        /// More facts remain in the requested range.
        more: bool,
    },
    /// Ask what the peer holds of `channel` in `after < id < before`, as
    /// range-split fingerprints (set reconciliation).
    Sums {
        /// Request id, echoed in the answer.
        rid: u64,
        /// The channel.
        channel: ChannelName,
        /// Exclusive lower bound; `None` means the oldest.
        after: Option<FactId>,
        /// Exclusive upper bound; `None` means the newest.
        before: Option<FactId>,
    },
    /// The answer to `sums`: at most [`MAX_SUM_PARTS`] parts tiling the asked range, in id order.
    Parts {
        /// The request id.
        rid: u64,
        /// The parts.
        parts: Vec<RangePart>,
    },
    /// The latest relay-signed presence facts of authors of messages sent (or about to be sent)
    /// in a `facts` answer, so the other side can show their names: at most
    /// [`MAX_AUTHOR_FACTS`], each a presence fact of a different key. Verified like any fact.
    Authors {
        /// The presence facts.
        facts: Vec<Fact>,
    },
    /// A refused request.
    Refused {
        /// The request id.
        rid: u64,
        /// Why.
        code: RefusalCode,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_signals_keep_their_wire_form() {
        let relay = SyncSignal::bare(SignalKind::Relay, PeerKind::Virtual);
        let json = serde_json::to_string(&relay).unwrap_or_default();
        assert_eq!(json, r#"{"sync":1,"type":"relay","sdp":"","kind":"virtual"}"#);
        assert_eq!(serde_json::from_str::<SyncSignal>(&json).ok(), Some(relay));
        let unknown = r#"{"sync":1,"type":"teleport","sdp":"","kind":"browser"}"#;
        assert!(serde_json::from_str::<SyncSignal>(unknown).is_err(), "unknown kinds are refused");
    }

    #[test]
    fn refusals_keep_their_codes() {
        let refused = PeerMessage::Refused { rid: 9, code: RefusalCode::RateLimited };
        let json = serde_json::to_string(&refused).unwrap_or_default();
        assert_eq!(json, r#"{"t":"refused","rid":9,"code":"rate_limited"}"#);
        assert_eq!(serde_json::from_str::<PeerMessage>(&json).ok(), Some(refused));
    }

    #[test]
    fn peer_messages_round_trip() {
        let page = PeerMessage::Page {
            rid: 3,
            channel: ChannelName::general(),
            before: Some(FactId::from_parts(5, 5)),
            after: None,
            limit: 100,
        };
        let json = serde_json::to_string(&page).unwrap_or_default();
        assert_eq!(serde_json::from_str::<PeerMessage>(&json).ok(), Some(page));
    }
}
