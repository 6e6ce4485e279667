//! Which path an open peer connection takes, read from its `getStats()` report: through a
//! TURN server when either candidate of the selected pair is of type `relay`.

use js_sys::{Array, Reflect};
use std::collections::HashMap;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::RtcPeerConnection;

/// Whether the connection's selected candidate pair goes through TURN; `None` when the
/// report names no selected pair (not connected yet, or a browser that does not say).
pub fn uses_turn(pc: &RtcPeerConnection) -> impl std::future::Future<Output = Option<bool>> + 'static {
    let report = pc.get_stats();
    async move {
        let report = JsFuture::from(report).await.ok()?;
        selected_pair_uses_turn(&report)
    }
}

fn field(stats: &JsValue, name: &str) -> JsValue {
    Reflect::get(stats, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn text(stats: &JsValue, name: &str) -> Option<String> {
    field(stats, name).as_string()
}

fn selected_pair_uses_turn(report: &JsValue) -> Option<bool> {
    let mut by_id = HashMap::new();
    for entry in js_sys::try_iter(report).ok()??.flatten() {
        let entry = Array::from(&entry);
        if let Some(id) = entry.get(0).as_string() {
            by_id.insert(id, entry.get(1));
        }
    }
    // The transport names its selected pair (Chromium); otherwise a pair says it is selected
    // (Firefox) or is the nominated one that succeeded.
    let from_transport = by_id
        .values()
        .filter(|s| text(s, "type").as_deref() == Some("transport"))
        .find_map(|s| text(s, "selectedCandidatePairId"))
        .and_then(|id| by_id.get(&id));
    let pair = from_transport.or_else(|| {
        by_id.values().find(|s| {
            text(s, "type").as_deref() == Some("candidate-pair")
                && (field(s, "selected").as_bool() == Some(true)
                    || (field(s, "nominated").as_bool() == Some(true)
                        && text(s, "state").as_deref() == Some("succeeded")))
        })
    })?;
    let relayed = |side: &str| {
        text(pair, side).and_then(|id| by_id.get(&id)).and_then(|c| text(c, "candidateType")).as_deref()
            == Some("relay")
    };
    Some(relayed("localCandidateId") || relayed("remoteCandidateId"))
}
