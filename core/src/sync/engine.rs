//! The sync engine: its state and the `handle_*` / `poll_*` entry points.
//! The work is in the sibling modules: `hello` (holdings), `fetch` (our
//! requests and their answers), `serve` (peers' requests), `planner` (which
//! ranges to ask whom, which peers to connect), `timers` (deadlines).

use crate::sync::bucket::Bucket;
use crate::sync::channel::ChannelState;
use crate::sync::config::{CONNECT_TIMEOUT_MS, SyncConfig};
use crate::sync::gaps::{Offer, Survey, survey};
use crate::sync::input::{PeerId, SyncInput};
use crate::sync::intervals::Range;
use crate::sync::output::SyncOutput;
use crate::sync::peers::{Link, Peer};
use crate::sync::status::{HistoryStatus, MissingRange};
use catalk_proto::{
    ChannelHoldings, ChannelName, Fact, FactBody, FactId, MAX_PEER_MESSAGE_BYTES, PeerKind, PeerMessage, PublicKey,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Counters for tests, benchmarks and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncStats {
    /// Bytes sent in `facts` answers.
    pub served_bytes: u64,
    /// Of `served_bytes`, those sent to virtual clients.
    pub served_bytes_to_virtual: u64,
    /// Facts sent in `facts` answers.
    pub served_facts: u64,
    /// Page requests refused for the rate limit.
    pub refused_rate_limited: u64,
    /// Answers dropped because a fact was forged, of another channel or out of range.
    pub rejected_answers: u64,
    /// Stalls: a peer's request (or hello) that timed out, requests of one
    /// peer timing out together counted once.
    pub timeouts: u64,
    /// Facts received in valid answers that were new to us.
    pub fetched_facts: u64,
    /// `sums` requests answered (set reconciliation).
    pub sums_answered: u64,
}

/// A page request of ours in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Request {
    /// Asked of.
    pub peer: PeerId,
    /// The channel.
    pub channel: ChannelName,
    /// The ids asked for.
    pub range: Range,
    /// At most this many.
    pub limit: u32,
    /// Facts received so far (an answer may come in several messages).
    pub received: u32,
    /// The oldest fact received so far.
    pub oldest: Option<FactId>,
    /// When the peer counts as stalled.
    pub deadline: u64,
    /// Parts of the answer whose signatures the shell is verifying.
    pub verifying: u32,
    /// Set when the answer's last part arrived: its `more`.
    pub finished: Option<bool>,
}

/// An answer's facts out for verification (`SyncConfig::verify_outside`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PendingVerify {
    /// Who sent them.
    pub peer: PeerId,
    /// The request they answer.
    pub rid: u64,
    /// Their channel.
    pub channel: ChannelName,
}

/// A peer's page request waiting for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PendingLoad {
    /// The channel.
    pub channel: ChannelName,
    /// The ids asked for.
    pub range: Range,
    /// Tokens taken for it.
    pub limit: u32,
}

/// The sans-IO history sync state machine; see the [module docs](crate::sync).
#[derive(Debug)]
pub struct SyncEngine {
    pub(super) config: SyncConfig,
    pub(super) own_kind: PeerKind,
    pub(super) trusted: Vec<PublicKey>,
    pub(super) salt: Option<u64>,
    pub(super) now: u64,
    pub(super) channels: BTreeMap<ChannelName, ChannelState>,
    pub(super) epochs: BTreeSet<FactId>,
    pub(super) peers: BTreeMap<PeerId, Peer>,
    /// Peers whose data channel is connecting or open (a small subset of `peers`).
    pub(super) linked: BTreeSet<PeerId>,
    pub(super) requests: BTreeMap<u64, Request>,
    /// Our `sums` requests in flight.
    pub(super) probes: BTreeMap<u64, crate::sync::reconcile::Probe>,
    pub(super) next_rid: u64,
    pub(super) loads: BTreeMap<(PeerId, u64), PendingLoad>,
    /// Answers out for verification, by ticket.
    pub(super) verifying: BTreeMap<u64, PendingVerify>,
    pub(super) next_ticket: u64,
    pub(super) outputs: VecDeque<SyncOutput>,
    pub(super) stats: SyncStats,
    pub(super) need_since: Option<u64>,
}

