//! Test entry points, compiled only with the `selftest` feature: the
//! history-store conformance suite against a scratch IndexedDB database, and a
//! verification benchmark. The shipped app is built without them; `cargo xtask
//! selftest-wasm` builds this variant for the browser tests and benchmarks.

use crate::idb_store::IdbStore;
use crate::js;
use catalk_core::conformance;
use catalk_core::sync::sim::history::{History, relay_public};
use wasm_bindgen::prelude::*;

/// Runs the store conformance suite against a scratch IndexedDB database.
#[wasm_bindgen(js_name = storeSelfTest)]
pub async fn store_self_test() -> Result<JsValue, JsValue> {
    #[derive(serde::Serialize)]
    struct Outcome {
        passed: usize,
        failures: Vec<String>,
    }
    let report = run().await.map_err(|e| js::error("storage", &e.to_string()))?;
    Ok(js::to_js(&Outcome { passed: report.passed, failures: report.failures }))
}

/// Opens a scratch database, runs the suite, deletes the database.
async fn run() -> Result<conformance::Report, catalk_core::StoreError> {
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
#[wasm_bindgen(js_name = verifySpeed)]
pub fn verify_speed(count: usize, batch: usize) -> f64 {
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
