//! The catalk virtual client: a headless peer that records live facts, keeps
//! recent history in an embedded database and serves it to browsers as last resort.
//!
//! - [`store::DiskStore`]: the crash-safe history store (a redb file) with
//!   time- and size-based retention.
//! - [`shell::Shell`]: drives the shared login session and sync engine of
//!   `catalk-core` with a websocket, WebRTC data channels (`catalk-rtc`) and the store.
//! - [`settings`]: flags and `CATALK_*` variables; [`metrics`]: `/metrics`.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod metrics;
pub mod peers;
pub mod relay_socket;
pub mod settings;
pub mod shell;
pub mod store;

pub use metrics::Metrics;
pub use settings::{Args, Settings, SettingsError};
pub use shell::Shell;
pub use store::{DiskStore, PruneReport, StoreOpenError, StoreOptions};
