//! Set reconciliation by range-split fingerprints, for differences no `prev`
//! chain reveals (a fork after a stale head was presented, a tail before a
//! restart that no peer's `newest` shows).
//!
//! Once a peer's hello fingerprint differs from ours over the ids up to its
//! newest, and no page request of the channel is in flight (what the chains
//! explain is fetched first), we send `sums` for the whole channel. The peer
//! answers with at most [`MAX_SUM_PARTS`] parts of equal count tiling the
//! range, each with its count and fingerprint, or with its ids when it holds
//! at most [`MAX_PART_IDS`]. We compare each part with our own holdings there:
//! an equal part is settled; listed ids we lack are missing (fetched with
//! `page` requests between our held neighbours, so nothing we hold is sent
//! again); an unequal part without ids is asked again with `sums`. Two peers
//! that differ by `d` scattered ids in `n` exchange about
//! `d · log16(n / 16)` small answers; peers in sync exchange only hellos.
//! Each hello is reconciled once, with at most [`PROBE_BUDGET`] `sums` (a
//! liar cannot make us split forever).

use crate::sync::engine::SyncEngine;
use crate::sync::index::ChannelIndex;
use crate::sync::intervals::{Range, previous};
use catalk_proto::{ChannelName, FactId, MAX_PART_IDS, MAX_SUM_PARTS, PeerKind, PeerMessage, RangePart, fingerprint};

/// Most `sums` requests sent to one peer per hello.
pub const PROBE_BUDGET: u32 = 256;

/// A `sums` request of ours in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Probe {
    /// Asked of.
    pub peer: String,
    /// The channel.
    pub channel: ChannelName,
    /// The ids asked about.
    pub range: Range,
    /// When the peer counts as stalled.
    pub deadline: u64,
}

/// Why a `parts` answer was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum PartsError {
    /// No parts, or more than [`MAX_SUM_PARTS`].
    #[error("{0} parts")]
    Count(usize),
    /// A part bound outside the asked range or not above the previous one.
    #[error("part {0} has a bound out of order")]
    Bound(usize),
    /// A part without ids and without a valid fingerprint.
    #[error("part {0} has no valid fingerprint")]
    Fingerprint(usize),
    /// A listed id outside its part, out of order, or a list that does not match the count.
    #[error("part {0} lists ids that do not match it")]
    Ids(usize),
}

/// The ranges of `parts` answering `sums` over `range`: the first starts at
/// the asked `after` (exclusive), each other one at the previous part's
/// `before` (inclusive: that id is the first of the part); each ends at its
/// own `before` (exclusive).
fn pieces(range: &Range, parts: &[RangePart]) -> Vec<Range> {
    let mut lower = range.after;
    parts
        .iter()
        .map(|part| {
            let piece = Range::new(lower, part.before);
            lower = part.before.map(previous);
            piece
        })
        .collect()
}

/// The parts answering `sums` over `range`: see the module docs.
pub(crate) fn split(index: &ChannelIndex, range: &Range) -> Vec<RangePart> {
    let ids: Vec<FactId> = index.ids_in(range).collect();
    let chunk = if ids.len() <= MAX_PART_IDS { ids.len().max(1) } else { ids.len().div_ceil(MAX_SUM_PARTS) };
    let chunks: Vec<&[FactId]> = if ids.is_empty() { vec![&[]] } else { ids.chunks(chunk).collect() };
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(n, part)| RangePart {
            // A part ends where the next one's first id is.
            before: if n == last { range.before } else { chunks[n + 1].first().copied() },
            count: part.len() as u64,
            fp: (part.len() > MAX_PART_IDS).then(|| fingerprint(part.iter())),
            ids: (part.len() <= MAX_PART_IDS).then(|| part.to_vec()),
        })
        .collect()
}

/// Checks that `parts` tile `range` in order and that listed ids fit their parts.
pub(crate) fn check_parts(range: &Range, parts: &[RangePart]) -> Result<(), PartsError> {
    if parts.is_empty() || parts.len() > MAX_SUM_PARTS {
        return Err(PartsError::Count(parts.len()));
    }
    for (n, (part, piece)) in parts.iter().zip(pieces(range, parts)).enumerate() {
        let last = n + 1 == parts.len();
        let fits = if last { part.before == range.before } else { !piece.is_empty() && range.covers(&piece) };
        if !fits {
            return Err(PartsError::Bound(n));
        }
        let Some(ids) = &part.ids else {
            if part.fp.is_none() {
                return Err(PartsError::Fingerprint(n));
            }
            continue;
        };
        let ordered = ids.windows(2).all(|w| w[0] < w[1]);
        let inside = ids.iter().all(|id| piece.contains(*id));
        if !ordered || !inside || ids.len() > MAX_PART_IDS || ids.len() as u64 != part.count {
            return Err(PartsError::Ids(n));
        }
    }
    Ok(())
}

