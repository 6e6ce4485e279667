//! Behaviour of the engine with a few peers on a synchronous test network:
//! every output is carried out at once (connects open, sends arrive, loads
//! and persists hit an in-memory store), in order, unless a test interferes.

use super::sim::history::{History, forge, relay_public};
use super::*;
use catalk_proto::{ChannelName, Fact, FactBody, FactId, PeerKind, PeerMessage};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How a node's shell misbehaves when serving.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Serving {
    Honest,
    /// Serves altered texts.
    Forged,
    /// Leaves these message ids out of its answers.
    Withholding(BTreeSet<FactId>),
    /// Never answers pages.
    Silent,
    /// Serves one fact from outside the asked range.
    OutOfRange,
    /// Claims one id more than it holds in the first part of each `parts` answer.
    Miscounted,
}

struct Node {
    engine: SyncEngine,
    store: BTreeMap<FactId, Fact>,
    serving: Serving,
    persisted: Vec<Fact>,
    statuses: Vec<HistoryStatus>,
}

#[derive(Default)]
struct Net {
    nodes: BTreeMap<String, Node>,
    now: u64,
    queue: VecDeque<(String, SyncInput)>,
    /// Every peer message sent: (from, to, message).
    sent: Vec<(String, String, PeerMessage)>,
    /// Messages from these senders are dropped once they sent this many.
    budget: BTreeMap<String, usize>,
    /// Open data channels, as unordered pairs.
    links: BTreeSet<(String, String)>,
    /// When set, `Verify` outputs wait here for [`Net::verify_held`] instead of
    /// being answered at once: (node, ticket, facts, valid).
    hold_verifications: bool,
    /// When set, peer messages arrive already decoded (`SyncInput::Message`), as the relay carries them.
    decoded: bool,
    held: Vec<(String, u64, Vec<Fact>, bool)>,
}

fn pair(a: &str, b: &str) -> (String, String) {
    if a < b { (a.to_owned(), b.to_owned()) } else { (b.to_owned(), a.to_owned()) }
}

impl Net {
    fn add(&mut self, name: &str, kind: PeerKind, facts: Vec<Fact>, config: SyncConfig) {
        let mut engine = SyncEngine::new(config, kind, vec![relay_public()]);
        engine.set_seed(name.len() as u64);
        let store: BTreeMap<FactId, Fact> = facts.iter().map(|f| (f.id, f.clone())).collect();
        let node = Node { engine, store, serving: Serving::Honest, persisted: Vec::new(), statuses: Vec::new() };
        self.nodes.insert(name.to_owned(), node);
        self.input(name, SyncInput::Stored(facts));
    }

    /// Sets how `name`'s shell serves.
    fn serve(&mut self, name: &str, serving: Serving) {
        if let Some(node) = self.nodes.get_mut(name) {
            node.serving = serving;
        }
    }

    fn input(&mut self, to: &str, input: SyncInput) {
        self.queue.push_back((to.to_owned(), input));
        self.run();
    }

    fn kind(&self, name: &str) -> PeerKind {
        self.nodes.get(name).map_or(PeerKind::Browser, |n| n.engine.own_kind)
    }

    /// `who` learns that `peer` is online.
    fn sees(&mut self, who: &str, peer: &str) {
        let kind = self.kind(peer);
        self.input(who, SyncInput::PeerOnline { peer: peer.into(), kind });
    }

    /// Opens a data channel between `a` and `b` (as if `a` connected).
    fn link(&mut self, a: &str, b: &str) {
        self.links.insert(pair(a, b));
        let (ka, kb) = (self.kind(a), self.kind(b));
        self.queue.push_back((b.into(), SyncInput::Connected { peer: a.into(), kind: ka }));
        self.queue.push_back((a.into(), SyncInput::Connected { peer: b.into(), kind: kb }));
        self.run();
    }

    /// `name` goes offline: its links close and everyone who knew it hears so.
    fn leave(&mut self, name: &str) {
        let others: Vec<String> = self.nodes.keys().filter(|n| *n != name).cloned().collect();
        for other in others {
            self.links.remove(&pair(name, &other));
            self.queue.push_back((other, SyncInput::PeerOffline { peer: name.into() }));
        }
        self.run();
    }

    fn run(&mut self) {
        while let Some((to, input)) = self.queue.pop_front() {
            let now = self.now;
            let Some(node) = self.nodes.get_mut(&to) else { continue };
            node.engine.handle_input(now, input);
            self.drain(&to);
        }
    }

