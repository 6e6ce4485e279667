//! Retention: dropping messages past the time window, then past the size cap.

use super::DiskStore;
use super::error::backend;
use super::tables::WriteTables;
use catalk_core::StoreError;
use catalk_proto::{ChannelName, FactId};
use redb::Durability;
use std::collections::BTreeMap;

/// What one [`DiskStore::prune`] removed and what is left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Per channel that lost messages: the newest id removed (everything at or
    /// below it is gone), for the sync engine's `Forgotten`.
    pub forgotten: BTreeMap<ChannelName, FactId>,
    /// Messages dropped for being older than the retention window.
    pub expired: usize,
    /// Messages dropped, oldest first, to bring the store under its size cap.
    pub over_cap: usize,
    /// [`DiskStore::stored_bytes`] afterwards.
    pub stored_bytes: u64,
    /// [`DiskStore::message_count`] afterwards.
    pub message_count: u64,
}

impl DiskStore {
    /// Deletes the messages whose id timestamp is older than `now_ms` minus the
    /// retention window, then, while [`DiskStore::stored_bytes`] exceeds
    /// [`super::StoreOptions::max_bytes`], the oldest messages across channels.
    /// Channel, grant and epoch facts are kept, so they alone may exceed the cap.
    ///
    /// One durable write transaction; nothing is written when nothing is due.
    pub fn prune(&self, now_ms: u64) -> Result<PruneReport, StoreError> {
        let retention_ms = u64::try_from(self.options.retention.as_millis()).unwrap_or(u64::MAX);
        let cutoff_ms = now_ms.saturating_sub(retention_ms);
        let max_bytes = self.options.max_bytes;

        let mut txn = self.db.begin_write().map_err(backend)?;
        txn.set_durability(Durability::Immediate).map_err(backend)?;
        let mut report = PruneReport::default();
        {
            let mut tables = WriteTables::open(&txn)?;
            // Ids sort by time, so the expired messages come first, and past them
            // the oldest ones are the first to go over the cap.
            while let Some((id, channel)) = tables.oldest_message()? {
                let expired = id.timestamp_ms() < cutoff_ms;
                if !expired && tables.bytes <= max_bytes {
                    break;
                }
                tables.remove_message(id, &channel)?;
                if let Ok(name) = ChannelName::new(&channel) {
                    report.forgotten.insert(name, id);
                }
                if expired {
                    report.expired += 1;
                } else {
                    report.over_cap += 1;
                }
            }
            report.stored_bytes = tables.bytes;
            report.message_count = tables.message_count;
            tables.finish()?;
        }
        if report.expired + report.over_cap == 0 {
            txn.abort().map_err(backend)?;
        } else {
            txn.commit().map_err(backend)?;
            tracing::debug!(
                expired = report.expired,
                over_cap = report.over_cap,
                stored_bytes = report.stored_bytes,
                messages = report.message_count,
                "pruned history"
            );
        }
        Ok(report)
    }
}
