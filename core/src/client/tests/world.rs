//! A deterministic world for driver tests: a [`MiniRelay`], clients with
//! memory stores, and data channels emulated between their links (open, or
//! blocked as behind symmetric NATs). Every output is carried out in order, on
//! one virtual clock.

use super::mini_relay::{Delivery, MiniRelay};
use crate::client::{Client, ClientConfig, Input, LinkId, Output, run_query};
use crate::{Event, HistoryStore, MemoryStore};
use catalk_proto::{DisplayName, DraftId, Fact, PeerKind, PublicKey};
use std::collections::{BTreeMap, VecDeque};

/// Whether data channels between clients open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paths {
    /// Every answered offer opens.
    Open,
    /// Every answered offer opens, through a TURN server.
    Turn,
    /// No data channel ever opens (UDP blocked, symmetric NATs).
    Blocked,
}

/// One client of the world.
pub struct Member {
    pub client: Client,
    pub store: MemoryStore,
    pub conn: Option<u64>,
    pub events: Vec<Event>,
    pub resolved: Vec<(u64, Result<Option<catalk_proto::FactId>, crate::ActionError>)>,
    /// Offers and answers this member made, and links it closed.
    pub offers: usize,
    pub answers: usize,
    pub closed: Vec<LinkId>,
    pub online: bool,
    /// What the member was asked to do, in order: `holdings`, `offer`, `answer`.
    pub log: Vec<&'static str>,
}

enum Step {
    Input(usize, Input),
    Frame(usize, u64, String),
}

pub struct World {
    pub relay: MiniRelay,
    /// A member whose writes of messages wait until [`World::release_puts`] (a slow disk).
    pub slow_store: Option<usize>,
    /// A member whose store fails every put of messages (full).
    pub failing_puts: Option<usize>,
    /// A member whose store fails to read pages for peers.
    pub failing_pages: Option<usize>,
    held_puts: Vec<Step>,
    /// The ICE servers of every offer made, in order.
    pub offered_ice_servers: Vec<Vec<catalk_proto::IceServer>>,
    pub members: Vec<Member>,
    pub now: u64,
    pub paths: Paths,
    steps: VecDeque<Step>,
    /// Emulated data channels: each end names the other.
    wires: BTreeMap<(usize, LinkId), (usize, LinkId)>,
}

fn key(n: usize) -> ed25519_dalek::SigningKey {
    let mut bytes = [0u8; 32];
    bytes[0] = 0x40;
    bytes[1] = n as u8;
    ed25519_dalek::SigningKey::from_bytes(&bytes)
}

impl World {
    /// A world whose relay carries peer messages when `fallback` is set.
    pub fn new(paths: Paths, fallback: bool) -> Self {
        let now = 1_700_000_000_000;
        Self {
            relay: MiniRelay::new(now, if fallback { 64_000 } else { 0 }),
            members: Vec::new(),
            now,
            paths,
            slow_store: None,
            failing_puts: None,
            failing_pages: None,
            held_puts: Vec::new(),
            offered_ice_servers: Vec::new(),
            steps: VecDeque::new(),
            wires: BTreeMap::new(),
        }
    }

    /// Adds a browser (`kind` Browser) or a virtual client; not yet connected.
    pub fn add(&mut self, kind: PeerKind) -> usize {
        self.add_with(kind, &[], crate::client::HOLDINGS_PAGE)
    }

    /// Adds a member whose store already holds `facts`, reading holdings `page` at a time.
    pub fn add_with(&mut self, kind: PeerKind, facts: &[Fact], page: usize) -> usize {
        let index = self.members.len();
        let mut config = match kind {
            PeerKind::Browser => ClientConfig::browser(),
            PeerKind::Virtual => ClientConfig::headless(PeerKind::Virtual, None),
        };
        config.holdings_page = page;
        let store = MemoryStore::new();
        futures_executor::block_on(store.put_facts(facts)).unwrap();
        let key = key(index);
        if kind == PeerKind::Virtual {
            self.relay.virtual_clients.insert(PublicKey::of(&key));
        }
        let client = Client::new(key, DisplayName::new(&format!("m{index}")).unwrap(), config);
        self.members.push(Member {
            client,
            store,
            conn: None,
            events: Vec::new(),
            resolved: Vec::new(),
            offers: 0,
            answers: 0,
            closed: Vec::new(),
            online: false,
            log: Vec::new(),
        });
        self.drain(index);
        self.run();
        index
    }

    /// The key of member `m`.
    pub fn key_of(&self, m: usize) -> PublicKey {
        self.members[m].client.public_key()
    }

