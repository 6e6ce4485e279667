//! Verification the driver hands out (`Output::Verify`): to the page's
//! verifier (a pool of workers running `verifyFactsJson`, web/js/verifier.js),
//! which answers through [`Shell::verified`]; without a verifier, or when it
//! fails, on this thread in a later turn.

use super::Shell;
use catalk_core::client::Input;
use catalk_proto::{Fact, PublicKey};
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// Facts out with the page's verifier, under a job number of the shell's
/// (the driver's tickets start again with each identity).
pub struct Job {
    epoch: u64,
    ticket: u64,
    facts: Vec<Fact>,
    trusted: Vec<PublicKey>,
}

impl Shell {
    /// Hands the facts to the page's verifier, or verifies them here when there is none or it cannot take them.
    pub(super) fn verify(self: &Rc<Self>, ticket: u64, facts: Vec<Fact>, trusted: Vec<PublicKey>) {
        let job = Job { epoch: self.epoch.get(), ticket, facts, trusted };
        let verifier = self.verifier.borrow().clone();
        let Some(verifier) = verifier else { return self.verify_here(job) };
        let (Ok(facts_json), Ok(trusted_json)) =
            (serde_json::to_string(&job.facts), serde_json::to_string(&job.trusted))
        else {
            return self.verify_here(job);
        };
        let number = self.next_job.get() + 1;
        self.next_job.set(number);
        self.verifying.borrow_mut().insert(number, job);
        let handed =
            verifier.call3(&JsValue::NULL, &JsValue::from(number as f64), &facts_json.into(), &trusted_json.into());
        if handed.is_err() {
            let job = self.verifying.borrow_mut().remove(&number);
            if let Some(job) = job {
                self.verify_here(job);
            }
        }
    }

    /// The page's verifier answered for job `number`: `Some(valid)`, or `None`
    /// when it could not verify (a worker failed), so it is done here.
    pub fn verified(self: &Rc<Self>, number: u64, valid: Option<bool>) {
        let job = self.verifying.borrow_mut().remove(&number);
        let Some(job) = job else { return };
        match valid {
            Some(valid) => self.answer(job.epoch, Input::Verified { ticket: job.ticket, facts: job.facts, valid }),
            None => self.verify_here(job),
        }
    }

    /// Verifies on this thread, answering in a later turn (not inside the pump).
    fn verify_here(self: &Rc<Self>, job: Job) {
        let shell = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            let valid = catalk_proto::verify_facts(&job.facts, |key| job.trusted.contains(key)).is_ok();
            shell.answer(job.epoch, Input::Verified { ticket: job.ticket, facts: job.facts, valid });
        });
    }
}
