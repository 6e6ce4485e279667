//! catalk client logic with no IO, shared by the browser client, the virtual
//! client and the tests.
//!
//! - [`Client`]: the client driver every shell runs: it owns the session, the
//!   sync engine, the peer links and the store requests; shells only carry out
//!   its IO-shaped outputs (see [`client`] for the run loop).
//! - [`ClientSession`]: the sans-IO connection state machine: answers the
//!   login challenge, re-presents stored facts, verifies every fact the relay
//!   sends, tracks requests by id and schedules reconnects with backoff.
//! - [`sync::SyncEngine`]: the sans-IO peer-to-peer history sync (gap
//!   detection, peer choice, verified backfill, rate-limited serving), with a
//!   deterministic many-peer simulator (`sync::sim`).
//! - [`HistoryStore`]: what a fact store must do, with [`MemoryStore`] and a
//!   conformance suite (`conformance`) every store implementation runs.
//!
//! The conformance suite and the simulator are test code: they are compiled
//! only in this crate's tests and with the `test-support` feature, which
//! other crates' tests, benches and tools enable; the shipped client does not.
//!
//! The core never reads a clock, draws randomness or touches a socket: time
//! and random numbers are arguments, and the shell moves bytes. A shell's run
//! loop:
//!
//! ```text
//! loop {
//!     while let Some(output) = session.poll_output() {
//!         match output {
//!             Output::Send(text)      => socket.send(text),
//!             Output::Persist(facts)  => store.put_facts(&facts).await,
//!             Output::Event(event)    => ui.show(event),
//!             Output::Resolve { rid, result } => pending[rid].complete(result),
//!         }
//!     }
//!     select! {
//!         text = socket.recv()             => session.handle_text(now(), &text),
//!         ()   = socket.closed()           => session.handle_closed(now(), random()),
//!         ()   = sleep_until(session.poll_timeout()) => { socket = connect(); session.handle_connected(now()) }
//!         cmd  = ui.next()                 => session.post(..) / create_channel(..) / ...
//!     }
//! }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod backoff;
pub mod client;
#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
mod memory_store;
mod present;
mod session;
mod store;
pub mod sync;
mod view;

pub use backoff::Backoff;
pub use client::{Client, ClientConfig, ClientStats};
pub use memory_store::MemoryStore;
pub use present::facts_to_present;
pub use session::{ActionCode, ActionError, ClientSession, ConnectionStatus, Event, Output};
pub use store::{HeldMessage, HistoryStore, StoreError};
pub use view::{MessageView, NameView, OnlineView};
