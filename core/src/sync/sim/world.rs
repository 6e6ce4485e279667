//! The simulated world: a virtual clock, an event queue, presence, data
//! channels with per-link latency (ordered, like WebRTC data channels) and
//! message loss, churn, and each peer's shell around its engine.

use crate::sync::rng::SplitMix64;
use crate::sync::sim::SimParams;
use crate::sync::sim::history::{History, forge};
use crate::sync::sim::node::{Node, Role, parse_peer, peer_id};
use crate::sync::{HistoryStatus, SyncEngine, SyncInput, SyncOutput};
use catalk_proto::{Fact, FactId};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// Something due at a time.
#[derive(Debug)]
enum Event {
    /// Feed an input to a node's engine.
    Input { node: usize, input: SyncInput },
    /// A node's engine timer.
    Timer { node: usize, generation: u64 },
    /// A data channel `from` asked for reaches its far end.
    Open { from: usize, from_conn: u32, to: usize, to_conn: u32 },
    /// A peer message arrives, if its link still stands.
    Deliver { from: usize, to: usize, link: u64, text: String },
    /// A node comes online.
    Join { node: usize },
    /// A node goes offline.
    Leave { node: usize },
}

/// An open data channel.
#[derive(Debug, Clone, Copy)]
struct Link {
    /// Its identity; messages sent on an earlier link are not delivered.
    generation: u64,
    /// One-way latency, fixed per link so messages stay ordered.
    latency: u64,
}

/// Counters the report is made of.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    pub bytes_moved: u64,
    pub peer_messages: u64,
    pub lost_messages: u64,
    pub connects: u64,
    pub forged_persisted: u64,
    pub events: u64,
    pub churned: usize,
}

/// The simulation state.
pub(crate) struct World<'h> {
    params: SimParams,
    history: &'h History,
    forged: &'h [Fact],
    rng: SplitMix64,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    slots: Vec<Option<Event>>,
    free: Vec<usize>,
    pub nodes: Vec<Node>,
    links: BTreeMap<(usize, usize), Link>,
    /// Per node, the nodes it has a link with.
    neighbours: Vec<BTreeSet<usize>>,
    next_link: u64,
    online: Vec<usize>,
    incomplete: usize,
    pub tally: Tally,
}

fn key(a: usize, b: usize) -> (usize, usize) {
    if a < b { (a, b) } else { (b, a) }
}

impl<'h> World<'h> {
    /// A world with every node created and scheduled to join.
    pub fn new(params: SimParams, history: &'h History, forged: &'h [Fact], roles: &[Role]) -> Self {
        let mut rng = SplitMix64::new(params.seed);
        let total = history.messages.len();
        let trusted = vec![crate::sync::sim::history::relay_public()];
        let mut nodes = Vec::with_capacity(roles.len());
        for role in roles {
            let mut engine = SyncEngine::new(params.config, role.kind(), trusted.clone());
            engine.set_seed(rng.next_u64());
            nodes.push(Node::new(*role, engine, total, *role != Role::Joiner));
        }
        let mut world = Self {
            params,
            history,
            forged,
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            nodes,
            links: BTreeMap::new(),
            neighbours: vec![BTreeSet::new(); roles.len()],
            next_link: 1,
            online: Vec::new(),
            incomplete: roles.iter().filter(|r| **r == Role::Joiner).count(),
            tally: Tally::default(),
        };
        let all = history.all();
        for n in 0..world.nodes.len() {
            let facts = if world.nodes[n].role == Role::Joiner { history.preamble() } else { all.clone() };
            world.schedule(0, Event::Input { node: n, input: SyncInput::Stored(facts) });
            let at = if world.nodes[n].role == Role::Joiner { world.rng.below(params.join_spread_ms + 1) } else { 0 };
            world.schedule(at, Event::Join { node: n });
        }
        world
    }

