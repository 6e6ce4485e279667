//! The client driver: one sans-IO state machine that owns the login
//! [`ClientSession`], the [`SyncEngine`], the table of peer links and the
//! local-store requests. The browser and the virtual client only carry out
//! its [`Output`]s and report back [`Input`]s.
//!
//! # Run loop
//!
//! ```text
//! let mut client = Client::new(key, name, ClientConfig::browser());
//! client.connect(now());
//! loop {
//!     while let Some(output) = client.poll_output() {
//!         match output {
//!             Output::OpenSocket               => socket = open(url),          // later SocketOpen / SocketText / SocketClosed
//!             Output::ToRelay(text)            => socket.send(text),
//!             Output::MakeOffer { link, .. }   => rtc.offer(link),             // later LinkSdp, LinkOpen, LinkText, LinkClosed
//!             Output::MakeAnswer { link, sdp, .. } => rtc.answer(link, sdp),
//!             Output::AcceptAnswer { link, sdp }   => rtc.accept(link, sdp),   // LinkFailed if refused
//!             Output::ToPeer { link, text }    => rtc.send(link, text),
//!             Output::CloseLink { link }       => rtc.close(link),
//!             Output::Load { ticket, query }   => client.handle_input(now(), Input::Loaded { ticket, result: run_query(&store, &query).await }),
//!             Output::Put { ticket, facts }    => client.handle_input(now(), Input::Stored { ticket, result: store.put_facts(&facts).await.map(drop) }),
//!             Output::Verify { ticket, facts, trusted } => workers.verify(..),  // later Verified
//!             Output::Event(event)             => ui.show(event),
//!             Output::Resolve { rid, result }  => pending[rid].complete(result),
//!             ..
//!         }
//!     }
//!     select! { /* socket, links, store answers, the UI */ ; () = sleep_until(client.poll_timeout()) => client.handle_timeout(now()) }
//! }
//! ```
//!
//! What it decides, once for every shell: which side's offer survives a glare
//! ([`links::our_offer_wins`]), when a link that was answered but never opened
//! goes through the relay instead (`fallback_after_ms`), that sync peers are
//! only looked for once the store's holdings are indexed, that relayed
//! links end with the relay connection, and that a channel is said to be
//! `complete` only once the backfill that completed it is in the store.

mod authors;
mod io;
mod journal;
mod link_report;
mod links;
mod names;
mod pacer;
mod signaling;
mod storage;

pub use io::{Input, LinkId, Output, StoreAnswer, StoreQuery};
pub use journal::Journal;
pub use links::{Carrier, LinkCounts, Stage, our_offer_wins};
pub use storage::{HOLDINGS_PAGE, run_query};

use crate::session::{ActionError, ClientSession, Event, Output as SessionOutput};
use crate::sync::{SyncConfig, SyncEngine, SyncInput, SyncOutput, SyncStats};
use catalk_proto::{ChannelName, DisplayName, DraftId, Fact, IceServer, PeerKind, Privileges, PublicKey};
use links::Links;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use storage::{Origin, PutQueue};

/// How a [`Client`] behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// What this client is to others.
    pub kind: PeerKind,
    /// The sync engine's settings.
    pub sync: SyncConfig,
    /// How long an answered offer may take to open its data channel before
    /// both sides go through the relay instead (when the relay carries peer messages).
    pub fallback_after_ms: u64,
    /// Held messages read per store request at start.
    pub holdings_page: usize,
}

impl ClientConfig {
    /// A browser: verification handed to the shell (worker threads).
    pub fn browser() -> Self {
        Self {
            kind: PeerKind::Browser,
            sync: SyncConfig { verify_outside: true, ..SyncConfig::default() },
            fallback_after_ms: 4_000,
            holdings_page: HOLDINGS_PAGE,
        }
    }

    /// A headless peer of `kind`, keeping `window_ms` of history when set.
    pub fn headless(kind: PeerKind, window_ms: Option<u64>) -> Self {
        Self {
            kind,
            sync: SyncConfig { window_ms, ..SyncConfig::default() },
            fallback_after_ms: 4_000,
            holdings_page: HOLDINGS_PAGE,
        }
    }
}

