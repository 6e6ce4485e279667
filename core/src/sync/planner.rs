//! Planning, after every input: which wanted range to ask of which peer,
//! whether more peers are needed and which to connect, which to let go.
//!
//! - A wanted range goes to an idle candidate (one request per peer at a
//!   time), browsers before virtual clients (a virtual client is asked only
//!   when no connected browser could serve the range), complete peers first,
//!   then by a salted rank that spreads load. A range overlapping a request
//!   in flight waits for it.
//! - Peers are needed for a channel whose status would be unknown, or that
//!   misses a range no connected peer can serve. Then online peers are
//!   connected, up to `max_peers` working connections (connecting, awaiting
//!   hello, useful, or busy) and twice that in all; useless connections make
//!   room after a grace period. Virtual clients are connected only after
//!   [`VIRTUAL_PATIENCE_MS`] of need, or when no browser is left to try (and
//!   need has lasted [`VIRTUAL_SETTLE_MS`], so presence can arrive).
//! - Connections useless for anything missing and idle for [`IDLE_CLOSE_MS`] close.

use crate::sync::config::{
    FILLING_GRACE_MS, FRUITLESS_HELLOS_PER_MAX_PEER, IDLE_CLOSE_MS, USELESS_GRACE_MS, VIRTUAL_PATIENCE_MS,
    VIRTUAL_SETTLE_MS,
};
use crate::sync::engine::SyncEngine;
use crate::sync::gaps::survey;
use crate::sync::intervals::Range;
use crate::sync::output::SyncOutput;
use crate::sync::peers::{Link, Peer, rank};
use catalk_proto::{ChannelName, PeerKind};
use std::collections::BTreeSet;

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
            let mut taken: BTreeSet<&str> = BTreeSet::new();
            for (name, state) in &self.channels {
                let offers = self.offers(name);
                let survey = survey(state, &self.epochs, &offers);
                let mut chosen: Vec<Range> = Vec::new();
                for want in &survey.wants {
                    useful.extend(want.candidates.iter().map(|c| (*c).to_owned()));
                    let busy = self.requests.values().any(|r| &r.channel == name && r.range.overlaps(&want.range))
                        || chosen.iter().any(|r| r.overlaps(&want.range));
                    if !can_fetch || busy {
                        continue;
                    }
                    if let Some(peer) = self.pick(name, &want.candidates, &taken) {
                        taken.insert(peer);
                        chosen.push(want.range);
                        pages.push((peer.to_owned(), name.clone(), want.range));
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
        self.judge_hellos(&needy, &useful);
        self.mark_useless(&useful);
        let budget = self.fruitless_budget();
        let need = can_fetch && needy.iter().any(|c| self.channels.get(c).is_some_and(|s| s.fruitless < budget));
        if need {
            self.need_since.get_or_insert(self.now);
            self.connect_more();
        } else {
            self.need_since = None;
        }
        self.close_idle();
    }

    /// The best idle candidate for a range of `channel`, not yet `taken` this round.
    fn pick<'a>(&self, channel: &ChannelName, candidates: &[&'a str], taken: &BTreeSet<&str>) -> Option<&'a str> {
        let salt = self.salt.unwrap_or(0);
        let peers: Vec<(&'a str, &Peer)> =
            candidates.iter().filter_map(|id| self.peers.get(*id).map(|p| (*id, p))).collect();
        let browsers = peers.iter().any(|(_, p)| p.kind == PeerKind::Browser);
        peers
            .into_iter()
            .filter(|(id, p)| (!browsers || p.kind == PeerKind::Browser) && p.idle(self.now) && !taken.contains(id))
            .min_by_key(|(id, p)| {
                let complete = p.hello().and_then(|h| h.get(channel)).is_some_and(|h| h.complete);
                (!complete, rank(salt, id))
            })
            .map(|(id, _)| id)
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
            if peer.hello().is_none() || useful.contains(id) || peer.outstanding.is_some() {
                peer.useless_since = None;
            } else {
                peer.useless_since.get_or_insert(now);
            }
        }
    }

    /// Connects online peers while working connections are fewer than `max_peers`.
    fn connect_more(&mut self) {
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
            let Some(id) = self.next_to_connect() else { return };
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
        let salt = self.salt.unwrap_or(0);
        let best = |kind: PeerKind| {
            self.peers
                .iter()
                .filter(|(_, p)| p.kind == kind && p.connectable(self.now))
                .min_by_key(|(id, _)| rank(salt, id))
                .map(|(id, _)| id.clone())
        };
        let waited = |ms: u64| self.need_since.is_some_and(|since| self.now >= since + ms);
        if waited(VIRTUAL_PATIENCE_MS) {
            best(PeerKind::Virtual).or_else(|| best(PeerKind::Browser))
        } else {
            best(PeerKind::Browser).or_else(|| best(PeerKind::Virtual).filter(|_| waited(VIRTUAL_SETTLE_MS)))
        }
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
                (p.outstanding.is_none() && now >= idle_since + grace).then_some((since, id.clone()))
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
            .filter(|(_, p)| {
                p.useless_since.is_some() && p.outstanding.is_none() && now >= p.last_activity + IDLE_CLOSE_MS
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            self.outputs.push_back(SyncOutput::Disconnect { peer: id.clone() });
            self.drop_link(&id);
        }
    }
}

/// Whether a connection counts against `max_peers`: connecting, awaiting its
/// hello, busy with our request, or useful.
fn working(peer: &Peer) -> bool {
    match &peer.link {
        Link::Closed => false,
        Link::Connecting { .. } => true,
        Link::Open { hello, .. } => hello.is_none() || peer.outstanding.is_some() || peer.useless_since.is_none(),
    }
}
