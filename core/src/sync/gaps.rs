//! Gap detection: from a channel's index and the holdings connected peers
//! advertise, which ranges are missing and which peers might serve them.
//!
//! For every held message whose `prev` is not a held message (a "root"):
//!
//! | `prev` | Meaning | Range |
//! |---|---|---|
//! | the creation fact (oldest channel fact), on the oldest message | the bottom is complete | — |
//! | `None`, another channel fact, an epoch fact, or an id within 1 ms after the message's epoch (the channel fact a relay signs at start) | a chain starts at a relay restart: not a gap | checked below |
//! | any other id | a gap: at least `prev` is missing | (newest held < prev, oldest held > prev) |
//!
//! A chain start that is the oldest held message leaves the range below it
//! missing until a complete peer confirms nothing is there, and while a peer
//! that showed older messages has not answered for it. A chain start above
//! another held message of a different run is checked only with a connected
//! peer whose holdings overlap that range and differ from ours. At the top,
//! a peer advertising a newer message than ours makes (our newest, end)
//! missing, until we hold as new or it answered that range, even after it
//! left (an older piece of a range fetched in parallel may arrive first).
//! Ids a peer showed in a reconciliation (`parts`) that we lack are missing
//! between their held neighbours until held or answered by that peer.

use crate::sync::channel::ChannelState;
use crate::sync::intervals::Range;
use catalk_proto::{ChannelHoldings, FactId};
use std::collections::BTreeSet;

/// A connected peer's advertised holdings for the surveyed channel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Offer<'a> {
    /// The peer.
    pub peer: &'a str,
    /// What it holds.
    pub holdings: &'a ChannelHoldings,
}

/// Why a range is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WantKind {
    /// A `prev` that is not held.
    Gap,
    /// Below a chain start (a relay restart, or the oldest held message).
    Below,
    /// Newer than our newest.
    Top,
}

/// A range to fetch or check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Want<'a> {
    /// Why.
    pub kind: WantKind,
    /// The ids wanted (exclusive bounds).
    pub range: Range,
    /// Whether the range counts as missing in the status (a check of a
    /// restart boundary that no one has refuted does not).
    pub missing: bool,
    /// Connected peers whose holdings might serve it, in offer order.
    pub candidates: Vec<&'a str>,
}

/// The outcome of surveying one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Survey<'a> {
    /// Ranges to fetch or check.
    pub wants: Vec<Want<'a>>,
    /// Whether our chain reaches the creation fact with no gap (the `complete` we advertise).
    pub complete: bool,
}

impl Survey<'_> {
    /// The missing ranges, oldest first.
    pub fn missing(&self) -> Vec<Range> {
        let mut ranges: Vec<Range> = self.wants.iter().filter(|w| w.missing).map(|w| w.range).collect();
        ranges.sort();
        ranges
    }
}

/// Whether a peer holding `h` may hold ids in `range` that a holder of `ours` lacks.
fn may_hold(h: &ChannelHoldings, ours: catalk_proto::Fingerprint, range: &Range) -> bool {
    h.count > 0
        && h.fp != ours
        && h.oldest.is_some_and(|o| range.before.is_none_or(|b| o < b))
        && h.newest.is_some_and(|n| range.after.is_none_or(|a| n > a))
}

/// Whether `prev` is the channel fact a relay signs at start, right after its
/// epoch fact (§9.2): no client can post within a millisecond of the start, so
/// an id that close after the message's epoch is that fact, even when we do
/// not hold it (an earlier run's `general`).
fn run_start(prev: FactId, epoch: FactId) -> bool {
    prev > epoch && prev.timestamp_ms() <= epoch.timestamp_ms() + 1
}

/// Limits `want` to ids above `floor`; `false` when nothing of it is left.
fn clip_to_floor(want: &mut Want<'_>, floor: FactId) -> bool {
    if want.range.before.is_some_and(|before| before <= floor) {
        return false;
    }
    if want.range.after.is_none_or(|after| after < floor) {
        want.range = Range::new(Some(floor), want.range.before);
    }
    true
}

