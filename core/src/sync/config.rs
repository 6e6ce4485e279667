//! Tunables of the sync engine, and the fixed timings it uses besides them.

/// Settings of a [`crate::sync::SyncEngine`]. Build with `..SyncConfig::default()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncConfig {
    /// Facts asked for per `page` request (at most [`catalk_proto::MAX_PAGE_FACTS`]).
    pub page_limit: u32,
    /// A request with no answer for this long marks the peer as stalled.
    pub request_timeout_ms: u64,
    /// How long a peer that lied is not asked again.
    pub penalty_ms: u64,
    /// How long a peer that stalled (a request timed out) is not asked again.
    pub stall_penalty_ms: u64,
    /// How many peers to keep connected for fetching (browsers usually 3).
    pub max_peers: usize,
    /// Facts per second one peer may take from us.
    pub serve_facts_per_second: u32,
    /// Facts one peer may take from us at once.
    pub serve_burst: u32,
    /// Keep only this much recent history (a virtual client's retention): older
    /// messages are neither wanted nor reported missing. `None`: all of it.
    pub window_ms: Option<u64>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            page_limit: 100,
            request_timeout_ms: 5_000,
            penalty_ms: 60_000,
            stall_penalty_ms: 5_000,
            max_peers: 3,
            serve_facts_per_second: 2_000,
            serve_burst: 4_000,
            window_ms: None,
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
/// browser peer is left to try).
pub const VIRTUAL_PATIENCE_MS: u64 = 10_000;

/// Presence arrives peer by peer: even with no browser peer to try, a virtual
/// client is connected only once peers have been needed this long.
pub const VIRTUAL_SETTLE_MS: u64 = 1_000;

/// After a `rate_limited` refusal the peer is not asked for this long.
pub const REFUSED_BACKOFF_MS: u64 = 1_000;

/// Hellos from peers that had nothing for a channel we need before we stop
/// looking for more peers for it (until `penalty_ms` has passed).
pub const FRUITLESS_HELLOS_PER_MAX_PEER: u32 = 4;
