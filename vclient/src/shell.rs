//! The virtual client's shell: one task that carries out what the client
//! driver (`catalk_core::Client`) asks for, with a websocket, WebRTC data
//! channels and the redb store. Sockets, links and timers report back through
//! one event queue, so nothing here is shared between tasks, and no sync
//! logic lives here: glare, the relay fallback and peer choice are the driver's.

use crate::links::Links;
use crate::metrics::Metrics;
use crate::relay_socket::RelaySocket;
use crate::settings::Settings;
use crate::store::DiskStore;
use catalk_core::client::{Input, LinkId, Output, run_query};
use catalk_core::{Client, ClientConfig, Event, HistoryStore as _};
use catalk_proto::{PeerKind, PublicKey};
use catalk_rtc::{LinkEvent, PeerLink, RtcError};
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
    /// The offer or answer of `link` is ready (or failed).
    LinkMade {
        /// The driver's link.
        link: LinkId,
        /// The link and its SDP, with its events.
        result: Result<(PeerLink, String, mpsc::Receiver<LinkEvent>), RtcError>,
    },
    /// Which path an open link takes (after its `Open`).
    LinkPath {
        /// The driver's link.
        link: LinkId,
        /// Whether it goes through a TURN server.
        turn: bool,
    },
    /// Something from a data channel.
    Link {
        /// The driver's link.
        link: LinkId,
        /// What happened.
        event: LinkEvent,
    },
}

/// A running virtual client.
pub struct Shell {
    settings: Settings,
    store: DiskStore,
    client: Client,
    socket: Option<RelaySocket>,
    generation: u64,
    links: Links,
    events: mpsc::UnboundedSender<Internal>,
    inbox: mpsc::UnboundedReceiver<Internal>,
    metrics: Arc<Metrics>,
}

impl Shell {
    /// A shell for `key` over `store`; call [`Shell::run`] to connect.
    pub fn new(settings: Settings, key: ed25519_dalek::SigningKey, store: DiskStore, metrics: Arc<Metrics>) -> Self {
        let name = catalk_proto::DisplayName::new(&settings.name).unwrap_or_else(|_| {
            catalk_proto::DisplayName::new("history keeper").unwrap_or_else(|_| unreachable!("a valid literal"))
        });
        let window_ms = match settings.kind {
            PeerKind::Virtual => Some(u64::try_from(settings.store_options.retention.as_millis()).unwrap_or(u64::MAX)),
            PeerKind::Browser => None,
        };
        let (events, inbox) = mpsc::unbounded_channel();
        Self {
            client: Client::new(key, name, ClientConfig::headless(settings.kind, window_ms)),
            settings,
            store,
            socket: None,
            generation: 0,
            links: Links::default(),
            events,
            inbox,
            metrics,
        }
    }

    /// This client's public key.
    pub fn public_key(&self) -> PublicKey {
        self.client.public_key()
    }

