//! What the sync engine asks the shell to do.

use crate::sync::input::PeerId;
use crate::sync::status::HistoryStatus;
use catalk_proto::{ChannelName, Fact, FactId, PublicKey};

/// One thing to do, from [`crate::sync::SyncEngine::poll_output`].
#[derive(Debug, Clone, PartialEq)]
pub enum SyncOutput {
    /// Open a data channel (the shell makes the WebRTC offer), then send `Connected` (or `Disconnected` on failure).
    Connect {
        /// The peer.
        peer: PeerId,
    },
    /// Close it (idle, misbehaving, stalled). No `Disconnected` is needed afterwards.
    Disconnect {
        /// The peer.
        peer: PeerId,
    },
    /// Send a `PeerMessage` as JSON (< `MAX_PEER_MESSAGE_BYTES`).
    Send {
        /// The peer.
        peer: PeerId,
        /// The message.
        text: String,
    },
    /// Verified backfilled facts: the shell stores them, then feeds them back as `Stored`.
    Persist(Vec<Fact>),
    /// Only with `SyncConfig::verify_outside`: check every fact's signatures with
    /// [`catalk_proto::verify_facts`] against `trusted`, then answer with
    /// `Verified` (same `ticket`, the facts given back). Answers may come in any order.
    Verify {
        /// Echo in `Verified`.
        ticket: u64,
        /// The facts of one answer from a peer (already checked for channel and range).
        facts: Vec<Fact>,
        /// The relay keys facts may be signed by.
        trusted: Vec<PublicKey>,
    },
    /// Serve a peer's page from the store: up to `limit` messages of `channel`
    /// with `after < id < before`, newest first; answer with `Loaded`.
    Load {
        /// The peer that asked.
        peer: PeerId,
        /// Echo in `Loaded`.
        rid: u64,
        /// The channel.
        channel: ChannelName,
        /// Exclusive upper bound; `None` = the newest.
        before: Option<FactId>,
        /// Exclusive lower bound; `None` = the oldest.
        after: Option<FactId>,
        /// At most this many.
        limit: u32,
    },
    /// A peer sent the presence facts of authors it serves (not yet verified): the shell
    /// (the client driver) checks them and keeps the names.
    Authors {
        /// The peer.
        peer: PeerId,
        /// The facts, as received.
        facts: Vec<Fact>,
    },
    /// A channel's history status changed.
    Status {
        /// The channel.
        channel: ChannelName,
        /// Its new status.
        status: HistoryStatus,
    },
}
