//! The virtual client's shell: one task that owns the login session, the sync
//! engine and the store, and carries out what they ask for. Sockets, data
//! channels and timers report back through one event queue, so nothing here
//! is shared between tasks.

use crate::metrics::Metrics;
use crate::peers::Peers;
use crate::relay_socket::RelaySocket;
use crate::settings::Settings;
use crate::store::DiskStore;
use catalk_core::sync::{SyncConfig, SyncEngine, SyncInput, SyncOutput, load_page};
use catalk_core::{ClientSession, Event, HistoryStore as _, OnlineView, Output, facts_to_present};
use catalk_proto::{Fact, FactBody, PeerKind, PublicKey};
use catalk_rtc::{LinkEvent, PeerLink, RtcError};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Something that happened outside the shell task.
pub enum Internal {
    /// The relay socket of `generation` connected.
    SocketOpen {
        /// Which connection attempt.
        generation: u64,
    },
    /// A frame from the relay.
    SocketText {
        /// Which connection attempt.
        generation: u64,
        /// The frame.
        text: String,
    },
    /// The relay socket closed or could not connect.
    SocketClosed {
        /// Which connection attempt.
        generation: u64,
    },
    /// Our offer to `peer`, or our answer to its offer, is ready (or failed).
    LinkMade {
        /// The peer key.
        peer: String,
        /// Which link to `peer`.
        serial: u64,
        /// Whether we offered or answer (and to which connection).
        side: crate::peers::Side,
        /// The link and its SDP, with its events.
        result: Result<(PeerLink, String, mpsc::Receiver<LinkEvent>), RtcError>,
    },
    /// Something from a data channel.
    Link {
        /// The peer key.
        peer: String,
        /// Which link to `peer`.
        serial: u64,
        /// What happened.
        event: LinkEvent,
    },
}

/// A running virtual client.
pub struct Shell {
    pub(crate) settings: Settings,
    pub(crate) store: DiskStore,
    pub(crate) own: PublicKey,
    session: ClientSession,
    pub(crate) sync: SyncEngine,
    socket: Option<RelaySocket>,
    generation: u64,
    pub(crate) peers: Peers,
    online: HashMap<String, PeerKind>,
    holdings_loaded: bool,
    pub(crate) events: mpsc::UnboundedSender<Internal>,
    inbox: mpsc::UnboundedReceiver<Internal>,
    pub(crate) metrics: Arc<Metrics>,
}

impl Shell {
    /// A shell for `key` over `store`; call [`Shell::run`] to connect.
    pub fn new(settings: Settings, key: ed25519_dalek::SigningKey, store: DiskStore, metrics: Arc<Metrics>) -> Self {
        let own = PublicKey::of(&key);
        let name = catalk_proto::DisplayName::new(&settings.name).unwrap_or_else(|_| {
            catalk_proto::DisplayName::new("history keeper").unwrap_or_else(|_| unreachable!("a valid literal"))
        });
        let window_ms = match settings.kind {
            PeerKind::Virtual => Some(u64::try_from(settings.store_options.retention.as_millis()).unwrap_or(u64::MAX)),
            PeerKind::Browser => None,
        };
        let config = SyncConfig { window_ms, ..SyncConfig::default() };
        let (events, inbox) = mpsc::unbounded_channel();
        Self {
            sync: SyncEngine::new(config, settings.kind, Vec::new()),
            session: ClientSession::new(key, name),
            settings,
            store,
            own,
            socket: None,
            generation: 0,
            peers: Peers::default(),
            online: HashMap::new(),
            holdings_loaded: false,
            events,
            inbox,
            metrics,
        }
    }

    /// This client's public key.
    pub fn public_key(&self) -> PublicKey {
        self.own
    }

