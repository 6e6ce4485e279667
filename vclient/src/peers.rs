//! Data channels to other peers: offers when the engine wants a peer, answers
//! to browsers' offers, signaling through the relay, and the link events fed
//! back to the engine. Peers are named by public key, as in the browser.

use crate::shell::{Internal, Shell, now_ms};
use catalk_core::sync::SyncInput;
use catalk_proto::{PublicKey, SignalKind, SyncSignal};
use catalk_rtc::{LinkEvent, PeerLink, RtcError, SendError};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

/// Which side of the WebRTC handshake we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// We offered (the engine wants this peer).
    Offer,
    /// We answer the peer's offer from its connection `from_conn`.
    Answer {
        /// The offering connection.
        from_conn: u64,
    },
}

/// One link (open or opening) to a peer.
struct Slot {
    /// `None` while our offer or answer is being made.
    link: Option<PeerLink>,
    /// Tells this link from earlier or later ones to the same peer.
    serial: u64,
    /// Whether we made the offer.
    offered: bool,
    /// Whether the data channel opened (counted in `peers_connected`).
    open: bool,
}

/// The links of one shell, by peer key.
#[derive(Default)]
pub struct Peers {
    slots: HashMap<String, Slot>,
    next_serial: u64,
}

impl Peers {
    fn serial(&mut self) -> u64 {
        self.next_serial += 1;
        self.next_serial
    }

    /// Removes and closes the link to `peer`; `Some(open)` when there was one.
    pub fn remove(&mut self, peer: &str) -> Option<bool> {
        let slot = self.slots.remove(peer)?;
        if let Some(link) = slot.link {
            tokio::spawn(link.close());
        }
        Some(slot.open)
    }

    /// Queues a message on the link to `peer`.
    pub fn send(&self, peer: &str, text: String) -> Result<(), SendError> {
        match self.slots.get(peer).and_then(|s| s.link.as_ref()) {
            Some(link) => link.send(text),
            None => Err(SendError::Closed),
        }
    }

    /// Closes every link.
    pub fn close_all(&mut self) {
        for (_, slot) in self.slots.drain() {
            if let Some(link) = slot.link {
                tokio::spawn(link.close());
            }
        }
    }
}

/// Forwards a link's events to the shell.
fn forward(events: mpsc::UnboundedSender<Internal>, peer: String, serial: u64, mut rx: mpsc::Receiver<LinkEvent>) {
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            if events.send(Internal::Link { peer: peer.clone(), serial, event }).is_err() {
                return;
            }
        }
    });
}

impl Shell {
    /// Starts an offer to `peer` (the engine wants it).
    pub(crate) fn connect(&mut self, peer: String) {
        if self.peers.slots.contains_key(&peer) {
            return;
        }
        let serial = self.peers.serial();
        self.peers.slots.insert(peer.clone(), Slot { link: None, serial, offered: true, open: false });
        let (rtc, events) = (self.settings.rtc.clone(), self.events.clone());
        tokio::spawn(async move {
            let result = PeerLink::offer(&rtc).await;
            let _ = events.send(Internal::LinkMade { peer, serial, side: Side::Offer, result });
        });
    }

    /// Keeps a link whose offer or answer is ready (if it is still the current one for
    /// `peer`) and signals its SDP; a failed offer tells the engine the peer is unreachable.
    pub(crate) fn link_made(
        &mut self,
        peer: String,
        serial: u64,
        side: Side,
        result: Result<(PeerLink, String, mpsc::Receiver<LinkEvent>), RtcError>,
    ) {
        let current = self.peers.slots.get(&peer).is_some_and(|s| s.serial == serial);
        match result {
            Ok((link, sdp, rx)) if current => {
                let Ok(key) = peer.parse::<PublicKey>() else { return };
                if let Some(slot) = self.peers.slots.get_mut(&peer) {
                    slot.link = Some(link);
                }
                forward(self.events.clone(), peer, serial, rx);
                let (signal, to_conn) = match side {
                    Side::Offer => (SyncSignal::offer(sdp, self.settings.kind), None),
                    Side::Answer { from_conn } => (SyncSignal::answer(sdp, self.settings.kind), Some(from_conn)),
                };
                if let Ok(payload) = serde_json::to_string(&signal) {
                    self.signal(key, to_conn, payload);
                }
            }
            Ok((link, _, _)) => {
                tokio::spawn(link.close());
            }
            Err(err) => {
                tracing::warn!(%peer, %err, ?side, "WebRTC link failed");
                if current {
                    self.peers.slots.remove(&peer);
                    if side == Side::Offer {
                        self.sync.handle_input(now_ms(), SyncInput::Disconnected { peer });
                    }
                }
            }
        }
    }

    /// A signaling payload from `from` (connection `from_conn`).
    pub(crate) async fn on_signal(&mut self, from: PublicKey, from_conn: u64, payload: &str) {
        let Ok(signal) = serde_json::from_str::<SyncSignal>(payload) else {
            tracing::debug!(%from, "ignoring a signal that is not a sync signal");
            return;
        };
        let peer = from.to_string();
        match signal.signal {
            SignalKind::Offer => {
                // Glare: both offered at once; the smaller key's offer wins.
                let we_offered = self.peers.slots.get(&peer).is_some_and(|s| s.offered);
                if we_offered && self.own.to_string() < peer {
                    return;
                }
                self.replace(&peer);
                let serial = self.peers.serial();
                self.peers.slots.insert(peer.clone(), Slot { link: None, serial, offered: false, open: false });
                let (rtc, events) = (self.settings.rtc.clone(), self.events.clone());
                tokio::spawn(async move {
                    let result = PeerLink::answer(&rtc, &signal.sdp).await;
                    let _ = events.send(Internal::LinkMade { peer, serial, side: Side::Answer { from_conn }, result });
                });
            }
            SignalKind::Answer => {
                let link = self.peers.slots.get(&peer).and_then(|s| s.link.as_ref());
                if let Some(link) = link
                    && let Err(err) = link.accept_answer(&signal.sdp).await
                {
                    tracing::warn!(%peer, %err, "WebRTC answer rejected");
                    self.drop_peer(&peer);
                }
            }
            other => tracing::debug!(%peer, signal = ?other, "sync signal not handled by the virtual client"),
        }
    }

    pub(crate) fn link_event(&mut self, peer: String, serial: u64, event: LinkEvent) {
        if self.peers.slots.get(&peer).is_none_or(|s| s.serial != serial) {
            return;
        }
        let now = now_ms();
        match event {
            LinkEvent::Open => {
                if let Some(slot) = self.peers.slots.get_mut(&peer) {
                    slot.open = true;
                }
                self.metrics.peers_connected.fetch_add(1, Ordering::Relaxed);
                let kind = self.kind_of(&peer);
                self.sync.handle_input(now, SyncInput::Connected { peer, kind });
            }
            LinkEvent::Text(text) => self.sync.handle_input(now, SyncInput::Received { peer, text }),
            LinkEvent::Closed => self.drop_peer(&peer),
        }
    }

    /// Forgets the link to `peer` and tells the engine it is gone.
    pub(crate) fn drop_peer(&mut self, peer: &str) {
        if let Some(open) = self.peers.remove(peer) {
            if open {
                self.metrics.peers_connected.fetch_sub(1, Ordering::Relaxed);
            }
            self.sync.handle_input(now_ms(), SyncInput::Disconnected { peer: peer.to_owned() });
        }
    }

    /// A newer offer from the same peer replaces an older link.
    fn replace(&mut self, peer: &str) {
        self.drop_peer(peer);
    }
}