impl SyncEngine {
    /// Starts reconciling with every open peer whose latest hello differs
    /// from our holdings in a way no request in flight explains.
    pub(super) fn start_probes(&mut self) {
        let now = self.now;
        let mut starts: Vec<(String, ChannelName, catalk_proto::Fingerprint)> = Vec::new();
        let mut settled: Vec<(String, ChannelName, catalk_proto::Fingerprint)> = Vec::new();
        for (id, peer) in self.linked_peers() {
            if peer.penalised(now) || now < peer.cooldown_until || peer.busy() {
                continue;
            }
            let Some(hello) = peer.hello() else { continue };
            for (channel, theirs) in hello {
                let Some(state) = self.channels.get(channel) else { continue };
                if theirs.count == 0 || theirs.fp == state.index.fingerprint() || state.probed(id, theirs.fp) {
                    continue;
                }
                if self.requests.values().any(|r| &r.channel == channel) {
                    continue;
                }
                // Virtual clients are the last resort here too.
                let browser_offers = || {
                    self.offers(channel)
                        .iter()
                        .any(|o| self.peers.get(o.peer).is_some_and(|p| p.kind == PeerKind::Browser))
                };
                if peer.kind == PeerKind::Virtual && browser_offers() {
                    continue;
                }
                let (count, fp) = state.index.summary(&Range::through(theirs.newest));
                let entry = (id.clone(), channel.clone(), theirs.fp);
                if state.floor.is_none() && count == theirs.count && fp == theirs.fp {
                    // Equal up to its newest: only our newer messages differ.
                    settled.push(entry);
                } else {
                    starts.push(entry);
                }
            }
        }
        for (peer, channel, fp) in settled.into_iter().chain(starts.iter().cloned()) {
            if let Some(state) = self.channels.get_mut(&channel) {
                state.note_probed(&peer, fp);
            }
        }
        for (peer, channel, _) in starts {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.probe_budget = PROBE_BUDGET;
            }
            let floor = self.channels.get(&channel).and_then(|s| s.floor);
            self.send_sums(&peer, &channel, Range::new(floor, None));
        }
    }

    /// Sends `sums` for `range` of `channel` to `peer`, if its budget allows.
    fn send_sums(&mut self, peer: &str, channel: &ChannelName, range: Range) {
        let now = self.now;
        let deadline = now + self.config.request_timeout_ms;
        let Some(p) = self.peers.get_mut(peer) else { return };
        if p.probe_budget == 0 {
            return;
        }
        p.probe_budget -= 1;
        let rid = self.next_rid;
        self.next_rid += 1;
        p.probing.insert(rid);
        p.last_activity = now;
        self.probes.insert(rid, Probe { peer: peer.to_owned(), channel: channel.clone(), range, deadline });
        let message = PeerMessage::Sums { rid, channel: channel.clone(), after: range.after, before: range.before };
        self.send(peer, &message);
    }

    /// A peer asks for the range-split fingerprints of `range` of `channel`.
    pub(super) fn on_sums(&mut self, peer: &str, rid: u64, channel: &ChannelName, range: Range) {
        let now = self.now;
        let parts = self.channels.get(channel).map(|state| split(&state.index, &range));
        let Some(p) = self.peers.get_mut(peer) else { return };
        p.last_activity = now;
        let Some(parts) = parts else {
            self.send(peer, &PeerMessage::Refused { rid, code: catalk_proto::RefusalCode::BadRequest });
            return;
        };
        // Priced in facts by size: a listed id is some 30 bytes, a fact some 500.
        let listed: usize = parts.iter().filter_map(|part| part.ids.as_ref().map(Vec::len)).sum();
        let cost = u32::try_from(parts.len() + listed / 16).unwrap_or(u32::MAX);
        if !p.bucket.take(now, cost) {
            self.stats.refused_rate_limited += 1;
            self.send(peer, &PeerMessage::Refused { rid, code: catalk_proto::RefusalCode::RateLimited });
            return;
        }
        self.stats.sums_answered += 1;
        self.send(peer, &PeerMessage::Parts { rid, parts });
    }

    /// The answer to our `sums` request `rid`.
    pub(super) fn on_parts(&mut self, peer: &str, rid: u64, parts: &[RangePart]) {
        let Some(probe) = self.probes.get(&rid).filter(|p| p.peer == peer).cloned() else { return };
        self.end_probe(rid);
        if check_parts(&probe.range, parts).is_err() {
            self.stats.rejected_answers += 1;
            self.punish(peer);
            return;
        }
        let Some(state) = self.channels.get_mut(&probe.channel) else { return };
        let floor = state.floor;
        let mut deeper = Vec::new();
        for (part, piece) in parts.iter().zip(pieces(&probe.range, parts)) {
            if floor.is_some_and(|f| piece.before.is_some_and(|b| b <= f)) {
                continue;
            }
            match &part.ids {
                Some(ids) => {
                    let wanted = ids.iter().copied().filter(|id| floor.is_none_or(|f| *id >= f));
                    state.note_shown(peer, wanted);
                }
                None => {
                    let (count, fp) = state.index.summary(&piece);
                    if count != part.count || Some(fp) != part.fp {
                        deeper.push(piece);
                    }
                }
            }
        }
        for piece in deeper {
            self.send_sums(peer, &probe.channel, piece);
        }
    }

    /// Forgets the probe `rid` (answered, refused or timed out); returns it.
    pub(super) fn end_probe(&mut self, rid: u64) -> Option<Probe> {
        let probe = self.probes.remove(&rid)?;
        if let Some(p) = self.peers.get_mut(&probe.peer) {
            p.probing.remove(&rid);
        }
        Some(probe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::index::Link;

    fn id(n: u64) -> FactId {
        FactId::from_parts(1_000 + n, 0)
    }

    fn index_of(ids: impl IntoIterator<Item = u64>) -> ChannelIndex {
        let mut index = ChannelIndex::default();
        for n in ids {
            index.insert(id(n), Link { prev: None, epoch: id(0) });
        }
        index
    }

    #[test]
    fn a_small_range_is_listed_and_a_large_one_split_into_equal_parts_that_tile_it() {
        let small = split(&index_of(0..MAX_PART_IDS as u64), &Range::new(None, None));
        assert_eq!(small.len(), 1);
        assert_eq!(small[0].ids.as_ref().map(Vec::len), Some(MAX_PART_IDS));
        let index = index_of(0..10_000);
        let range = Range::new(Some(id(5)), Some(id(9_000)));
        let parts = split(&index, &range);
        assert_eq!(parts.len(), MAX_SUM_PARTS);
        assert_eq!(check_parts(&range, &parts), Ok(()));
        assert_eq!(parts.iter().map(|p| p.count).sum::<u64>(), 8_994);
        assert!(parts.iter().all(|p| p.ids.is_none() && p.count <= 563));
        for (part, piece) in parts.iter().zip(pieces(&range, &parts)) {
            let (count, fp) = index.summary(&piece);
            assert_eq!((count, Some(fp)), (part.count, part.fp));
        }
        // 16 × 16 ids or fewer are all listed at the first split.
        let listed = split(&index_of(0..256), &Range::new(None, None));
        assert!(listed.iter().all(|p| p.ids.as_ref().is_some_and(|ids| ids.len() as u64 == p.count)));
        let text = serde_json::to_string(&PeerMessage::Parts { rid: u64::MAX, parts: listed }).unwrap_or_default();
        assert!(text.len() < catalk_proto::MAX_PEER_MESSAGE_BYTES, "{}", text.len());
    }

    #[test]
    fn an_empty_range_is_one_empty_part() {
        let range = Range::new(Some(id(3)), Some(id(4)));
        let parts = split(&index_of(0..10), &range);
        assert_eq!(parts.len(), 1);
        assert_eq!((parts[0].count, parts[0].ids.clone()), (0, Some(vec![])));
        assert_eq!(check_parts(&range, &parts), Ok(()));
    }

    #[test]
    fn parts_that_do_not_tile_the_range_or_list_foreign_ids_are_refused() {
        let range = Range::new(Some(id(10)), Some(id(100)));
        let good = split(&index_of(0..200), &range);
        assert_eq!(check_parts(&range, &good), Ok(()));
        assert_eq!(check_parts(&range, &[]), Err(PartsError::Count(0)));
        let mut open_end = good.clone();
        if let Some(last) = open_end.last_mut() {
            last.before = None;
        }
        assert_eq!(check_parts(&range, &open_end), Err(PartsError::Bound(good.len() - 1)));
        let mut reversed = good.clone();
        reversed.swap(0, 1);
        assert!(check_parts(&range, &reversed).is_err());
        let mut outside = good.clone();
        if let Some(ids) = outside[0].ids.as_mut() {
            ids[0] = id(150);
        }
        assert_eq!(check_parts(&range, &outside), Err(PartsError::Ids(0)));
        let mut miscounted = good.clone();
        miscounted[0].count += 1;
        assert_eq!(check_parts(&range, &miscounted), Err(PartsError::Ids(0)));
        let mut unlisted = good;
        unlisted[0].ids = None;
        assert_eq!(check_parts(&range, &unlisted), Err(PartsError::Fingerprint(0)));
    }
}
