//! A small in-memory relay for driver tests: login by challenge, a signed
//! welcome and presence, posts signed into a chain, presented heads adopted,
//! signals and peer messages forwarded with the sender's connection. It checks
//! nothing a real relay checks; it exists so the driver meets real frames.

use catalk_proto::{
    ChannelName, ClientFrame, DisplayName, Fact, FactBody, FactId, Limits, Nonce, Privileges, PublicKey, ServerFrame,
    WelcomeFrame,
};
use std::collections::{BTreeMap, BTreeSet};

/// One open connection.
struct Conn {
    client: usize,
    key: Option<PublicKey>,
    name: String,
    privileges: Privileges,
}

/// A frame for client `client` on connection `conn`.
pub struct Delivery {
    pub client: usize,
    pub conn: u64,
    pub text: String,
}

pub struct MiniRelay {
    key: ed25519_dalek::SigningKey,
    epoch: Fact,
    general: Fact,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    last_ms: u64,
    seq: u128,
    /// The newest message per channel, posted here or presented.
    heads: BTreeMap<ChannelName, FactId>,
    /// The head messages posted this run (sent in welcomes when `send_heads`).
    head_facts: BTreeMap<ChannelName, Fact>,
    /// Whether welcomes carry the heads (docs/protocol.md §5).
    pub send_heads: bool,
    /// TURN credentials given in every welcome.
    pub turn: Option<catalk_proto::IceServer>,
    /// Keys attested as virtual clients.
    pub virtual_clients: BTreeSet<PublicKey>,
    /// The fallback rate in the welcome (0: no peer messages through the relay).
    pub fallback_bytes_per_second: u32,
    /// Peer frames carried so far.
    pub carried_peer_frames: usize,
    /// The last `links` report of each key's connection: (direct, turn, relay).
    pub link_reports: BTreeMap<PublicKey, (u32, u32, u32)>,
}

