//! The driver's links to other peers: offers the sync engine asks for,
//! answers to peers' offers, the glare rule, the switch to the relay when a
//! data channel does not open, and the link events fed to the engine.

use crate::client::Client;
use crate::client::io::{LinkId, Output};
use crate::client::journal::{message_type, short};
use crate::client::links::{Link, NEVER, Stage, our_offer_wins};
use crate::client::pacer::{FRAME_OVERHEAD, Queued};
use crate::sync::SyncInput;
use catalk_proto::{PeerKind, PeerMessage, PublicKey, SignalKind, SyncSignal};

/// How long after the fallback deadline an answered link may still open.
const ANSWER_OPENS_WITHIN_MS: u64 = 20_000;

/// How long after a data channel opens its path (direct or TURN) may take to be told.
const PATH_WAIT_MS: u64 = 2_000;

impl Client {
    /// Whether the relay carries peer messages for links that cannot open.
    fn fallback_enabled(&self) -> bool {
        self.session.sync_fallback_bytes_per_second() > 0
    }

    /// The STUN/TURN servers for a new link: the shell's, then the welcome's (published ones and
    /// this login's TURN credentials), each once.
    fn link_ice_servers(&self) -> Vec<catalk_proto::IceServer> {
        let mut servers: Vec<catalk_proto::IceServer> = Vec::new();
        for server in self.ice_servers.iter().chain(self.session.turn_servers()) {
            if !servers.contains(server) {
                servers.push(server.clone());
            }
        }
        servers
    }

    /// Sends a sync signal through the relay; its answer stays inside the driver.
    fn signal(&mut self, to: PublicKey, to_conn: Option<u64>, signal: &SyncSignal) {
        let Ok(payload) = serde_json::to_string(signal) else { return };
        match self.session.signal(to, to_conn, payload) {
            Ok(rid) => {
                self.own_rids.insert(rid);
            }
            Err(err) => {
                self.journal.note(self.now, format!("signal to {} not sent: {}", short(&to.to_string()), err.code))
            }
        }
    }

    /// Releases what a removed link holds: its WebRTC connection, or the relayed
    /// link on the other side; with `notify`, tells the engine if it knew the link.
    pub(super) fn end_link(&mut self, peer: PublicKey, link: Link, notify: bool) {
        self.authors.forget_peer(&peer);
        self.pacer.drop_peer(&peer);
        if let Some(id) = link.id {
            self.outputs.push_back(Output::CloseLink { link: id });
        }
        if let Stage::Relayed { conn } = link.stage {
            self.signal(peer, Some(conn), &SyncSignal::bare(SignalKind::Close, self.config.kind));
        }
        if notify && (link.carries().is_some() || link.offering()) {
            self.journal.note(self.now, format!("closed {}", short(&peer.to_string())));
            self.engine_input(SyncInput::Disconnected { peer: peer.to_string() });
        }
    }

    /// The engine wants `peer`: make an offer, unless a link exists or is in the making.
    pub(super) fn engine_connect(&mut self, peer: &str) {
        let Ok(key) = peer.parse::<PublicKey>() else { return };
        if key == self.own {
            return;
        }
        if let Some(link) = self.links.get(&key) {
            if link.carries().is_some() {
                let kind = link.kind;
                self.engine_input(SyncInput::Connected { peer: peer.to_owned(), kind });
            }
            return;
        }
        let id = self.links.new_id();
        let kind = self.online.get(&key).copied().unwrap_or(PeerKind::Browser);
        self.links.insert(key, Link::new(Some(id), Stage::MakingOffer, kind));
        self.journal.note(self.now, format!("offering {}", short(peer)));
        self.outputs.push_back(Output::MakeOffer { link: id, ice_servers: self.link_ice_servers() });
    }

    /// The engine is done with `peer`.
    pub(super) fn engine_disconnect(&mut self, peer: &str) {
        let Ok(key) = peer.parse::<PublicKey>() else { return };
        if let Some(link) = self.links.remove(&key) {
            self.journal.note(self.now, format!("closing {}", short(peer)));
            self.end_link(key, link, false);
        }
    }

    /// Sends an engine message on the link to `peer`, directly or through the relay.
    pub(super) fn send_to_peer(&mut self, peer: &str, text: String) {
        let Ok(key) = peer.parse::<PublicKey>() else { return };
        match self.links.get(&key).map(|link| (link.stage, link.id)) {
            Some((Stage::Direct, Some(link))) => self.outputs.push_back(Output::ToPeer { link, text }),
            Some((Stage::Relayed { conn }, _)) => match serde_json::from_str::<PeerMessage>(&text) {
                Ok(msg) => {
                    let cost = text.len() + FRAME_OVERHEAD;
                    self.pacer.push(Queued { to: key, conn, msg, cost });
                    self.send_paced();
                }
                Err(err) => self.journal.note(self.now, format!("engine message unreadable: {err}")),
            },
            _ => self.journal.note(self.now, format!("to {} dropped: no open link", short(peer))),
        }
    }