/// Counters of a [`Client`], for tests, metrics and diagnosis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientStats {
    /// The sync engine's counters.
    #[serde(flatten)]
    pub sync: SyncStats,
    /// Live facts stored.
    pub live_stored: u64,
    /// Backfilled facts stored.
    pub backfilled_stored: u64,
    /// Links open over a direct data channel.
    pub links_direct: u32,
    /// Links open over a data channel through TURN.
    pub links_turn: u32,
    /// Links carried by the relay.
    pub links_relayed: u32,
}

/// One link that carries peer messages now, for the UI and diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LinkView {
    /// The other side's key.
    pub peer: PublicKey,
    /// What the other side is.
    pub kind: PeerKind,
    /// How the link carries messages.
    pub path: Carrier,
}

/// What a pending [`Output::Load`] is for.
#[derive(Debug, Clone)]
enum LoadFor {
    Startup,
    Holdings(ChannelName),
    Page { peer: String, rid: u64 },
}

/// How far reading the store's holdings into the engine has come.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holdings {
    /// Not begun (begins at the first login).
    NotStarted,
    /// These channels still have pages to read.
    Reading(BTreeSet<ChannelName>),
    /// The engine has them all: sync peers come from presence from now on.
    Known,
}

/// The client driver; see the [module docs](self).
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    own: PublicKey,
    session: ClientSession,
    engine: SyncEngine,
    links: Links,
    ice_servers: Vec<IceServer>,
    outputs: VecDeque<Output>,
    puts: PutQueue,
    loads: HashMap<u64, LoadFor>,
    next_ticket: u64,
    /// The facts to present at the first login, once read and until used.
    startup: Option<Vec<Fact>>,
    /// Whether the startup read is done (logging in waits for it).
    startup_read: bool,
    connect_wanted: bool,
    holdings: Holdings,
    /// The history status last told to the UI, per channel.
    shown: BTreeMap<ChannelName, crate::sync::HistoryStatus>,
    /// `Complete` statuses held back until the backfill that completed them is stored.
    deferred: BTreeMap<ChannelName, crate::sync::HistoryStatus>,
    /// Channels some of whose messages could not be stored (e.g. the store is full): they are
    /// never shown `complete` in this run, whatever the engine holds in memory.
    unsaved: BTreeSet<ChannelName>,
    /// Peers the engine was told are online, with their kind.
    online: BTreeMap<PublicKey, PeerKind>,
    /// Heads from the welcome, waiting for the holdings to be known.
    heads: Vec<Fact>,
    /// Whether this connection's welcome came (its heads say what is newest).
    welcomed: bool,
    /// Whether the welcome's heads were compared with the holdings: until then nothing is
    /// `complete`, for newer messages may have been said while this device was away.
    heads_checked: bool,
    /// Requests the driver made itself (signals, relayed peer messages): their answers stay inside.
    own_rids: BTreeSet<u64>,
    journal: Journal,
    link_report: link_report::LinkReport,
    /// People's cards, served with pages so names show for authors who are away.
    authors: authors::AuthorCards,
    /// Relayed peer messages, paced at the relay's fallback rate.
    pacer: pacer::Pacer,
    live_stored: u64,
    backfilled_stored: u64,
    now: u64,
}

impl Client {
    /// A client for `key` announcing `name`; it asks to read the store's startup facts at once.
    pub fn new(key: ed25519_dalek::SigningKey, name: DisplayName, config: ClientConfig) -> Self {
        let engine = SyncEngine::new(config.sync, config.kind, Vec::new());
        let mut client = Self {
            own: PublicKey::of(&key),
            session: ClientSession::new(key, name),
            engine,
            links: Links::default(),
            ice_servers: Vec::new(),
            outputs: VecDeque::new(),
            puts: PutQueue::default(),
            loads: HashMap::new(),
            next_ticket: 0,
            startup: None,
            startup_read: false,
            connect_wanted: false,
            holdings: Holdings::NotStarted,
            shown: BTreeMap::new(),
            deferred: BTreeMap::new(),
            unsaved: BTreeSet::new(),
            online: BTreeMap::new(),
            own_rids: BTreeSet::new(),
            heads: Vec::new(),
            welcomed: false,
            heads_checked: false,
            journal: Journal::default(),
            link_report: link_report::LinkReport::default(),
            authors: authors::AuthorCards::default(),
            pacer: pacer::Pacer::default(),
            live_stored: 0,
            backfilled_stored: 0,
            now: 0,
            config,
        };
        client.load(LoadFor::Startup, StoreQuery::Startup);
        client
    }