impl SyncEngine {
    /// An engine holding nothing yet; feed it `Stored` with the local store's facts.
    /// `trusted` are the relay keys whose facts are accepted (may be empty until the welcome).
    pub fn new(config: SyncConfig, own_kind: PeerKind, trusted: Vec<PublicKey>) -> Self {
        Self {
            config,
            own_kind,
            trusted,
            salt: None,
            now: 0,
            channels: BTreeMap::new(),
            epochs: BTreeSet::new(),
            peers: BTreeMap::new(),
            linked: BTreeSet::new(),
            requests: BTreeMap::new(),
            probes: BTreeMap::new(),
            next_rid: 1,
            loads: BTreeMap::new(),
            verifying: BTreeMap::new(),
            next_ticket: 1,
            outputs: VecDeque::new(),
            stats: SyncStats::default(),
            need_since: None,
        }
    }

    /// Sets the relay keys (from the welcome) facts must be signed by. Nothing
    /// is fetched while this is empty.
    pub fn set_trusted(&mut self, trusted: Vec<PublicKey>) {
        self.trusted = trusted;
        self.settle();
    }

    /// Seeds the choice among equally good peers (random bits from the shell).
    /// Without it the first `now_ms` seen is used.
    pub fn set_seed(&mut self, seed: u64) {
        self.salt = Some(crate::sync::rng::mix64(seed));
    }

    /// Feeds one input; then drain [`SyncEngine::poll_output`].
    pub fn handle_input(&mut self, now_ms: u64, input: SyncInput) {
        self.tick(now_ms);
        // Whether the input can change what is wanted or who can serve it.
        let changed = match input {
            SyncInput::Stored(facts) => self.store(&facts),
            SyncInput::PeerOnline { peer, kind } => {
                self.peer_online(peer, kind);
                true
            }
            SyncInput::PeerOffline { peer } => {
                self.peer_offline(&peer);
                true
            }
            SyncInput::Connected { peer, kind } => {
                self.connected(peer, kind);
                true
            }
            SyncInput::Disconnected { peer } => {
                self.disconnected(&peer);
                true
            }
            SyncInput::Held { channel, held } => self.hold(&channel, &held),
            SyncInput::Received { peer, text } => self.received(&peer, &text),
            SyncInput::Message { peer, message } => self.on_message(&peer, message),
            SyncInput::Forgotten { channel, before } => self.forget(&channel, before),
            SyncInput::Loaded { peer, rid, facts, more } => {
                self.loaded(&peer, rid, facts, more);
                false
            }
            SyncInput::LoadFailed { peer, rid } => {
                self.load_failed(&peer, rid);
                false
            }
            SyncInput::Verified { ticket, facts, valid } => self.on_verified(ticket, facts, valid),
        };
        if self.expire() || changed {
            self.plan();
            self.report();
        }
    }

    /// The next thing the shell must do, until `None`.
    pub fn poll_output(&mut self) -> Option<SyncOutput> {
        self.outputs.pop_front()
    }

