//! Peer-to-peer history sync, sans-IO: find what is missing from the local
//! store, ask peers for it, verify and persist what they send, and serve
//! their requests from the store.
//!
//! The engine reads no clock, draws no randomness and touches no socket or
//! store: time is the `now_ms` argument, the shell opens data channels and
//! reads and writes the store when asked to (`Load` → `Loaded`,
//! `Persist` → `Stored`), and, with `SyncConfig::verify_outside`, verifies
//! signatures where it likes (`Verify` → `Verified`, e.g. in worker threads).
//!
//! # Run loop
//!
//! ```text
//! let mut engine = SyncEngine::new(SyncConfig::default(), PeerKind::Browser, trusted);
//! engine.handle_input(now(), SyncInput::Stored(store.all_history().await));
//! loop {
//!     while let Some(output) = engine.poll_output() {
//!         match output {
//!             SyncOutput::Connect { peer }     => webrtc.offer(peer),          // later: Connected / Disconnected
//!             SyncOutput::Disconnect { peer }  => webrtc.close(peer),
//!             SyncOutput::Send { peer, text }  => webrtc.send(peer, text),
//!             SyncOutput::Persist(facts)       => { store.put_facts(&facts).await; engine.handle_input(now(), SyncInput::Stored(facts)) }
//!             SyncOutput::Load { peer, rid, channel, before, after, limit } => {
//!                 let (facts, more) = store.page(channel, before, after, limit).await;   // newest first
//!                 engine.handle_input(now(), SyncInput::Loaded { peer, rid, facts, more })
//!             }
//!             SyncOutput::Status { channel, status } => ui.history_status(channel, status),
//!             SyncOutput::Verify { ticket, facts, trusted } => workers.verify(ticket, facts, trusted), // later: Verified
//!         }
//!     }
//!     select! {
//!         (peer, kind) = presence.online()   => engine.handle_input(now(), SyncInput::PeerOnline { peer, kind }),
//!         peer = presence.offline()          => engine.handle_input(now(), SyncInput::PeerOffline { peer }),
//!         (peer, kind) = webrtc.opened()     => engine.handle_input(now(), SyncInput::Connected { peer, kind }),
//!         peer = webrtc.closed()             => engine.handle_input(now(), SyncInput::Disconnected { peer }),
//!         (peer, text) = webrtc.message()    => engine.handle_input(now(), SyncInput::Received { peer, text }),
//!         facts = relay.live_facts()         => engine.handle_input(now(), SyncInput::Stored(facts)),  // after storing
//!         () = sleep_until(engine.poll_timeout()) => engine.handle_timeout(now()),
//!     }
//! }
//! ```
//!
//! # What is missing
//!
//! Per channel the engine keeps held message ids with their `prev` and
//! epoch, the channel's channel facts (the oldest is the creation fact) and
//! the known epoch facts. For each held message whose `prev` is not a held
//! message:
//!
//! - `prev` is the creation fact and the message is the oldest held: the
//!   bottom is complete.
//! - `prev` is `None`, another channel fact, an epoch fact, or an id within
//!   1 ms after the message's own epoch (the `general` fact a relay signs at
//!   start, §9.2, which we may not hold): a chain starts at a relay restart.
//!   Not a gap.
//! - any other id: a **gap**; the range between the held messages around
//!   `prev` is missing.
//!
//! A chain start that is the oldest held message leaves the range below it
//! missing until a peer that advertised `complete` confirms nothing is there
//! (its oldest is not older, or it answered that range in full), and for as
//! long as a peer that showed older messages has not answered for them. A
//! chain start above a message of another run is checked with any connected
//! peer whose holdings overlap that range and differ from ours; with no such
//! peer it is trusted (relay restarts are not gaps). A peer advertising a
//! newer message than our newest makes the top missing until we hold as new
//! or it answered the range above our newest (even after it left: the older
//! pieces of a range fetched in parallel may arrive before the newest).
//!
//! What no chain shows (run one's tail after a stale head presented at a
//! restart: a fork) is found by set reconciliation with range-split
//! fingerprints (`sums` / `parts`, see `reconcile`): once per peer hello
//! whose fingerprint differs from ours over the ids up to its newest, after
//! the chain-driven requests are done. Ids a peer lists that we lack are
//! missing between our held neighbours until held, or until that peer
//! answered a page over them.
//!
//! # Status
//!
//! [`HistoryStatus::Complete`] when nothing is missing (so the chain reaches
//! the creation fact, or its oldest start was confirmed);
//! [`HistoryStatus::Filling`] while ranges are missing and requests are in
//! flight (or a connected peer can serve them, or peers are being
//! connected); [`HistoryStatus::Missing`] when ranges are missing and no
//! connected peer can serve them; [`HistoryStatus::Unknown`] while nothing is
//! held and no connected peer holds anything (peers that hold nothing cannot
//! tell an empty channel from their own late start, so their hellos do not
//! make it complete). A `Status` output is emitted on every change.
//!
//! # Peers and requests
//!
//! On `Connected` both sides send `hello` with their holdings per channel
//! (count, oldest, newest, fingerprint, complete). Peers holding the same set
//! have equal fingerprints and exchange nothing more. A wanted range is asked
//! of peers whose holdings cover it (browsers first, virtual clients only when
//! no connected browser can serve it), `page_limit` facts newest first, with
//! up to `max_requests_per_peer` requests in flight per peer (one until the
//! peer has answered one with valid facts). Backfill is latency-bound, so a
//! range that needs several pages (by the peers' advertised count over their
//! `oldest..newest`) is cut by timestamp into disjoint pieces, as many as
//! there are free request slots, fetched in parallel; a piece answered with
//! `more` leaves its rest (below its oldest fact received) wanted, and that
//! is cut again over the slots then free. Requests of one channel never
//! overlap. Every fact of an answer must
//! be a message of the asked channel inside the asked range and verify
//! (batch verification); otherwise the whole answer is dropped, the peer is
//! penalised for `penalty_ms` and disconnected, and the range is asked
//! elsewhere. Valid facts are indexed at once and emitted as `Persist` (with
//! `verify_outside`, once the shell's `Verified` says so; a request whose
//! answer is being verified is not a stall). A
//! peer that answered a range in full is not asked for it again (it lacks
//! what is still missing there; withholding is not punished, but the range
//! stays missing and goes to the next peer that may hold it). A request
//! unanswered for `request_timeout_ms` (each has its own deadline) penalises
//! the peer as stalled and frees all its requests; a peer leaving
//! mid-transfer just frees its ranges for others. When a channel becomes
//! complete the engine says hello again to its open peers, so peers still
//! filling learn that it can now serve them.
//!
//! # Serving
//!
//! A peer's `page` (limit ≤ [`catalk_proto::MAX_PAGE_FACTS`], a channel we
//! know) is charged to that peer's token bucket in facts
//! (`serve_facts_per_second`, `serve_burst`); over it, the answer is
//! `refused` with `rate_limited`. Otherwise the engine asks the shell to
//! `Load` the page and sends the `facts` in as many messages as needed to
//! stay under [`catalk_proto::MAX_PEER_MESSAGE_BYTES`], the last carrying
//! the real `more`.

mod bucket;
mod channel;
mod config;
mod engine;
mod fetch;
mod gaps;
mod hello;
mod index;
mod input;
mod intervals;
mod load;
mod output;
mod peers;
mod planner;
mod reconcile;
mod rng;
mod serve;
#[cfg(any(test, feature = "test-support"))]
pub mod sim;
mod status;
mod timers;

pub use config::SyncConfig;
pub use engine::{SyncEngine, SyncStats};
pub use input::{PeerId, SyncInput};
pub use load::load_page;
pub use output::SyncOutput;
pub use status::{HistoryStatus, MissingRange};

#[cfg(test)]
mod tests;