impl MiniRelay {
    /// A relay run starting at `now`.
    pub fn new(now: u64, fallback_bytes_per_second: u32) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32]);
        Self {
            epoch: Fact::sign(&key, FactId::from_parts(now, 0), FactBody::Epoch {}),
            general: Fact::sign(
                &key,
                FactId::from_parts(now, 1),
                FactBody::Channel { name: ChannelName::general(), creator: PublicKey::of(&key) },
            ),
            key,
            conns: BTreeMap::new(),
            next_conn: 0,
            last_ms: now,
            seq: 2,
            heads: BTreeMap::new(),
            head_facts: BTreeMap::new(),
            send_heads: true,
            turn: None,
            virtual_clients: BTreeSet::new(),
            fallback_bytes_per_second,
            carried_peer_frames: 0,
            link_reports: BTreeMap::new(),
        }
    }

    /// Restarts: a new epoch and general fact, every connection gone (returned).
    pub fn restart(&mut self, now: u64) -> Vec<usize> {
        let gone = self.conns.values().map(|c| c.client).collect();
        let keep = (std::mem::take(&mut self.virtual_clients), self.fallback_bytes_per_second);
        *self = Self::new(now.max(self.last_ms + 1), keep.1);
        self.virtual_clients = keep.0;
        gone
    }

    fn next_id(&mut self, now: u64) -> FactId {
        if now > self.last_ms {
            self.last_ms = now;
            self.seq = 0;
        }
        self.seq += 1;
        FactId::from_parts(self.last_ms, self.seq)
    }

    fn send(out: &mut Vec<Delivery>, client: usize, conn: u64, frame: &ServerFrame) {
        out.push(Delivery { client, conn, text: serde_json::to_string(frame).unwrap() });
    }

    fn presence(&mut self, now: u64, conn: &Conn, online: bool) -> Fact {
        let key = conn.key.unwrap();
        let body = FactBody::Presence {
            key,
            name: DisplayName::new(&conn.name).unwrap(),
            online,
            privileges: conn.privileges,
        };
        let id = self.next_id(now);
        Fact::sign(&self.key, id, body)
    }

    fn broadcast(&self, out: &mut Vec<Delivery>, except: Option<u64>, fact: &Fact) {
        for (id, conn) in &self.conns {
            if Some(*id) != except && conn.key.is_some() {
                Self::send(out, conn.client, *id, &ServerFrame::Fact { fact: fact.clone() });
            }
        }
    }

    /// Client `client` opened a socket: its connection id, and the challenge.
    pub fn open(&mut self, client: usize) -> (u64, Vec<Delivery>) {
        self.next_conn += 1;
        let conn = self.next_conn;
        self.conns.insert(conn, Conn { client, key: None, name: String::new(), privileges: Privileges::NONE });
        let challenge = ServerFrame::Challenge {
            nonce: Nonce::from_bytes([conn as u8; 32]),
            relay: PublicKey::of(&self.key),
            protocol: 1,
            expires_in_ms: 30_000,
            trusted: Vec::new(),
            endorsed_by: Vec::new(),
        };
        let mut out = Vec::new();
        Self::send(&mut out, client, conn, &challenge);
        (conn, out)
    }

    /// Connection `conn` closed: others see it go offline.
    pub fn close(&mut self, now: u64, conn: u64) -> Vec<Delivery> {
        let mut out = Vec::new();
        if let Some(gone) = self.conns.remove(&conn)
            && gone.key.is_some()
        {
            let fact = self.presence(now, &gone, false);
            self.broadcast(&mut out, None, &fact);
        }
        out
    }

    fn adopt(&mut self, facts: &[Fact]) {
        for fact in facts {
            if let FactBody::Message { channel, .. } = &fact.body {
                let head = self.heads.entry(channel.clone()).or_insert(fact.id);
                if *head < fact.id {
                    *head = fact.id;
                }
            }
        }
    }

    /// A frame from connection `conn`.
    pub fn frame(&mut self, now: u64, conn: u64, text: &str) -> Vec<Delivery> {
        let mut out = Vec::new();
        let frame: ClientFrame = serde_json::from_str(text).unwrap();
        let Some(client) = self.conns.get(&conn).map(|c| c.client) else { return out };
        let ack = |rid, id| ServerFrame::Ack { rid, id, adopted: None };
        match frame {
            ClientFrame::Login(login) => {
                let privileges = if self.virtual_clients.contains(&login.key) {
                    Privileges::VIRTUAL_CLIENT_ONLY
                } else {
                    Privileges::POSTER
                };
                self.adopt(&login.facts);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.key = Some(login.key);
                    c.name = login.name;
                    c.privileges = privileges;
                }
                let me = self.conns.remove(&conn).unwrap();
                let fact = self.presence(now, &me, true);
                self.conns.insert(conn, me);
                let others: Vec<(PublicKey, String, Privileges)> = self
                    .conns
                    .iter()
                    .filter(|(id, c)| **id != conn && c.key.is_some())
                    .map(|(_, c)| (c.key.unwrap(), c.name.clone(), c.privileges))
                    .collect();
                let mut online = vec![fact.clone()];
                for (key, name, privileges) in others {
                    let body =
                        FactBody::Presence { key, name: DisplayName::new(&name).unwrap(), online: true, privileges };
                    let id = self.next_id(now);
                    online.push(Fact::sign(&self.key, id, body));
                }
                let welcome = WelcomeFrame {
                    rid: login.rid,
                    key: login.key,
                    conn,
                    privileges,
                    epoch: self.epoch.clone(),
                    channels: vec![self.general.clone()],
                    online_count: online.len(),
                    online,
                    grant: None,
                    limits: Limits {
                        sync_fallback_bytes_per_second: self.fallback_bytes_per_second,
                        ..Limits::default()
                    },
                    trusted: vec![PublicKey::of(&self.key)],
                    ice_servers: self.turn.clone().into_iter().collect(),
                    heads: if self.send_heads { self.head_facts.values().cloned().collect() } else { Vec::new() },
                };
                Self::send(&mut out, client, conn, &ServerFrame::Welcome(Box::new(welcome)));
                self.broadcast(&mut out, Some(conn), &fact);
            }
            ClientFrame::Present { rid, facts } => {
                self.adopt(&facts);
                Self::send(&mut out, client, conn, &ack(rid, None));
            }
            ClientFrame::Post(post) => {
                let channel = ChannelName::new(&post.channel).unwrap();
                let author = self.conns[&conn].key.unwrap();
                let prev = self.heads.get(&channel).copied().or(Some(self.general.id));
                let id = self.next_id(now);
                let body = FactBody::Message {
                    channel: channel.clone(),
                    author,
                    draft: post.draft,
                    text: post.text,
                    prev,
                    epoch: self.epoch.id,
                    author_sig: post.sig,
                };
                let fact = Fact::sign(&self.key, id, body);
                self.heads.insert(channel.clone(), id);
                self.head_facts.insert(channel, fact.clone());
                Self::send(&mut out, client, conn, &ack(post.rid, Some(id)));
                self.broadcast(&mut out, None, &fact);
            }
            ClientFrame::Signal { rid, to, to_conn, payload } => {
                let from = self.conns[&conn].key.unwrap();
                for (id, c) in &self.conns {
                    if c.key == Some(to) && to_conn.is_none_or(|t| t == *id) {
                        let signal = ServerFrame::Signal { from, from_conn: conn, payload: payload.clone() };
                        Self::send(&mut out, c.client, *id, &signal);
                    }
                }
                Self::send(&mut out, client, conn, &ack(rid, None));
            }
            ClientFrame::Peer { rid, to, to_conn, msg } => {
                let from = self.conns[&conn].key.unwrap();
                if self.fallback_bytes_per_second > 0
                    && let Some(c) = self.conns.get(&to_conn).filter(|c| c.key == Some(to))
                {
                    self.carried_peer_frames += 1;
                    Self::send(&mut out, c.client, to_conn, &ServerFrame::Peer { from, from_conn: conn, msg });
                }
                Self::send(&mut out, client, conn, &ack(rid, None));
            }
            ClientFrame::Links { rid, direct, turn, relay } => {
                if let Some(key) = self.conns.get(&conn).and_then(|c| c.key) {
                    self.link_reports.insert(key, (direct, turn, relay));
                }
                Self::send(&mut out, client, conn, &ack(rid, None));
            }
            ClientFrame::Ping { rid } => Self::send(&mut out, client, conn, &ack(rid, None)),
            other => panic!("the mini relay does not serve {other:?}"),
        }
        out
    }
}
