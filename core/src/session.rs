//! The client's connection state machine (sans-IO).

use crate::backoff::Backoff;
use crate::present::{PRESENT_BUDGET_BYTES, PRESENT_BUDGET_FACTS, Presentable, batches};
use crate::view::{MessageView, NameView, OnlineView};
use catalk_proto::{
    ChannelName, ClientFrame, DisplayName, DraftId, ErrorCode, Fact, FactBody, FactId, LoginFrame, PostFrame,
    Privileges, PublicKey, ServerFrame, sign_login, sign_post, validate_body,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};

mod relay_keys;
pub use relay_keys::RelayKeyChange;
use relay_keys::{RelayKeys, Verdict};

/// Milliseconds between pings while connected (keeps proxies from closing an idle socket).
const PING_EVERY_MS: u64 = 25_000;

/// The state of the connection as a UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Not started, or stopped.
    Offline,
    /// Opening the socket or logging in.
    Connecting,
    /// Logged in.
    Connected,
    /// Waiting to retry after a drop.
    Reconnecting,
    /// Stopped: the relay shows a signing key this device never trusted (see
    /// [`ClientSession::relay_key_change`]); waits for [`ClientSession::accept_relay_key`].
    KeyChanged,
}

/// Who refused an action, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionCode {
    /// The relay refused it (`docs/protocol.md` error codes).
    Relay(ErrorCode),
    /// Not connected to the relay, or the connection closed before it answered.
    Offline,
    /// The client refused it before sending (a bad channel name, body, key).
    Invalid,
}

impl ActionCode {
    /// The stable text code: the relay's wire name, or `offline` / `invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relay(code) => code.as_str(),
            Self::Offline => "offline",
            Self::Invalid => "invalid",
        }
    }
}

impl std::fmt::Display for ActionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ActionCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why an action failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ActionError {
    /// Who refused it and why.
    pub code: ActionCode,
    /// Human-readable detail.
    pub message: String,
}

impl ActionError {
    /// An action refused with `code`.
    pub fn new(code: ActionCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// An action that could not reach the relay.
    pub fn offline(message: impl Into<String>) -> Self {
        Self::new(ActionCode::Offline, message)
    }

    /// An action refused by the client itself.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ActionCode::Invalid, message)
    }
}

/// A channel as a UI lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelView {
    /// Channel fact id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Creator key.
    pub creator: String,
}

/// Something the UI should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The connection state changed.
    Status {
        /// The new state.
        status: ConnectionStatus,
        /// Milliseconds until the next attempt, while reconnecting.
        #[serde(rename = "retryInMs", skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<u64>,
    },
    /// Logged in.
    Ready {
        /// This client's key.
        key: String,
        /// Its privileges.
        privileges: Privileges,
    },
    /// The channel list changed.
    Channels {
        /// All channels, `general` first then by name.
        channels: Vec<ChannelView>,
    },
    /// Who is online changed.
    Presence {
        /// Everyone online.
        online: Vec<OnlineView>,
    },
    /// This key's privileges changed.
    Privileges {
        /// The new privileges.
        privileges: Privileges,
    },
    /// A new verified message.
    Message {
        /// The message.
        message: MessageView,
    },
    /// Display names learnt from presence facts other members' devices served with the
    /// history (people who may be away): `nameOf` knows them from now on.
    Names {
        /// The people, by key.
        people: Vec<NameView>,
    },
    /// The relay shows a signing key this device never trusted: the session stopped and
    /// waits for the person to accept the new key (or not).
    RelayKeyChanged {
        /// The keys this device trusted so far.
        previous: Vec<String>,
        /// The key the relay shows now.
        current: String,
    },
    /// A fact or frame from the relay was dropped.
    Dropped {
        /// Why.
        reason: String,
    },
    /// A channel's history status changed (from the [`crate::Client`] driver).
    History {
        /// The channel.
        channel: ChannelName,
        /// Its status.
        status: crate::sync::HistoryStatus,
    },
    /// Backfilled messages of `channel` were stored (from the [`crate::Client`] driver).
    Backfill {
        /// The channel.
        channel: ChannelName,
        /// How many.
        count: usize,
    },
    /// Something went wrong that the person should know (`quota_exceeded`, `storage`).
    Error {
        /// Stable code.
        code: String,
        /// What happened, for people.
        message: String,
    },
}