    /// This client's key.
    pub fn public_key(&self) -> PublicKey {
        self.own
    }

    /// The login session: status, views of channels and people, privileges.
    pub fn session(&self) -> &ClientSession {
        &self.session
    }

    /// A channel's history status now, as the UI was told it: `complete` only
    /// once what completed it is in the store and this connection's welcome showed
    /// nothing newer (before: `filling` with nothing known missing, "checking").
    pub fn history_status(&self, channel: &ChannelName) -> crate::sync::HistoryStatus {
        match (self.deferred.contains_key(channel), self.shown.get(channel)) {
            (true, Some(shown)) => shown.clone(),
            (true, None) => crate::sync::HistoryStatus::Unknown,
            (false, _) => match self.engine.status(channel) {
                crate::sync::HistoryStatus::Complete if !self.heads_checked => {
                    crate::sync::HistoryStatus::Filling { missing: Vec::new() }
                }
                status => status,
            },
        }
    }

    /// Counters.
    pub fn stats(&self) -> ClientStats {
        let links = self.links.carrying();
        ClientStats {
            sync: self.engine.stats(),
            live_stored: self.live_stored,
            backfilled_stored: self.backfilled_stored,
            links_direct: links.direct,
            links_turn: links.turn,
            links_relayed: links.relay,
        }
    }

    /// The links that carry peer messages now, by peer key.
    pub fn links(&self) -> Vec<LinkView> {
        let view = |(peer, link): (&PublicKey, &links::Link)| {
            link.carries().map(|path| LinkView { peer: *peer, kind: link.kind, path })
        };
        self.links.iter().filter_map(view).collect()
    }

    /// Recent sync events, for diagnosis.
    pub fn journal(&self) -> Vec<String> {
        self.journal.entries()
    }

    /// Where the link to `peer` stands.
    pub fn link_stage(&self, peer: &PublicKey) -> Option<Stage> {
        self.links.get(peer).map(|link| link.stage)
    }

    /// STUN/TURN servers for links made from now on.
    pub fn set_ice_servers(&mut self, servers: Vec<IceServer>) {
        self.ice_servers = servers;
    }

