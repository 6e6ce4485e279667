//! What a channel's history looks like from here, as a UI shows it.

use catalk_proto::FactId;
use serde::Serialize;

/// The state of one channel's history.
///
/// JSON: `{"state":"complete"}`, `{"state":"filling","missing":[…]}`,
/// `{"state":"missing","missing":[…]}`, `{"state":"unknown"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HistoryStatus {
    /// Nothing is known to be missing, and the chain reaches the channel's
    /// creation fact (or its oldest chain start was confirmed by a complete peer).
    Complete,
    /// Ranges are missing and are being fetched (or peers that can serve them are being connected).
    Filling {
        /// The missing ranges, oldest first.
        missing: Vec<MissingRange>,
    },
    /// Ranges are missing and no connected peer can serve them.
    Missing {
        /// The missing ranges, oldest first.
        missing: Vec<MissingRange>,
    },
    /// Nothing held, and no peer has said it holds anything.
    Unknown,
}

/// A range of message ids that is missing: `after < id < before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MissingRange {
    /// Exclusive lower bound (a held message); `None` = from the start.
    pub after: Option<FactId>,
    /// Exclusive upper bound (a held message); `None` = up to the newest.
    pub before: Option<FactId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_serializes_with_a_state_tag() {
        let range = MissingRange { after: None, before: Some(FactId::from_parts(5, 5)) };
        let json = serde_json::to_string(&HistoryStatus::Filling { missing: vec![range] }).unwrap_or_default();
        assert_eq!(json, r#"{"state":"filling","missing":[{"after":null,"before":"00000000050000000000000005"}]}"#);
        assert_eq!(serde_json::to_string(&HistoryStatus::Complete).unwrap_or_default(), r#"{"state":"complete"}"#);
    }
}
