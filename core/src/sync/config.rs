//! Tunables of the sync engine, and the fixed timings it uses besides them.

/// Settings of a [`crate::sync::SyncEngine`]. Build with `..SyncConfig::default()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncConfig {
    /// Facts asked for per `page` request (at most [`catalk_proto::MAX_PAGE_FACTS`]).
    pub page_limit: u32,
    /// Page requests kept in flight to one peer at a time, over disjoint
    /// ranges (a wide missing range is split by timestamp). At least 1.
    pub max_requests_per_peer: usize,
    /// A request with no answer for this long marks the peer as stalled
    /// (each request has its own deadline, renewed by each part of its answer).
    pub request_timeout_ms: u64,
    /// How long a peer that lied is not asked again.
    pub penalty_ms: u64,
    /// How long a peer that stalled (a request timed out) is not asked again.
    pub stall_penalty_ms: u64,
    /// How many peers to keep connected for fetching (browsers usually 3).
    pub max_peers: usize,
    /// Facts per second one peer may take from us. The default (5,000, some
    /// 2.5 MB/s of JSON) is above what one pipelined peer asks at a 50 ms round
    /// trip only after the burst: a joiner reaching 20,000 facts/s draws on its
    /// 3 peers, so a phone serves a few thousand a second (an IndexedDB cursor
    /// walk and a JSON encoding of 100 facts takes milliseconds), while a
    /// greedy peer stays held to a known rate.
    pub serve_facts_per_second: u32,
    /// Facts one peer may take from us at once. The default (20,000, some
    /// 10 MB) lets a joiner fill a typical channel at wire speed; after it
    /// the rate applies.
    pub serve_burst: u32,
    /// Data channels other peers opened to us kept at once; one more is closed
    /// as soon as it opens (its peer tries elsewhere). Bounds the work a popular
    /// peer does for others (each link costs a WebRTC connection and planning).
    pub max_inbound_links: usize,
    /// Keep only this much recent history (a virtual client's retention): older
    /// messages are neither wanted nor reported missing. `None`: all of it.
    pub window_ms: Option<u64>,
    /// The shell verifies the signatures of peers' answers (for example in
    /// worker threads): the engine asks with [`crate::sync::SyncOutput::Verify`]
    /// and goes on with an answer's facts once [`crate::sync::SyncInput::Verified`]
    /// says they all verify. `false`: the engine verifies them itself, at once.
    pub verify_outside: bool,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            page_limit: 100,
            max_requests_per_peer: 4,
            request_timeout_ms: 5_000,
            penalty_ms: 60_000,
            stall_penalty_ms: 5_000,
            max_peers: 3,
            serve_facts_per_second: 5_000,
            serve_burst: 20_000,
            max_inbound_links: 32,
            window_ms: None,
            verify_outside: false,
        }
    }
}

/// A connection with no request either way for this long, and of no use for
/// anything missing, is closed.
pub const IDLE_CLOSE_MS: u64 = 30_000;

/// A data channel that does not open within this time is given up.
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;

/// While peers are needed, a connected peer that can serve nothing we miss
/// (and asked us nothing) for this long makes room for another.
pub const USELESS_GRACE_MS: u64 = 2_000;

/// As [`USELESS_GRACE_MS`], for a peer that is itself still filling: it says
/// hello again when it completes, so it is kept a little longer.
pub const FILLING_GRACE_MS: u64 = 5_000;

/// Virtual peers are the last resort: they are connected only once peers have
/// been needed this long without a browser peer that could serve (or when no
/// browser peer is left to try). Long enough for one stall of a browser (the
/// request timeout and its pause, 5 s each by default) and its retry.
pub const VIRTUAL_PATIENCE_MS: u64 = 15_000;

/// Presence arrives peer by peer: even with no browser peer to try, a virtual
/// client is connected only once peers have been needed this long.
pub const VIRTUAL_SETTLE_MS: u64 = 1_000;

/// After a `rate_limited` refusal the peer is not asked for this long.
pub const REFUSED_BACKOFF_MS: u64 = 1_000;

/// Hellos from peers that had nothing for a channel we need before we stop
/// looking for more peers for it (until `penalty_ms` has passed).
pub const FRUITLESS_HELLOS_PER_MAX_PEER: u32 = 4;