    fn drain(&mut self, name: &str) {
        loop {
            let Some(node) = self.nodes.get_mut(name) else { return };
            let Some(output) = node.engine.poll_output() else { return };
            match output {
                SyncOutput::Connect { peer } => {
                    if self.nodes.contains_key(&peer) {
                        self.links.insert(pair(name, &peer));
                        let (kn, kp) = (self.kind(name), self.kind(&peer));
                        self.queue.push_back((peer.clone(), SyncInput::Connected { peer: name.into(), kind: kn }));
                        self.queue.push_back((name.into(), SyncInput::Connected { peer, kind: kp }));
                    } else {
                        self.queue.push_back((name.into(), SyncInput::Disconnected { peer }));
                    }
                }
                SyncOutput::Disconnect { peer } => {
                    if self.links.remove(&pair(name, &peer)) {
                        self.queue.push_back((peer, SyncInput::Disconnected { peer: name.into() }));
                    }
                }
                SyncOutput::Send { peer, text } => {
                    assert!(text.len() < catalk_proto::MAX_PEER_MESSAGE_BYTES);
                    let message: PeerMessage = serde_json::from_str(&text).expect("peer message");
                    let (message, text) = tamper(node, message, text);
                    self.sent.push((name.into(), peer.clone(), message));
                    let allowed = self.budget.get_mut(name).is_none_or(|left| {
                        let ok = *left > 0;
                        *left = left.saturating_sub(1);
                        ok
                    });
                    if allowed && self.links.contains(&pair(name, &peer)) {
                        let input = if self.decoded {
                            SyncInput::Message {
                                peer: name.into(),
                                message: serde_json::from_str(&text).expect("json"),
                            }
                        } else {
                            SyncInput::Received { peer: name.into(), text }
                        };
                        self.queue.push_back((peer, input));
                    }
                }
                SyncOutput::Persist(facts) => {
                    node.persisted.extend(facts.iter().cloned());
                    node.store.extend(facts.iter().map(|f| (f.id, f.clone())));
                    self.queue.push_back((name.into(), SyncInput::Stored(facts)));
                }
                SyncOutput::Load { peer, rid, channel, before, after, limit } => {
                    if node.serving == Serving::Silent {
                        continue;
                    }
                    let (facts, more) = load(node, &channel, before, after, limit);
                    self.queue.push_back((name.into(), SyncInput::Loaded { peer, rid, facts, more }));
                }
                SyncOutput::Verify { ticket, facts, trusted } => {
                    let valid = catalk_proto::verify_facts(&facts, |key| trusted.contains(key)).is_ok();
                    if self.hold_verifications {
                        self.held.push((name.into(), ticket, facts, valid));
                    } else {
                        self.queue.push_back((name.into(), SyncInput::Verified { ticket, facts, valid }));
                    }
                }
                SyncOutput::Status { status, .. } => node.statuses.push(status),
                // People's cards are the client driver's; engines alone never send them.
                SyncOutput::Authors { .. } => {}
            }
        }
    }

    /// Moves the clock and fires due timers.
    fn advance(&mut self, ms: u64) {
        let end = self.now + ms;
        loop {
            let next = self.nodes.values().filter_map(|n| n.engine.poll_timeout()).filter(|t| *t <= end).min();
            let Some(at) = next else { break };
            self.now = at;
            let due: Vec<String> = self
                .nodes
                .iter()
                .filter(|(_, n)| n.engine.poll_timeout().is_some_and(|t| t <= at))
                .map(|(k, _)| k.clone())
                .collect();
            for name in due {
                if let Some(node) = self.nodes.get_mut(&name) {
                    node.engine.handle_timeout(at);
                }
                self.drain(&name);
                self.run();
            }
        }
        self.now = end;
    }

    /// Answers the held verifications, latest first, until none is held.
    fn verify_held_in_reverse(&mut self) {
        while let Some((node, ticket, facts, valid)) = self.held.pop() {
            self.input(&node, SyncInput::Verified { ticket, facts, valid });
        }
    }

    fn node(&self, name: &str) -> &Node {
        &self.nodes[name]
    }

    fn status(&self, name: &str) -> HistoryStatus {
        self.node(name).engine.status(&ChannelName::general())
    }

    fn holds_all(&self, name: &str, history: &History) -> bool {
        history.messages.iter().all(|m| self.node(name).store.get(&m.id) == Some(m))
    }

    fn pages_to(&self, to: &str) -> usize {
        self.sent.iter().filter(|(_, t, m)| t == to && matches!(m, PeerMessage::Page { .. })).count()
    }

    fn disconnects(&self, name: &str) -> bool {
        !self.links.iter().any(|(a, b)| a == name || b == name)
    }
}

fn load(
    node: &Node,
    channel: &ChannelName,
    before: Option<FactId>,
    after: Option<FactId>,
    limit: u32,
) -> (Vec<Fact>, bool) {
    let mut facts: Vec<Fact> = node
        .store
        .values()
        .rev()
        .filter(|f| matches!(&f.body, FactBody::Message { channel: c, .. } if c == channel))
        .filter(|f| before.is_none_or(|b| f.id < b) && after.is_none_or(|a| f.id > a))
        .filter(|f| !matches!(&node.serving, Serving::Withholding(ids) if ids.contains(&f.id)))
        .take(limit as usize + 1)
        .cloned()
        .collect();
    let more = facts.len() > limit as usize;
    facts.truncate(limit as usize);
    (facts, more)
}

