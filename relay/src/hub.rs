//! Shared relay state: channels, chain heads, grants, who is online; signs and fans out facts.
//!
//! The hub is the only place facts are made. One lock guards the state; a
//! fact is assigned its id, signed and handed to the broadcast feed while the
//! lock is held, so every subscriber sees facts in id order. Author
//! signatures and presented facts are verified before the lock is taken.

use crate::clock::Clock;
use crate::config::{NewcomerPolicy, RelayConfig};
use crate::drafts::RecentDrafts;
use crate::ids::{IdAssigner, random_bits};
use crate::metrics::Metrics;
use crate::rejection::Rejection;
use axum::extract::ws::Utf8Bytes;
use catalk_proto::{
    ChannelName, DisplayName, ErrorCode, Fact, FactBody, FactId, Limits, PostFrame, Privileges, PublicKey, ServerFrame,
    WelcomeFrame, validate_body, verify_author,
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, mpsc};

/// How many (author, draft) pairs the relay remembers to refuse duplicate posts.
const REMEMBERED_DRAFTS: usize = 50_000;

/// The id of one websocket connection.
pub type ConnId = u64;

/// Frames addressed to one connection (signals).
pub type DirectSender = mpsc::Sender<Utf8Bytes>;

struct ChannelEntry {
    fact: Fact,
    head: Option<FactId>,
    /// The head message itself, when the head is a message (sent in welcomes).
    head_fact: Option<Fact>,
    posted_this_run: bool,
    /// Created by a user during this run: never replaced by a presented fact.
    created_this_run: bool,
}

struct OnlineKey {
    name: DisplayName,
    presence: Fact,
    /// `presence` already serialised as a `fact` frame, shared with every joiner.
    presence_frame: Utf8Bytes,
    /// Whether `presence` went to everyone (it does while few keys are online, for owners
    /// and virtual clients, and once the key posts); only announced keys announce leaving.
    announced: bool,
    conns: HashMap<ConnId, DirectSender>,
}

struct State {
    ids: IdAssigner,
    channels: BTreeMap<ChannelName, ChannelEntry>,
    grants: HashMap<PublicKey, Fact>,
    online: HashMap<PublicKey, OnlineKey>,
    drafts: RecentDrafts,
}