    /// Logs in and serves until `shutdown` resolves.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        self.refresh_store_metrics();
        self.client.connect(now_ms());
        self.pump().await;
        tokio::pin!(shutdown);
        let mut next_prune = tokio::time::Instant::now();
        loop {
            let deadline = self.deadline();
            tokio::select! {
                () = &mut shutdown => break,
                Some(event) = self.inbox.recv() => self.handle(event),
                () = tokio::time::sleep_until(deadline) => self.client.handle_timeout(now_ms()),
                () = tokio::time::sleep_until(next_prune) => {
                    self.prune();
                    next_prune = tokio::time::Instant::now() + self.settings.prune_every;
                }
            }
            self.pump().await;
        }
        self.client.stop(now_ms());
        self.pump().await;
        self.links.close_all();
    }

    fn deadline(&self) -> tokio::time::Instant {
        let wait = self
            .client
            .poll_timeout()
            .map_or(Duration::from_secs(60), |at| Duration::from_millis(at.saturating_sub(now_ms())));
        tokio::time::Instant::now() + wait.min(Duration::from_secs(60))
    }

    fn input(&mut self, input: Input) {
        self.client.handle_input(now_ms(), input);
    }

    fn handle(&mut self, event: Internal) {
        match event {
            Internal::SocketOpen { generation } if generation == self.generation => self.input(Input::SocketOpen),
            Internal::SocketText { generation, text } if generation == self.generation => {
                self.input(Input::SocketText(text));
            }
            Internal::SocketClosed { generation } if generation == self.generation => {
                self.socket = None;
                self.metrics.relay_connected.store(0, Ordering::Relaxed);
                self.input(Input::SocketClosed { random: jitter() });
            }
            Internal::LinkMade { link, result } => match result {
                Ok((peer_link, sdp, rx)) => {
                    self.links.keep(link, peer_link, rx, &self.events);
                    self.input(Input::LinkSdp { link, sdp });
                }
                Err(err) => self.input(Input::LinkFailed { link, reason: err.to_string() }),
            },
            Internal::LinkPath { link, turn } => self.input(Input::LinkPath { link, turn }),
            Internal::Link { link, event } => self.input(match event {
                LinkEvent::Open => Input::LinkOpen { link },
                LinkEvent::Text(text) => Input::LinkText { link, text },
                LinkEvent::Closed => Input::LinkClosed { link },
            }),
            _ => {}
        }
    }

    /// Carries out everything the driver asked for, until it is quiet.
    async fn pump(&mut self) {
        while let Some(output) = self.client.poll_output() {
            self.carry_out(output).await;
        }
        self.record_stats();
    }

    async fn carry_out(&mut self, output: Output) {
        match output {
            Output::OpenSocket => {
                self.generation += 1;
                self.socket = Some(RelaySocket::open(&self.settings.relay_url, self.generation, self.events.clone()));
            }
            Output::CloseSocket => self.socket = None,
            Output::ToRelay(text) => {
                if let Some(socket) = &self.socket {
                    socket.send(text);
                }
            }
            Output::MakeOffer { link, ice_servers } => Links::offer(&self.rtc_with(ice_servers), link, &self.events),
            Output::MakeAnswer { link, sdp, ice_servers } => {
                Links::answer(&self.rtc_with(ice_servers), link, sdp, &self.events);
            }
            Output::AcceptAnswer { link, sdp } => {
                let result = match self.links.get(link) {
                    Some(peer_link) => peer_link.accept_answer(&sdp).await.map_err(|e| e.to_string()),
                    None => Err("no such link".to_owned()),
                };
                if let Err(reason) = result {
                    tracing::warn!(%link, %reason, "WebRTC answer rejected");
                    self.input(Input::LinkFailed { link, reason });
                }
            }
            Output::CloseLink { link } => self.links.close(link),
            Output::ToPeer { link, text } => {
                if let Err(err) = self.links.send(link, text) {
                    tracing::debug!(%link, %err, "peer send failed");
                    self.input(Input::LinkFailed { link, reason: err.to_string() });
                }
            }
            Output::Load { ticket, query } => {
                let result = run_query(&self.store, &query).await;
                if let Err(err) = &result {
                    tracing::error!(%err, "reading history failed");
                }
                self.input(Input::Loaded { ticket, result });
            }
            Output::Put { ticket, facts } => {
                let result = self.store.put_facts(&facts).await.map(drop);
                if let Err(err) = &result {
                    tracing::error!(%err, "storing facts failed");
                }
                self.input(Input::Stored { ticket, result });
                self.refresh_store_metrics();
            }
            Output::Verify { ticket, facts, trusted } => {
                let valid = catalk_proto::verify_facts(&facts, |key| trusted.contains(key)).is_ok();
                self.input(Input::Verified { ticket, facts, valid });
            }
            Output::Event(event) => self.on_event(&event),
            _ => {}
        }
    }

    /// The configured link settings plus the driver's ICE servers (the welcome's: the relay's published
    /// ones, its own STUN included, and this login's TURN credentials).
    fn rtc_with(&self, ice_servers: Vec<catalk_proto::IceServer>) -> catalk_rtc::RtcConfig {
        let mut rtc = self.settings.rtc.clone();
        rtc.ice_servers.extend(ice_servers);
        rtc
    }

    fn on_event(&self, event: &Event) {
        match event {
            Event::Ready { .. } => {
                self.metrics.relay_connected.store(1, Ordering::Relaxed);
                tracing::info!(relay = %self.settings.relay_url, "logged in");
            }
            Event::Privileges { privileges }
                if !privileges.virtual_client && self.settings.kind == PeerKind::Virtual =>
            {
                tracing::warn!(
                    key = %self.public_key(),
                    "the relay does not attest this key as a virtual client; start it with --virtual-client {}",
                    self.public_key()
                );
            }
            Event::RelayKeyChanged { previous, current } => tracing::error!(
                ?previous,
                %current,
                "the relay signs with a key this store never trusted; not logging in. If the relay's key \
                 was replaced on purpose, start the relay with --trusted-key for the old key, or move this \
                 store aside to start afresh"
            ),
            Event::History { channel, status } => tracing::debug!(%channel, ?status, "history status"),
            Event::Error { code, message } => tracing::error!(%code, %message, "client error"),
            _ => {}
        }
    }

    fn prune(&mut self) {
        match self.store.prune(now_ms()) {
            Ok(report) => {
                let pruned = (report.expired + report.over_cap) as u64;
                self.metrics.pruned_messages.fetch_add(pruned, Ordering::Relaxed);
                for (channel, newest_gone) in report.forgotten {
                    let before = newest_gone.increment().unwrap_or(newest_gone);
                    self.input(Input::Forgotten { channel, before });
                }
                self.refresh_store_metrics();
            }
            Err(err) => tracing::error!(%err, "pruning the store failed"),
        }
    }

    fn record_stats(&self) {
        self.metrics.record(&self.client.stats());
    }

    fn refresh_store_metrics(&self) {
        if let Ok(count) = self.store.message_count() {
            self.metrics.stored_messages.store(count, Ordering::Relaxed);
        }
        if let Ok(bytes) = self.store.stored_bytes() {
            self.metrics.stored_bytes.store(bytes, Ordering::Relaxed);
        }
    }
}

/// Reconnect jitter in [0, 1).
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