    /// When [`SyncEngine::handle_timeout`] should next be called (ms, the shell's clock).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.next_deadline()
    }

    /// Time passed: stalled requests, idle connections, retries.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.tick(now_ms);
        self.settle();
    }

    /// A channel's history status now.
    pub fn status(&self, channel: &ChannelName) -> HistoryStatus {
        self.channels.get(channel).map_or(HistoryStatus::Unknown, |state| self.channel_status(channel, state))
    }

    /// Whether the message `id` of `channel` is indexed (held, or being stored).
    pub fn holds(&self, channel: &ChannelName, id: &FactId) -> bool {
        self.channels.get(channel).is_some_and(|state| state.index.holds(id))
    }

    /// Bytes this engine sent in `facts` answers.
    pub fn served_bytes(&self) -> u64 {
        self.stats.served_bytes
    }

    /// Counters.
    pub fn stats(&self) -> SyncStats {
        self.stats
    }

    /// What we hold per channel, as advertised in our hello.
    pub fn holdings(&self) -> Vec<ChannelHoldings> {
        self.channels
            .iter()
            .map(|(channel, state)| ChannelHoldings {
                channel: channel.clone(),
                count: state.index.count(),
                oldest: state.index.oldest(),
                newest: state.index.newest(),
                fp: state.index.fingerprint(),
                complete: survey(state, &self.epochs, &[]).complete,
            })
            .collect()
    }

    fn tick(&mut self, now: u64) {
        self.now = self.now.max(now);
        if self.config.window_ms.is_some() {
            let floor = self.floor();
            for state in self.channels.values_mut() {
                state.floor = floor;
            }
        }
        if self.salt.is_none() {
            self.salt = Some(crate::sync::rng::mix64(now));
        }
    }

    /// Deadlines, then planning, then status changes.
    fn settle(&mut self) {
        self.expire();
        self.forget_gone();
        self.plan();
        self.report();
    }

    /// Indexes stored facts; `true` when anything was new.
    fn store(&mut self, facts: &[Fact]) -> bool {
        let mut touched = BTreeSet::new();
        let mut new = false;
        for fact in facts {
            match &fact.body {
                FactBody::Message { channel, prev, epoch, .. } => {
                    let link = crate::sync::index::Link { prev: *prev, epoch: *epoch };
                    if let Some(state) = self.channels.get_mut(channel) {
                        if state.index.insert(fact.id, link) {
                            new = true;
                            touched.insert(channel.clone());
                        }
                    } else {
                        let mut state = ChannelState::default();
                        state.floor = self.floor();
                        state.index.insert(fact.id, link);
                        self.channels.insert(channel.clone(), state);
                        new = true;
                    }
                }
                FactBody::Channel { name, .. } => {
                    let floor = self.floor();
                    let state = self.channels.entry(name.clone()).or_insert_with(|| {
                        let mut state = ChannelState::default();
                        state.floor = floor;
                        state
                    });
                    new |= state.index.add_channel_fact(fact.id);
                }
                FactBody::Epoch {} => {
                    new |= self.epochs.insert(fact.id);
                }
                _ => {}
            }
        }
        for channel in touched {
            if let Some(state) = self.channels.get_mut(&channel) {
                state.prune();
            }
        }
        new
    }

    /// Indexes held messages of `channel` read from the store; `true` when any was new.
    fn hold(&mut self, channel: &ChannelName, held: &[crate::HeldMessage]) -> bool {
        let floor = self.floor();
        let state = self.channels.entry(channel.clone()).or_insert_with(|| {
            let mut state = ChannelState::default();
            state.floor = floor;
            state
        });
        let mut new = false;
        for message in held {
            new |=
                state.index.insert(message.id, crate::sync::index::Link { prev: message.prev, epoch: message.epoch });
        }
        if new {
            state.prune();
        }
        new
    }

    /// The oldest id still wanted under the configured window.
    fn floor(&self) -> Option<FactId> {
        self.config.window_ms.map(|window| FactId::from_parts(self.now.saturating_sub(window), 0))
    }

    /// Drops held messages of `channel` older than `before` from the index (the store pruned them).
    fn forget(&mut self, channel: &ChannelName, before: FactId) -> bool {
        let Some(state) = self.channels.get_mut(channel) else { return false };
        let forgotten = state.index.forget_before(before);
        if forgotten > 0 {
            state.prune();
        }
        forgotten > 0
    }

    fn bucket(&self) -> Bucket {
        Bucket::new(self.config.serve_facts_per_second, self.config.serve_burst, self.now)
    }

    fn peer_online(&mut self, id: PeerId, kind: PeerKind) {
        let bucket = self.bucket();
        let peer = self.peers.entry(id).or_insert_with(|| Peer::new(kind, bucket));
        peer.online = true;
        peer.kind = kind;
    }

    fn peer_offline(&mut self, id: &str) {
        if let Some(peer) = self.peers.get_mut(id) {
            peer.online = false;
            if peer.link != Link::Closed {
                self.outputs.push_back(SyncOutput::Disconnect { peer: id.to_owned() });
            }
        }
        self.drop_link(id);
        self.forget_if_gone(id);
    }

    fn connected(&mut self, id: PeerId, kind: PeerKind) {
        let bucket = self.bucket();
        let now = self.now;
        let inbound_links = self.linked_peers().filter(|(_, p)| p.inbound && p.is_open()).count();
        let peer = self.peers.entry(id.clone()).or_insert_with(|| Peer::new(kind, bucket));
        peer.online = true;
        peer.kind = kind;
        if peer.is_open() {
            return;
        }
        peer.inbound = peer.link == Link::Closed;
        if peer.inbound && inbound_links >= self.config.max_inbound_links {
            self.outputs.push_back(SyncOutput::Disconnect { peer: id });
            return;
        }
        peer.link = Link::Open { since: now, hello: None };
        peer.last_activity = now;
        peer.useless_since = None;
        self.linked.insert(id.clone());
        self.send_hello(&id);
    }

    fn disconnected(&mut self, id: &str) {
        let now = self.now;
        if let Some(peer) = self.peers.get_mut(id) {
            // A channel that failed to open (or never said hello) is not retried
            // soon; one that worked may be reopened after a pause.
            let worked = peer.hello().is_some();
            let pause = if worked { CONNECT_TIMEOUT_MS } else { self.config.penalty_ms };
            if peer.link != Link::Closed {
                peer.tried_until = peer.tried_until.max(now + pause);
            }
        }
        self.drop_link(id);
        self.forget_if_gone(id);
    }

    /// Closes our side of a link: its requests (if any) will be retried elsewhere.
    pub(super) fn drop_link(&mut self, id: &str) {
        self.linked.remove(id);
        if let Some(peer) = self.peers.get_mut(id) {
            peer.link = Link::Closed;
            peer.useless_since = None;
            for rid in std::mem::take(&mut peer.outstanding) {
                self.requests.remove(&rid);
            }
            for rid in std::mem::take(&mut peer.probing) {
                self.probes.remove(&rid);
            }
        }
        // Loads for it are answered to no one.
        let theirs: Vec<(PeerId, u64)> =
            self.loads.range((id.to_owned(), 0)..=(id.to_owned(), u64::MAX)).map(|(key, _)| key.clone()).collect();
        for key in theirs {
            if let Some(load) = self.loads.remove(&key)
                && let Some(peer) = self.peers.get_mut(id)
            {
                peer.bucket.refund(load.limit);
            }
        }
    }

    /// Forgets an offline, closed peer unless its penalty still runs.
    pub(super) fn forget_if_gone(&mut self, id: &str) {
        let now = self.now;
        if self.peers.get(id).is_some_and(|p| !p.online && p.link == Link::Closed && !p.penalised(now)) {
            self.peers.remove(id);
            for state in self.channels.values_mut() {
                state.forget_peer(id, false);
            }
        }
    }

    /// Handles a peer message's text; `true` when it can change what we want or ask.
    fn received(&mut self, id: &str, text: &str) -> bool {
        if text.len() > MAX_PEER_MESSAGE_BYTES {
            return false;
        }
        let Ok(message) = serde_json::from_str::<PeerMessage>(text) else { return false };
        self.on_message(id, message)
    }

    /// Handles a peer message; `true` when it can change what we want or ask.
    fn on_message(&mut self, id: &str, message: PeerMessage) -> bool {
        if !self.peers.get(id).is_some_and(Peer::is_open) {
            return false;
        }
        match message {
            PeerMessage::Hello { channels, .. } => self.on_hello(id, channels),
            PeerMessage::Page { rid, channel, before, after, limit } => {
                self.on_page(id, rid, channel, Range::new(after, before), limit);
                return false;
            }
            PeerMessage::Facts { rid, facts, more } => self.on_facts(id, rid, facts, more),
            PeerMessage::Sums { rid, channel, after, before } => {
                self.on_sums(id, rid, &channel, Range::new(after, before));
                return false;
            }
            PeerMessage::Parts { rid, parts } => self.on_parts(id, rid, &parts),
            PeerMessage::Refused { rid, code } => self.on_refused(id, rid, code),
            PeerMessage::Authors { facts } => {
                self.outputs.push_back(SyncOutput::Authors { peer: id.to_owned(), facts });
                return false;
            }
            _ => return false,
        }
        true
    }

    /// Peers with a data channel connecting or open.
    pub(super) fn linked_peers(&self) -> impl Iterator<Item = (&PeerId, &Peer)> + '_ {
        self.linked.iter().filter_map(|id| self.peers.get_key_value(id))
    }

    /// Open, hello'd, unpenalised peers' holdings for `channel`.
    pub(super) fn offers<'a>(&'a self, channel: &ChannelName) -> Vec<Offer<'a>> {
        self.linked_peers()
            .filter(|(_, peer)| !peer.penalised(self.now))
            .filter_map(|(id, peer)| {
                let holdings = peer.hello()?.get(channel)?;
                Some(Offer { peer: id.as_str(), holdings })
            })
            .collect()
    }

    /// A channel's status now.
    pub(super) fn channel_status(&self, name: &ChannelName, state: &ChannelState) -> HistoryStatus {
        self.status_of(name, state, &survey(state, &self.epochs, &self.offers(name)))
    }

    /// A channel's status from its survey and what is in flight.
    fn status_of(&self, name: &ChannelName, state: &ChannelState, survey: &Survey<'_>) -> HistoryStatus {
        let missing: Vec<MissingRange> = survey
            .missing()
            .into_iter()
            .map(|range| MissingRange { after: range.after, before: range.before })
            .collect();
        if missing.is_empty() {
            return if state.index.count() == 0 { HistoryStatus::Unknown } else { HistoryStatus::Complete };
        }
        let fetching = self.requests.values().any(|r| &r.channel == name)
            || survey.wants.iter().any(|w| w.missing && !w.candidates.is_empty())
            || (self.need_since.is_some()
                && self.linked_peers().any(|(_, p)| matches!(p.link, Link::Connecting { .. })));
        if fetching { HistoryStatus::Filling { missing } } else { HistoryStatus::Missing { missing } }
    }

    /// Emits a `Status` for every channel whose status changed, and says
    /// hello again to open peers when a channel became complete.
    fn report(&mut self) {
        let mut changes = Vec::new();
        let mut completed = false;
        for (name, state) in &self.channels {
            let survey = survey(state, &self.epochs, &self.offers(name));
            let status = self.status_of(name, state, &survey);
            if state.reported.as_ref() != Some(&status) || survey.complete != state.advertised_complete {
                completed |= survey.complete && !state.advertised_complete;
                changes.push((name.clone(), status, survey.complete));
            }
        }
        for (name, status, complete) in changes {
            if let Some(state) = self.channels.get_mut(&name) {
                state.advertised_complete = complete;
                if state.reported.as_ref() != Some(&status) {
                    state.reported = Some(status.clone());
                    self.outputs.push_back(SyncOutput::Status { channel: name, status });
                }
            }
        }
        if completed {
            let open: Vec<PeerId> =
                self.linked_peers().filter(|(_, p)| p.is_open()).map(|(id, _)| id.clone()).collect();
            for id in open {
                self.send_hello(&id);
            }
        }
    }

    /// Queues a peer message.
    pub(super) fn send(&mut self, peer: &str, message: &PeerMessage) {
        if let Ok(text) = serde_json::to_string(message) {
            self.outputs.push_back(SyncOutput::Send { peer: peer.to_owned(), text });
        }
    }
}
