//! Verification of peers' answers off the main thread: the sync engine asks
//! (`SyncOutput::Verify`), the page's verifier (a pool of workers running
//! `verifyFactsJson`, web/js/verifier.js) answers through `verified`; without
//! a verifier, or when it fails, this thread verifies.

use crate::client::Shell;
use catalk_core::sync::SyncInput;
use catalk_proto::{Fact, PublicKey};
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// Answers' facts out for verification, with the keys they must be signed by, by ticket.
pub type OutForVerification = std::collections::HashMap<u64, (Vec<Fact>, Vec<PublicKey>)>;

/// Hands an answer's facts to the page's verifier (workers), or verifies them
/// here when there is none or it cannot take them.
pub fn verify(shell: &Rc<Shell>, ticket: u64, facts: Vec<Fact>, trusted: Vec<PublicKey>) {
    let verifier = shell.verifier.borrow().clone();
    if let Some(verifier) = verifier
        && let (Ok(facts_json), Ok(trusted_json)) = (serde_json::to_string(&facts), serde_json::to_string(&trusted))
    {
        shell.verifying.borrow_mut().insert(ticket, (facts, trusted));
        let handed =
            verifier.call3(&JsValue::NULL, &JsValue::from(ticket as f64), &facts_json.into(), &trusted_json.into());
        if handed.is_ok() {
            return;
        }
        let Some((back, keys)) = shell.verifying.borrow_mut().remove(&ticket) else { return };
        verify_here(shell, ticket, back, keys);
        return;
    }
    verify_here(shell, ticket, facts, trusted);
}

/// Verifies on this thread, answering in a later turn (not inside the engine's output loop).
fn verify_here(shell: &Rc<Shell>, ticket: u64, facts: Vec<Fact>, trusted: Vec<PublicKey>) {
    let shell = Rc::clone(shell);
    wasm_bindgen_futures::spawn_local(async move {
        let valid = catalk_proto::verify_facts(&facts, |key| trusted.contains(key)).is_ok();
        shell.sync_input(SyncInput::Verified { ticket, facts, valid });
    });
}

/// The page's verifier answered for `ticket`: `Some(valid)`, or `None` when it
/// could not verify (a worker failed), so it is done here.
pub fn verified(shell: &Rc<Shell>, ticket: u64, valid: Option<bool>) {
    let Some((facts, trusted)) = shell.verifying.borrow_mut().remove(&ticket) else { return };
    match valid {
        Some(valid) => shell.sync_input(SyncInput::Verified { ticket, facts, valid }),
        None => verify_here(shell, ticket, facts, trusted),
    }
}