/// Surveys one channel against the offers of connected (not penalised) peers.
pub(crate) fn survey<'a>(state: &ChannelState, epochs: &BTreeSet<FactId>, offers: &[Offer<'a>]) -> Survey<'a> {
    let index = &state.index;
    let ours = index.fingerprint();
    let serving = |range: &Range| -> Vec<&'a str> {
        offers
            .iter()
            .filter(|o| may_hold(o.holdings, ours, range) && !state.answered(o.peer, range))
            .map(|o| o.peer)
            .collect()
    };
    let mut wants: Vec<Want<'a>> = Vec::new();
    let mut ranges = BTreeSet::new();
    let mut push = |want: Want<'a>| {
        if ranges.insert(want.range) {
            wants.push(want);
        }
    };
    let oldest = index.oldest();
    let creation = index.creation();
    let mut gaps = 0usize;
    let mut bottom_ok = false;
    for (id, link) in index.roots() {
        match link.prev {
            Some(prev) if Some(prev) == creation => {
                bottom_ok |= Some(id) == oldest;
                continue;
            }
            Some(prev) if !index.is_channel_fact(&prev) && !epochs.contains(&prev) && !run_start(prev, link.epoch) => {
                let below = index.before(prev);
                // At the bottom, a complete peer holding nothing older confirms that
                // `prev` is the creation fact we lack (not a message).
                let confirmed_bottom = below.is_none() && state.bottom_confirmed(id) && !state.older_pending(id);
                if !confirmed_bottom {
                    let range = Range::new(below, index.after(prev));
                    gaps += 1;
                    push(Want { kind: WantKind::Gap, range, missing: true, candidates: serving(&range) });
                    continue;
                }
            }
            _ => {}
        }
        match index.before(id) {
            None => {
                let pending = state.older_pending(id);
                let confirmed = state.bottom_confirmed(id);
                bottom_ok |= confirmed && !pending;
                let range = Range::new(None, Some(id));
                let candidates = serving(&range);
                let missing = pending || !confirmed;
                if missing || !candidates.is_empty() {
                    push(Want { kind: WantKind::Below, range, missing, candidates });
                }
            }
            Some(below) => {
                // A run's chain is linear: a chain start right after a message of
                // its own run hides nothing.
                if index.link(&below).is_some_and(|l| l.epoch == link.epoch) {
                    continue;
                }
                let range = Range::new(Some(below), Some(id));
                let candidates = serving(&range);
                if !candidates.is_empty() {
                    push(Want { kind: WantKind::Below, range, missing: true, candidates });
                }
            }
        }
    }
    // Ids a peer listed in a reconciliation that no chain reveals (a stale head
    // presented after a restart forks the chain; the old tail links nowhere).
    for (id, shower) in state.shown() {
        let range = Range::new(index.before(id), index.after(id));
        let mut candidates = serving(&range);
        if let Some(offer) = offers.iter().find(|o| o.peer == shower)
            && !candidates.contains(&offer.peer)
            && !state.answered(shower, &range)
        {
            candidates.push(offer.peer);
        }
        gaps += 1;
        push(Want { kind: WantKind::Gap, range, missing: true, candidates });
    }
    let newest = index.newest();
    let top = Range::new(newest, None);
    // While we hold nothing the status is unknown, not missing.
    let newer_pending = newest.is_some_and(|n| state.newer_pending(n));
    let candidates: Vec<&'a str> = offers
        .iter()
        .filter(|o| {
            let h = o.holdings;
            h.count > 0 && h.fp != ours && h.newest > newest && !state.answered(o.peer, &top)
        })
        .map(|o| o.peer)
        .collect();
    if !candidates.is_empty() || newer_pending {
        push(Want { kind: WantKind::Top, range: top, missing: true, candidates });
    }
    if let Some(floor) = state.floor {
        wants.retain_mut(|want| clip_to_floor(want, floor));
    }
    // The top first: fetching it often makes our fingerprint equal to the
    // peer's, which settles the boundary checks without asking.
    wants.sort_by_key(|w| match w.kind {
        WantKind::Top => 0,
        WantKind::Gap => 1,
        WantKind::Below => 2,
    });
    Survey { wants, complete: index.count() > 0 && gaps == 0 && bottom_ok }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::index::Link;
    use catalk_proto::ChannelName;

    const CREATION: u64 = 1;
    const RUN1: u64 = 0;
    const RUN2: u64 = 500;

    fn id(n: u64) -> FactId {
        FactId::from_parts(1_000 + n, 0)
    }

    fn state() -> ChannelState {
        let mut state = ChannelState::default();
        state.index.add_channel_fact(id(CREATION));
        state
    }

    fn put(state: &mut ChannelState, n: u64, prev: Option<u64>, epoch: u64) {
        state.index.insert(id(n), Link { prev: prev.map(id), epoch: id(epoch) });
    }

    fn holdings_of(state: &ChannelState, complete: bool) -> ChannelHoldings {
        ChannelHoldings {
            channel: ChannelName::general(),
            count: state.index.count(),
            oldest: state.index.oldest(),
            newest: state.index.newest(),
            fp: state.index.fingerprint(),
            complete,
        }
    }

    /// Messages 10..=14 in run 1 (linked to the creation fact), then 20..=24 in run 2 starting with `prev: None`.
    fn two_runs() -> ChannelState {
        let mut s = state();
        put(&mut s, 10, Some(CREATION), RUN1);
        for n in 11..15 {
            put(&mut s, n, Some(n - 1), RUN1);
        }
        put(&mut s, 20, None, RUN2);
        for n in 21..25 {
            put(&mut s, n, Some(n - 1), RUN2);
        }
        s
    }

    #[test]
    fn a_restart_with_prev_none_is_not_a_gap() {
        let s = two_runs();
        let survey = survey(&s, &BTreeSet::new(), &[]);
        assert_eq!(survey.wants, vec![]);
        assert!(survey.complete);
    }

    #[test]
    fn below_the_floor_nothing_is_wanted_and_a_range_across_it_is_cut() {
        let mut s = two_runs();
        put(&mut s, 30, Some(29), RUN2);
        s.floor = Some(id(26));
        assert_eq!(survey(&s, &BTreeSet::new(), &[]).missing(), vec![Range::new(Some(id(26)), Some(id(30)))]);
        s.floor = Some(id(30));
        assert_eq!(survey(&s, &BTreeSet::new(), &[]).missing(), vec![]);
    }

    #[test]
    fn a_missing_prev_is_a_gap_between_its_held_neighbours() {
        let mut s = two_runs();
        put(&mut s, 30, Some(29), RUN2);
        let survey = survey(&s, &BTreeSet::new(), &[]);
        assert_eq!(survey.missing(), vec![Range::new(Some(id(24)), Some(id(30)))]);
        assert!(!survey.complete);
    }

    #[test]
    fn a_prev_right_after_the_epoch_is_the_runs_channel_fact_not_a_gap() {
        let mut s = state();
        put(&mut s, 10, Some(CREATION), RUN1);
        // Run 2 started at 1_500 ms; its `general` fact (not held) was signed in the same millisecond.
        let general = FactId::from_parts(1_000 + RUN2, 99);
        s.index.insert(id(510), Link { prev: Some(general), epoch: id(RUN2) });
        assert!(survey(&s, &BTreeSet::new(), &[]).complete);
        s.index.insert(id(520), Link { prev: Some(id(515)), epoch: id(RUN2) });
        assert!(!survey(&s, &BTreeSet::new(), &[]).complete);
    }

    #[test]
    fn an_unknown_creation_fact_below_the_oldest_is_confirmed_by_a_complete_peer() {
        let mut s = ChannelState::default();
        put(&mut s, 10, Some(CREATION), RUN1);
        put(&mut s, 11, Some(10), RUN1);
        assert_eq!(survey(&s, &BTreeSet::new(), &[]).missing(), vec![Range::new(None, Some(id(10)))]);
        let mut peer = holdings_of(&s, true);
        peer.fp = catalk_proto::Fingerprint(1);
        s.note_hello("p", &peer);
        assert!(survey(&s, &BTreeSet::new(), &[]).complete);
    }

    #[test]
    fn a_prev_naming_a_later_channel_fact_starts_a_chain() {
        let mut s = state();
        put(&mut s, 10, Some(CREATION), RUN1);
        s.index.add_channel_fact(id(501));
        put(&mut s, 502, Some(501), RUN2);
        assert!(survey(&s, &BTreeSet::new(), &[]).complete);
    }

    #[test]
    fn a_chain_start_at_the_bottom_is_missing_until_a_complete_peer_confirms() {
        let mut s = state();
        put(&mut s, 20, None, RUN2);
        put(&mut s, 21, Some(20), RUN2);
        let alone = survey(&s, &BTreeSet::new(), &[]);
        assert_eq!(alone.missing(), vec![Range::new(None, Some(id(20)))]);
        let mut peer = holdings_of(&s, true);
        peer.fp = catalk_proto::Fingerprint(2);
        s.note_hello("p", &peer);
        assert_eq!(survey(&s, &BTreeSet::new(), &[]).missing(), vec![]);
    }

    #[test]
    fn a_peer_with_older_messages_makes_the_range_below_our_oldest_wanted() {
        let full = two_runs();
        let mut partial = state();
        for n in 20..25 {
            put(&mut partial, n, if n == 20 { None } else { Some(n - 1) }, RUN2);
        }
        let theirs = holdings_of(&full, true);
        partial.note_hello("p", &theirs);
        let offers = [Offer { peer: "p", holdings: &theirs }];
        let survey = survey(&partial, &BTreeSet::new(), &offers);
        assert_eq!(survey.wants.len(), 1);
        assert_eq!(survey.wants[0].range, Range::new(None, Some(id(20))));
        assert_eq!(survey.wants[0].candidates, vec!["p"]);
    }

    #[test]
    fn a_newer_peer_makes_the_top_wanted_and_an_equal_peer_makes_nothing() {
        let full = two_runs();
        let mut older = two_runs();
        let theirs = {
            let mut newer = two_runs();
            put(&mut newer, 25, Some(24), RUN2);
            holdings_of(&newer, true)
        };
        let same = holdings_of(&full, true);
        older.note_hello("newer", &theirs);
        let offers = [Offer { peer: "same", holdings: &same }, Offer { peer: "newer", holdings: &theirs }];
        let survey = survey(&older, &BTreeSet::new(), &offers);
        assert_eq!((survey.wants[0].kind, survey.wants[0].range), (WantKind::Top, Range::new(Some(id(24)), None)));
        assert_eq!(survey.wants[0].candidates, vec!["newer"]);
        // Its set differs, so the restart boundary is worth a check too (after the top).
        assert_eq!(survey.wants[1].range, Range::new(Some(id(14)), Some(id(20))));
        assert_eq!(survey.wants.len(), 2);
    }

    #[test]
    fn a_peer_that_showed_newer_messages_keeps_the_top_missing_after_it_left() {
        let mut s = two_runs();
        let mut newer = two_runs();
        for n in 25..30 {
            put(&mut newer, n, Some(n - 1), RUN2);
        }
        s.note_hello("p", &holdings_of(&newer, true));
        // An older piece arrived (25), the newest did not, and `p` is gone.
        put(&mut s, 25, Some(24), RUN2);
        s.forget_peer("p", false);
        let left = survey(&s, &BTreeSet::new(), &[]);
        assert_eq!(left.missing(), vec![Range::new(Some(id(25)), None)]);
        assert!(left.wants[0].candidates.is_empty());
        put(&mut s, 29, Some(28), RUN2);
        s.prune();
        assert!(survey(&s, &BTreeSet::new(), &[]).missing().iter().all(|r| r.before.is_some()));
    }

    #[test]
    fn a_restart_boundary_is_checked_with_a_differing_overlapping_peer_once() {
        let mut s = two_runs();
        let mut other = two_runs();
        put(&mut other, 15, Some(14), RUN1);
        let theirs = holdings_of(&other, true);
        let offers = [Offer { peer: "p", holdings: &theirs }];
        let first = survey(&s, &BTreeSet::new(), &offers);
        assert_eq!(first.wants.len(), 1);
        assert_eq!(first.wants[0].range, Range::new(Some(id(14)), Some(id(20))));
        s.note_answered("p", Range::new(Some(id(14)), Some(id(20))));
        assert_eq!(survey(&s, &BTreeSet::new(), &offers).wants, vec![]);
    }
}