    /// Member `m` logs in; runs until quiet.
    pub fn connect(&mut self, m: usize) {
        self.connect_together(&[m]);
    }

    /// These members log in in the same millisecond; runs until quiet.
    pub fn connect_together(&mut self, members: &[usize]) {
        for &m in members {
            self.members[m].client.connect(self.now);
            self.drain(m);
        }
        self.run();
    }

    /// Member `m` leaves (its socket closes); runs until quiet.
    pub fn leave(&mut self, m: usize) {
        self.members[m].client.stop(self.now);
        self.drain(m);
        self.run();
    }

    /// Member `m` posts `text` to general; runs until quiet.
    pub fn post(&mut self, m: usize, text: &str) {
        let draft = DraftId::from_parts(self.now, m as u128 + 1);
        self.members[m].client.post("general", text, draft).unwrap();
        self.drain(m);
        self.run();
    }

    /// Member `m`'s socket drops (a network blip) before the relay notices: the relay keeps
    /// the old connection, the member reconnects on a new one; runs until quiet.
    pub fn drop_socket(&mut self, m: usize) {
        if self.members[m].conn.take().is_some() {
            self.steps.push_back(Step::Input(m, Input::SocketClosed { random: 0.5 }));
        }
        self.run();
    }

    /// The relay restarts: every socket closes.
    pub fn restart_relay(&mut self) {
        let gone = self.relay.restart(self.now);
        for m in gone {
            self.members[m].conn = None;
            self.steps.push_back(Step::Input(m, Input::SocketClosed { random: 0.5 }));
        }
        self.run();
    }

    /// Messages member `m` holds in general, oldest first.
    pub fn held(&self, m: usize) -> Vec<Fact> {
        let store = &self.members[m].store;
        futures_executor::block_on(store.messages_before(&catalk_proto::ChannelName::general(), None, usize::MAX))
            .unwrap()
    }

    /// Every channel fact and message member `m` holds.
    pub fn history(&self, m: usize) -> Vec<Fact> {
        let store = &self.members[m].store;
        let mut facts = futures_executor::block_on(store.channels()).unwrap();
        facts.extend(self.held(m));
        facts
    }