    /// Logs in and serves until `shutdown` resolves.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        self.refresh_store_metrics();
        if let Ok(channels) = self.store.channels().await {
            self.session.load_channels(&channels);
        }
        let present = self.present_facts().await;
        self.session.set_present(present);
        self.session.start(now_ms());
        self.pump().await;
        tokio::pin!(shutdown);
        let mut next_prune = tokio::time::Instant::now();
        loop {
            let deadline = self.deadline();
            tokio::select! {
                () = &mut shutdown => break,
                Some(event) = self.inbox.recv() => self.handle(event).await,
                () = tokio::time::sleep_until(deadline) => {
                    let now = now_ms();
                    self.session.handle_timeout(now);
                    self.sync.handle_timeout(now);
                }
                () = tokio::time::sleep_until(next_prune) => {
                    self.prune().await;
                    next_prune = tokio::time::Instant::now() + self.settings.prune_every;
                }
            }
            self.pump().await;
        }
        self.session.stop();
        self.pump().await;
        self.peers.close_all();
    }

    fn deadline(&self) -> tokio::time::Instant {
        let next = [self.session.poll_timeout(), self.sync.poll_timeout()].into_iter().flatten().min();
        let wait = next.map_or(Duration::from_secs(60), |at| Duration::from_millis(at.saturating_sub(now_ms())));
        tokio::time::Instant::now() + wait.min(Duration::from_secs(60))
    }

    async fn handle(&mut self, event: Internal) {
        let now = now_ms();
        match event {
            Internal::SocketOpen { generation } if generation == self.generation => {
                self.session.handle_connected(now);
            }
            Internal::SocketText { generation, text } if generation == self.generation => {
                self.session.handle_text(now, &text);
            }
            Internal::SocketClosed { generation } if generation == self.generation => {
                self.socket = None;
                self.metrics.relay_connected.store(0, Ordering::Relaxed);
                self.session.handle_closed(now, jitter());
            }
            Internal::LinkMade { peer, serial, side, result } => self.link_made(peer, serial, side, result),
            Internal::Link { peer, serial, event } => self.link_event(peer, serial, event),
            _ => {}
        }
    }

    /// Carries out everything the session and the engine asked for, until both are quiet.
    async fn pump(&mut self) {
        loop {
            if let Some(output) = self.session.poll_output() {
                self.session_output(output).await;
            } else if let Some(output) = self.sync.poll_output() {
                self.sync_output(output).await;
            } else {
                return;
            }
        }
    }

    async fn session_output(&mut self, output: Output) {
        match output {
            Output::Connect => {
                self.generation += 1;
                self.socket = Some(RelaySocket::open(&self.settings.relay_url, self.generation, self.events.clone()));
            }
            Output::Disconnect => self.socket = None,
            Output::Send(text) => {
                if let Some(socket) = &self.socket {
                    socket.send(text);
                }
            }
            Output::Persist(facts) => {
                let count = facts.len() as u64;
                if self.persist(facts).await {
                    self.metrics.live_facts.fetch_add(count, Ordering::Relaxed);
                }
            }
            Output::Signal { from, from_conn, payload } => self.on_signal(from, from_conn, &payload).await,
            Output::Event(event) => self.on_event(event).await,
            _ => {}
        }
    }

    async fn sync_output(&mut self, output: SyncOutput) {
        match output {
            SyncOutput::Connect { peer } => self.connect(peer),
            SyncOutput::Disconnect { peer } => {
                if self.peers.remove(&peer) == Some(true) {
                    self.metrics.peers_connected.fetch_sub(1, Ordering::Relaxed);
                }
            }
            SyncOutput::Send { peer, text } => {
                if is_facts_answer(&text) {
                    self.metrics.served(self.kind_of(&peer), text.len() as u64);
                }
                if let Err(err) = self.peers.send(&peer, text) {
                    tracing::debug!(%peer, %err, "peer send failed");
                    self.drop_peer(&peer);
                }
            }
            SyncOutput::Persist(facts) => {
                let count = facts.len() as u64;
                if self.persist(facts).await {
                    self.metrics.backfilled_facts.fetch_add(count, Ordering::Relaxed);
                }
            }
            SyncOutput::Load { peer, rid, channel, before, after, limit } => {
                let (facts, more) = match load_page(&self.store, &channel, before, after, limit).await {
                    Ok(page) => page,
                    Err(err) => {
                        tracing::error!(%err, "reading history failed");
                        (Vec::new(), false)
                    }
                };
                self.sync.handle_input(now_ms(), SyncInput::Loaded { peer, rid, facts, more });
            }
            SyncOutput::Status { channel, status } => tracing::debug!(%channel, ?status, "history status"),
            SyncOutput::Verify { ticket, facts, trusted } => {
                // Only asked for with `verify_outside`; verified here, on the shell's task.
                let valid = catalk_proto::verify_facts(&facts, |key| trusted.contains(key)).is_ok();
                self.sync.handle_input(now_ms(), SyncInput::Verified { ticket, facts, valid });
            }
        }
    }

    /// Stores facts durably, then tells the engine; `false` when the store failed.
    async fn persist(&mut self, facts: Vec<Fact>) -> bool {
        if facts.is_empty() {
            return true;
        }
        match self.store.put_facts(&facts).await {
            Ok(_) => {
                self.sync.handle_input(now_ms(), SyncInput::Stored(facts));
                self.refresh_store_metrics();
                true
            }
            Err(err) => {
                tracing::error!(%err, "storing facts failed");
                false
            }
        }
    }

    async fn on_event(&mut self, event: Event) {
        match event {
            Event::Ready { .. } => {
                self.metrics.relay_connected.store(1, Ordering::Relaxed);
                self.sync.set_trusted(self.session.trusted().to_vec());
                if !self.holdings_loaded {
                    self.holdings_loaded = true;
                    self.load_holdings().await;
                    let online = self.session.online_views();
                    self.update_peers(&online);
                }
                tracing::info!(relay = %self.settings.relay_url, "logged in");
            }
            Event::Presence { online } if self.holdings_loaded => self.update_peers(&online),
            Event::Privileges { privileges }
                if !privileges.virtual_client && self.settings.kind == PeerKind::Virtual =>
            {
                tracing::warn!(
                    key = %self.own,
                    "the relay does not attest this key as a virtual client; start it with --virtual-client {}",
                    self.own
                );
            }
            _ => {}
        }
    }

    fn update_peers(&mut self, online: &[OnlineView]) {
        let own = self.own.to_string();
        let now: HashMap<String, PeerKind> = online
            .iter()
            .filter(|p| p.key != own)
            .map(|p| (p.key.clone(), if p.privileges.virtual_client { PeerKind::Virtual } else { PeerKind::Browser }))
            .collect();
        let before = std::mem::replace(&mut self.online, now);
        let time = now_ms();
        for (peer, kind) in &self.online {
            if !before.contains_key(peer) {
                self.sync.handle_input(time, SyncInput::PeerOnline { peer: peer.clone(), kind: *kind });
            }
        }
        for peer in before.keys() {
            if !self.online.contains_key(peer) {
                self.sync.handle_input(time, SyncInput::PeerOffline { peer: peer.clone() });
            }
        }
    }

    pub(crate) fn kind_of(&self, peer: &str) -> PeerKind {
        self.online.get(peer).copied().unwrap_or(PeerKind::Browser)
    }

    /// Feeds the engine everything the store holds (once, after the first login).
    async fn load_holdings(&mut self) {
        let channels = self.store.channels().await.unwrap_or_default();
        let mut facts = channels.clone();
        for channel in &channels {
            if let FactBody::Channel { name, .. } = &channel.body
                && let Ok(mut messages) = self.store.messages_before(name, None, usize::MAX).await
            {
                facts.append(&mut messages);
            }
        }
        self.sync.handle_input(now_ms(), SyncInput::Stored(facts));
    }

    async fn present_facts(&self) -> Vec<Fact> {
        let grants = self.store.grants().await.unwrap_or_default();
        let channels = self.store.channels().await.unwrap_or_default();
        let mut heads = Vec::new();
        for channel in &channels {
            if let FactBody::Channel { name, .. } = &channel.body
                && let Ok(mut newest) = self.store.messages_before(name, None, 1).await
            {
                heads.append(&mut newest);
            }
        }
        facts_to_present(&self.own, &grants, &channels, &heads)
    }

    async fn prune(&mut self) {
        match self.store.prune(now_ms()) {
            Ok(report) => {
                let pruned = (report.expired + report.over_cap) as u64;
                self.metrics.pruned_messages.fetch_add(pruned, Ordering::Relaxed);
                for (channel, newest_gone) in report.forgotten {
                    let before = newest_gone.increment().unwrap_or(newest_gone);
                    self.sync.handle_input(now_ms(), SyncInput::Forgotten { channel, before });
                }
                self.refresh_store_metrics();
            }
            Err(err) => tracing::error!(%err, "pruning the store failed"),
        }
    }

    fn refresh_store_metrics(&self) {
        if let Ok(count) = self.store.message_count() {
            self.metrics.stored_messages.store(count, Ordering::Relaxed);
        }
        if let Ok(bytes) = self.store.stored_bytes() {
            self.metrics.stored_bytes.store(bytes, Ordering::Relaxed);
        }
    }

    /// Sends a signaling payload to `to` (all its connections, or `to_conn`).
    pub(crate) fn signal(&mut self, to: PublicKey, to_conn: Option<u64>, payload: String) {
        if let Err(err) = self.session.signal(to, to_conn, payload) {
            tracing::debug!(%to, code = %err.code, "signal not sent");
        }
    }
}

/// Whether a peer message is a `facts` answer (what counts as served history).
/// The engine serialises the tag first, so the prefix decides.
fn is_facts_answer(text: &str) -> bool {
    text.starts_with(r#"{"t":"facts""#)
}

/// Reconnect jitter in [0, 1).
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn facts_answers_are_recognised_by_their_tag() {
        let facts = catalk_proto::PeerMessage::Facts { rid: 1, facts: Vec::new(), more: false };
        assert!(super::is_facts_answer(&serde_json::to_string(&facts).expect("json")));
        let page = catalk_proto::PeerMessage::Page {
            rid: 1,
            channel: catalk_proto::ChannelName::general(),
            before: None,
            after: None,
            limit: 1,
        };
        assert!(!super::is_facts_answer(&serde_json::to_string(&page).expect("json")));
    }
}