/// A lying peer's shell (or modified client) changes its answers on the way out.
fn tamper(node: &Node, message: PeerMessage, text: String) -> (PeerMessage, String) {
    if let (PeerMessage::Parts { rid, mut parts }, Serving::Miscounted) = (message.clone(), &node.serving) {
        if let Some(first) = parts.first_mut() {
            first.count += 1;
        }
        let message = PeerMessage::Parts { rid, parts };
        let text = serde_json::to_string(&message).unwrap_or_default();
        return (message, text);
    }
    let PeerMessage::Facts { rid, mut facts, more } = message else { return (message, text) };
    match &node.serving {
        Serving::Forged => facts = facts.iter().map(forge).collect(),
        Serving::OutOfRange => {
            let newest = node.store.values().next_back().cloned();
            if let (Some(first), Some(outside)) = (facts.first_mut(), newest) {
                *first = outside;
            }
        }
        _ => {}
    }
    let message = PeerMessage::Facts { rid, facts, more };
    let text = serde_json::to_string(&message).unwrap_or_default();
    (message, text)
}

fn config() -> SyncConfig {
    SyncConfig::default()
}

fn history() -> History {
    History::new("general", 250, Some(120))
}

fn forged_persisted(net: &Net, history: &History) -> usize {
    let genuine: BTreeMap<FactId, &Fact> = history.messages.iter().map(|m| (m.id, m)).collect();
    net.nodes.values().flat_map(|n| n.persisted.iter()).filter(|f| genuine.get(&f.id) != Some(f)).count()
}

#[test]
fn two_peers_already_in_sync_exchange_only_their_hellos() {
    let h = history();
    let mut net = Net::default();
    net.add("a", PeerKind::Browser, h.all(), config());
    net.add("b", PeerKind::Browser, h.all(), config());
    net.link("a", "b");
    net.advance(1_000);
    let kinds: Vec<&PeerMessage> = net.sent.iter().map(|(_, _, m)| m).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.iter().all(|m| matches!(m, PeerMessage::Hello { .. })));
    assert_eq!((net.status("a"), net.status("b")), (HistoryStatus::Complete, HistoryStatus::Complete));
}

#[test]
fn a_late_joiner_fills_everything_and_reports_unknown_filling_complete() {
    let h = history();
    let mut net = Net::default();
    net.add("seed", PeerKind::Browser, h.all(), config());
    net.add("late", PeerKind::Browser, h.preamble(), config());
    assert_eq!(net.status("late"), HistoryStatus::Unknown);
    net.sees("late", "seed");
    assert!(net.holds_all("late", &h));
    assert_eq!(net.node("late").persisted.len(), h.messages.len());
    let statuses = &net.node("late").statuses;
    assert_eq!(statuses.first(), Some(&HistoryStatus::Unknown));
    assert!(statuses.iter().any(|s| matches!(s, HistoryStatus::Filling { .. })));
    assert_eq!(statuses.last(), Some(&HistoryStatus::Complete));
    // 250 messages in pages of 100, plus the check below the restart boundary is covered by them.
    assert_eq!(net.pages_to("seed"), 3);
}

#[test]
fn messages_carried_decoded_by_the_relay_fill_like_data_channel_text() {
    let h = history();
    let mut net = Net { decoded: true, ..Net::default() };
    net.add("seed", PeerKind::Browser, h.all(), config());
    net.add("late", PeerKind::Browser, h.preamble(), config());
    net.sees("late", "seed");
    assert!(net.holds_all("late", &h));
    assert_eq!(net.status("late"), HistoryStatus::Complete);
    assert_eq!(net.pages_to("seed"), 3);
}

#[test]
fn a_relay_restart_is_not_a_gap_but_a_missing_prev_is() {
    let h = history();
    let mut net = Net::default();
    let mut alone = h.preamble();
    alone.extend(h.messages.iter().cloned());
    net.add("whole", PeerKind::Browser, alone.clone(), config());
    assert_eq!(net.status("whole"), HistoryStatus::Complete);
    alone.retain(|f| f.id != h.messages[200].id);
    net.add("holed", PeerKind::Browser, alone, config());
    let hole = MissingRange { after: Some(h.messages[199].id), before: Some(h.messages[201].id) };
    assert_eq!(net.status("holed"), HistoryStatus::Missing { missing: vec![hole] });
}

