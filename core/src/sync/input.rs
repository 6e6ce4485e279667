//! What the shell tells the sync engine.

use catalk_proto::{Fact, PeerKind};

/// How the shell names a peer connection. Opaque to the core; the browser
/// shell uses `"<public key>:<conn id>"`.
pub type PeerId = String;

/// Something that happened, for [`crate::sync::SyncEngine::handle_input`].
#[derive(Debug, Clone, PartialEq)]
pub enum SyncInput {
    /// Facts now in the local store (verified): initial load at start and every later persist. Message, channel and epoch facts
    /// (others ignored). Only ids, prev, epoch and channel matter; the core keeps a compact index, not the facts.
    Stored(Vec<Fact>),
    /// Held messages of `channel` read from the local store at start (a page of
    /// [`crate::HistoryStore::holdings`]): indexed like `Stored` messages.
    Held {
        /// The channel.
        channel: catalk_proto::ChannelName,
        /// The page.
        held: Vec<crate::HeldMessage>,
    },
    /// Someone came online who might serve history (from relay presence). The core may ask to connect.
    PeerOnline {
        /// The peer.
        peer: PeerId,
        /// Browser or virtual client.
        kind: PeerKind,
    },
    /// The peer left the relay; its connection (if any) is treated as gone.
    PeerOffline {
        /// The peer.
        peer: PeerId,
    },
    /// A data channel to `peer` opened (after Output::Connect, or because the peer connected to us).
    Connected {
        /// The peer.
        peer: PeerId,
        /// Browser or virtual client.
        kind: PeerKind,
    },
    /// The data channel to `peer` closed or failed to open.
    Disconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A text message from a peer's data channel.
    Received {
        /// The peer.
        peer: PeerId,
        /// The message (a `PeerMessage` as JSON).
        text: String,
    },
    /// A peer message that arrived already decoded (carried by the relay, §12.2).
    Message {
        /// The peer.
        peer: PeerId,
        /// The message.
        message: catalk_proto::PeerMessage,
    },
    /// The store dropped the messages of `channel` older than `before` (retention):
    /// they are no longer advertised or served.
    Forgotten {
        /// The channel.
        channel: catalk_proto::ChannelName,
        /// Messages with smaller ids are gone.
        before: catalk_proto::FactId,
    },
    /// The answer to Output::Verify.
    Verified {
        /// The `ticket` of the Verify.
        ticket: u64,
        /// Its facts, given back.
        facts: Vec<Fact>,
        /// Whether every signature of every fact verified.
        valid: bool,
    },
    /// The answer to Output::Load: facts from the local store, newest first.
    ///
    /// Give exactly `limit` facts when the range holds more (`more: true`);
    /// with fewer, `more` is taken as `false`.
    Loaded {
        /// The peer the load was for.
        peer: PeerId,
        /// The `rid` of the Load.
        rid: u64,
        /// Messages of the channel with `after < id < before`, newest first.
        facts: Vec<Fact>,
        /// The range holds more than `facts`.
        more: bool,
    },
    /// The store could not answer the `Load` of `rid`: the peer is told to ask again later
    /// (never an empty answer, which would say the range holds nothing).
    LoadFailed {
        /// The peer the load was for.
        peer: PeerId,
        /// The `rid` of the Load.
        rid: u64,
    },
}
