//! A short journal of what peer-to-peer sync did (links opened and closed,
//! messages received by type, timeouts), kept in memory for diagnosis:
//! `window.catalk.syncJournal()` in the console, and printed by tests that fail.

use catalk_core::sync::{SyncInput, SyncOutput};
use std::cell::RefCell;
use std::collections::VecDeque;

/// Entries kept; older ones are dropped.
const KEEP: usize = 512;

/// The most recent sync events, oldest first, each `"<ms since start> <what>"`.
#[derive(Default)]
pub struct SyncJournal {
    entries: RefCell<VecDeque<String>>,
    start: std::cell::Cell<Option<u64>>,
}

/// A peer key shortened for reading.
fn short(peer: &str) -> &str {
    peer.get(..8).unwrap_or(peer)
}

/// The `t` of a peer message and its `rid` if it has one (`"page 7"`),
/// read without parsing the rest.
fn message_type(text: &str) -> String {
    let field = |name: &str, quoted: bool| {
        let key = if quoted { format!("\"{name}\":\"") } else { format!("\"{name}\":") };
        let at = text.find(&key)? + key.len();
        let rest = &text[at..];
        let end = rest.find(|c: char| if quoted { c == '"' } else { !c.is_ascii_digit() }).unwrap_or(rest.len());
        Some(&rest[..end])
    };
    let kind = field("t", true).unwrap_or("?");
    match field("rid", false) {
        Some(rid) if !rid.is_empty() => format!("{kind} {rid}"),
        _ => kind.to_owned(),
    }
}

impl SyncJournal {
    /// Notes one event at `now` (ms).
    pub fn note(&self, now: u64, what: String) {
        let start = *self.start.get().get_or_insert(now);
        self.start.set(Some(start));
        let mut entries = self.entries.borrow_mut();
        if entries.len() == KEEP {
            entries.pop_front();
        }
        entries.push_back(format!("{} {what}", now.saturating_sub(start)));
    }

    /// Notes an input worth keeping (not stores and loads).
    pub fn input(&self, now: u64, input: &SyncInput) {
        let what = match input {
            SyncInput::PeerOnline { peer, kind } => format!("online {} {kind:?}", short(peer)),
            SyncInput::PeerOffline { peer } => format!("offline {}", short(peer)),
            SyncInput::Connected { peer, kind } => format!("opened {} {kind:?}", short(peer)),
            SyncInput::Disconnected { peer } => format!("closed {}", short(peer)),
            SyncInput::Received { peer, text } => format!("from {} {}", short(peer), message_type(text)),
            _ => return,
        };
        self.note(now, what);
    }

    /// Notes an output worth keeping (link changes and what is sent).
    pub fn output(&self, now: u64, output: &SyncOutput) {
        let what = match output {
            SyncOutput::Connect { peer } => format!("connect {}", short(peer)),
            SyncOutput::Disconnect { peer } => format!("disconnect {}", short(peer)),
            SyncOutput::Send { peer, text } => format!("to {} {}", short(peer), message_type(text)),
            _ => return,
        };
        self.note(now, what);
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> Vec<String> {
        self.entries.borrow().iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_entries_with_times_since_the_first() {
        let journal = SyncJournal::default();
        for i in 0..(KEEP as u64 + 10) {
            journal.note(1_000 + i, format!("e{i}"));
        }
        let entries = journal.entries();
        assert_eq!(entries.len(), KEEP);
        assert_eq!(entries[0], "10 e10");
        assert_eq!(entries.last().map(String::as_str), Some(&*format!("{} e{}", KEEP + 9, KEEP + 9)));
    }

    #[test]
    fn names_peer_messages_by_type() {
        assert_eq!(message_type(r#"{"t":"hello","v":1}"#), "hello");
        assert_eq!(message_type(r#"{"t":"facts","rid":42,"facts":[],"more":false}"#), "facts 42");
        assert_eq!(message_type("garbage"), "?");
    }
}