#[test]
fn a_chain_start_at_the_bottom_is_filled_from_below() {
    let h = history();
    let mut net = Net::default();
    net.add("seed", PeerKind::Browser, h.all(), config());
    let mut second_run = h.preamble();
    second_run.extend(h.messages[120..].iter().cloned());
    net.add("late", PeerKind::Browser, second_run, config());
    let bottom = MissingRange { after: None, before: Some(h.messages[120].id) };
    assert_eq!(net.status("late"), HistoryStatus::Missing { missing: vec![bottom] });
    net.sees("late", "seed");
    assert!(net.holds_all("late", &h));
    assert_eq!(net.status("late"), HistoryStatus::Complete);
}

#[test]
fn answers_verified_by_the_shell_in_any_order_fill_the_history() {
    let h = History::new("general", 1_000, Some(600));
    let outside = SyncConfig { verify_outside: true, ..config() };
    let mut net = Net { hold_verifications: true, ..Net::default() };
    net.add("seed", PeerKind::Browser, h.all(), config());
    net.add("late", PeerKind::Browser, h.preamble(), outside);
    net.link("late", "seed");
    for _ in 0..100 {
        if net.held.is_empty() {
            break;
        }
        net.verify_held_in_reverse();
    }
    assert!(net.holds_all("late", &h));
    assert_eq!(net.status("late"), HistoryStatus::Complete);
    assert_eq!(net.node("late").engine.stats().timeouts, 0);
    // Each fact was sent once: the pieces in flight were not asked again while verified.
    assert_eq!(net.node("late").engine.stats().fetched_facts, 1_000);
}

#[test]
fn nothing_is_kept_before_the_shell_verified_it_and_a_forged_answer_is_rejected() {
    let h = history();
    let outside = SyncConfig { verify_outside: true, ..config() };
    let mut net = Net { hold_verifications: true, ..Net::default() };
    net.add("liar", PeerKind::Browser, h.all(), config());
    net.serve("liar", Serving::Forged);
    net.add("late", PeerKind::Browser, h.preamble(), outside);
    net.link("late", "liar");
    assert!(!net.held.is_empty());
    assert_eq!(net.node("late").persisted.len(), 0, "nothing kept while verifying");
    net.advance(config().request_timeout_ms * 2);
    assert_eq!(net.node("late").engine.stats().timeouts, 0, "verifying is not stalling");
    net.verify_held_in_reverse();
    assert!(net.disconnects("liar"), "the liar is dropped");
    assert_eq!(net.node("late").persisted.len(), 0);
    assert_eq!(net.node("late").engine.stats().rejected_answers, 1);
    assert_eq!(forged_persisted(&net, &h), 0);
}

#[test]
fn forged_facts_drop_the_answer_penalise_the_liar_and_fill_from_an_honest_peer() {
    let h = history();
    let mut net = Net::default();
    net.add("liar", PeerKind::Browser, h.all(), config());
    net.serve("liar", Serving::Forged);
    net.add("honest", PeerKind::Browser, h.all(), config());
    net.add("late", PeerKind::Browser, h.preamble(), config());
    net.link("late", "liar");
    assert!(net.disconnects("liar"), "the liar is dropped");
    assert_eq!(net.node("late").persisted.len(), 0);
    assert_eq!(net.node("late").engine.stats().rejected_answers, 1);
    let asked = net.pages_to("liar");
    net.sees("late", "liar");
    net.sees("late", "honest");
    assert!(net.holds_all("late", &h));
    assert_eq!(forged_persisted(&net, &h), 0);
    assert_eq!(net.pages_to("liar"), asked, "a penalised peer is not asked again");
    assert_eq!(net.status("late"), HistoryStatus::Complete);
}

#[test]
fn an_out_of_range_fact_is_treated_as_a_lie() {
    let h = history();
    let mut net = Net::default();
    net.add("odd", PeerKind::Browser, h.all(), config());
    net.serve("odd", Serving::OutOfRange);
    let mut partial = h.preamble();
    partial.extend(h.messages[200..].iter().cloned());
    partial.extend(h.messages[..100].iter().cloned());
    net.add("late", PeerKind::Browser, partial, config());
    net.link("late", "odd");
    assert!(net.disconnects("odd"));
    assert_eq!(net.node("late").engine.stats().rejected_answers, 1);
}

#[test]
fn withheld_facts_are_fetched_from_another_peer() {
    let h = history();
    let withheld: BTreeSet<FactId> = h.messages[50..60].iter().map(|m| m.id).collect();
    let mut net = Net::default();
    net.add("stingy", PeerKind::Browser, h.all(), config());
    net.serve("stingy", Serving::Withholding(withheld));
    net.add("late", PeerKind::Browser, h.preamble(), config());
    net.link("late", "stingy");
    let hole = MissingRange { after: Some(h.messages[49].id), before: Some(h.messages[60].id) };
    assert_eq!(net.status("late"), HistoryStatus::Missing { missing: vec![hole] });
    net.add("honest", PeerKind::Browser, h.all(), config());
    net.sees("late", "honest");
    assert!(net.holds_all("late", &h));
    assert_eq!(net.status("late"), HistoryStatus::Complete);
}

