//! A short journal of what peer-to-peer sync did (links made, opened, closed
//! and relayed, peer messages by type, timeouts), kept in memory for diagnosis:
//! `window.catalk.syncJournal()` in the browser, the virtual client's log.

use std::collections::VecDeque;

/// Entries kept; older ones are dropped.
const KEEP: usize = 512;

/// The most recent sync events, oldest first, each `"<ms since the first> <what>"`.
#[derive(Debug, Default)]
pub struct Journal {
    entries: VecDeque<String>,
    start: Option<u64>,
}

/// A peer key shortened for reading.
pub fn short(peer: &str) -> &str {
    peer.get(..8).unwrap_or(peer)
}

/// The `t` of a peer message and its `rid` if it has one (`"page 7"`),
/// read without parsing the rest.
pub fn message_type(text: &str) -> String {
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

impl Journal {
    /// Notes one event at `now` (ms).
    pub fn note(&mut self, now: u64, what: impl Into<String>) {
        let start = *self.start.get_or_insert(now);
        if self.entries.len() == KEEP {
            self.entries.pop_front();
        }
        self.entries.push_back(format!("{} {}", now.saturating_sub(start), what.into()));
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> Vec<String> {
        self.entries.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_entries_with_times_since_the_first() {
        let mut journal = Journal::default();
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
