//! Planning, after every input: which wanted range to ask of which peer,
//! whether more peers are needed and which to connect, which to let go.
//!
//! - The parts of a wanted range that no request in flight covers are asked
//!   of candidates with a free request slot (up to `max_requests_per_peer` in
//!   flight per peer once it answered one with valid facts, one before),
//!   browsers before virtual clients (a virtual client is asked only when no
//!   connected browser could serve the range). A part
//!   that needs several pages (estimated from the candidates' advertised
//!   count over their `oldest..newest` span) is cut by timestamp into
//!   disjoint pieces, as many as it needs pages and as there are free slots;
//!   each piece is fetched newest first and, when answered with `more`, its
//!   rest is a free part again at the next round. Each piece goes to the
//!   candidate with the fewest requests, complete peers first, then by a
//!   salted rank that spreads load. Requests of one channel never overlap.
//!   A free part that some peer already answered in full while requests for
//!   the same range are in flight is left until they are done (their chains
//!   most likely close it), so the seams between pieces are not asked of
//!   every other peer.
//! - Peers are needed for a channel whose status would be unknown, or that
//!   misses a range no connected peer can serve. Then online peers are
//!   connected, up to `max_peers` working connections (connecting, awaiting
//!   hello, useful, or busy) and twice that in all; useless connections make
//!   room after a grace period. Virtual clients are connected only after
//!   [`VIRTUAL_PATIENCE_MS`] of need, or when no browser is left to try (and
//!   need has lasted [`VIRTUAL_SETTLE_MS`], so presence can arrive). A browser
//!   that stalled once is tried again after its pause before that. When
//!   browsers' hellos had nothing for a needed channel as often as we look
//!   before pausing (`FRUITLESS_HELLOS_PER_MAX_PEER` per `max_peers`), only
//!   virtual clients are connected until they too are tried.
//! - Connections useless for anything missing and idle for [`IDLE_CLOSE_MS`] close.

use crate::sync::channel::ChannelState;
use crate::sync::config::{
    FILLING_GRACE_MS, FRUITLESS_HELLOS_PER_MAX_PEER, IDLE_CLOSE_MS, USELESS_GRACE_MS, VIRTUAL_PATIENCE_MS,
    VIRTUAL_SETTLE_MS,
};
use crate::sync::engine::SyncEngine;
use crate::sync::gaps::{Offer, Want, survey};
use crate::sync::intervals::Range;
use crate::sync::output::SyncOutput;
use crate::sync::peers::{Link, Peer, rank};
use catalk_proto::{ChannelHoldings, ChannelName, FactId, MAX_PAGE_FACTS, PeerKind};
use std::collections::{BTreeMap, BTreeSet};

impl SyncEngine {
    /// How many hellos with nothing for a channel stop the search for peers for it.
    fn fruitless_budget(&self) -> u32 {
        FRUITLESS_HELLOS_PER_MAX_PEER * u32::try_from(self.config.max_peers.max(1)).unwrap_or(u32::MAX)
    }

    /// Sends requests for wanted ranges, then connects or lets go of peers.
    pub(super) fn plan(&mut self) {
        let can_fetch = !self.trusted.is_empty();
        let mut pages: Vec<(String, ChannelName, Range)> = Vec::new();
        let mut useful: BTreeSet<String> = BTreeSet::new();
        let mut needy: Vec<ChannelName> = Vec::new();
        let mut satisfied: Vec<ChannelName> = Vec::new();
        {
            // Requests given to each peer this round.
            let mut taken: BTreeMap<&str, usize> = BTreeMap::new();
            for (name, state) in &self.channels {
                let offers = self.offers(name);
                let survey = survey(state, &self.epochs, &offers);
                let mut busy: Vec<Range> =
                    self.requests.values().filter(|r| &r.channel == name).map(|r| r.range).collect();
                for want in &survey.wants {
                    useful.extend(want.candidates.iter().map(|c| (*c).to_owned()));
                    if !can_fetch {
                        continue;
                    }
                    for (peer, range) in self.assign(name, state, want, &offers, &busy, &mut taken) {
                        busy.push(range);
                        pages.push((peer.to_owned(), name.clone(), range));
                    }
                }
                let unknown = state.index.count() == 0 && survey.wants.is_empty();
                let unserved = survey.wants.iter().any(|w| w.missing && w.candidates.is_empty());
                if unknown || unserved { needy.push(name.clone()) } else { satisfied.push(name.clone()) }
            }
        }
        for (peer, channel, range) in pages {
            self.send_page(&peer, &channel, range);
        }
        for name in &satisfied {
            if let Some(state) = self.channels.get_mut(name) {
                state.fruitless = 0;
            }
        }
        self.start_probes();
        self.judge_hellos(&needy, &useful);
        self.mark_useless(&useful);
        let budget = self.fruitless_budget();
        let need = can_fetch && needy.iter().any(|c| self.channels.get(c).is_some_and(|s| s.fruitless < budget));
        // Browser peers had nothing, as many as we ask before pausing: the last resort
        // is tried before giving up.
        let last_resort = can_fetch
            && !need
            && !needy.is_empty()
            && self.peers.values().any(|p| p.kind == PeerKind::Virtual && p.connectable(self.now));
        if need || last_resort {
            self.need_since.get_or_insert(self.now);
            self.connect_more(last_resort);
        } else {
            self.need_since = None;
        }
        self.close_idle();
    }