    /// Advances the clock by `ms` in steps, firing every deadline on the way.
    pub fn advance(&mut self, ms: u64) {
        let end = self.now + ms;
        loop {
            let next = self.members.iter().filter_map(|m| m.client.poll_timeout()).min();
            match next {
                Some(at) if at <= end => {
                    self.now = self.now.max(at);
                    for m in 0..self.members.len() {
                        if self.members[m].client.poll_timeout().is_some_and(|t| t <= self.now) {
                            self.members[m].client.handle_timeout(self.now);
                            self.drain(m);
                        }
                    }
                    self.run();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn input(&mut self, m: usize, input: Input) {
        self.members[m].client.handle_input(self.now, input);
        self.drain(m);
    }

    fn deliver(&mut self, out: Vec<Delivery>) {
        for d in out {
            self.steps.push_back(Step::Frame(d.client, d.conn, d.text));
        }
    }

    /// Carries out every queued step until the world is quiet.
    pub fn run(&mut self) {
        let mut budget = 1_000_000;
        while let Some(step) = self.steps.pop_front() {
            budget -= 1;
            assert!(budget > 0, "the world never settles");
            match step {
                Step::Input(m, input) => self.input(m, input),
                Step::Frame(m, conn, text) => {
                    if self.members[m].conn == Some(conn) {
                        self.input(m, Input::SocketText(text));
                    }
                }
            }
        }
    }

    /// Carries out member `m`'s outputs (their answers are queued as steps).
    fn drain(&mut self, m: usize) {
        while let Some(output) = self.members[m].client.poll_output() {
            self.carry_out(m, output);
        }
    }

    fn carry_out(&mut self, m: usize, output: Output) {
        let now = self.now;
        match output {
            Output::OpenSocket => {
                let (conn, out) = self.relay.open(m);
                self.members[m].conn = Some(conn);
                self.steps.push_back(Step::Input(m, Input::SocketOpen));
                self.deliver(out);
            }
            Output::CloseSocket => {
                if let Some(conn) = self.members[m].conn.take() {
                    let out = self.relay.close(now, conn);
                    self.deliver(out);
                    self.steps.push_back(Step::Input(m, Input::SocketClosed { random: 0.5 }));
                }
            }
            Output::ToRelay(text) => {
                if let Some(conn) = self.members[m].conn {
                    let out = self.relay.frame(now, conn, &text);
                    self.deliver(out);
                }
            }
            Output::MakeOffer { link, ice_servers } => {
                self.offered_ice_servers.push(ice_servers);
                self.members[m].offers += 1;
                self.members[m].log.push("offer");
                let sdp = format!("offer {m} {}", link.0);
                self.steps.push_back(Step::Input(m, Input::LinkSdp { link, sdp }));
            }
            Output::MakeAnswer { link, sdp, .. } => {
                self.members[m].answers += 1;
                self.members[m].log.push("answer");
                let (from, from_link) = parse_sdp(&sdp, "offer");
                self.wires.insert((m, link), (from, from_link));
                self.wires.insert((from, from_link), (m, link));
                let sdp = format!("answer {m} {}", link.0);
                self.steps.push_back(Step::Input(m, Input::LinkSdp { link, sdp }));
            }
            Output::AcceptAnswer { link, sdp } => {
                let (other, other_link) = parse_sdp(&sdp, "answer");
                if self.wires.get(&(m, link)) != Some(&(other, other_link)) {
                    self.steps.push_back(Step::Input(m, Input::LinkFailed { link, reason: "not our offer".into() }));
                } else if self.paths != Paths::Blocked {
                    for (who, link) in [(m, link), (other, other_link)] {
                        self.steps.push_back(Step::Input(who, Input::LinkOpen { link }));
                        let turn = self.paths == Paths::Turn;
                        self.steps.push_back(Step::Input(who, Input::LinkPath { link, turn }));
                    }
                }
            }
            Output::CloseLink { link } => {
                self.members[m].closed.push(link);
                if let Some((other, other_link)) = self.wires.remove(&(m, link)) {
                    self.wires.remove(&(other, other_link));
                    self.steps.push_back(Step::Input(other, Input::LinkClosed { link: other_link }));
                }
            }
            Output::ToPeer { link, text } => {
                if let Some((other, other_link)) = self.wires.get(&(m, link)).copied() {
                    self.steps.push_back(Step::Input(other, Input::LinkText { link: other_link, text }));
                }
            }
            Output::Load { ticket, query } => {
                if let crate::client::StoreQuery::Holdings { .. } = query {
                    self.members[m].log.push("holdings");
                }
                let result = match query {
                    crate::client::StoreQuery::Page { .. } if self.failing_pages == Some(m) => {
                        Err(crate::StoreError::Backend("the disk is gone".into()))
                    }
                    _ => futures_executor::block_on(run_query(&self.members[m].store, &query)),
                };
                self.steps.push_back(Step::Input(m, Input::Loaded { ticket, result }));
            }
            Output::Put { ticket, facts } => {
                let messages = facts.iter().any(|f| matches!(f.body, catalk_proto::FactBody::Message { .. }));
                let result = if self.failing_puts == Some(m) && messages {
                    Err(crate::StoreError::QuotaExceeded)
                } else {
                    futures_executor::block_on(self.members[m].store.put_facts(&facts)).map(drop)
                };
                let step = Step::Input(m, Input::Stored { ticket, result });
                if self.slow_store == Some(m) && messages {
                    self.held_puts.push(step);
                } else {
                    self.steps.push_back(step);
                }
            }
            Output::Verify { ticket, facts, trusted } => {
                let valid = catalk_proto::verify_facts(&facts, |k| trusted.contains(k)).is_ok();
                self.steps.push_back(Step::Input(m, Input::Verified { ticket, facts, valid }));
            }
            Output::Event(event) => {
                if let Event::Ready { .. } = event {
                    self.members[m].online = true;
                }
                self.members[m].events.push(event);
            }
            Output::Resolve { rid, result } => self.members[m].resolved.push((rid, result)),
        }
    }

    /// The slow store's writes finish; runs until quiet.
    pub fn release_puts(&mut self) {
        self.slow_store = None;
        self.steps.extend(self.held_puts.drain(..));
        self.run();
    }

    /// The history statuses member `m` told its UI, in order.
    pub fn statuses(&self, m: usize) -> Vec<crate::sync::HistoryStatus> {
        self.members[m]
            .events
            .iter()
            .filter_map(|e| match e {
                crate::Event::History { status, .. } => Some(status.clone()),
                _ => None,
            })
            .collect()
    }

    /// Emulated link ends currently wired.
    pub fn wires(&self) -> usize {
        self.wires.len() / 2
    }
}

fn parse_sdp(sdp: &str, kind: &str) -> (usize, LinkId) {
    let mut parts = sdp.split(' ');
    assert_eq!(parts.next(), Some(kind), "an {kind} sdp: {sdp}");
    let m = parts.next().and_then(|p| p.parse().ok()).unwrap();
    let link = parts.next().and_then(|p| p.parse().ok()).unwrap();
    (m, LinkId(link))
}