/// The relay's shared state and its fact factory.
pub struct Hub {
    key: ed25519_dalek::SigningKey,
    relay: PublicKey,
    trusted: Vec<PublicKey>,
    endorsements: Vec<catalk_proto::Endorsement>,
    owners: HashSet<PublicKey>,
    virtual_clients: HashSet<PublicKey>,
    newcomers: NewcomerPolicy,
    limits: Limits,
    clock: Arc<dyn Clock>,
    epoch: Fact,
    state: Mutex<State>,
    feed: broadcast::Sender<Utf8Bytes>,
    claim: Mutex<Option<String>>,
    post_limiter: DefaultKeyedRateLimiter<PublicKey>,
    turn: Option<crate::turn::TurnConfig>,
    /// The published STUN/TURN servers (`/.well-known/catalk.json`), also in every welcome.
    ice_servers: Vec<catalk_proto::IceServer>,
    /// The relay-wide byte rate of the sync fallback, if capped.
    fallback_total: Option<governor::DefaultDirectRateLimiter>,
    next_conn: AtomicU64,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("relay", &self.relay).field("epoch", &self.epoch.id).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct FactFrame<'a> {
    t: &'static str,
    fact: &'a Fact,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// `fact` serialised once as a `fact` frame.
fn fact_frame(fact: &Fact) -> Utf8Bytes {
    match serde_json::to_string(&FactFrame { t: "fact", fact }) {
        Ok(text) => Utf8Bytes::from(text),
        Err(err) => {
            tracing::error!(%err, "serialising a fact failed");
            Utf8Bytes::from_static("")
        }
    }
}

impl Hub {
    /// Starts a relay run: signs the epoch fact and the `general` channel.
    pub fn new(config: &RelayConfig) -> Arc<Self> {
        let relay = config.public_key();
        let limits = config.limits.clone();
        let (feed, _) = broadcast::channel(limits.outbound_queue_frames.max(16));
        let quota = Quota::per_second(nonzero(limits.posts_per_second_per_key))
            .allow_burst(nonzero(limits.posts_burst_per_key));
        let mut ids = IdAssigner::default();
        let now = config.clock.now_ms();
        let epoch = Fact::sign(&config.signing_key, ids.next(now, random_bits()), FactBody::Epoch {});
        let general = Fact::sign(
            &config.signing_key,
            ids.next(now, random_bits()),
            FactBody::Channel { name: ChannelName::general(), creator: relay },
        );
        let mut channels = BTreeMap::new();
        channels.insert(
            ChannelName::general(),
            ChannelEntry {
                head: Some(general.id),
                head_fact: None,
                fact: general,
                posted_this_run: false,
                created_this_run: false,
            },
        );
        let hub = Self {
            key: config.signing_key.clone(),
            relay,
            trusted: config.trusted(),
            endorsements: config.endorsements(),
            owners: config.owners.iter().copied().collect(),
            virtual_clients: config.virtual_clients.iter().copied().collect(),
            newcomers: config.newcomers,
            limits,
            clock: config.clock.clone(),
            epoch,
            state: Mutex::new(State {
                ids,
                channels,
                grants: HashMap::new(),
                online: HashMap::new(),
                drafts: RecentDrafts::new(REMEMBERED_DRAFTS),
            }),
            feed,
            claim: Mutex::new(config.claim_token.clone()),
            post_limiter: RateLimiter::keyed(quota),
            turn: config.turn.clone(),
            ice_servers: config.ice_servers.clone(),
            fallback_total: (config.sync_fallback_total_bytes_per_second > 0).then(|| {
                let rate = config.sync_fallback_total_bytes_per_second;
                let burst = rate.max(u32::try_from(config.limits.max_frame_bytes).unwrap_or(u32::MAX));
                RateLimiter::direct(Quota::per_second(nonzero(rate)).allow_burst(nonzero(burst)))
            }),
            next_conn: AtomicU64::new(1),
            metrics: Metrics::default(),
        };
        hub.metrics.fact_signed(catalk_proto::FactKind::Epoch);
        hub.metrics.fact_signed(catalk_proto::FactKind::Channel);
        Arc::new(hub)
    }

    /// The relay's current public key.
    pub fn relay_key(&self) -> PublicKey {
        self.relay
    }

    /// Keys whose facts this relay accepts (current first).
    pub fn trusted(&self) -> &[PublicKey] {
        &self.trusted
    }

    /// The earlier keys' signatures over the current one (`--previous-relay-key`), for the challenge.
    pub fn endorsements(&self) -> &[catalk_proto::Endorsement] {
        &self.endorsements
    }