impl Event {
    /// The [`Event::Error`] for a store that failed while `doing` (e.g. "Saving new messages"):
    /// `quota_exceeded` when the device is full, else `storage`.
    pub fn storage_error(doing: &str, err: &crate::StoreError) -> Self {
        match err {
            crate::StoreError::QuotaExceeded => Self::Error {
                code: "quota_exceeded".to_owned(),
                message: format!("Storage is full: {} is not possible on this device", doing.to_lowercase()),
            },
            other => Self::Error { code: "storage".to_owned(), message: format!("{doing} failed: {other}") },
        }
    }
}

/// What the shell must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Open a websocket to the relay, then call [`ClientSession::handle_connected`].
    Connect,
    /// Close the websocket (then call [`ClientSession::handle_closed`]).
    Disconnect,
    /// Send this text frame.
    Send(String),
    /// Store these verified facts.
    Persist(Vec<Fact>),
    /// The newest message of each channel as the relay knows it (verified), from the
    /// welcome: store those the store lacks, so what was said while away is found missing.
    Heads(Vec<Fact>),
    /// Verified presence facts (from the welcome and live): each is the newest known card of
    /// its key, which peers serve with the history so names show for authors who are away.
    Presence(Vec<Fact>),
    /// Tell the UI.
    Event(Event),
    /// A signaling payload from another key (WebRTC offer/answer), `from` set by the relay.
    Signal {
        /// Sender key.
        from: PublicKey,
        /// Sender connection.
        from_conn: u64,
        /// Opaque payload.
        payload: String,
    },
    /// A peer sync message carried by the relay (the fallback).
    Peer {
        /// Sender key.
        from: PublicKey,
        /// Sender connection.
        from_conn: u64,
        /// The message.
        msg: catalk_proto::PeerMessage,
    },
    /// The request `rid` finished.
    Resolve {
        /// The request id returned when the action was started.
        rid: u64,
        /// The produced fact id, or why it failed.
        result: Result<Option<FactId>, ActionError>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Stopped,
    /// Waiting until `at` to reconnect.
    Waiting {
        at: u64,
    },
    AwaitChallenge,
    AwaitWelcome {
        rid: u64,
    },
    Ready,
    /// Stopped until the person accepts the relay's new key.
    KeyChanged,
}

/// One client's session with a relay: login, live facts, requests, reconnects.
pub struct ClientSession {
    key: ed25519_dalek::SigningKey,
    public: PublicKey,
    name: DisplayName,
    phase: Phase,
    relay: Option<PublicKey>,
    trusted: Vec<PublicKey>,
    relay_keys: RelayKeys,
    key_change: Option<RelayKeyChange>,
    privileges: Privileges,
    channels: BTreeMap<ChannelName, Fact>,
    online: BTreeMap<PublicKey, OnlineView>,
    next_rid: u64,
    pending: HashMap<u64, ()>,
    present: Presentable,
    later_present: Vec<Vec<Fact>>,
    outputs: VecDeque<Output>,
    backoff: Backoff,
    next_ping_at: u64,
    sync_fallback_bytes_per_second: u32,
    /// The burst of that allowance: the larger of the rate and the relay's frame limit.
    sync_fallback_burst_bytes: u32,
    turn_servers: Vec<catalk_proto::IceServer>,
}

impl std::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSession").field("key", &self.public).field("phase", &self.phase).finish_non_exhaustive()
    }
}