    /// Pages for the parts of `want` that no request in `busy` covers, as
    /// (peer, range): see the module docs.
    fn assign<'a>(
        &self,
        channel: &ChannelName,
        state: &ChannelState,
        want: &Want<'a>,
        offers: &[Offer<'_>],
        busy: &[Range],
        taken: &mut BTreeMap<&'a str, usize>,
    ) -> Vec<(&'a str, Range)> {
        let mut free = vec![want.range];
        for range in busy {
            free = free.into_iter().flat_map(|part| part.minus(range)).collect();
        }
        let in_flight = free != [want.range];
        let page = self.config.page_limit.clamp(1, MAX_PAGE_FACTS);
        let mut pages = Vec::new();
        for part in free {
            if in_flight && state.answered_by_any(&part) {
                continue;
            }
            let candidates: Vec<&'a str> =
                want.candidates.iter().copied().filter(|c| !state.answered(c, &part)).collect();
            let slots: usize = self.eligible(&candidates, taken).iter().map(|(_, _, free)| free).sum();
            if slots == 0 {
                continue;
            }
            let holdings: Vec<&ChannelHoldings> =
                offers.iter().filter(|o| candidates.contains(&o.peer)).map(|o| o.holdings).collect();
            // Newest first, like the pages within each piece.
            for piece in part.split(&cuts(&part, &holdings, slots, page)).into_iter().rev() {
                let Some(peer) = self.pick(channel, &candidates, taken) else { break };
                *taken.entry(peer).or_default() += 1;
                pages.push((peer, piece));
            }
        }
        pages
    }

    /// The candidates that may be asked now (browsers only, if any candidate
    /// is one), with their requests in flight or given this round and their free slots.
    fn eligible<'a>(&self, candidates: &[&'a str], taken: &BTreeMap<&'a str, usize>) -> Vec<(&'a str, usize, usize)> {
        let max = self.config.max_requests_per_peer;
        let peers: Vec<(&'a str, &Peer)> =
            candidates.iter().filter_map(|id| self.peers.get(*id).map(|p| (*id, p))).collect();
        let browsers = peers.iter().any(|(_, p)| p.kind == PeerKind::Browser);
        peers
            .into_iter()
            .filter(|(_, p)| !browsers || p.kind == PeerKind::Browser)
            .filter_map(|(id, p)| {
                let given = taken.get(id).copied().unwrap_or(0);
                let free = p.free_slots(self.now, max).saturating_sub(given);
                (free > 0).then_some((id, p.outstanding.len() + given, free))
            })
            .collect()
    }

    /// The candidate for the next request of `channel`: a free slot, the
    /// fewest requests, complete peers first, then by salted rank.
    fn pick<'a>(
        &self,
        channel: &ChannelName,
        candidates: &[&'a str],
        taken: &BTreeMap<&'a str, usize>,
    ) -> Option<&'a str> {
        let salt = self.salt.unwrap_or(0);
        self.eligible(candidates, taken)
            .into_iter()
            .min_by_key(|(id, load, _)| {
                let complete = self.peers.get(*id).and_then(|p| p.hello()?.get(channel)).is_some_and(|h| h.complete);
                (*load, !complete, rank(salt, id))
            })
            .map(|(id, _, _)| id)
    }

    /// Counts each new hello that offers nothing against the channels needing peers.
    fn judge_hellos(&mut self, needy: &[ChannelName], useful: &BTreeSet<String>) {
        let now = self.now;
        let mut fruitless = 0u32;
        for id in &self.linked {
            if let Some(peer) = self.peers.get_mut(id)
                && peer.hello().is_some()
                && !peer.judged
            {
                peer.judged = true;
                fruitless += u32::from(!useful.contains(id));
            }
        }
        if fruitless == 0 {
            return;
        }
        for name in needy {
            if let Some(state) = self.channels.get_mut(name) {
                if state.fruitless == 0 {
                    state.fruitless_since = now;
                }
                state.fruitless += fruitless;
            }
        }
    }

    /// Notes since when each open peer has been of no use to us.
    fn mark_useless(&mut self, useful: &BTreeSet<String>) {
        let now = self.now;
        for id in &self.linked {
            let Some(peer) = self.peers.get_mut(id) else { continue };
            if peer.hello().is_none() || useful.contains(id) || peer.busy() {
                peer.useless_since = None;
            } else {
                peer.useless_since.get_or_insert(now);
            }
        }
    }

    /// Connects online peers while working connections are fewer than `max_peers`
    /// (only virtual clients when `last_resort`).
    fn connect_more(&mut self, last_resort: bool) {
        let max = self.config.max_peers.max(1);
        loop {
            let working = self.linked_peers().filter(|(_, p)| working(p)).count();
            let total = self.linked.len();
            if working >= max {
                return;
            }
            if total >= 2 * max {
                if self.evict_one() {
                    continue;
                }
                return;
            }
            let next = if last_resort { self.best_to_connect(PeerKind::Virtual) } else { self.next_to_connect() };
            let Some(id) = next else { return };
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.link = Link::Connecting { since: self.now };
                peer.judged = false;
                self.linked.insert(id.clone());
            }
            self.outputs.push_back(SyncOutput::Connect { peer: id });
        }
    }

    /// The next peer to connect: browsers by rank; virtual clients once
    /// patience ran out or no browser is left.
    fn next_to_connect(&self) -> Option<String> {
        let best = |kind: PeerKind| self.best_to_connect(kind);
        let waited = |ms: u64| self.need_since.is_some_and(|since| self.now >= since + ms);
        if waited(VIRTUAL_PATIENCE_MS) {
            best(PeerKind::Virtual).or_else(|| best(PeerKind::Browser))
        } else {
            // A browser still connecting (or connected and not yet judged useless), or one
            // that stalled and will be tried again, may serve: the last resort waits for it.
            let browser_in_play = self
                .peers
                .iter()
                .filter(|(_, p)| p.kind == PeerKind::Browser)
                .any(|(id, p)| self.linked.contains(id) || p.stalled_once(self.now));
            best(PeerKind::Browser)
                .or_else(|| best(PeerKind::Virtual).filter(|_| waited(VIRTUAL_SETTLE_MS) && !browser_in_play))
        }
    }

    /// The connectable peer of `kind` first in the salted rank.
    fn best_to_connect(&self, kind: PeerKind) -> Option<String> {
        let salt = self.salt.unwrap_or(0);
        self.peers
            .iter()
            .filter(|(_, p)| p.kind == kind && p.connectable(self.now))
            .min_by_key(|(id, _)| rank(salt, id))
            .map(|(id, _)| id.clone())
    }

    /// Closes the longest-useless open peer past its grace; `false` if none.
    fn evict_one(&mut self) -> bool {
        let now = self.now;
        let victim = self
            .linked_peers()
            .filter_map(|(id, p)| {
                let since = p.useless_since?;
                let grace = if p.filling() { FILLING_GRACE_MS } else { USELESS_GRACE_MS };
                let idle_since = since.max(p.last_activity);
                (!p.busy() && now >= idle_since + grace).then_some((since, id.clone()))
            })
            .min();
        let Some((_, id)) = victim else { return false };
        self.outputs.push_back(SyncOutput::Disconnect { peer: id.clone() });
        self.drop_link(&id);
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.tried_until = now + self.config.penalty_ms;
        }
        true
    }

    /// Closes connections that are of no use to us and idle for [`IDLE_CLOSE_MS`].
    fn close_idle(&mut self) {
        let now = self.now;
        let idle: Vec<String> = self
            .linked_peers()
            .filter(|(_, p)| p.useless_since.is_some() && !p.busy() && now >= p.last_activity + IDLE_CLOSE_MS)
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            self.outputs.push_back(SyncOutput::Disconnect { peer: id.clone() });
            self.drop_link(&id);
        }
    }
}

