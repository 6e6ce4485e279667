//! The catalk virtual client: a headless peer that records live facts, keeps
//! recent history in an embedded database and serves it to browsers as last resort.
//!
//! - [`store::DiskStore`]: the crash-safe history store (a redb file) with
//!   time- and size-based retention.
//! - [`shell::Shell`]: carries out what the shared client driver of
//!   `catalk-core` asks for, with a websocket, WebRTC data channels (`catalk-rtc`) and the store.
//! - [`settings`]: flags and `CATALK_*` variables; [`metrics`]: `/metrics`.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod links;
pub mod metrics;
pub mod relay_socket;
pub mod settings;
pub mod shell;
pub mod store;

pub use metrics::Metrics;
pub use settings::{Args, Settings, SettingsError};
pub use shell::Shell;
pub use store::{DiskStore, PruneReport, StoreOpenError, StoreOptions};
