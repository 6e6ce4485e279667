//! Everything the engine knows about one channel: the index of held messages
//! and what peers have said or shown about their holdings.

use crate::sync::index::ChannelIndex;
use crate::sync::intervals::{Intervals, Range};
use crate::sync::status::HistoryStatus;
use catalk_proto::{ChannelHoldings, FactId, Fingerprint};
use std::collections::{BTreeMap, BTreeSet};

/// One channel's sync state.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChannelState {
    /// Held messages.
    pub index: ChannelIndex,
    /// Per peer: ranges it answered in full (it has nothing else there), so it
    /// is not asked again for what it lacks.
    answered: BTreeMap<String, Intervals>,
    /// Peers whose hello said `complete`.
    complete_peers: BTreeSet<String>,
    /// Per peer: its oldest message, when it held older messages than we did at
    /// its hello. Until it answered the range below our oldest, something older
    /// exists that we lack (even after it left).
    seen_older: BTreeMap<String, FactId>,
    /// Per peer: its newest message, when it held newer messages than we did
    /// at its hello. Until we hold as new or it answered the range above our
    /// newest, something newer exists that we lack (even after it left): an
    /// older piece of a split range can arrive before the newest one does.
    seen_newer: BTreeMap<String, FactId>,
    /// The newest `oldest` a complete peer advertised: it holds nothing below,
    /// so our oldest at or below it has nothing below either.
    complete_oldest: Option<FactId>,
    /// Our oldest message when a complete peer answered everything below it.
    confirmed_below: Option<FactId>,
    /// Hellos that brought nothing for this channel while we needed it, and since when.
    pub fruitless: u32,
    /// When the first of `fruitless` arrived.
    pub fruitless_since: u64,
    /// The status last reported to the shell.
    pub reported: Option<HistoryStatus>,
    /// The `complete` flag last advertised in a hello.
    pub advertised_complete: bool,
    /// Messages below this id are not wanted (the engine's window); `None`: all are.
    pub floor: Option<FactId>,
    /// Message ids a peer listed in a `parts` answer that we lack, with that
    /// peer: missing until held, or until that peer answered a page over them.
    shown: BTreeMap<FactId, String>,
    /// Per peer: the hello fingerprint our holdings were last reconciled against.
    probed: BTreeMap<String, Fingerprint>,
}

/// Most shown-but-lacking ids kept per channel (more wait for the next reconciliation).
const MAX_SHOWN: usize = 100_000;

impl ChannelState {
    /// Takes note of a peer's advertised holdings for this channel.
    pub fn note_hello(&mut self, peer: &str, holdings: &ChannelHoldings) {
        if holdings.count == 0 {
            return;
        }
        if holdings.complete {
            self.complete_peers.insert(peer.to_owned());
            if holdings.oldest > self.complete_oldest {
                self.complete_oldest = holdings.oldest;
            }
        }
        if let Some(theirs) = holdings.oldest
            && self.index.oldest().is_none_or(|ours| theirs < ours)
        {
            self.seen_older.insert(peer.to_owned(), theirs);
        }
        if let Some(theirs) = holdings.newest
            && self.index.newest().is_none_or(|ours| theirs > ours)
        {
            self.seen_newer.insert(peer.to_owned(), theirs);
        }
    }

    /// Records that `peer` has nothing more in `range` (we hold what it sent).
    pub fn note_answered(&mut self, peer: &str, range: Range) {
        self.answered.entry(peer.to_owned()).or_default().insert(range);
        if let Some(oldest) = self.index.oldest()
            && self.complete_peers.contains(peer)
            && range.covers(&Range::new(None, Some(oldest)))
        {
            self.confirmed_below = Some(oldest);
        }
        self.prune();
    }

    /// Whether `peer` has already answered all of `range`.
    pub fn answered(&self, peer: &str, range: &Range) -> bool {
        self.answered.get(peer).is_some_and(|set| set.covers(range))
    }

    /// Whether some peer has already answered all of `range`.
    pub fn answered_by_any(&self, range: &Range) -> bool {
        self.answered.values().any(|set| set.covers(range))
    }

    /// Whether a peer showed older messages than `oldest` and has not yet answered the range below it.
    pub fn older_pending(&self, oldest: FactId) -> bool {
        let below = Range::new(None, Some(oldest));
        self.seen_older.iter().any(|(peer, theirs)| *theirs < oldest && !self.answered(peer, &below))
    }

    /// Whether a peer showed newer messages than `newest` and has not yet answered the range above it.
    pub fn newer_pending(&self, newest: FactId) -> bool {
        let above = Range::new(Some(newest), None);
        self.seen_newer.iter().any(|(peer, theirs)| *theirs > newest && !self.answered(peer, &above))
    }