/// Where to cut `range` into pieces fetched in parallel: evenly by timestamp
/// over the part of it the candidates hold, into as many pieces as it needs
/// pages (if their holdings are spread evenly over `oldest..newest`), at most
/// `slots`. Each cut is the first id of its millisecond.
fn cuts(range: &Range, holdings: &[&ChannelHoldings], slots: usize, page: u32) -> Vec<FactId> {
    let mut span: Option<(u64, u64)> = None;
    let mut estimate = 0u64;
    for h in holdings {
        let (Some(oldest), Some(newest)) = (h.oldest, h.newest) else { continue };
        let (first, last) = (oldest.timestamp_ms(), newest.timestamp_ms());
        let lo = range.after.map_or(first, |a| a.timestamp_ms().max(first));
        let hi = range.before.map_or(last, |b| b.timestamp_ms().min(last));
        if lo > hi {
            continue;
        }
        let share = u128::from(hi - lo + 1);
        let held = u128::from(h.count) * share / u128::from(last - first + 1);
        estimate = estimate.max(u64::try_from(held).unwrap_or(u64::MAX));
        span = Some(span.map_or((lo, hi), |(l, h)| (l.min(lo), h.max(hi))));
    }
    let Some((lo, hi)) = span else { return Vec::new() };
    let pieces = estimate.div_ceil(u64::from(page)).clamp(1, u64::try_from(slots).unwrap_or(u64::MAX));
    (1..pieces)
        .map(|i| {
            let offset = u128::from(hi - lo) * u128::from(i) / u128::from(pieces);
            FactId::from_parts(lo + u64::try_from(offset).unwrap_or(0), 0)
        })
        .collect()
}

/// Whether a connection counts against `max_peers`: connecting, awaiting its
/// hello, busy with our request, or useful.
fn working(peer: &Peer) -> bool {
    match &peer.link {
        Link::Closed => false,
        Link::Connecting { .. } => true,
        Link::Open { hello, .. } => hello.is_none() || peer.busy() || peer.useless_since.is_none(),
    }
}
