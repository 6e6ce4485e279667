//! `catalk-bench`: a load generator for the catalk relay.
//!
//! Each benchmark is a library function ([`idle::idle`],
//! [`throughput::throughput`], [`latency::latency`]) that starts a real
//! `catalk-relay` child process on loopback (or targets a URL), drives it with
//! many websocket clients that log in by the real Ed25519 challenge and post
//! author-signed messages, and returns a report that serialises to one JSON
//! object. `main.rs` only parses flags and prints.
//!
//! The clients are deliberately lean (they read a frame's tag, not the whole
//! frame), because they share the machine's cores with the relay. Figures read
//! from `/proc` (resident memory, CPU time) need the relay's pid: they are
//! known for a spawned relay and null for a URL without `--relay-pid`.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod conn;
pub mod crypto;
pub mod histogram;
mod http;
pub mod idle;
pub mod latency;
pub mod load;
pub mod procfs;
pub mod relay;
pub mod sockets;
pub mod throughput;

pub use idle::{IdleOptions, IdleReport, idle};
pub use latency::{LatencyOptions, LatencyReport, latency};
pub use load::FleetOptions;
pub use relay::{SpawnOptions, Target};
pub use throughput::{ThroughputOptions, ThroughputReport, throughput};
