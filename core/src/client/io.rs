//! What the shell tells the client driver ([`Input`]) and what the driver asks
//! the shell to do ([`Output`]). Every variant is one piece of IO; the shell
//! holds no logic of its own.

use crate::session::{ActionError, Event};
use crate::store::{HeldMessage, StoreError};
use catalk_proto::{ChannelName, Fact, FactId, IceServer, PublicKey};

/// Names one WebRTC connection the shell made for the driver. A new link to the
/// same peer gets a new id, so events of an old link are told apart (and ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u64);

impl std::fmt::Display for LinkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "link{}", self.0)
    }
}

/// A read of the local history store, answered with [`Input::Loaded`]
/// (the shell calls [`crate::client::run_query`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreQuery {
    /// At start: every channel and grant fact, and each channel's newest message.
    Startup,
    /// A page of held messages of `channel` below `before`, newest first.
    Holdings {
        /// The channel.
        channel: ChannelName,
        /// Exclusive upper bound; `None`: the newest.
        before: Option<FactId>,
        /// At most this many.
        limit: usize,
    },
    /// A peer's page request: up to `limit` messages with `after < id < before`, newest first.
    Page {
        /// The channel.
        channel: ChannelName,
        /// Exclusive upper bound; `None`: the newest.
        before: Option<FactId>,
        /// Exclusive lower bound; `None`: the oldest.
        after: Option<FactId>,
        /// At most this many.
        limit: u32,
    },
}

/// The answer to a [`StoreQuery`] of the same shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreAnswer {
    /// For [`StoreQuery::Startup`].
    Startup {
        /// Every channel fact.
        channels: Vec<Fact>,
        /// Every grant fact.
        grants: Vec<Fact>,
        /// Each channel's newest message.
        heads: Vec<Fact>,
        /// People's cards: the newest presence fact of each key met.
        presence: Vec<Fact>,
    },
    /// For [`StoreQuery::Holdings`]: newest first; fewer than `limit` means no more.
    Holdings(Vec<HeldMessage>),
    /// For [`StoreQuery::Page`]: newest first, and whether the range holds more.
    Page {
        /// The facts.
        facts: Vec<Fact>,
        /// More remain in the range.
        more: bool,
    },
}

/// Something that happened, for [`crate::client::Client::handle_input`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Input {
    /// The relay socket asked for by [`Output::OpenSocket`] is open.
    SocketOpen,
    /// A text frame from the relay.
    SocketText(String),
    /// The relay socket closed or could not open. `random` in [0, 1) sets the reconnect jitter.
    SocketClosed {
        /// A fresh random number.
        random: f64,
    },
    /// The offer or answer SDP asked for by [`Output::MakeOffer`] / [`Output::MakeAnswer`] is ready.
    LinkSdp {
        /// The link.
        link: LinkId,
        /// Its SDP, candidates included.
        sdp: String,
    },
    /// Making the link, or accepting its answer, failed.
    LinkFailed {
        /// The link.
        link: LinkId,
        /// What went wrong (for the journal).
        reason: String,
    },
    /// The link's data channel opened.
    LinkOpen {
        /// The link.
        link: LinkId,
    },
    /// Which ICE candidates the open link uses (the shell reads its selected candidate
    /// pair after [`Input::LinkOpen`], and again if it changes).
    LinkPath {
        /// The link.
        link: LinkId,
        /// Whether either side's selected candidate is a TURN relay candidate.
        turn: bool,
    },
    /// A text message on the link's data channel.
    LinkText {
        /// The link.
        link: LinkId,
        /// The message.
        text: String,
    },
    /// The link closed (by the other side, or it failed).
    LinkClosed {
        /// The link.
        link: LinkId,
    },
    /// The answer to [`Output::Load`].
    Loaded {
        /// The `ticket` of the load.
        ticket: u64,
        /// What the store answered.
        result: Result<StoreAnswer, StoreError>,
    },
    /// The answer to [`Output::Put`].
    Stored {
        /// The `ticket` of the put.
        ticket: u64,
        /// Whether the facts are stored.
        result: Result<(), StoreError>,
    },
    /// The answer to [`Output::Verify`]: the facts given back, and whether every signature verified.
    Verified {
        /// The `ticket` of the verify.
        ticket: u64,
        /// The facts.
        facts: Vec<Fact>,
        /// All verified.
        valid: bool,
    },
    /// The store dropped messages of `channel` older than `before` (retention).
    Forgotten {
        /// The channel.
        channel: ChannelName,
        /// Messages with smaller ids are gone.
        before: FactId,
    },
}

/// One thing for the shell to do, from [`crate::client::Client::poll_output`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// Open a websocket to the relay; report [`Input::SocketOpen`], frames and [`Input::SocketClosed`].
    OpenSocket,
    /// Close the websocket (then report [`Input::SocketClosed`]).
    CloseSocket,
    /// Send this text frame to the relay.
    ToRelay(String),
    /// Make a WebRTC connection with one data channel and its offer; report [`Input::LinkSdp`] with
    /// the complete offer SDP (non-trickle), then the link's events.
    MakeOffer {
        /// The new link.
        link: LinkId,
        /// STUN/TURN servers.
        ice_servers: Vec<IceServer>,
    },
    /// Make a WebRTC connection answering `sdp`; report [`Input::LinkSdp`] with the answer SDP.
    MakeAnswer {
        /// The new link.
        link: LinkId,
        /// The peer's offer.
        sdp: String,
        /// STUN/TURN servers.
        ice_servers: Vec<IceServer>,
    },
    /// Give our offer's link the peer's answer (report [`Input::LinkFailed`] if it is refused).
    AcceptAnswer {
        /// The link.
        link: LinkId,
        /// The answer SDP.
        sdp: String,
    },
    /// Close the link; no event of it is needed afterwards.
    CloseLink {
        /// The link.
        link: LinkId,
    },
    /// Send a text message on the link's data channel.
    ToPeer {
        /// The link.
        link: LinkId,
        /// The message.
        text: String,
    },
    /// Read the store; answer with [`Input::Loaded`].
    Load {
        /// Echo in `Loaded`.
        ticket: u64,
        /// What to read.
        query: StoreQuery,
    },
    /// Store these verified facts (a fact already held stays as is); answer with [`Input::Stored`].
    /// One put is asked at a time: facts arriving meanwhile go together in the next.
    Put {
        /// Echo in `Stored`.
        ticket: u64,
        /// The facts.
        facts: Vec<Fact>,
    },
    /// Check every signature of `facts` with [`catalk_proto::verify_facts`] against `trusted`
    /// (anywhere, e.g. in worker threads); answer with [`Input::Verified`], in any order.
    Verify {
        /// Echo in `Verified`.
        ticket: u64,
        /// The facts.
        facts: Vec<Fact>,
        /// The relay keys they may be signed by.
        trusted: Vec<PublicKey>,
    },
    /// Tell the UI.
    Event(Event),
    /// The request `rid` (from an action such as [`crate::client::Client::post`]) finished.
    Resolve {
        /// The request id.
        rid: u64,
        /// The produced fact id, or why it failed.
        result: Result<Option<FactId>, ActionError>,
    },
}