#[test]
fn reordered_and_duplicated_facts_are_harmless() {
    let h = history();
    let mut net = Net::default();
    net.add("late", PeerKind::Browser, h.preamble(), config());
    // Stored out of order and twice: the index is idempotent.
    let mut shuffled: Vec<Fact> = h.messages[..120].to_vec();
    shuffled.reverse();
    shuffled.swap(3, 90);
    if let Some(node) = net.nodes.get_mut("late") {
        node.store.extend(shuffled.iter().map(|f| (f.id, f.clone())));
    }
    net.input("late", SyncInput::Stored(shuffled.clone()));
    net.input("late", SyncInput::Stored(shuffled));
    net.add("seed", PeerKind::Browser, h.all(), config());
    net.link("late", "seed");
    // Answers arrive reordered and each Facts message twice.
    let page = net
        .sent
        .iter()
        .rev()
        .find_map(|(f, _, m)| match m {
            PeerMessage::Facts { rid, facts, more } if f == "seed" => Some((*rid, facts.clone(), *more)),
            _ => None,
        })
        .expect("an answer");
    let (rid, mut facts, more) = page;
    facts.reverse();
    let text = serde_json::to_string(&PeerMessage::Facts { rid, facts, more }).unwrap_or_default();
    net.input("late", SyncInput::Received { peer: "seed".into(), text });
    assert!(net.holds_all("late", &h));
    assert_eq!(net.node("late").persisted.len(), h.messages.len() - 120);
    assert_eq!(net.node("late").engine.stats().rejected_answers, 0);
    assert_eq!(net.status("late"), HistoryStatus::Complete);
}

#[test]
fn a_peer_leaving_mid_transfer_is_replaced_and_the_range_completes() {
    let h = history();
    let mut net = Net::default();
    net.add("a", PeerKind::Browser, h.all(), config());
    net.add("b", PeerKind::Browser, h.all(), config());
    net.add("late", PeerKind::Browser, h.preamble(), config());
    // `a` gets its hello and one answer out, then nothing more.
    net.budget.insert("a".into(), 2);
    net.link("late", "a");
    let got = net.node("late").persisted.len();
    assert!(got > 0 && got < h.messages.len(), "{got}");
    assert!(matches!(net.status("late"), HistoryStatus::Filling { .. }));
    net.leave("a");
    net.sees("late", "b");
    assert!(net.holds_all("late", &h));
    assert_eq!(net.status("late"), HistoryStatus::Complete);
    assert_eq!(net.node("late").engine.stats().timeouts, 0);
}

#[test]
fn a_stalled_peer_times_out_is_penalised_and_the_range_is_retried_elsewhere() {
    let h = history();
    let mut net = Net::default();
    net.add("slow", PeerKind::Browser, h.all(), config());
    net.serve("slow", Serving::Silent);
    net.add("late", PeerKind::Browser, h.preamble(), config());
    net.link("late", "slow");
    assert!(matches!(net.status("late"), HistoryStatus::Filling { .. }));
    let asked = net.pages_to("slow");
    assert_eq!(asked, 1, "a peer that never answered gets one request at a time");
    net.add("honest", PeerKind::Browser, h.all(), config());
    net.sees("late", "honest");
    // Busy with the stalled requests? No: `honest` was connected and asked for the
    // same ranges only once `slow` timed out (its requests together count as one stall).
    net.advance(config().request_timeout_ms + 1);
    assert!(net.holds_all("late", &h));
    assert_eq!(net.node("late").engine.stats().timeouts, 1);
    assert_eq!(net.pages_to("slow"), asked);
    assert!(net.disconnects("slow"));
}

#[test]
fn serving_is_rate_limited_per_peer() {
    let h = History::new("general", 1_000, None);
    let tight = SyncConfig { serve_facts_per_second: 100, serve_burst: 200, ..config() };
    let mut net = Net::default();
    net.add("server", PeerKind::Browser, h.all(), tight);
    net.add("greedy", PeerKind::Browser, h.preamble(), config());
    net.link("greedy", "server");
    let refused = |net: &Net| {
        net.sent.iter().filter(|(f, _, m)| f == "server" && matches!(m, PeerMessage::Refused { .. })).count()
    };
    // One page, then (the server proven) four at once: one more fits the burst of 200.
    assert_eq!(refused(&net), 3);
    assert_eq!(net.node("server").engine.stats().refused_rate_limited, 3);
    net.advance(1_000);
    assert!(net.node("greedy").persisted.len() >= 300);
    assert!(net.node("server").engine.served_bytes() > 0);
}

