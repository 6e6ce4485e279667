//! The virtual client's history store: verified facts in one redb file.
//!
//! - Every [`HistoryStore::put_facts`] is one write transaction committed with
//!   [`redb::Durability::Immediate`]: once it returns `Ok`, the facts survive a
//!   crash or `kill -9`.
//! - Messages are kept for [`StoreOptions::retention`] and within
//!   [`StoreOptions::max_bytes`]; the owner calls [`DiskStore::prune`] with the
//!   current time (the store reads no clock). Channel, grant and epoch facts are
//!   small and explain message chains, so they are never pruned.
//! - redb is synchronous. The [`HistoryStore`] methods do their (small, local)
//!   work inline; a caller that must not block a busy executor thread can call
//!   them under `spawn_blocking`, since [`DiskStore`] is `Send + Sync`.
//!
//! [`HistoryStore`]: catalk_core::HistoryStore
//! [`HistoryStore::put_facts`]: catalk_core::HistoryStore::put_facts

mod cards;
mod error;
mod history;
mod retention;
mod tables;

pub use error::StoreOpenError;
pub use retention::PruneReport;

use catalk_core::StoreError;
use error::backend;
use redb::{Builder, Database, ReadableDatabase};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How much history the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Messages whose id is older than this (by the id's timestamp) are pruned. Default 24 h.
    pub retention: Duration,
    /// Size cap on the stored facts, in bytes of their JSON; past it the oldest
    /// messages are pruned. Default 256 MiB. See [`DiskStore::stored_bytes`].
    pub max_bytes: u64,
}

/// redb's page cache. Its default (1 GiB) would let a store near its size cap
/// sit wholly in memory; recent pages are what serving and pruning touch.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

impl Default for StoreOptions {
    fn default() -> Self {
        Self { retention: Duration::from_secs(24 * 60 * 60), max_bytes: 256 * 1024 * 1024 }
    }
}

/// Verified facts in a redb file; implements [`catalk_core::HistoryStore`].
pub struct DiskStore {
    db: Database,
    path: PathBuf,
    options: StoreOptions,
}

impl fmt::Debug for DiskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskStore").field("path", &self.path).field("options", &self.options).finish()
    }
}

impl DiskStore {
    /// Opens the store file at `path`, creating it (not its directory) when missing.
    /// A file left by a crash is recovered to its last committed transaction.
    pub fn open(path: &Path, options: StoreOptions) -> Result<Self, StoreOpenError> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(StoreOpenError::MissingDirectory { path: path.to_path_buf(), dir: dir.to_path_buf() });
        }
        let classify = |e: redb::Error| StoreOpenError::classify(path, e);
        let db = Builder::new().set_cache_size(CACHE_BYTES).create(path).map_err(|e| classify(e.into()))?;
        let txn = db.begin_write().map_err(|e| classify(e.into()))?;
        tables::create_all(&txn).map_err(classify)?;
        cards::create(&txn).map_err(classify)?;
        txn.commit().map_err(|e| classify(e.into()))?;
        tracing::debug!(path = %path.display(), "history store open");
        Ok(Self { db, path: path.to_path_buf(), options })
    }

    /// The path the store was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options the store was opened with.
    pub fn options(&self) -> StoreOptions {
        self.options
    }

    /// The bytes of history held, estimated as the sum of the JSON lengths of
    /// every stored fact. This is what [`StoreOptions::max_bytes`] caps. The file
    /// is larger: keys, B-tree pages, and free pages redb reuses but does not
    /// return to the file system.
    pub fn stored_bytes(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        Ok(tables::read_totals(&txn)?.0)
    }

    /// How many messages are held, across channels.
    pub fn message_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        Ok(tables::read_totals(&txn)?.1)
    }
}