    /// Sends the relayed peer messages the relay's fallback rate allows now (see [`Pacer`]).
    pub(super) fn send_paced(&mut self) {
        for Queued { to, conn, msg, .. } in self.pacer.ready(self.now) {
            match self.session.send_peer(to, conn, msg) {
                Ok(rid) => {
                    self.own_rids.insert(rid);
                }
                Err(err) => {
                    self.journal.note(self.now, format!("to {} not sent: {}", short(&to.to_string()), err.code));
                }
            }
        }
    }

    /// A sync signal from `from` (connection `from_conn`), carried by the relay.
    pub(super) fn on_signal(&mut self, from: PublicKey, from_conn: u64, payload: &str) {
        let Ok(signal) = serde_json::from_str::<SyncSignal>(payload) else {
            self.journal.note(self.now, format!("signal from {} is not a sync signal", short(&from.to_string())));
            return;
        };
        if from == self.own {
            return;
        }
        let peer = from.to_string();
        self.journal.note(self.now, format!("signal {:?} from {}", signal.signal, short(&peer)));
        match signal.signal {
            SignalKind::Offer => self.on_offer(from, from_conn, signal),
            SignalKind::Answer => {
                let Some(link) = self.links.get_mut(&from) else { return };
                let (Stage::Offered, Some(id)) = (link.stage, link.id) else { return };
                let fallback_at = if self.session.sync_fallback_bytes_per_second() > 0 {
                    self.now.saturating_add(self.config.fallback_after_ms)
                } else {
                    NEVER
                };
                link.stage = Stage::Answered { conn: from_conn, fallback_at };
                self.outputs.push_back(Output::AcceptAnswer { link: id, sdp: signal.sdp });
            }
            SignalKind::Relay if self.fallback_enabled() => {
                // The offering side could not open a data channel: go through the relay.
                if let Some(old) = self.links.remove(&from) {
                    self.end_link(from, old, true);
                }
                self.links.insert(from, Link::new(None, Stage::Relayed { conn: from_conn }, signal.kind));
                self.journal.note(self.now, format!("relayed {}", short(&peer)));
                self.engine_input(SyncInput::Connected { peer, kind: signal.kind });
            }
            SignalKind::Close => {
                if self.links.get(&from).is_some_and(|l| l.stage == Stage::Relayed { conn: from_conn }) {
                    self.links.remove(&from);
                    self.journal.note(self.now, format!("closed {}", short(&peer)));
                    self.engine_input(SyncInput::Disconnected { peer });
                }
            }
            SignalKind::Relay => {}
        }
    }

    /// An offer: answer it, unless ours to the same peer wins the glare.
    fn on_offer(&mut self, from: PublicKey, from_conn: u64, signal: SyncSignal) {
        if let Some(existing) = self.links.get(&from).cloned() {
            if existing.offering() {
                if our_offer_wins(&self.own, &from) {
                    self.journal.note(self.now, format!("offer from {} ignored: ours wins", short(&from.to_string())));
                    return;
                }
                // Theirs wins: drop ours quietly; the engine's connect is met when theirs opens.
                self.links.remove(&from);
                if let Some(id) = existing.id {
                    self.outputs.push_back(Output::CloseLink { link: id });
                }
            } else {
                // A newer offer from the same peer replaces the older link.
                self.links.remove(&from);
                self.end_link(from, existing, true);
            }
        }
        let id = self.links.new_id();
        self.links.insert(from, Link::new(Some(id), Stage::MakingAnswer { conn: from_conn }, signal.kind));
        self.outputs.push_back(Output::MakeAnswer { link: id, sdp: signal.sdp, ice_servers: self.link_ice_servers() });
    }

    /// A peer message the relay carried from `from` (connection `from_conn`).
    pub(super) fn on_relayed(&mut self, from: PublicKey, from_conn: u64, message: PeerMessage) {
        if self.links.get(&from).is_some_and(|l| l.stage == Stage::Relayed { conn: from_conn }) {
            self.engine_input(SyncInput::Message { peer: from.to_string(), message });
        }
    }

    /// The shell made our offer or answer: signal it (or drop a link that is no longer current).
    pub(super) fn link_sdp(&mut self, id: LinkId, sdp: String) {
        let Some(peer) = self.links.peer_of(id) else {
            self.outputs.push_back(Output::CloseLink { link: id });
            return;
        };
        let Some(link) = self.links.get_mut(&peer) else { return };
        let kind = self.config.kind;
        match link.stage {
            Stage::MakingOffer => {
                link.stage = Stage::Offered;
                self.journal.note(self.now, format!("offer to {}", short(&peer.to_string())));
                self.signal(peer, None, &SyncSignal::offer(sdp, kind));
            }
            Stage::MakingAnswer { conn } => {
                let expires_at = self.now.saturating_add(self.config.fallback_after_ms + ANSWER_OPENS_WITHIN_MS);
                link.stage = Stage::AnswerSent { conn, expires_at };
                self.journal.note(self.now, format!("answer to {}", short(&peer.to_string())));
                self.signal(peer, Some(conn), &SyncSignal::answer(sdp, kind));
            }
            _ => {}
        }
    }