#[test]
fn unknown_pages_are_refused_as_bad_requests() {
    let h = history();
    let mut net = Net::default();
    net.add("server", PeerKind::Browser, h.all(), config());
    net.add("asker", PeerKind::Browser, h.all(), config());
    net.link("asker", "server");
    for (channel, limit) in [("nowhere", 10), ("general", catalk_proto::MAX_PAGE_FACTS + 1)] {
        let page = PeerMessage::Page {
            rid: 99,
            channel: ChannelName::new(channel).unwrap_or_else(|_| ChannelName::general()),
            before: None,
            after: None,
            limit,
        };
        let text = serde_json::to_string(&page).unwrap_or_default();
        net.input("server", SyncInput::Received { peer: "asker".into(), text });
        let last = net.sent.last().map(|(_, _, m)| m.clone());
        assert_eq!(last, Some(PeerMessage::Refused { rid: 99, code: catalk_proto::RefusalCode::BadRequest }));
    }
}

#[test]
fn browsers_are_asked_before_virtual_clients() {
    let h = history();
    let mut net = Net::default();
    net.add("keeper", PeerKind::Virtual, h.all(), config());
    net.add("friend", PeerKind::Browser, h.all(), config());
    net.add("late", PeerKind::Browser, h.preamble(), config());
    net.sees("late", "friend");
    net.sees("late", "keeper");
    assert!(net.holds_all("late", &h));
    assert_eq!(net.pages_to("keeper"), 0);
    assert_eq!(net.node("keeper").engine.served_bytes(), 0);
}

#[test]
fn a_virtual_client_is_the_last_resort() {
    let h = history();
    let mut net = Net::default();
    net.add("keeper", PeerKind::Virtual, h.all(), config());
    net.add("empty", PeerKind::Browser, h.preamble(), config());
    net.add("late", PeerKind::Browser, h.preamble(), config());
    net.sees("late", "keeper");
    net.sees("late", "empty");
    assert_eq!(net.pages_to("keeper"), 0, "the browser is tried first");
    net.advance(config::VIRTUAL_PATIENCE_MS + 1);
    assert!(net.holds_all("late", &h));
    assert!(net.node("keeper").engine.served_bytes() > 0);
}

/// `late` sees a virtual `keeper` and a browser `friend` (both holding all), and
/// `friend` does not answer.
fn silent_friend_and_keeper() -> (History, Net) {
    let h = history();
    let mut net = Net::default();
    net.add("keeper", PeerKind::Virtual, h.all(), config());
    net.add("friend", PeerKind::Browser, h.all(), config());
    net.serve("friend", Serving::Silent);
    net.add("late", PeerKind::Browser, h.preamble(), config());
    net.sees("late", "friend");
    net.sees("late", "keeper");
    (h, net)
}

#[test]
fn a_browser_that_stalled_once_is_tried_again_before_the_virtual_client() {
    let (h, mut net) = silent_friend_and_keeper();
    // `friend` does not answer: its request times out and it is paused.
    net.advance(config().request_timeout_ms + 1);
    assert_eq!(net.node("late").engine.stats().timeouts, 1);
    assert!(net.disconnects("friend"));
    // It recovers; the joiner comes back to it when the pause is over.
    net.serve("friend", Serving::Honest);
    net.advance(config().stall_penalty_ms + 1);
    assert!(net.holds_all("late", &h));
    assert_eq!(net.pages_to("keeper"), 0, "the virtual client was not asked");
    assert!(net.disconnects("keeper"), "nor connected");
}

#[test]
fn a_browser_that_keeps_stalling_leaves_the_virtual_client_to_serve() {
    let (h, mut net) = silent_friend_and_keeper();
    // Once more silent after its pause: the keeper serves (two stalls, 5 s pause between).
    net.advance(4 * config().request_timeout_ms);
    assert!(net.holds_all("late", &h));
    assert!(net.node("keeper").engine.served_bytes() > 0);
}

#[test]
fn when_many_browsers_had_nothing_the_virtual_client_is_tried_before_giving_up() {
    let h = history();
    let mut net = Net::default();
    net.add("keeper", PeerKind::Virtual, h.all(), config());
    net.add("late", PeerKind::Browser, h.preamble(), config());
    let empties: Vec<String> = (0..20).map(|i| format!("empty{i:02}")).collect();
    for name in &empties {
        net.add(name, PeerKind::Browser, h.preamble(), config());
        net.sees("late", name);
    }
    net.sees("late", "keeper");
    // Browser after browser says hello with nothing, until the joiner would stop looking:
    // it connects the keeper then, well before the patience for busy browsers runs out.
    net.advance(config::VIRTUAL_PATIENCE_MS - 1);
    assert!(net.holds_all("late", &h));
    assert!(net.pages_to("keeper") > 0);
}