impl ClientSession {
    /// A stopped session for `key`, announcing `name`.
    pub fn new(key: ed25519_dalek::SigningKey, name: DisplayName) -> Self {
        let public = PublicKey::of(&key);
        Self {
            key,
            public,
            name,
            phase: Phase::Stopped,
            relay: None,
            trusted: Vec::new(),
            relay_keys: RelayKeys::default(),
            key_change: None,
            privileges: Privileges::NONE,
            channels: BTreeMap::new(),
            online: BTreeMap::new(),
            next_rid: 1,
            pending: HashMap::new(),
            present: Presentable::default(),
            later_present: Vec::new(),
            outputs: VecDeque::new(),
            backoff: Backoff::default(),
            next_ping_at: u64::MAX,
            sync_fallback_bytes_per_second: 0,
            sync_fallback_burst_bytes: 0,
            turn_servers: Vec::new(),
        }
    }

    /// This client's public key.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The connection state.
    pub fn status(&self) -> ConnectionStatus {
        match self.phase {
            Phase::Stopped => ConnectionStatus::Offline,
            Phase::Waiting { .. } => ConnectionStatus::Reconnecting,
            Phase::AwaitChallenge | Phase::AwaitWelcome { .. } => ConnectionStatus::Connecting,
            Phase::Ready => ConnectionStatus::Connected,
            Phase::KeyChanged => ConnectionStatus::KeyChanged,
        }
    }

    /// Privileges from the last welcome or presence.
    pub fn privileges(&self) -> Privileges {
        self.privileges
    }

    /// Channels known from the relay and the store.
    pub fn channel_views(&self) -> Vec<ChannelView> {
        let mut views: Vec<ChannelView> = self
            .channels
            .iter()
            .map(|(name, fact)| ChannelView {
                id: fact.id.to_string(),
                name: name.to_string(),
                creator: match &fact.body {
                    FactBody::Channel { creator, .. } => creator.to_string(),
                    _ => String::new(),
                },
            })
            .collect();
        views.sort_by_key(|v| (v.name != catalk_proto::DEFAULT_CHANNEL, v.name.clone()));
        views
    }

    /// Who is online.
    pub fn online_views(&self) -> Vec<OnlineView> {
        self.online.values().cloned().collect()
    }

    /// Keys that may sign facts this client accepts.
    pub fn trusted(&self) -> &[PublicKey] {
        &self.trusted
    }

    /// Adds channel facts from the store (already verified when stored).
    pub fn load_channels(&mut self, channels: &[Fact]) {
        for fact in channels {
            if let FactBody::Channel { name, .. } = &fact.body {
                self.channels.entry(name.clone()).or_insert_with(|| fact.clone());
            }
        }
        self.push_event(Event::Channels { channels: self.channel_views() });
    }

