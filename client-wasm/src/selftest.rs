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

/// Measures fact verification in this browser: `count` signed messages
/// (relay and author signatures) verified in batches of `batch` facts, as
/// answers from peers are. Returns microseconds per signature.
pub fn verify_speed(count: usize, batch: usize) -> f64 {
    use catalk_core::sync::sim::history::{History, relay_public};
    let history = History::new("general", count, None);
    let relay = relay_public();
    let started = js_sys::Date::now();
    let mut verified = 0usize;
    for page in history.messages.chunks(batch.max(1)) {
        if catalk_proto::verify_facts(page, |key| *key == relay).is_ok() {
            verified += page.len();
        }
    }
    let elapsed_ms = js_sys::Date::now() - started;
    if verified != history.messages.len() {
        return f64::NAN;
    }
    elapsed_ms * 1_000.0 / (2 * verified) as f64
}
