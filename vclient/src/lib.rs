//! The catalk virtual client: a headless peer that records live facts, keeps
//! recent history in an embedded database and serves it to browsers as last resort.
//!
//! - [`store::DiskStore`]: the crash-safe history store (a redb file) with
//!   time- and size-based retention.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod store;

pub use store::{DiskStore, PruneReport, StoreOpenError, StoreOptions};
