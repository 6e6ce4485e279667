//! Runs the history-store conformance suite against a scratch IndexedDB database.

use crate::idb_store::IdbStore;
use catalk_core::conformance;

/// Opens a scratch database, runs the suite, deletes the database.
pub async fn run() -> Result<conformance::Report, catalk_core::StoreError> {
    let mut suffix = [0u8; 8];
    let _ = getrandom::fill(&mut suffix);
    let name = format!("catalk-selftest-{}", u64::from_le_bytes(suffix));
    let store = IdbStore::open(&name).await?;
    let report = conformance::run(&store).await;
    store.close();
    IdbStore::delete(&name).await?;
    Ok(report)
}