    /// The earlier keys it still accepts (`--trusted-key`), as the challenge names them.
    pub fn older_keys(&self) -> Vec<PublicKey> {
        self.trusted.iter().copied().filter(|k| *k != self.relay).collect()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// This run's epoch fact.
    pub fn epoch(&self) -> &Fact {
        &self.epoch
    }

    /// A new connection id.
    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Subscribes to the live fact feed (already serialised `fact` frames).
    pub fn subscribe(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.feed.subscribe()
    }

    /// Forgets idle per-key rate-limit state (call periodically).
    pub fn trim_rate_limits(&self) {
        self.post_limiter.retain_recent();
        self.post_limiter.shrink_to_fit();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied fact: every
        // mutation happens after signing. Recover the guard rather than abort.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sign(&self, state: &mut State, body: FactBody) -> Fact {
        let id = state.ids.next(self.clock.now_ms(), random_bits());
        self.metrics.fact_signed(body.kind());
        Fact::sign(&self.key, id, body)
    }

    /// Serialises `fact` once as a `fact` frame and hands it to every subscriber;
    /// returns the frame.
    fn publish(&self, fact: &Fact) -> Utf8Bytes {
        let frame = fact_frame(fact);
        self.publish_frame(frame.clone());
        frame
    }

    /// Hands an already serialised frame to every subscriber.
    fn publish_frame(&self, frame: Utf8Bytes) {
        if !frame.is_empty() {
            // No subscribers is not an error: nobody is online to see it.
            let _ = self.feed.send(frame);
        }
    }

    fn privileges_locked(&self, state: &State, key: &PublicKey) -> Privileges {
        if self.owners.contains(key) {
            return Privileges::OWNER_ALL;
        }
        if self.virtual_clients.contains(key) {
            return Privileges::VIRTUAL_CLIENT_ONLY;
        }
        match state.grants.get(key).map(|g| &g.body) {
            Some(FactBody::Grant { privileges, .. }) if privileges.owner => privileges.union(Privileges::OWNER_ALL),
            Some(FactBody::Grant { privileges, .. }) => *privileges,
            _ => self.newcomers.privileges(),
        }
    }

    /// The privileges `key` holds now.
    pub fn privileges(&self, key: &PublicKey) -> Privileges {
        self.privileges_locked(&self.lock(), key)
    }

    /// Checks facts a client presents: count, trusted signer, signatures. Done before any is applied.
    pub fn verify_presented(&self, facts: &[Fact]) -> Result<(), Rejection> {
        if facts.len() > self.limits.max_present_facts {
            return Err(Rejection::new(
                ErrorCode::TooManyFacts,
                format!("{} facts, limit {}", facts.len(), self.limits.max_present_facts),
            ));
        }
        for (index, fact) in facts.iter().enumerate() {
            fact.verify(|k| self.trusted.contains(k)).map_err(|err| {
                let code = match err {
                    catalk_proto::VerifyError::UntrustedSigner { .. } => ErrorCode::UntrustedSigner,
                    _ => ErrorCode::BadSignature,
                };
                Rejection::new(code, format!("fact #{index}: {err}"))
            })?;
        }
        Ok(())
    }

    /// Re-adopts verified facts this relay signed earlier; returns how many changed its state.
    ///
    /// Grants: the newest per grantee wins. Channels: unknown ones are added; a
    /// known one is replaced by an older creation fact while nothing was posted
    /// in it this run. Messages: the newest one per channel becomes the chain
    /// head while nothing was posted in that channel this run.
    pub fn adopt(&self, facts: &[Fact]) -> u32 {
        let mut sorted: Vec<&Fact> = facts.iter().collect();
        sorted.sort_by_key(|f| f.id);
        let mut state = self.lock();
        if let Some(newest) = sorted.last() {
            // After a restart with a clock that went back, new facts must still
            // sort after everything the relay signed before (e.g. a revoke after a grant).
            state.ids.observe(newest.id);
        }
        let mut adopted = 0;
        let mut changed_grantees = Vec::new();
        for fact in sorted.iter().filter(|f| matches!(f.body, FactBody::Grant { .. })) {
            if let FactBody::Grant { grantee, .. } = &fact.body {
                let newer = state.grants.get(grantee).is_none_or(|current| current.id < fact.id);
                if newer {
                    state.grants.insert(*grantee, (*fact).clone());
                    changed_grantees.push(*grantee);
                    adopted += 1;
                    self.publish(fact);
                }
            }
        }
        for fact in sorted.iter().filter(|f| matches!(f.body, FactBody::Channel { .. })) {
            if let FactBody::Channel { name, .. } = &fact.body {
                let replace = match state.channels.get(name) {
                    None => true,
                    // This run's default `general` (or an adopted fact) gives way to an
                    // older creation fact; a channel a user created this run is kept.
                    Some(entry) => !entry.posted_this_run && !entry.created_this_run && fact.id < entry.fact.id,
                };
                if replace {
                    state.channels.insert(
                        name.clone(),
                        ChannelEntry {
                            fact: (*fact).clone(),
                            head: None,
                            head_fact: None,
                            posted_this_run: false,
                            created_this_run: false,
                        },
                    );
                    adopted += 1;
                    self.publish(fact);
                }
            }
        }
        for fact in sorted.iter().filter(|f| matches!(f.body, FactBody::Message { .. })) {
            if let FactBody::Message { channel, .. } = &fact.body
                && let Some(entry) = state.channels.get_mut(channel)
                && !entry.posted_this_run
                && fact.id > entry.fact.id
                && fact.id < self.epoch.id
                && entry.head.is_none_or(|head| head < fact.id)
            {
                entry.head = Some(fact.id);
                entry.head_fact = Some((*fact).clone());
                adopted += 1;
            }
        }
        for grantee in changed_grantees {
            self.refresh_presence(&mut state, &grantee);
        }
        adopted
    }

    /// Signs and publishes a new presence fact for `key` if it is online and its privileges changed.
    fn refresh_presence(&self, state: &mut State, key: &PublicKey) {
        let privileges = self.privileges_locked(state, key);
        let Some(entry) = state.online.get(key) else {
            return;
        };
        if matches!(&entry.presence.body, FactBody::Presence { privileges: p, .. } if *p == privileges) {
            return;
        }
        let body = FactBody::Presence { key: *key, name: entry.name.clone(), online: true, privileges };
        let fact = self.sign(state, body);
        let frame = self.publish(&fact);
        if let Some(entry) = state.online.get_mut(key) {
            entry.presence = fact;
            entry.presence_frame = frame;
            entry.announced = true;
        }
    }

    /// Registers a logged-in connection; returns its welcome and the presence
    /// `fact` frames of other online keys (up to `max_welcome_presence - 1`), to be
    /// sent right after the welcome as separate frames.
    ///
    /// The first connection of a key (or a new display name) publishes a presence fact.
    /// Others' presence travels in separate small frames, not inside the welcome:
    /// a websocket keeps its write buffer at the size of the largest message it
    /// ever sent, so one 400 KB welcome would cost 400 KB for the life of the connection.
    pub fn join(
        &self,
        rid: u64,
        key: PublicKey,
        name: DisplayName,
        conn: ConnId,
        direct: DirectSender,
    ) -> (WelcomeFrame, Vec<Utf8Bytes>) {
        let mut state = self.lock();
        let privileges = self.privileges_locked(&state, &key);
        let needs_presence = match state.online.get(&key) {
            None => true,
            Some(entry) => entry.name != name,
        };
        if needs_presence {
            let body = FactBody::Presence { key, name: name.clone(), online: true, privileges };
            let fact = self.sign(&mut state, body);
            let was_announced = state.online.get(&key).is_some_and(|e| e.announced);
            let announce = was_announced
                || privileges.owner
                || privileges.virtual_client
                || state.online.len() < self.limits.presence_announce_max;
            let frame = if announce { self.publish(&fact) } else { fact_frame(&fact) };
            let entry = state.online.entry(key).or_insert_with(|| OnlineKey {
                name: name.clone(),
                presence: fact.clone(),
                presence_frame: frame.clone(),
                announced: false,
                conns: HashMap::new(),
            });
            entry.name = name;
            entry.presence = fact;
            entry.presence_frame = frame;
            entry.announced = announce;
        }
        if let Some(entry) = state.online.get_mut(&key) {
            entry.conns.insert(conn, direct);
        }
        let online = state.online.get(&key).map(|entry| entry.presence.clone()).into_iter().collect();
        let others = state
            .online
            .iter()
            .filter(|(k, entry)| **k != key && entry.announced)
            .map(|(_, entry)| entry.presence_frame.clone())
            .take(self.limits.max_welcome_presence.saturating_sub(1))
            .collect();
        let welcome = WelcomeFrame {
            rid,
            key,
            conn,
            privileges,
            epoch: self.epoch.clone(),
            channels: state.channels.values().map(|c| c.fact.clone()).collect(),
            online,
            online_count: state.online.len(),
            grant: state.grants.get(&key).cloned(),
            limits: self.limits.clone(),
            trusted: self.trusted.clone(),
            heads: state.channels.values().filter_map(|c| c.head_fact.clone()).collect(),
            ice_servers: self
                .ice_servers
                .iter()
                .cloned()
                .chain(self.turn.iter().map(|turn| turn.credentials(&key, self.clock.now_ms())))
                .collect(),
        };
        (welcome, others)
    }

    /// Unregisters a connection; the last connection of a key publishes an offline presence fact.
    pub fn leave(&self, key: &PublicKey, conn: ConnId) {
        let mut state = self.lock();
        let Some(entry) = state.online.get_mut(key) else {
            return;
        };
        entry.conns.remove(&conn);
        if !entry.conns.is_empty() {
            return;
        }
        let name = entry.name.clone();
        let announced = entry.announced;
        state.online.remove(key);
        if !announced {
            // Nobody was told it came; nobody is told it left.
            return;
        }
        let privileges = self.privileges_locked(&state, key);
        let fact = self.sign(&mut state, FactBody::Presence { key: *key, name, online: false, privileges });
        self.publish(&fact);
    }

    /// Accepts a post: checks it, signs the message fact, publishes it and advances the chain.
    pub fn post(&self, author: &PublicKey, post: &PostFrame) -> Result<FactId, Rejection> {
        let channel = ChannelName::new(&post.channel)
            .map_err(|err| Rejection::new(ErrorCode::InvalidChannelName, err.to_string()))?;
        validate_body(&post.text, self.limits.max_body_bytes)
            .map_err(|err| Rejection::new(ErrorCode::InvalidBody, err.to_string()))?;
        verify_author(author, &self.relay, &channel, &post.draft, &post.text, &post.sig)
            .map_err(|err| Rejection::new(ErrorCode::BadSignature, format!("author signature: {err}")))?;
        let mut state = self.lock();
        if !self.privileges_locked(&state, author).post {
            return Err(Rejection::new(ErrorCode::Forbidden, "this key may not post"));
        }
        let Some(prev) = state.channels.get(&channel).map(|c| c.head) else {
            return Err(Rejection::new(ErrorCode::UnknownChannel, format!("no channel {channel}")));
        };
        if state.drafts.contains(author, &post.draft) {
            return Err(Rejection::new(ErrorCode::DuplicateDraft, format!("draft {} was already posted", post.draft)));
        }
        // Charged only for posts that would be accepted.
        if self.post_limiter.check_key(author).is_err() {
            return Err(Rejection::new(ErrorCode::RateLimited, "too many posts from this key"));
        }
        let body = FactBody::Message {
            channel: channel.clone(),
            author: *author,
            draft: post.draft,
            text: post.text.clone(),
            prev,
            epoch: self.epoch.id,
            author_sig: post.sig,
        };
        // An author nobody was told about is announced first, so readers know its name.
        if let Some(entry) = state.online.get_mut(author)
            && !entry.announced
        {
            entry.announced = true;
            self.publish_frame(entry.presence_frame.clone());
        }
        let fact = self.sign(&mut state, body);
        self.publish(&fact);
        state.drafts.insert(*author, post.draft);
        if let Some(entry) = state.channels.get_mut(&channel) {
            entry.head = Some(fact.id);
            entry.head_fact = Some(fact.clone());
            entry.posted_this_run = true;
        }
        Ok(fact.id)
    }

    /// Creates a channel for a key with the `create_channel` privilege.
    pub fn create_channel(&self, creator: &PublicKey, name: &str) -> Result<FactId, Rejection> {
        let name =
            ChannelName::new(name).map_err(|err| Rejection::new(ErrorCode::InvalidChannelName, err.to_string()))?;
        let mut state = self.lock();
        if !self.privileges_locked(&state, creator).create_channel {
            return Err(Rejection::new(ErrorCode::Forbidden, "this key may not create channels"));
        }
        if state.channels.contains_key(&name) {
            return Err(Rejection::new(ErrorCode::ChannelExists, format!("#{name} exists")));
        }
        let fact = self.sign(&mut state, FactBody::Channel { name: name.clone(), creator: *creator });
        self.publish(&fact);
        let id = fact.id;
        state.channels.insert(
            name,
            ChannelEntry { fact, head: Some(id), head_fact: None, posted_this_run: false, created_this_run: true },
        );
        Ok(id)
    }

    /// An owner sets `grantee`'s privileges.
    pub fn grant(&self, issuer: &PublicKey, grantee: PublicKey, privileges: Privileges) -> Result<FactId, Rejection> {
        grantee.verifying_key().map_err(|err| Rejection::new(ErrorCode::InvalidKey, format!("grantee: {err}")))?;
        let mut state = self.lock();
        if !self.privileges_locked(&state, issuer).owner {
            return Err(Rejection::new(ErrorCode::Forbidden, "only owners may grant"));
        }
        Ok(self.record_grant(&mut state, grantee, privileges, *issuer))
    }

    fn record_grant(&self, state: &mut State, grantee: PublicKey, privileges: Privileges, issuer: PublicKey) -> FactId {
        let fact = self.sign(state, FactBody::Grant { grantee, privileges, issuer });
        self.publish(&fact);
        let id = fact.id;
        state.grants.insert(grantee, fact);
        self.refresh_presence(state, &grantee);
        id
    }

    /// Makes `key` an owner if `token` is the unused claim token.
    pub fn claim(&self, key: &PublicKey, token: &str) -> Result<FactId, Rejection> {
        let mut slot = self.claim.lock().unwrap_or_else(|p| p.into_inner());
        let valid = slot.as_deref().is_some_and(|expected| constant_time_eq(expected.as_bytes(), token.as_bytes()));
        if !valid {
            return Err(Rejection::new(ErrorCode::InvalidClaim, "the claim token is wrong or already used"));
        }
        *slot = None;
        drop(slot);
        let mut state = self.lock();
        tracing::info!(%key, "owner claimed");
        Ok(self.record_grant(&mut state, *key, Privileges::OWNER_ALL, self.relay))
    }

    /// The grant fact held for `key`, if any.
    pub fn grant_of(&self, key: &PublicKey) -> Option<Fact> {
        self.lock().grants.get(key).cloned()
    }

    /// Forwards a signaling payload to the connections of `to` (or one of them).
    pub fn signal(
        &self,
        from: &PublicKey,
        from_conn: ConnId,
        to: &PublicKey,
        to_conn: Option<ConnId>,
        payload: &str,
    ) -> Result<(), Rejection> {
        if payload.len() > self.limits.max_signal_bytes {
            return Err(Rejection::new(
                ErrorCode::SignalTooLarge,
                format!("{} bytes, limit {}", payload.len(), self.limits.max_signal_bytes),
            ));
        }
        let frame = ServerFrame::Signal { from: *from, from_conn, payload: payload.to_owned() };
        self.deliver(&frame, to, to_conn)
    }

    /// Forwards a peer sync message to one connection of `to` (the websocket fallback).
    pub fn forward_peer(
        &self,
        from: &PublicKey,
        from_conn: ConnId,
        to: &PublicKey,
        to_conn: ConnId,
        msg: catalk_proto::PeerMessage,
        bytes: usize,
    ) -> Result<(), Rejection> {
        if let Some(total) = &self.fallback_total {
            let cells = NonZeroU32::new(u32::try_from(bytes).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
            if !matches!(total.check_n(cells), Ok(Ok(()))) {
                return Err(Rejection::new(ErrorCode::RateLimited, "the relay carries no more peer sync right now"));
            }
        }
        let frame = ServerFrame::Peer { from: *from, from_conn, msg };
        self.deliver(&frame, to, Some(to_conn))?;
        self.metrics.fallback_bytes.fetch_add(bytes as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Queues `frame` for `to_conn` of `to` (or every connection of `to`).
    fn deliver(&self, frame: &ServerFrame, to: &PublicKey, to_conn: Option<ConnId>) -> Result<(), Rejection> {
        let text = serde_json::to_string(frame).map_err(|e| Rejection::new(ErrorCode::Internal, e.to_string()))?;
        let text = Utf8Bytes::from(text);
        let state = self.lock();
        let Some(entry) = state.online.get(to) else {
            return Err(Rejection::new(ErrorCode::NotOnline, format!("{to} is not online")));
        };
        let targets: Vec<&DirectSender> = match to_conn {
            Some(conn) => entry.conns.get(&conn).into_iter().collect(),
            None => entry.conns.values().collect(),
        };
        if targets.is_empty() {
            return Err(Rejection::new(ErrorCode::NotOnline, format!("{to} has no connection {to_conn:?}")));
        }
        let mut delivered = 0;
        for target in targets {
            if target.try_send(text.clone()).is_ok() {
                delivered += 1;
            }
        }
        if delivered == 0 {
            return Err(Rejection::new(ErrorCode::PeerBusy, "the addressee is not reading; frame dropped"));
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