#[test]
fn nothing_is_fetched_before_trusted_keys_are_known() {
    let h = history();
    let mut net = Net::default();
    net.add("seed", PeerKind::Browser, h.all(), config());
    let mut late = SyncEngine::new(config(), PeerKind::Browser, Vec::new());
    late.handle_input(0, SyncInput::Stored(h.preamble()));
    late.handle_input(0, SyncInput::PeerOnline { peer: "seed".into(), kind: PeerKind::Browser });
    let outputs: Vec<SyncOutput> = std::iter::from_fn(|| late.poll_output()).collect();
    assert!(!outputs.iter().any(|o| matches!(o, SyncOutput::Connect { .. })), "{outputs:?}");
    late.set_trusted(vec![relay_public()]);
    let outputs: Vec<SyncOutput> = std::iter::from_fn(|| late.poll_output()).collect();
    assert!(outputs.iter().any(|o| matches!(o, SyncOutput::Connect { .. })));
}

#[test]
fn a_data_channel_that_fails_to_open_is_not_retried_at_once() {
    let h = history();
    let mut engine = SyncEngine::new(config(), PeerKind::Browser, vec![relay_public()]);
    engine.handle_input(0, SyncInput::Stored(h.preamble()));
    engine.handle_input(0, SyncInput::PeerOnline { peer: "far".into(), kind: PeerKind::Browser });
    let connects = |engine: &mut SyncEngine| {
        std::iter::from_fn(|| engine.poll_output()).filter(|o| matches!(o, SyncOutput::Connect { .. })).count()
    };
    assert_eq!(connects(&mut engine), 1);
    engine.handle_input(700, SyncInput::Disconnected { peer: "far".into() });
    assert_eq!(connects(&mut engine), 0);
    engine.handle_timeout(700 + config().penalty_ms);
    assert_eq!(connects(&mut engine), 1);
}

#[test]
fn idle_connections_close_once_nothing_is_missing() {
    let h = history();
    let mut net = Net::default();
    net.add("seed", PeerKind::Browser, h.all(), config());
    net.add("late", PeerKind::Browser, h.preamble(), config());
    net.sees("late", "seed");
    assert!(net.holds_all("late", &h));
    assert!(!net.disconnects("late"));
    net.advance(config::IDLE_CLOSE_MS + 1);
    assert!(net.disconnects("late"));
}

/// The `page` requests `from` sent `to`, in order, as (rid, range).
fn pages(net: &Net, from: &str, to: &str) -> Vec<(u64, Option<FactId>, Option<FactId>)> {
    net.sent
        .iter()
        .filter_map(|(f, t, m)| match m {
            PeerMessage::Page { rid, after, before, .. } if f == from && t == to => Some((*rid, *after, *before)),
            _ => None,
        })
        .collect()
}

fn int(id: FactId) -> u128 {
    u128::from_be_bytes(id.to_bytes())
}

#[test]
fn a_wide_gap_is_asked_of_one_peer_in_disjoint_pieces_at_once() {
    let h = History::new("general", 1_000, None);
    let mut net = Net::default();
    net.add("seed", PeerKind::Browser, h.all(), config());
    net.add("late", PeerKind::Browser, h.preamble(), config());
    net.link("late", "seed");
    // One page to a peer that has not answered yet; its answer (the newest 100
    // facts, `more`) proves it, and the rest is asked in pieces at once.
    let asked = pages(&net, "late", "seed");
    assert_eq!((asked[0].1, asked[0].2), (None, None));
    let first_rid = asked[0].0;
    let second_answer = net
        .sent
        .iter()
        .position(|(f, _, m)| f == "seed" && matches!(m, PeerMessage::Facts { rid, .. } if *rid != first_rid))
        .expect("a second answer");
    let in_flight: Vec<(Option<FactId>, Option<FactId>)> = net.sent[..second_answer]
        .iter()
        .filter_map(|(f, _, m)| match m {
            PeerMessage::Page { rid, after, before, .. } if f == "late" && *rid != first_rid => Some((*after, *before)),
            _ => None,
        })
        .collect();
    assert_eq!(in_flight.len(), config().max_requests_per_peer, "{in_flight:?}");
    // Newest first; together they cover everything below the first answer exactly once.
    let below = h.messages[900].id;
    let mut pieces = in_flight.clone();
    pieces.reverse();
    assert_eq!((pieces[0].0, pieces[pieces.len() - 1].1), (None, Some(below)));
    for pair in pieces.windows(2) {
        let (lower_before, upper_after) = (pair[0].1.expect("bounded"), pair[1].0.expect("bounded"));
        assert_eq!(int(upper_after) + 1, int(lower_before), "adjacent, no id shared or left out");
    }
    for message in &h.messages[..900] {
        let holders =
            pieces.iter().filter(|(a, b)| a.is_none_or(|a| a < message.id) && b.is_none_or(|b| message.id < b)).count();
        assert_eq!(holders, 1);
    }
    assert!(net.holds_all("late", &h));
    assert_eq!(net.status("late"), HistoryStatus::Complete);
    assert_eq!(forged_persisted(&net, &h), 0);
    // Ten full pages, and at most one short page per piece.
    let asked = pages(&net, "late", "seed").len();
    assert!((10..=10 + pieces.len()).contains(&asked), "{asked}");
}

