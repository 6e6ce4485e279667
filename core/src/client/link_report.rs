//! When to tell the relay how this client's sync links carry history (the `links` frame),
//! so that its operator can see at `/metrics` how members connect: sent after a change,
//! at most once per [`REPORT_EVERY_MS`], and again after each login.

use crate::client::LinkCounts;

/// Least time between two reports.
pub const REPORT_EVERY_MS: u64 = 2_000;

/// What was last reported on this connection, and when the next report may go.
#[derive(Debug, Default)]
pub struct LinkReport {
    /// The counts the relay holds for this connection (`None`: nothing reported since login).
    sent: Option<LinkCounts>,
    not_before: u64,
}

impl LinkReport {
    /// Whether `now` the counts should go out: they differ from what the relay holds, and the
    /// last report is old enough. A fresh connection with no link reports nothing.
    pub fn due(&self, now: u64, counts: LinkCounts) -> bool {
        self.deadline(counts).is_some_and(|at| now >= at)
    }

    /// When a pending change may go out, if one is pending.
    pub fn deadline(&self, counts: LinkCounts) -> Option<u64> {
        let held = self.sent.unwrap_or_default();
        (held != counts).then_some(self.not_before)
    }

    /// `counts` went out at `now`.
    pub fn sent(&mut self, now: u64, counts: LinkCounts) {
        self.sent = Some(counts);
        self.not_before = now + REPORT_EVERY_MS;
    }

    /// The relay connection ended: the relay forgot this connection's counts.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(direct: u32, relay: u32) -> LinkCounts {
        LinkCounts { direct, turn: 0, relay }
    }

    #[test]
    fn reports_changes_at_most_once_per_interval() {
        let mut report = LinkReport::default();
        assert!(!report.due(0, counts(0, 0)), "nothing to say about no links");
        assert!(report.due(0, counts(1, 0)));
        report.sent(0, counts(1, 0));
        assert!(!report.due(1, counts(1, 0)), "unchanged");
        assert!(!report.due(1, counts(2, 0)), "too soon");
        assert_eq!(report.deadline(counts(2, 0)), Some(REPORT_EVERY_MS));
        assert!(report.due(REPORT_EVERY_MS, counts(2, 0)));
        report.sent(REPORT_EVERY_MS, counts(0, 1));
        assert_eq!(report.deadline(counts(0, 1)), None, "nothing pending");
    }

    #[test]
    fn a_new_connection_reports_again() {
        let mut report = LinkReport::default();
        report.sent(0, counts(1, 0));
        report.reset();
        assert!(report.due(1, counts(1, 0)));
    }
}