    /// Making or accepting the link failed.
    pub(super) fn link_failed(&mut self, id: LinkId, reason: &str) {
        self.journal.note(self.now, format!("{id} failed: {reason}"));
        self.link_closed(id);
    }

    /// The link's data channel opened.
    pub(super) fn link_open(&mut self, id: LinkId) {
        let Some(peer) = self.links.peer_of(id) else {
            self.outputs.push_back(Output::CloseLink { link: id });
            return;
        };
        let Some(link) = self.links.get_mut(&peer) else { return };
        link.stage = Stage::Direct;
        link.path_due = Some(self.now + PATH_WAIT_MS);
        let kind = link.kind;
        self.journal.note(self.now, format!("opened {} {kind:?}", short(&peer.to_string())));
        self.engine_input(SyncInput::Connected { peer: peer.to_string(), kind });
    }

    /// The shell found which ICE candidates the open link's data channel uses.
    pub(super) fn link_path(&mut self, id: LinkId, turn: bool) {
        let Some(peer) = self.links.peer_of(id) else { return };
        let Some(link) = self.links.get_mut(&peer) else { return };
        if link.stage != Stage::Direct {
            return;
        }
        let first = link.path_due.take().is_some();
        if first || link.turn != turn {
            link.turn = turn;
            let path = if turn { "through TURN" } else { "direct" };
            self.journal.note(self.now, format!("link to {} is {path}", short(&peer.to_string())));
        }
    }

    /// A message on the link's data channel.
    pub(super) fn link_text(&mut self, id: LinkId, text: String) {
        let Some(peer) = self.links.peer_of(id) else { return };
        if self.links.get(&peer).is_some_and(|link| link.stage == Stage::Direct) {
            let peer = peer.to_string();
            self.journal.note(self.now, format!("from {} {}", short(&peer), message_type(&text)));
            self.engine_input(SyncInput::Received { peer, text });
        }
    }

    /// The link closed or failed: forget it, and tell the engine if it knew it.
    pub(super) fn link_closed(&mut self, id: LinkId) {
        let Some(peer) = self.links.peer_of(id) else { return };
        if let Some(link) = self.links.remove(&peer) {
            self.end_link(peer, link, true);
        }
    }

    /// Links answered but still shut when their deadline passed go through the relay.
    pub(super) fn fall_back_stuck_links(&mut self) {
        for (peer, conn) in self.links.stuck(self.now) {
            let enabled = self.fallback_enabled();
            let Some(link) = self.links.get_mut(&peer) else { continue };
            if !enabled {
                link.stage = Stage::Answered { conn, fallback_at: NEVER };
                continue;
            }
            let old = link.id.take();
            link.stage = Stage::Relayed { conn };
            let kind = link.kind;
            if let Some(id) = old {
                self.outputs.push_back(Output::CloseLink { link: id });
            }
            self.journal.note(self.now, format!("no data channel to {}: through the relay", short(&peer.to_string())));
            self.signal(peer, Some(conn), &SyncSignal::bare(SignalKind::Relay, self.config.kind));
            self.engine_input(SyncInput::Connected { peer: peer.to_string(), kind });
        }
    }

    /// Answered links whose data channel never opened are given up (the engine never knew
    /// them; the offering side falls back to the relay or retries with a new offer).
    pub(super) fn drop_unopened_answers(&mut self) {
        for peer in self.links.expired_answers(self.now) {
            if let Some(link) = self.links.remove(&peer) {
                self.journal.note(self.now, format!("answer to {} never opened", short(&peer.to_string())));
                self.end_link(peer, link, false);
            }
        }
    }

    /// The relay connection ended: links it carried end with it.
    pub(super) fn end_relayed_links(&mut self) {
        let relayed: Vec<PublicKey> = self
            .links
            .iter()
            .filter(|(_, link)| matches!(link.stage, Stage::Relayed { .. }))
            .map(|(peer, _)| *peer)
            .collect();
        for peer in relayed {
            self.links.remove(&peer);
            self.authors.forget_peer(&peer);
            self.pacer.drop_peer(&peer);
            self.journal.note(self.now, format!("closed {} (relay gone)", short(&peer.to_string())));
            self.engine_input(SyncInput::Disconnected { peer: peer.to_string() });
        }
    }
}