    fn schedule(&mut self, at: u64, event: Event) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                self.slots.len() - 1
            }
        };
        self.queue.push(Reverse((at, self.seq, slot)));
        self.seq += 1;
    }

    /// The virtual time now.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Runs events until every joiner is complete or time runs out.
    pub fn run(&mut self) {
        while let Some(Reverse((at, _, slot))) = self.queue.pop() {
            if at > self.params.max_time_ms {
                break;
            }
            self.now = at;
            let Some(event) = self.slots[slot].take() else { continue };
            self.free.push(slot);
            self.tally.events += 1;
            self.handle(event);
            if self.incomplete == 0 {
                break;
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Input { node, input } => self.feed(node, input),
            Event::Timer { node, generation } => {
                if self.nodes[node].timer_gen == generation {
                    self.nodes[node].timer = None;
                    let now = self.now;
                    self.nodes[node].engine.handle_timeout(now);
                    self.drain(node);
                }
            }
            Event::Open { from, from_conn, to, to_conn } => self.open(from, from_conn, to, to_conn),
            Event::Deliver { from, to, link, text } => {
                let current = self.links.get(&key(from, to)).map(|l| l.generation);
                if current == Some(link) {
                    let peer = peer_id(from, self.nodes[from].conn);
                    self.feed(to, SyncInput::Received { peer, text });
                }
            }
            Event::Join { node } => self.join(node),
            Event::Leave { node } => self.leave(node),
        }
    }

    fn feed(&mut self, node: usize, input: SyncInput) {
        let now = self.now;
        self.nodes[node].engine.handle_input(now, input);
        self.drain(node);
    }

    fn latency(&mut self) -> u64 {
        let (lo, hi) = self.params.latency_ms;
        lo + self.rng.below(hi.saturating_sub(lo) + 1)
    }

    /// Carries out a node's outputs, then reschedules its timer.
    fn drain(&mut self, n: usize) {
        while let Some(output) = self.nodes[n].engine.poll_output() {
            match output {
                SyncOutput::Connect { peer } => self.connect(n, &peer),
                SyncOutput::Disconnect { peer } => self.disconnect(n, &peer),
                SyncOutput::Send { peer, text } => self.send(n, &peer, text),
                SyncOutput::Persist(facts) => self.persist(n, facts),
                SyncOutput::Load { peer, rid, before, after, limit, .. } => {
                    let (facts, more) = self.load(n, before, after, limit);
                    let at = self.now + 1;
                    self.schedule(at, Event::Input { node: n, input: SyncInput::Loaded { peer, rid, facts, more } });
                }
                SyncOutput::Verify { ticket, facts, trusted } => {
                    // As a worker thread would: answered a moment later.
                    let valid = catalk_proto::verify_facts(&facts, |key| trusted.contains(key)).is_ok();
                    let at = self.now + 1;
                    self.schedule(at, Event::Input { node: n, input: SyncInput::Verified { ticket, facts, valid } });
                }
                SyncOutput::Status { status, .. } => self.status(n, &status),
                // People's cards are the client driver's; engines alone never send them.
                SyncOutput::Authors { .. } => {}
            }
        }
        let next = self.nodes[n].engine.poll_timeout();
        if next != self.nodes[n].timer
            && let Some(at) = next
        {
            let node = &mut self.nodes[n];
            node.timer = Some(at);
            node.timer_gen += 1;
            let generation = node.timer_gen;
            self.schedule(at, Event::Timer { node: n, generation });
        }
    }

    fn connect(&mut self, from: usize, peer: &str) {
        let Some((to, to_conn)) = parse_peer(peer) else { return };
        self.tally.connects += 1;
        let (lo, hi) = self.params.connect_ms;
        let at = self.now + lo + self.rng.below(hi.saturating_sub(lo) + 1);
        let from_conn = self.nodes[from].conn;
        self.schedule(at, Event::Open { from, from_conn, to, to_conn });
    }

    fn open(&mut self, from: usize, from_conn: u32, to: usize, to_conn: u32) {
        let alive = |n: &Node, conn: u32| n.online && n.conn == conn;
        let to_id = peer_id(to, to_conn);
        if !alive(&self.nodes[from], from_conn) {
            return;
        }
        if !alive(&self.nodes[to], to_conn) {
            self.feed(from, SyncInput::Disconnected { peer: to_id });
            return;
        }
        let (from_kind, to_kind) = (self.nodes[from].role.kind(), self.nodes[to].role.kind());
        let from_id = peer_id(from, from_conn);
        if !self.links.contains_key(&key(from, to)) {
            let latency = self.latency();
            self.links.insert(key(from, to), Link { generation: self.next_link, latency });
            self.neighbours[from].insert(to);
            self.neighbours[to].insert(from);
            self.next_link += 1;
            self.feed(to, SyncInput::Connected { peer: from_id, kind: from_kind });
        }
        self.feed(from, SyncInput::Connected { peer: to_id, kind: to_kind });
    }

    fn disconnect(&mut self, from: usize, peer: &str) {
        let Some((to, to_conn)) = parse_peer(peer) else { return };
        if self.nodes[to].conn != to_conn {
            return;
        }
        if let Some(link) = self.unlink(from, to) {
            let at = self.now + link.latency;
            let peer = peer_id(from, self.nodes[from].conn);
            self.schedule(at, Event::Input { node: to, input: SyncInput::Disconnected { peer } });
        }
    }

    fn unlink(&mut self, a: usize, b: usize) -> Option<Link> {
        self.neighbours[a].remove(&b);
        self.neighbours[b].remove(&a);
        self.links.remove(&key(a, b))
    }

    fn send(&mut self, from: usize, peer: &str, text: String) {
        let Some((to, _)) = parse_peer(peer) else { return };
        self.tally.peer_messages += 1;
        self.tally.bytes_moved += text.len() as u64;
        let Some(link) = self.links.get(&key(from, to)).copied() else { return };
        if self.rng.chance(self.params.loss) {
            self.tally.lost_messages += 1;
            return;
        }
        let at = self.now + link.latency;
        self.schedule(at, Event::Deliver { from, to, link: link.generation, text });
    }

    fn index_of(&self, id: FactId) -> Option<usize> {
        self.history.messages.binary_search_by_key(&id, |m| m.id).ok()
    }

    fn persist(&mut self, n: usize, facts: Vec<Fact>) {
        for fact in &facts {
            match self.index_of(fact.id) {
                Some(i) if self.history.messages[i] == *fact => {
                    let node = &mut self.nodes[n];
                    if !node.held[i] {
                        node.held[i] = true;
                        node.held_count += 1;
                    }
                }
                _ => self.tally.forged_persisted += 1,
            }
        }
        self.schedule(self.now, Event::Input { node: n, input: SyncInput::Stored(facts) });
    }

    /// A page from the node's store, newest first (altered if the node lies).
    fn load(&self, n: usize, before: Option<FactId>, after: Option<FactId>, limit: u32) -> (Vec<Fact>, bool) {
        let messages = &self.history.messages;
        let end = before.map_or(messages.len(), |b| messages.partition_point(|m| m.id < b));
        let start = after.map_or(0, |a| messages.partition_point(|m| m.id <= a));
        let node = &self.nodes[n];
        let source = if node.role == Role::Liar { self.forged } else { messages.as_slice() };
        let mut facts = Vec::new();
        let mut more = false;
        for i in (start..end.max(start)).rev() {
            if node.held[i] {
                if facts.len() == limit as usize {
                    more = true;
                    break;
                }
                facts.push(source[i].clone());
            }
        }
        (facts, more)
    }

    fn status(&mut self, n: usize, status: &HistoryStatus) {
        let total = self.history.messages.len();
        let now = self.now;
        let node = &mut self.nodes[n];
        if node.role == Role::Joiner
            && *status == HistoryStatus::Complete
            && node.held_count == total
            && node.complete_at.is_none()
        {
            node.complete_at = Some(now);
            self.incomplete -= 1;
        }
    }

    /// Samples up to `k` online nodes other than `n`.
    fn sample_online(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut chosen = BTreeSet::new();
        let candidates = self.online.len();
        let mut tries = 0;
        while chosen.len() < k.min(candidates) && tries < 4 * k + 16 {
            tries += 1;
            let pick = self.online[self.rng.below(candidates as u64) as usize];
            if pick != n && self.nodes[pick].role != Role::Virtual {
                chosen.insert(pick);
            }
        }
        chosen.into_iter().collect()
    }

    fn introduce(&mut self, a: usize, b: usize) {
        let (ida, idb) = (peer_id(a, self.nodes[a].conn), peer_id(b, self.nodes[b].conn));
        let (ka, kb) = (self.nodes[a].role.kind(), self.nodes[b].role.kind());
        self.nodes[a].knows.push(b);
        self.nodes[b].known_by.push(a);
        self.schedule(self.now, Event::Input { node: a, input: SyncInput::PeerOnline { peer: idb, kind: kb } });
        self.nodes[b].knows.push(a);
        self.nodes[a].known_by.push(b);
        self.schedule(self.now, Event::Input { node: b, input: SyncInput::PeerOnline { peer: ida, kind: ka } });
    }

    fn join(&mut self, n: usize) {
        let node = &mut self.nodes[n];
        node.online = true;
        node.joined_at = self.now;
        let sample = self.sample_online(n, self.params.presence_sample);
        let keepers: Vec<usize> =
            self.online.iter().copied().filter(|v| self.nodes[*v].role == Role::Virtual).collect();
        self.online.push(n);
        for other in sample.into_iter().chain(keepers) {
            if other != n {
                self.introduce(n, other);
            }
        }
        let churns = self.nodes[n].role != Role::Virtual
            && !self.nodes[n].churned
            && self.nodes[n].role != Role::Liar
            && self.rng.chance(self.params.churn);
        if churns {
            self.nodes[n].churned = true;
            self.tally.churned += 1;
            let (lo, hi) = self.params.online_before_churn_ms;
            let at = self.now + lo + self.rng.below(hi.saturating_sub(lo) + 1);
            self.schedule(at, Event::Leave { node: n });
        }
    }

    fn leave(&mut self, n: usize) {
        let me = peer_id(n, self.nodes[n].conn);
        self.nodes[n].online = false;
        self.online.retain(|o| *o != n);
        let linked: Vec<usize> = self.neighbours[n].iter().copied().collect();
        for other in linked {
            self.unlink(n, other);
            let their = peer_id(other, self.nodes[other].conn);
            self.feed(other, SyncInput::Disconnected { peer: me.clone() });
            self.feed(n, SyncInput::Disconnected { peer: their });
        }
        for other in std::mem::take(&mut self.nodes[n].known_by) {
            self.nodes[other].knows.retain(|k| *k != n);
            self.feed(other, SyncInput::PeerOffline { peer: me.clone() });
        }
        for other in std::mem::take(&mut self.nodes[n].knows) {
            self.nodes[other].known_by.retain(|k| *k != n);
            let their = peer_id(other, self.nodes[other].conn);
            self.feed(n, SyncInput::PeerOffline { peer: their });
        }
        self.nodes[n].conn += 1;
        let (lo, hi) = self.params.offline_ms;
        let at = self.now + lo + self.rng.below(hi.saturating_sub(lo) + 1);
        self.schedule(at, Event::Join { node: n });
    }

    /// JSON size of every history message (what a joiner lacks at start).
    pub fn history_bytes(&self) -> u64 {
        self.history.messages.iter().map(|m| serde_json::to_string(m).map_or(0, |s| s.len() as u64)).sum()
    }
}

/// Altered copies of every message, made once.
pub(crate) fn forge_all(history: &History) -> Vec<Fact> {
    history.messages.iter().map(forge).collect()
}