#[test]
fn with_one_request_per_peer_a_gap_is_asked_page_by_page() {
    let h = History::new("general", 1_000, None);
    let serial = SyncConfig { max_requests_per_peer: 1, ..config() };
    let mut net = Net::default();
    net.add("seed", PeerKind::Browser, h.all(), config());
    net.add("late", PeerKind::Browser, h.preamble(), serial);
    net.link("late", "seed");
    assert!(net.holds_all("late", &h));
    let asked = pages(&net, "late", "seed");
    assert_eq!(asked.len(), 10);
    // Each page continues below the oldest fact of the one before.
    assert_eq!(asked[0].2, None);
    let befores: Vec<FactId> = asked[1..].iter().map(|p| p.2.expect("continues below a fact")).collect();
    assert!(befores.windows(2).all(|w| w[1] < w[0]));
}

#[test]
fn the_rest_of_an_answered_piece_is_spread_over_free_slots_and_requests_never_overlap() {
    let h = History::new("general", 2_000, Some(900));
    let mut net = Net::default();
    net.add("a", PeerKind::Browser, h.all(), config());
    net.add("b", PeerKind::Browser, h.all(), config());
    net.add("late", PeerKind::Browser, h.preamble(), config());
    // Answers are held back (only hellos get through), so requests stay in flight.
    net.budget.insert("a".into(), 1);
    net.budget.insert("b".into(), 1);
    net.link("late", "a");
    net.link("late", "b");
    let first = pages(&net, "late", "a");
    assert_eq!(first.len(), 1, "one page until `a` answered one");
    assert!(pages(&net, "late", "b").is_empty(), "everything is in flight already");
    // `a` answers its newest piece with its newest 100 facts, and `more`.
    let (rid, after, before) = first[0];
    let facts: Vec<Fact> = h
        .messages
        .iter()
        .rev()
        .filter(|m| after.is_none_or(|a| a < m.id) && before.is_none_or(|b| m.id < b))
        .take(100)
        .cloned()
        .collect();
    let text = serde_json::to_string(&PeerMessage::Facts { rid, facts, more: true }).unwrap_or_default();
    net.input("late", SyncInput::Received { peer: "a".into(), text });
    assert_eq!(net.node("late").persisted.len(), 100);
    // The rest went out in pieces: a pipeline to `a`, now proven, and one to `b`.
    let to_a: Vec<_> = pages(&net, "late", "a").into_iter().filter(|p| p.0 != rid).collect();
    let to_b = pages(&net, "late", "b");
    assert_eq!((to_a.len(), to_b.len()), (config().max_requests_per_peer, 1));
    let in_flight: Vec<(u64, Option<FactId>, Option<FactId>)> = to_a.into_iter().chain(to_b).collect();
    let shares = |x: &(u64, Option<FactId>, Option<FactId>), y: &(u64, Option<FactId>, Option<FactId>)| {
        let lowest = x.1.max(y.1).map_or(0, |a| int(a) + 1);
        [x.2, y.2].iter().flatten().all(|b| lowest < int(*b))
    };
    for (n, x) in in_flight.iter().enumerate() {
        for y in &in_flight[n + 1..] {
            assert!(!shares(x, y), "{x:?} {y:?}");
        }
    }
    // Everything not yet held is asked for exactly once.
    let held = net.node("late").store.clone();
    for message in h.messages.iter().filter(|m| !held.contains_key(&m.id)) {
        let askers = in_flight
            .iter()
            .filter(|(_, a, b)| a.is_none_or(|a| a < message.id) && b.is_none_or(|b| message.id < b))
            .count();
        assert_eq!(askers, 1, "{}", message.id);
    }
}

#[test]
fn a_peer_full_of_inbound_links_closes_one_more_and_the_joiner_fills_elsewhere() {
    let h = history();
    let mut net = Net::default();
    net.add("seed", PeerKind::Browser, h.all(), SyncConfig { max_inbound_links: 1, ..config() });
    net.add("first", PeerKind::Browser, h.preamble(), config());
    net.add("second", PeerKind::Browser, h.preamble(), config());
    net.sees("first", "seed");
    assert!(net.holds_all("first", &h));
    net.sees("second", "seed");
    assert!(!net.links.contains(&pair("second", "seed")), "the second inbound link is closed");
    assert!(net.node("second").persisted.is_empty());
    assert_eq!(
        net.pages_to("seed"),
        net.sent.iter().filter(|(f, _, m)| f == "first" && matches!(m, PeerMessage::Page { .. })).count()
    );
    net.sees("second", "first");
    assert!(net.holds_all("second", &h));
    assert_eq!(net.status("second"), HistoryStatus::Complete);
}

mod reconcile;