    /// The STUN/TURN servers in use.
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.ice_servers
    }

    /// Starts logging in (once the store's startup facts are read, they are presented).
    pub fn connect(&mut self, now: u64) {
        self.now = self.now.max(now);
        self.connect_wanted = true;
        if let Some(present) = self.startup.take() {
            self.session.set_present(present);
        }
        if self.startup_read {
            self.session.start(now);
        }
        self.settle();
    }

    /// Trusts the relay's new signing key after [`crate::Event::RelayKeyChanged`] and logs in
    /// again; the history signed by the earlier keys stays verified. False when no change waits.
    pub fn accept_relay_key(&mut self, now: u64) -> bool {
        self.now = self.now.max(now);
        let accepted = self.session.accept_relay_key(self.now);
        self.settle();
        accepted
    }

    /// Logs out and closes every link.
    pub fn stop(&mut self, now: u64) {
        self.now = self.now.max(now);
        self.connect_wanted = false;
        self.session.stop();
        self.heads_unchecked();
        self.link_report.reset();
        for (peer, link) in self.links.drain() {
            self.end_link(peer, link, true);
        }
        // Who is online is known again from the next welcome; the engine starts afresh with them.
        for (peer, _) in std::mem::take(&mut self.online) {
            self.engine_input(SyncInput::PeerOffline { peer: peer.to_string() });
        }
        self.settle();
        // Their answers (resolved as offline by the stop) are in; none is pending any more.
        self.own_rids.clear();
    }

    /// Posts `text` to `channel`; `draft` must be fresh. The answer comes as [`Output::Resolve`].
    pub fn post(&mut self, channel: &str, text: &str, draft: DraftId) -> Result<u64, ActionError> {
        self.act(|s| s.post(channel, text, draft))
    }

    /// Creates a channel.
    pub fn create_channel(&mut self, name: &str) -> Result<u64, ActionError> {
        self.act(|s| s.create_channel(name))
    }

    /// Claims ownership with a one-time token.
    pub fn claim(&mut self, token: &str) -> Result<u64, ActionError> {
        self.act(|s| s.claim(token))
    }

    /// Sets another key's privileges (owners only).
    pub fn grant(&mut self, key: PublicKey, privileges: Privileges) -> Result<u64, ActionError> {
        self.act(|s| s.grant(key, privileges))
    }

    /// Announces a new display name.
    pub fn set_name(&mut self, now: u64, name: DisplayName) {
        self.now = self.now.max(now);
        self.session.set_name(now, name);
        self.settle();
    }

    fn act(&mut self, start: impl FnOnce(&mut ClientSession) -> Result<u64, ActionError>) -> Result<u64, ActionError> {
        let rid = start(&mut self.session)?;
        self.settle();
        Ok(rid)
    }

    /// Feeds one input; then drain [`Client::poll_output`].
    pub fn handle_input(&mut self, now: u64, input: Input) {
        self.now = self.now.max(now);
        match input {
            Input::SocketOpen => self.session.handle_connected(now),
            Input::SocketText(text) => self.session.handle_text(now, &text),
            Input::SocketClosed { random } => {
                self.session.handle_closed(now, random);
                self.link_report.reset();
                self.end_relayed_links();
                self.heads_unchecked();
            }
            Input::LinkSdp { link, sdp } => self.link_sdp(link, sdp),
            Input::LinkFailed { link, reason } => self.link_failed(link, &reason),
            Input::LinkOpen { link } => self.link_open(link),
            Input::LinkPath { link, turn } => self.link_path(link, turn),
            Input::LinkText { link, text } => self.link_text(link, text),
            Input::LinkClosed { link } => self.link_closed(link),
            Input::Loaded { ticket, result } => self.loaded(ticket, result),
            Input::Stored { ticket, result } => self.stored(ticket, result),
            Input::Verified { ticket, facts, valid } => {
                self.engine_input(SyncInput::Verified { ticket, facts, valid });
            }
            Input::Forgotten { channel, before } => self.engine_input(SyncInput::Forgotten { channel, before }),
        }
        self.settle();
    }

    /// The next thing for the shell to do, until `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Client::handle_timeout`] should next be called (ms, the shell's clock).
    pub fn poll_timeout(&self) -> Option<u64> {
        let report = self.link_report.deadline(self.links.carrying()).filter(|_| self.connected());
        let report = report.map(|at| self.links.path_awaited(self.now).map_or(at, |due| at.max(due)));
        let paced = self.pacer.deadline();
        [self.session.poll_timeout(), self.engine.poll_timeout(), self.links.next_deadline(), report, paced]
            .into_iter()
            .flatten()
            .min()
    }

    /// Time passed: reconnects, pings, stalled peers, links that never opened.
    pub fn handle_timeout(&mut self, now: u64) {
        self.now = self.now.max(now);
        self.session.handle_timeout(now);
        self.engine.handle_timeout(now);
        self.send_paced();
        self.fall_back_stuck_links();
        self.drop_unopened_answers();
        self.settle();
    }

    /// Carries out what the session and the engine asked for, until both are quiet.
    fn settle(&mut self) {
        loop {
            if let Some(output) = self.session.poll_output() {
                self.on_session(output);
            } else if let Some(output) = self.engine.poll_output() {
                self.on_engine(output);
            } else if !self.report_links() {
                break;
            }
        }
        let ticket = self.next_ticket + 1;
        if let Some(facts) = self.puts.next(ticket) {
            self.next_ticket = ticket;
            self.outputs.push_back(Output::Put { ticket, facts });
        }
    }

    fn connected(&self) -> bool {
        self.session.status() == crate::session::ConnectionStatus::Connected
    }

    /// Tells the relay how the links carry history, when that changed (see [`link_report`]);
    /// true when a report went into the session's outputs.
    fn report_links(&mut self) -> bool {
        let counts = self.links.carrying();
        let awaiting_a_path = self.links.path_awaited(self.now).is_some();
        if !self.connected() || awaiting_a_path || !self.link_report.due(self.now, counts) {
            return false;
        }
        let Ok(rid) = self.session.report_links(counts.direct, counts.turn, counts.relay) else { return false };
        self.own_rids.insert(rid);
        self.link_report.sent(self.now, counts);
        true
    }

    fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    fn load(&mut self, purpose: LoadFor, query: StoreQuery) {
        let ticket = self.ticket();
        self.loads.insert(ticket, purpose);
        self.outputs.push_back(Output::Load { ticket, query });
    }

    fn engine_input(&mut self, input: SyncInput) {
        let timeouts = self.engine.stats().timeouts;
        self.engine.handle_input(self.now, input);
        if self.engine.stats().timeouts > timeouts {
            self.journal.note(self.now, "timeout (a peer stalled or never said hello)");
        }
    }

    fn on_session(&mut self, output: SessionOutput) {
        match output {
            SessionOutput::Connect => self.outputs.push_back(Output::OpenSocket),
            SessionOutput::Disconnect => self.outputs.push_back(Output::CloseSocket),
            SessionOutput::Send(text) => self.outputs.push_back(Output::ToRelay(text)),
            SessionOutput::Persist(facts) => self.puts.push(facts, Origin::Live),
            SessionOutput::Presence(facts) => self.keep_cards(facts),
            SessionOutput::Heads(heads) => {
                self.heads.extend(heads);
                self.take_heads();
            }

            SessionOutput::Event(event) => self.on_event(event),
            SessionOutput::Signal { from, from_conn, payload } => self.on_signal(from, from_conn, &payload),
            SessionOutput::Peer { from, from_conn, msg } => self.on_relayed(from, from_conn, msg),
            SessionOutput::Resolve { rid, result } => {
                if self.own_rids.remove(&rid) {
                    if let Err(err) = result {
                        self.journal.note(self.now, format!("relay refused rid {rid}: {}", err.code));
                    }
                } else {
                    self.outputs.push_back(Output::Resolve { rid, result });
                }
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match &event {
            Event::Ready { .. } => {
                self.engine.set_trusted(self.session.trusted().to_vec());
                let (rate, burst) = self.session.sync_fallback_allowance();
                self.pacer.reset(self.now, rate, burst);
                self.welcomed = true;
                if self.holdings == Holdings::NotStarted {
                    self.read_holdings();
                }
                self.check_heads();
            }
            // While the relay connection is down presence is unknown, not empty: links stay,
            // and the next welcome's presence is compared with what the engine knows.
            Event::Presence { .. }
                if self.holdings == Holdings::Known && self.session.status() == crate::ConnectionStatus::Connected =>
            {
                self.update_peers();
            }
            _ => {}
        }
        self.outputs.push_back(Output::Event(event));
    }

    fn on_engine(&mut self, output: SyncOutput) {
        match output {
            SyncOutput::Connect { peer } => self.engine_connect(&peer),
            SyncOutput::Disconnect { peer } => self.engine_disconnect(&peer),
            SyncOutput::Send { peer, text } => self.send_to_peer(&peer, text),
            SyncOutput::Persist(facts) => self.puts.push(facts, Origin::Backfill),
            SyncOutput::Load { peer, rid, channel, before, after, limit } => {
                self.load(LoadFor::Page { peer, rid }, StoreQuery::Page { channel, before, after, limit });
            }
            SyncOutput::Status { channel, status } => self.history_changed(channel, status),
            SyncOutput::Authors { peer, facts } => self.on_authors(&peer, facts),
            SyncOutput::Verify { ticket, facts, trusted } => {
                self.outputs.push_back(Output::Verify { ticket, facts, trusted });
            }
        }
    }

    /// Tells the UI a channel's new status, but `complete` only once the
    /// backfill that completed it is stored (a reader of the store sees it all).
    /// Until the welcome's heads are checked, a `complete` channel shows as filling with
    /// nothing known missing yet ("checking for new messages").
    fn history_changed(&mut self, channel: ChannelName, status: crate::sync::HistoryStatus) {
        if status == crate::sync::HistoryStatus::Complete
            && (self.puts.unstored_backfill(&channel) || !self.heads_checked || self.unsaved.contains(&channel))
        {
            self.deferred.insert(channel.clone(), status);
            if !self.heads_checked {
                let checking = crate::sync::HistoryStatus::Filling { missing: Vec::new() };
                if self.shown.get(&channel) != Some(&checking) {
                    self.shown.insert(channel.clone(), checking.clone());
                    self.outputs.push_back(Output::Event(Event::History { channel, status: checking }));
                }
            }
            return;
        }
        self.deferred.remove(&channel);
        self.shown.insert(channel.clone(), status.clone());
        self.outputs.push_back(Output::Event(Event::History { channel, status }));
    }

    /// Deferred statuses whose backfill is now stored go to the UI.
    fn release_deferred(&mut self) {
        if !self.heads_checked {
            return;
        }
        let ready: Vec<ChannelName> = self
            .deferred
            .keys()
            .filter(|channel| !self.puts.unstored_backfill(channel) && !self.unsaved.contains(*channel))
            .cloned()
            .collect();
        for channel in ready {
            // What was just stored may have shown a gap: the engine's own status output says so.
            if self.deferred.remove(&channel).is_some()
                && self.engine.status(&channel) == crate::sync::HistoryStatus::Complete
            {
                self.history_changed(channel, crate::sync::HistoryStatus::Complete);
            }
        }
    }

    fn loaded(&mut self, ticket: u64, result: Result<StoreAnswer, crate::StoreError>) {
        let Some(purpose) = self.loads.remove(&ticket) else { return };
        let answer = match (result, &purpose) {
            (Ok(answer), _) => answer,
            (Err(err), LoadFor::Page { peer, rid }) => {
                // Refused, never answered as empty: an empty answer says the range holds nothing.
                self.journal.note(self.now, format!("store: serving a page failed: {err}"));
                let (peer, rid) = (peer.clone(), *rid);
                self.engine_input(SyncInput::LoadFailed { peer, rid });
                return;
            }
            (Err(err), _) => {
                self.storage_error("Reading the history", &err);
                StoreAnswer::Holdings(Vec::new())
            }
        };
        match (purpose, answer) {
            (LoadFor::Startup, StoreAnswer::Startup { channels, grants, heads, presence }) => {
                self.startup_read = true;
                for card in &presence {
                    self.authors.learn(card);
                }
                self.session.remember_relay_signers(channels.iter().chain(&grants).chain(&heads));
                self.session.load_channels(&channels);
                self.engine_input(SyncInput::Stored(channels.clone()));
                let present = crate::facts_to_present(&self.own, &grants, &channels, &heads);
                if self.connect_wanted {
                    self.session.set_present(present);
                    self.session.start(self.now);
                } else {
                    self.startup = Some(present);
                }
            }
            (LoadFor::Startup, _) => {
                // The store could not be read: log in with nothing to present.
                self.startup_read = true;
                if self.connect_wanted {
                    self.session.start(self.now);
                } else {
                    self.startup = Some(Vec::new());
                }
            }
            (LoadFor::Holdings(channel), answer) => {
                let held = match answer {
                    StoreAnswer::Holdings(held) => held,
                    _ => Vec::new(),
                };
                self.holdings_page(channel, held);
            }
            (LoadFor::Page { peer, rid }, answer) => {
                let (facts, more) = match answer {
                    StoreAnswer::Page { facts, more } => (facts, more),
                    _ => (Vec::new(), false),
                };
                self.send_authors(&peer, &facts);
                self.engine_input(SyncInput::Loaded { peer, rid, facts, more });
            }
        }
    }

    /// The welcome came and its heads were compared with the holdings (and those lacking
    /// are being stored): `complete` may show again.
    fn check_heads(&mut self) {
        if !self.heads_checked && self.welcomed && self.holdings == Holdings::Known && self.heads.is_empty() {
            self.heads_checked = true;
            self.release_deferred();
        }
    }

    /// The relay connection is down: what was said meanwhile is unknown until the next welcome.
    fn heads_unchecked(&mut self) {
        self.welcomed = false;
        if !self.heads_checked {
            return;
        }
        self.heads_checked = false;
        let complete: Vec<ChannelName> = self
            .shown
            .iter()
            .filter(|(_, status)| **status == crate::sync::HistoryStatus::Complete)
            .map(|(channel, _)| channel.clone())
            .collect();
        for channel in complete {
            self.history_changed(channel, crate::sync::HistoryStatus::Complete);
        }
    }

    /// Stores the welcome's heads the store lacks, once the holdings are known (before,
    /// every head would look new). Stored like backfill: their `prev` shows what is missing.
    fn take_heads(&mut self) {
        if self.holdings != Holdings::Known || self.heads.is_empty() {
            return;
        }
        let lacking: Vec<Fact> = std::mem::take(&mut self.heads)
            .into_iter()
            .filter(|fact| match &fact.body {
                catalk_proto::FactBody::Message { channel, .. } => !self.engine.holds(channel, &fact.id),
                _ => false,
            })
            .collect();
        if !lacking.is_empty() {
            self.journal.note(self.now, format!("{} newer heads from the welcome", lacking.len()));
            self.puts.push(lacking, Origin::Backfill);
        }
    }

    /// Starts reading every known channel's holdings, a page at a time.
    fn read_holdings(&mut self) {
        let channels: BTreeSet<ChannelName> = self.session.channel_names().into_iter().collect();
        self.journal.note(self.now, format!("reading holdings of {} channels", channels.len()));
        for channel in &channels {
            let query =
                StoreQuery::Holdings { channel: channel.clone(), before: None, limit: self.config.holdings_page };
            self.load(LoadFor::Holdings(channel.clone()), query);
        }
        self.holdings = Holdings::Reading(channels);
        self.holdings_done_if_read();
    }

    fn holdings_page(&mut self, channel: ChannelName, held: Vec<crate::HeldMessage>) {
        let oldest = held.last().map(|message| message.id);
        let full = held.len() >= self.config.holdings_page && self.config.holdings_page > 0;
        if !held.is_empty() {
            self.engine_input(SyncInput::Held { channel: channel.clone(), held });
        }
        match oldest {
            Some(before) if full => {
                let query = StoreQuery::Holdings {
                    channel: channel.clone(),
                    before: Some(before),
                    limit: self.config.holdings_page,
                };
                self.load(LoadFor::Holdings(channel), query);
            }
            _ => {
                if let Holdings::Reading(left) = &mut self.holdings {
                    left.remove(&channel);
                }
                self.holdings_done_if_read();
            }
        }
    }

    fn holdings_done_if_read(&mut self) {
        if matches!(&self.holdings, Holdings::Reading(left) if left.is_empty()) {
            self.holdings = Holdings::Known;
            self.journal.note(self.now, "holdings known");
            self.take_heads();
            self.check_heads();
            self.update_peers();
        }
    }

    /// Tells the engine who came online or left since it was last told.
    fn update_peers(&mut self) {
        let now: BTreeMap<PublicKey, PeerKind> = self.session.online_peers().into_iter().collect();
        let before = std::mem::replace(&mut self.online, now.clone());
        for (peer, kind) in &now {
            if !before.contains_key(peer) {
                self.journal.note(self.now, format!("online {} {kind:?}", journal::short(&peer.to_string())));
                self.engine_input(SyncInput::PeerOnline { peer: peer.to_string(), kind: *kind });
            }
        }
        for peer in before.keys().filter(|peer| !now.contains_key(peer)) {
            self.journal.note(self.now, format!("offline {}", journal::short(&peer.to_string())));
            if let Some(link) = self.links.get(peer).filter(|link| matches!(link.stage, Stage::Relayed { .. })) {
                let link = link.clone();
                self.links.remove(peer);
                self.end_link(*peer, link, false);
            }
            self.engine_input(SyncInput::PeerOffline { peer: peer.to_string() });
        }
    }

    fn stored(&mut self, ticket: u64, result: Result<(), crate::StoreError>) {
        let Some(batch) = self.puts.done(ticket) else { return };
        if let Err(err) = result {
            // What failed is not in the store: a channel it would have completed stays
            // as it was shown, not `complete`.
            self.storage_error("Saving new messages", &err);
            for (fact, _) in &batch {
                if let catalk_proto::FactBody::Message { channel, .. } = &fact.body {
                    self.unsaved.insert(channel.clone());
                }
            }
            self.release_deferred();
            return;
        }
        for (_, origin) in &batch {
            match origin {
                Origin::Live => self.live_stored += 1,
                Origin::Backfill => self.backfilled_stored += 1,
                Origin::Card => {}
            }
        }
        let counts = storage::backfill_counts(&batch);
        let history = batch.into_iter().filter(|(_, origin)| *origin != Origin::Card).map(|(fact, _)| fact);
        self.engine_input(SyncInput::Stored(history.collect()));
        for (channel, count) in counts {
            self.outputs.push_back(Output::Event(Event::Backfill { channel, count }));
        }
        self.release_deferred();
    }

    fn storage_error(&mut self, doing: &str, err: &crate::StoreError) {
        self.journal.note(self.now, format!("store: {doing}: {err}"));
        self.outputs.push_back(Output::Event(Event::storage_error(doing, err)));
    }
}

#[cfg(test)]
mod tests;