    /// Trusts the relay keys that signed these stored facts (the device's own history):
    /// a relay showing another key is an unexpected change.
    pub fn remember_relay_signers<'a>(&mut self, facts: impl IntoIterator<Item = &'a Fact>) {
        self.relay_keys.remember_signers(facts);
        for key in self.relay_keys.known() {
            if !self.trusted.contains(key) {
                self.trusted.push(*key);
            }
        }
    }

    /// The unexpected relay key the session stopped for, if it did.
    pub fn relay_key_change(&self) -> Option<&RelayKeyChange> {
        self.key_change.as_ref()
    }

    /// Trusts the relay's new key (after [`Event::RelayKeyChanged`]) and logs in again. The
    /// history signed by the earlier keys stays verified under them. False when no change waits.
    pub fn accept_relay_key(&mut self, now: u64) -> bool {
        let Some(change) = self.key_change.take() else { return false };
        self.relay_keys.remember(change.current);
        if !self.trusted.contains(&change.current) {
            self.trusted.push(change.current);
        }
        self.phase = Phase::Stopped;
        self.start(now);
        true
    }

    /// Facts to re-present at the next login (see [`crate::facts_to_present`]).
    pub fn set_present(&mut self, facts: Vec<Fact>) {
        self.present = Presentable::new(facts);
    }

    /// Changes the display name; takes effect by reconnecting.
    pub fn set_name(&mut self, now: u64, name: DisplayName) {
        self.name = name;
        if matches!(self.phase, Phase::Ready | Phase::AwaitChallenge | Phase::AwaitWelcome { .. }) {
            self.outputs.push_back(Output::Disconnect);
        } else {
            self.start(now);
        }
    }

    /// Starts connecting (no-op when already connected or connecting).
    pub fn start(&mut self, _now: u64) {
        if matches!(self.phase, Phase::Stopped | Phase::Waiting { .. }) {
            self.phase = Phase::AwaitChallenge;
            self.outputs.push_back(Output::Connect);
            self.push_status(None);
        }
    }

    /// The socket is open; the challenge comes next.
    pub fn handle_connected(&mut self, _now: u64) {
        self.phase = Phase::AwaitChallenge;
    }

    /// The socket closed or failed to open. `random` in [0, 1) sets the backoff jitter.
    pub fn handle_closed(&mut self, now: u64, random: f64) {
        if matches!(self.phase, Phase::Stopped | Phase::KeyChanged) {
            return;
        }
        for rid in std::mem::take(&mut self.pending).into_keys() {
            self.outputs.push_back(Output::Resolve {
                rid,
                result: Err(ActionError::offline("the connection closed before the relay answered")),
            });
        }
        let delay = self.backoff.next_delay(random);
        self.phase = Phase::Waiting { at: now + delay };
        self.next_ping_at = u64::MAX;
        if !self.online.is_empty() {
            self.online.clear();
            self.push_event(Event::Presence { online: Vec::new() });
        }
        self.push_status(Some(delay));
    }

    /// Stops for good (no reconnect).
    pub fn stop(&mut self) {
        if matches!(self.phase, Phase::AwaitChallenge | Phase::AwaitWelcome { .. } | Phase::Ready) {
            self.outputs.push_back(Output::Disconnect);
        }
        self.phase = Phase::Stopped;
        for rid in std::mem::take(&mut self.pending).into_keys() {
            self.outputs.push_back(Output::Resolve { rid, result: Err(ActionError::offline("stopped")) });
        }
        self.push_status(None);
    }

    /// When [`ClientSession::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.phase {
            Phase::Waiting { at } => Some(at),
            Phase::Ready => Some(self.next_ping_at),
            _ => None,
        }
    }

    /// Time passed: reconnect or ping when due.
    pub fn handle_timeout(&mut self, now: u64) {
        match self.phase {
            Phase::Waiting { at } if now >= at => {
                self.phase = Phase::AwaitChallenge;
                self.outputs.push_back(Output::Connect);
                self.push_status(None);
            }
            Phase::Ready if now >= self.next_ping_at => {
                let rid = self.rid();
                self.send(&ClientFrame::Ping { rid });
                self.next_ping_at = now + PING_EVERY_MS;
            }
            _ => {}
        }
    }

    /// The next thing the shell must do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// A text frame from the relay.
    pub fn handle_text(&mut self, now: u64, text: &str) {
        let frame = match serde_json::from_str::<ServerFrame>(text) {
            Ok(frame) => frame,
            Err(err) => {
                self.push_event(Event::Dropped { reason: format!("undecodable frame: {err}") });
                return;
            }
        };
        match frame {
            ServerFrame::Challenge { nonce, relay, trusted, endorsed_by, .. } => {
                self.answer_challenge(nonce, relay, &trusted, &endorsed_by);
            }
            ServerFrame::Welcome(welcome) => self.welcome(now, *welcome),
            ServerFrame::Fact { fact } => self.live_fact(fact),
            ServerFrame::Ack { rid, id, .. } => self.resolve(rid, Ok(id)),
            ServerFrame::Error { rid, code, message } => self.error(rid, code, message),
            ServerFrame::Signal { from, from_conn, payload } if self.phase == Phase::Ready => {
                self.outputs.push_back(Output::Signal { from, from_conn, payload });
            }
            ServerFrame::Peer { from, from_conn, msg } if self.phase == Phase::Ready => {
                self.outputs.push_back(Output::Peer { from, from_conn, msg });
            }
            _ => {}
        }
    }

    fn answer_challenge(
        &mut self,
        nonce: catalk_proto::Nonce,
        relay: PublicKey,
        older: &[PublicKey],
        endorsed_by: &[catalk_proto::Endorsement],
    ) {
        if self.phase != Phase::AwaitChallenge {
            self.push_event(Event::Dropped { reason: "unexpected challenge".into() });
            return;
        }
        if self.relay_keys.judge(&relay, endorsed_by) == Verdict::Changed {
            self.key_changed(relay);
            return;
        }
        self.relay = Some(relay);
        if !self.trusted.contains(&relay) {
            self.trusted.insert(0, relay);
        }
        // Only what this relay can verify: a fact of a key it no longer accepts would fail the login.
        let mut facts = self.present.facts(&self.public);
        facts.retain(|fact| fact.relay == relay || older.contains(&fact.relay));
        let mut batches = batches(facts, PRESENT_BUDGET_BYTES, PRESENT_BUDGET_FACTS).into_iter();
        let facts = batches.next().unwrap_or_default();
        self.later_present = batches.collect();
        let (key, sig) = sign_login(&self.key, &nonce, &relay);
        let rid = self.rid();
        self.phase = Phase::AwaitWelcome { rid };
        self.send(&ClientFrame::Login(LoginFrame { rid, nonce, key, sig, name: self.name.to_string(), facts }));
    }

    fn key_changed(&mut self, current: PublicKey) {
        let previous = self.relay_keys.known().to_vec();
        self.phase = Phase::KeyChanged;
        self.outputs.push_back(Output::Disconnect);
        self.push_event(Event::RelayKeyChanged {
            previous: previous.iter().map(PublicKey::to_string).collect(),
            current: current.to_string(),
        });
        self.key_change = Some(RelayKeyChange { previous, current });
        self.push_status(None);
    }

    fn welcome(&mut self, now: u64, welcome: catalk_proto::WelcomeFrame) {
        if !matches!(self.phase, Phase::AwaitWelcome { rid } if rid == welcome.rid) {
            self.push_event(Event::Dropped { reason: "unexpected welcome".into() });
            return;
        }
        for key in &welcome.trusted {
            if !self.trusted.contains(key) {
                self.trusted.push(*key);
            }
        }
        let mut verified = Vec::new();
        for fact in std::iter::once(welcome.epoch).chain(welcome.channels).chain(welcome.grant) {
            if self.verified(&fact) {
                verified.push(fact);
            }
        }
        self.online.clear();
        let mut cards = Vec::new();
        for fact in welcome.online {
            if self.verified(&fact) {
                self.note_presence(&fact);
                cards.push(fact);
            }
        }
        if !cards.is_empty() {
            self.outputs.push_back(Output::Presence(cards));
        }
        for fact in &verified {
            self.present.note(&self.public, fact);
            if let FactBody::Channel { name, .. } = &fact.body {
                self.channels.insert(name.clone(), fact.clone());
            }
        }
        if let Some(relay) = self.relay {
            self.relay_keys.remember(relay);
        }
        self.phase = Phase::Ready;
        self.backoff.reset();
        self.next_ping_at = now + PING_EVERY_MS;
        self.privileges = welcome.privileges;
        self.sync_fallback_bytes_per_second = welcome.limits.sync_fallback_bytes_per_second;
        let frame_limit = u32::try_from(welcome.limits.max_frame_bytes).unwrap_or(u32::MAX);
        self.sync_fallback_burst_bytes = self.sync_fallback_bytes_per_second.max(frame_limit);
        self.turn_servers = welcome.ice_servers;
        self.outputs.push_back(Output::Persist(verified));
        let mut heads = Vec::new();
        for fact in welcome.heads {
            if matches!(fact.body, FactBody::Message { .. }) && self.verified(&fact) {
                self.present.note(&self.public, &fact);
                heads.push(fact);
            }
        }
        if !heads.is_empty() {
            self.outputs.push_back(Output::Heads(heads));
        }
        for facts in std::mem::take(&mut self.later_present) {
            let rid = self.rid();
            self.send(&ClientFrame::Present { rid, facts });
        }
        self.push_status(None);
        self.push_event(Event::Ready { key: self.public.to_string(), privileges: self.privileges });
        self.push_event(Event::Channels { channels: self.channel_views() });
        self.push_event(Event::Presence { online: self.online_views() });
    }

    fn verified(&mut self, fact: &Fact) -> bool {
        match fact.verify(|k| self.trusted.contains(k)) {
            Ok(()) => true,
            Err(err) => {
                self.push_event(Event::Dropped { reason: err.to_string() });
                false
            }
        }
    }

    fn note_presence(&mut self, fact: &Fact) {
        if let FactBody::Presence { key, name, online, privileges } = &fact.body {
            if *online {
                self.online.insert(*key, OnlineView::new(key, name.as_str(), *privileges));
            } else {
                self.online.remove(key);
            }
            if *key == self.public && *online && *privileges != self.privileges {
                self.privileges = *privileges;
                self.push_event(Event::Privileges { privileges: self.privileges });
            }
        }
    }

    fn live_fact(&mut self, fact: Fact) {
        if self.phase != Phase::Ready || !self.verified(&fact) {
            return;
        }
        self.present.note(&self.public, &fact);
        match &fact.body {
            FactBody::Presence { .. } => {
                self.note_presence(&fact);
                self.push_event(Event::Presence { online: self.online_views() });
                self.outputs.push_back(Output::Presence(vec![fact]));
                return;
            }
            FactBody::Channel { name, .. } => {
                let newer_copy = self.channels.get(name).is_some_and(|held| held.id <= fact.id);
                if !newer_copy {
                    self.channels.insert(name.clone(), fact.clone());
                }
                self.outputs.push_back(Output::Persist(vec![fact.clone()]));
                self.push_event(Event::Channels { channels: self.channel_views() });
                return;
            }
            _ => {}
        }
        let message = MessageView::of(&fact);
        self.outputs.push_back(Output::Persist(vec![fact]));
        if let Some(message) = message {
            self.push_event(Event::Message { message });
        }
    }

    fn resolve(&mut self, rid: u64, result: Result<Option<FactId>, ActionError>) {
        if self.pending.remove(&rid).is_some() {
            self.outputs.push_back(Output::Resolve { rid, result });
        }
    }

    fn error(&mut self, rid: Option<u64>, code: ErrorCode, message: String) {
        match rid {
            Some(rid) if self.pending.contains_key(&rid) => {
                self.resolve(rid, Err(ActionError::new(ActionCode::Relay(code), message)));
            }
            // The status change that follows the close tells the UI; nothing was dropped.
            _ if code == ErrorCode::ShuttingDown => {}
            _ => self.push_event(Event::Dropped { reason: format!("relay error {code}: {message}") }),
        }
    }

    fn rid(&mut self) -> u64 {
        let rid = self.next_rid;
        self.next_rid += 1;
        rid
    }

    fn send(&mut self, frame: &ClientFrame) {
        if let Ok(text) = serde_json::to_string(frame) {
            self.outputs.push_back(Output::Send(text));
        }
    }

    fn push_event(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    fn push_status(&mut self, retry_in_ms: Option<u64>) {
        self.push_event(Event::Status { status: self.status(), retry_in_ms });
    }

    fn request(&mut self, frame: impl FnOnce(u64) -> ClientFrame) -> Result<u64, ActionError> {
        if self.phase != Phase::Ready {
            return Err(ActionError::offline("not connected to the relay"));
        }
        let rid = self.rid();
        self.pending.insert(rid, ());
        self.send(&frame(rid));
        Ok(rid)
    }

    /// Posts `text` to `channel`; `draft` must be fresh (a ULID from the shell's clock and randomness).
    pub fn post(&mut self, channel: &str, text: &str, draft: DraftId) -> Result<u64, ActionError> {
        let channel_name = ChannelName::new(channel).map_err(|e| ActionError::invalid(e.to_string()))?;
        validate_body(text, catalk_proto::Limits::default().max_body_bytes)
            .map_err(|e| ActionError::invalid(e.to_string()))?;
        let relay = self.relay.ok_or_else(|| ActionError::offline("not connected to the relay"))?;
        let sig = sign_post(&self.key, &relay, &channel_name, &draft, text);
        self.request(|rid| {
            ClientFrame::Post(PostFrame { rid, channel: channel.to_owned(), draft, text: text.to_owned(), sig })
        })
    }

    /// Creates a channel.
    pub fn create_channel(&mut self, name: &str) -> Result<u64, ActionError> {
        ChannelName::new(name).map_err(|e| ActionError::invalid(e.to_string()))?;
        self.request(|rid| ClientFrame::CreateChannel { rid, name: name.to_owned() })
    }

    /// Claims ownership with a one-time token.
    pub fn claim(&mut self, token: &str) -> Result<u64, ActionError> {
        self.request(|rid| ClientFrame::Claim { rid, token: token.to_owned() })
    }

    /// Sends a signaling payload to `to` (one connection of it, or all). Fire and forget:
    /// a refusal (e.g. `not_online`) resolves `rid` with an error.
    pub fn signal(&mut self, to: PublicKey, to_conn: Option<u64>, payload: String) -> Result<u64, ActionError> {
        self.request(|rid| ClientFrame::Signal { rid, to, to_conn, payload })
    }

    /// Sends a peer sync message to one connection of `to` through the relay: the
    /// fallback when WebRTC cannot connect. Fire and forget, like `signal`.
    pub fn send_peer(
        &mut self,
        to: PublicKey,
        to_conn: u64,
        msg: catalk_proto::PeerMessage,
    ) -> Result<u64, ActionError> {
        self.request(|rid| ClientFrame::Peer { rid, to, to_conn, msg })
    }

    /// Tells the relay how many sync links carry history now, by path (for its `/metrics`).
    pub fn report_links(&mut self, direct: u32, turn: u32, relay: u32) -> Result<u64, ActionError> {
        self.request(|rid| ClientFrame::Links { rid, direct, turn, relay })
    }

    /// Everyone online but this key, with their peer kind.
    pub fn online_peers(&self) -> Vec<(PublicKey, catalk_proto::PeerKind)> {
        self.online
            .iter()
            .filter(|(key, _)| **key != self.public)
            .map(|(key, view)| {
                let kind = if view.privileges.virtual_client {
                    catalk_proto::PeerKind::Virtual
                } else {
                    catalk_proto::PeerKind::Browser
                };
                (*key, kind)
            })
            .collect()
    }

    /// Names of the channels known, by name.
    pub fn channel_names(&self) -> Vec<ChannelName> {
        self.channels.keys().cloned().collect()
    }

    /// The welcome's STUN/TURN servers: the published ones, then this login's TURN credentials.
    pub fn turn_servers(&self) -> &[catalk_proto::IceServer] {
        &self.turn_servers
    }

    /// Whether the relay carries peer sync messages (its fallback byte rate, 0: off).
    pub fn sync_fallback_bytes_per_second(&self) -> u32 {
        self.sync_fallback_bytes_per_second
    }

    /// The relay fallback's allowance for this connection: (bytes per second, burst bytes).
    pub fn sync_fallback_allowance(&self) -> (u32, u32) {
        (self.sync_fallback_bytes_per_second, self.sync_fallback_burst_bytes)
    }

    /// The relay key of the current or last connection.
    pub fn relay_key(&self) -> Option<PublicKey> {
        self.relay
    }

    /// Sets another key's privileges (owners only).
    pub fn grant(&mut self, key: PublicKey, privileges: Privileges) -> Result<u64, ActionError> {
        self.request(|rid| ClientFrame::Grant { rid, key, privileges })
    }
}

#[cfg(test)]
mod tests;