    /// Whether a complete peer confirmed that nothing lies below `oldest`.
    pub fn bottom_confirmed(&self, oldest: FactId) -> bool {
        self.complete_oldest.is_some_and(|theirs| oldest <= theirs) || self.confirmed_below == Some(oldest)
    }

    /// Records ids `peer` showed (in a `parts` answer) that we lack.
    pub fn note_shown(&mut self, peer: &str, ids: impl IntoIterator<Item = FactId>) {
        for id in ids {
            if self.shown.len() >= MAX_SHOWN {
                break;
            }
            if !self.index.holds(&id) {
                self.shown.entry(id).or_insert_with(|| peer.to_owned());
            }
        }
    }

    /// Ids some peer showed that we lack, with the peer that showed each.
    pub fn shown(&self) -> impl Iterator<Item = (FactId, &str)> + '_ {
        self.shown.iter().map(|(id, peer)| (*id, peer.as_str()))
    }

    /// Whether our holdings were already reconciled against `peer`'s hello fingerprint `fp`.
    pub fn probed(&self, peer: &str, fp: Fingerprint) -> bool {
        self.probed.get(peer).is_some_and(|done| *done == fp)
    }

    /// Notes that our holdings are (being) reconciled against `peer`'s hello fingerprint `fp`.
    pub fn note_probed(&mut self, peer: &str, fp: Fingerprint) {
        self.probed.insert(peer.to_owned(), fp);
    }

    /// Lets `peer`'s hello be reconciled against again (its answer was refused for its rate limit).
    pub fn unprobe(&mut self, peer: &str) {
        self.probed.remove(peer);
    }

    /// Forgets older- and newer-holdings notes that are resolved (answered, or no longer older or newer).
    pub fn prune(&mut self) {
        let answered = &self.answered;
        let done = |peer: &str, range: &Range| answered.get(peer).is_some_and(|set| set.covers(range));
        let index = &self.index;
        self.shown.retain(|id, peer| !index.holds(id) && !done(peer, &Range::only(*id)));
        if let Some(newest) = self.index.newest() {
            let above = Range::new(Some(newest), None);
            self.seen_newer.retain(|peer, theirs| *theirs > newest && !done(peer, &above));
        }
        let Some(oldest) = self.index.oldest() else { return };
        let below = Range::new(None, Some(oldest));
        self.seen_older.retain(|peer, theirs| *theirs < oldest && !done(peer, &below));
    }

    /// Forgets what a peer that is gone answered and claimed (a liar's claims too).
    pub fn forget_peer(&mut self, peer: &str, claims: bool) {
        self.answered.remove(peer);
        self.complete_peers.remove(peer);
        self.probed.remove(peer);
        if claims {
            self.shown.retain(|_, shower| shower != peer);
            self.seen_older.remove(peer);
            self.seen_newer.remove(peer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::index::Link;

    fn id(n: u64) -> FactId {
        FactId::from_parts(1_000 + n, 0)
    }

    fn holdings(oldest: u64, count: u64, fp: u128, complete: bool) -> ChannelHoldings {
        ChannelHoldings {
            channel: catalk_proto::ChannelName::general(),
            count,
            oldest: Some(id(oldest)),
            newest: Some(id(oldest + count)),
            fp: Fingerprint(fp),
            complete,
        }
    }

    #[test]
    fn an_older_peer_keeps_the_bottom_pending_until_it_answers() {
        let mut state = ChannelState::default();
        state.index.insert(id(50), Link { prev: None, epoch: id(0) });
        state.note_hello("a", &holdings(10, 60, 1, true));
        assert!(state.older_pending(id(50)));
        state.note_answered("a", Range::new(None, Some(id(50))));
        assert!(!state.older_pending(id(50)));
        assert!(state.bottom_confirmed(id(50)));
        assert!(state.seen_older.is_empty());
        state.forget_peer("a", true);
        assert!(state.bottom_confirmed(id(50)), "a confirmation outlives the peer");
    }

    #[test]
    fn only_a_complete_peer_confirms_a_bottom() {
        let mut state = ChannelState::default();
        state.index.insert(id(50), Link { prev: None, epoch: id(0) });
        state.note_hello("p", &holdings(50, 10, 2, false));
        assert!(!state.bottom_confirmed(id(50)));
        state.note_hello("w", &holdings(50, 10, 3, true));
        assert!(state.bottom_confirmed(id(50)));
        assert!(!state.bottom_confirmed(id(60)));
    }
}
