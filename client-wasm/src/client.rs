//! The client shell: drives `catalk_core::ClientSession` with a browser
//! WebSocket, timers, IndexedDB and a JavaScript event listener.

use crate::idb_store::IdbStore;
use crate::identity::{self, Identity};
use crate::journal::SyncJournal;
use crate::js;
use crate::p2p;
use crate::rtc::PeerLink;
use crate::socket::{Handlers, Socket};
use catalk_core::sync::{HistoryStatus, SyncConfig, SyncEngine, SyncInput};
use catalk_core::{ActionError, ClientSession, Event, HistoryStore, Output, StoreError, facts_to_present};
use catalk_proto::{DraftId, Fact, FactId, PeerKind};
use futures_channel::oneshot;
use gloo_timers::callback::Timeout;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

type Reply = oneshot::Sender<Result<Option<FactId>, ActionError>>;

/// Everything one open client holds. Single-threaded: shared with `Rc`, mutated through `RefCell`s
/// that are never held across an await or a callback.
pub struct Shell {
    url: String,
    /// The history store.
    pub store: IdbStore,
    identity: RefCell<Option<Identity>>,
    session: RefCell<Option<ClientSession>>,
    socket: RefCell<Option<Socket>>,
    generation: Cell<u64>,
    listener: RefCell<Option<js_sys::Function>>,
    pending: RefCell<HashMap<u64, Reply>>,
    names: RefCell<HashMap<String, String>>,
    timer: RefCell<Option<Timeout>>,
    sync: RefCell<Option<SyncEngine>>,
    /// Open or opening data channels by peer key.
    pub links: RefCell<HashMap<String, PeerLink>>,
    /// Peers reached through the relay instead (the fallback), by key: their connection id.
    pub relayed: RefCell<HashMap<String, u64>>,
    /// `iceServers` for RTCPeerConnection (none: host candidates only, fine on a LAN).
    pub ice_servers: RefCell<Vec<catalk_proto::IceServer>>,
    online_peers: RefCell<HashMap<String, PeerKind>>,
    /// Whether reading the store's holdings into the sync engine has begun.
    holdings_started: Cell<bool>,
    /// Whether the engine has the store's holdings: peers are fed to it only then,
    /// so a device that holds the history does not look for peers as if it held none.
    holdings_loaded: Cell<bool>,
    /// Peers we are making an offer to (the offer is being created), by key.
    pub offering: RefCell<std::collections::HashSet<String>>,
    /// Peers whose offer we are answering (the answer is being created), by key.
    pub answering: RefCell<std::collections::HashSet<String>>,
    /// Live facts waiting for the store, written together once the write in flight is done.
    unsaved: RefCell<Vec<Fact>>,
    saving: Cell<bool>,
    /// Recent sync events, for diagnosis.
    pub journal: SyncJournal,
    /// Verifies peers' answers elsewhere (a pool of workers): called with
    /// `(ticket, factsJson, trustedJson)`; the page answers with `verified`.
    pub verifier: RefCell<Option<js_sys::Function>>,
    /// Facts out for verification, by ticket.
    pub verifying: RefCell<crate::verify::OutForVerification>,
}

impl Shell {
    /// Opens the store and loads the identity and names kept on this device.
    pub async fn open(url: String) -> Result<Rc<Self>, identity::IdentityError> {
        let store = IdbStore::open("catalk").await?;
        let identity = identity::load(&store).await?;
        let names = store.names().await?.into_iter().collect();
        let shell = Rc::new(Self {
            url,
            store,
            identity: RefCell::new(None),
            session: RefCell::new(None),
            socket: RefCell::new(None),
            generation: Cell::new(0),
            listener: RefCell::new(None),
            pending: RefCell::new(HashMap::new()),
            names: RefCell::new(names),
            timer: RefCell::new(None),
            sync: RefCell::new(None),
            links: RefCell::new(HashMap::new()),
            relayed: RefCell::new(HashMap::new()),
            ice_servers: RefCell::new(Vec::new()),
            online_peers: RefCell::new(HashMap::new()),
            holdings_started: Cell::new(false),
            holdings_loaded: Cell::new(false),
            offering: RefCell::new(std::collections::HashSet::new()),
            answering: RefCell::new(std::collections::HashSet::new()),
            unsaved: RefCell::new(Vec::new()),
            saving: Cell::new(false),
            journal: SyncJournal::default(),
            verifier: RefCell::new(None),
            verifying: RefCell::new(HashMap::new()),
        });
        if let Some(identity) = identity {
            shell.adopt_identity(identity).await;
        }
        Ok(shell)
    }

    /// The identity, if any.
    pub fn identity(&self) -> Option<Identity> {
        self.identity.borrow().clone()
    }

    /// Replaces the identity and starts a fresh session for it (connecting if the old one was).
    pub async fn adopt_identity(self: &Rc<Self>, identity: Identity) {
        let was_running =
            self.session.borrow().as_ref().is_some_and(|s| s.status() != catalk_core::ConnectionStatus::Offline);
        if let Some(old) = self.session.borrow_mut().as_mut() {
            old.stop();
        }
        self.pump();
        let mut session = ClientSession::new(identity.key.clone(), identity.name.clone());
        if let Ok(channels) = self.store.channels().await {
            session.load_channels(&channels);
        }
        *self.identity.borrow_mut() = Some(identity);
        *self.session.borrow_mut() = Some(session);
        // Answers from peers are verified off the main thread when the page gave a verifier (p2p::verify).
        let config = SyncConfig { verify_outside: true, ..SyncConfig::default() };
        *self.sync.borrow_mut() = Some(SyncEngine::new(config, PeerKind::Browser, Vec::new()));
        self.holdings_started.set(false);
        self.holdings_loaded.set(false);
        self.offering.borrow_mut().clear();
        self.answering.borrow_mut().clear();
        self.verifying.borrow_mut().clear();
        for (_, link) in self.links.borrow_mut().drain() {
            link.close();
        }
        self.relayed.borrow_mut().clear();
        self.pump();
        if was_running {
            self.connect().await;
        }
    }

    /// Records a renamed identity (the session was told separately).
    pub fn adopt_name(&self, identity: Identity) {
        *self.identity.borrow_mut() = Some(identity);
    }

    /// Sets the single event listener.
    pub fn set_listener(&self, listener: js_sys::Function) {
        *self.listener.borrow_mut() = Some(listener);
    }

    /// Runs `f` on the session, if there is one.
    pub fn with_session<T>(&self, f: impl FnOnce(&mut ClientSession) -> T) -> Option<T> {
        self.session.borrow_mut().as_mut().map(f)
    }

    /// The last display name seen for `key`.
    pub fn name_of(&self, key: &str) -> Option<String> {
        self.names.borrow().get(key).cloned()
    }

    /// Starts the connection loop, presenting stored grants, channels and chain heads at login.
    pub async fn connect(self: &Rc<Self>) {
        let Some(own) = self.identity().map(|i| i.public()) else { return };
        let present = self.present_facts(&own).await;
        self.with_session(|s| {
            s.set_present(present);
            s.start(now_ms());
        });
        self.pump();
    }

    async fn present_facts(&self, own: &catalk_proto::PublicKey) -> Vec<Fact> {
        let grants = self.store.grants().await.unwrap_or_default();
        let channels = self.store.channels().await.unwrap_or_default();
        let mut heads = Vec::new();
        for channel in &channels {
            if let catalk_proto::FactBody::Channel { name, .. } = &channel.body
                && let Ok(mut newest) = self.store.messages_before(name, None, 1).await
            {
                heads.append(&mut newest);
            }
        }
        facts_to_present(own, &grants, &channels, &heads)
    }

    /// Starts an action and waits for the relay's answer.
    pub async fn request(
        self: &Rc<Self>,
        start: impl FnOnce(&mut ClientSession) -> Result<u64, ActionError>,
    ) -> Result<Option<FactId>, ActionError> {
        let rid = self
            .with_session(start)
            .unwrap_or_else(|| Err(ActionError { code: "offline".into(), message: "no identity yet".into() }))?;
        let (tx, rx) = oneshot::channel();
        self.pending.borrow_mut().insert(rid, tx);
        self.pump();
        rx.await.unwrap_or_else(|_| Err(ActionError { code: "offline".into(), message: "request dropped".into() }))
    }

    /// A fresh draft id from the clock and the CSPRNG.
    pub fn draft_id() -> DraftId {
        let mut bytes = [0u8; 16];
        let _ = getrandom::fill(&mut bytes);
        DraftId::from_parts(now_ms(), u128::from_le_bytes(bytes))
    }

    /// Does everything the session asked for, then arms the timer for its next deadline.
    pub fn pump(self: &Rc<Self>) {
        // Sync outputs can queue session frames (peer messages through the relay), so
        // go round until both are quiet.
        loop {
            let mut busy = false;
            loop {
                // Each borrow ends before the output is carried out (that may re-enter).
                let output = self.with_session(ClientSession::poll_output).flatten();
                let Some(output) = output else { break };
                busy = true;
                self.session_output(output);
            }
            loop {
                let output = self.sync.borrow_mut().as_mut().and_then(SyncEngine::poll_output);
                let Some(output) = output else { break };
                busy = true;
                self.journal.output(now_ms(), &output);
                p2p::apply(self, output);
            }
            if !busy {
                break;
            }
        }
        self.arm_timer();
    }

    fn session_output(self: &Rc<Self>, output: Output) {
        match output {
            Output::Connect => self.open_socket(),
            Output::Disconnect => {
                if let Some(socket) = self.socket.borrow().as_ref() {
                    socket.close();
                }
            }
            Output::Send(text) => {
                if let Some(socket) = self.socket.borrow().as_ref() {
                    socket.send(&text);
                }
            }
            Output::Persist(facts) => self.persist(facts),
            Output::Signal { from, from_conn, payload } => p2p::on_signal(self, from, from_conn, &payload),
            Output::Peer { from, from_conn, msg } => p2p::on_relayed(self, &from, from_conn, msg),
            Output::Event(event) => self.emit(event),
            Output::Resolve { rid, result } => {
                if let Some(reply) = self.pending.borrow_mut().remove(&rid) {
                    let _ = reply.send(result);
                }
            }
            _ => {}
        }
    }

    /// Feeds the sync engine and carries out what it asks for.
    pub fn sync_input(self: &Rc<Self>, input: SyncInput) {
        let now = now_ms();
        self.journal.input(now, &input);
        if let Some(engine) = self.sync.borrow_mut().as_mut() {
            let timeouts = engine.stats().timeouts;
            engine.handle_input(now, input);
            if engine.stats().timeouts > timeouts {
                self.journal.note(now, "timeout (a peer stalled or never said hello)".to_owned());
            }
        }
        self.pump();
    }

    /// What kind of peer `key` is, as its presence says.
    pub fn peer_kind(&self, key: &str) -> PeerKind {
        self.online_peers.borrow().get(key).copied().unwrap_or(PeerKind::Browser)
    }

    /// The history status of `channel`, as a plain JS value.
    pub fn history_status(&self, channel: &catalk_proto::ChannelName) -> wasm_bindgen::JsValue {
        self.sync.borrow().as_ref().map_or(wasm_bindgen::JsValue::NULL, |e| js::to_js(&e.status(channel)))
    }

    /// The sync engine's counters, as a plain JS value.
    pub fn sync_stats(&self) -> wasm_bindgen::JsValue {
        self.sync.borrow().as_ref().map_or(wasm_bindgen::JsValue::NULL, |e| js::to_js(&e.stats()))
    }

    /// Bytes this client served to peers.
    pub fn served_bytes(&self) -> u64 {
        self.sync.borrow().as_ref().map_or(0, SyncEngine::served_bytes)
    }

    /// Tells the UI that backfilled messages of `channel` were stored.
    pub fn emit_backfill(&self, channel: &str, count: usize) {
        #[derive(serde::Serialize)]
        struct Backfill<'a> {
            r#type: &'static str,
            channel: &'a str,
            count: usize,
        }
        self.emit_js(&js::to_js(&Backfill { r#type: "backfill", channel, count }));
    }

    /// Tells the UI a channel's history status.
    pub fn emit_history(&self, channel: &catalk_proto::ChannelName, status: &HistoryStatus) {
        #[derive(serde::Serialize)]
        struct History<'a> {
            r#type: &'static str,
            channel: &'a str,
            status: &'a HistoryStatus,
        }
        self.emit_js(&js::to_js(&History { r#type: "history", channel: channel.as_str(), status }));
    }

    fn update_peers(self: &Rc<Self>, online: &[catalk_core::OnlineView]) {
        let own = self.identity().map(|i| i.public().to_string()).unwrap_or_default();
        let now: HashMap<String, PeerKind> = online
            .iter()
            .filter(|p| p.key != own)
            .map(|p| (p.key.clone(), if p.privileges.virtual_client { PeerKind::Virtual } else { PeerKind::Browser }))
            .collect();
        let before = std::mem::replace(&mut *self.online_peers.borrow_mut(), now.clone());
        let mut inputs = Vec::new();
        for (peer, kind) in &now {
            if !before.contains_key(peer) {
                inputs.push(SyncInput::PeerOnline { peer: peer.clone(), kind: *kind });
            }
        }
        for peer in before.keys() {
            if !now.contains_key(peer) {
                self.relayed.borrow_mut().remove(peer);
                inputs.push(SyncInput::PeerOffline { peer: peer.clone() });
            }
        }
        for input in inputs {
            self.sync_input(input);
        }
    }

    fn on_ready(self: &Rc<Self>) {
        let trusted = self.with_session(|s| s.trusted().to_vec()).unwrap_or_default();
        if let Some(engine) = self.sync.borrow_mut().as_mut() {
            engine.set_trusted(trusted);
        }
        if !self.holdings_started.replace(true) {
            let shell = Rc::clone(self);
            wasm_bindgen_futures::spawn_local(async move {
                p2p::load_holdings(&shell).await;
                shell.holdings_loaded.set(true);
                let online = shell.with_session(|s| s.online_views()).unwrap_or_default();
                shell.online_peers.borrow_mut().clear();
                shell.update_peers(&online);
            });
        }
    }

    fn arm_timer(self: &Rc<Self>) {
        let session_deadline = self.with_session(|s| s.poll_timeout()).flatten();
        let sync_deadline = self.sync.borrow().as_ref().and_then(SyncEngine::poll_timeout);
        let deadline = match (session_deadline, sync_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timer = deadline.map(|at| {
            let delay = u32::try_from(at.saturating_sub(now_ms())).unwrap_or(u32::MAX).min(60_000);
            let shell = Rc::downgrade(self);
            Timeout::new(delay, move || {
                if let Some(shell) = shell.upgrade() {
                    let now = now_ms();
                    shell.with_session(|s| s.handle_timeout(now));
                    if let Some(engine) = shell.sync.borrow_mut().as_mut() {
                        engine.handle_timeout(now);
                    }
                    shell.pump();
                }
            })
        });
        // Dropping the previous timeout cancels it.
        *self.timer.borrow_mut() = timer;
    }

    fn open_socket(self: &Rc<Self>) {
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        let current = move |shell: &Rc<Self>| shell.generation.get() == generation;
        let (open, text, close) = (Rc::downgrade(self), Rc::downgrade(self), Rc::downgrade(self));
        let handlers = Handlers {
            on_open: Box::new(move || {
                if let Some(shell) = open.upgrade().filter(current) {
                    shell.with_session(|s| s.handle_connected(now_ms()));
                    shell.pump();
                }
            }),
            on_text: Box::new(move |frame| {
                if let Some(shell) = text.upgrade().filter(current) {
                    shell.with_session(|s| s.handle_text(now_ms(), &frame));
                    shell.pump();
                }
            }),
            on_close: Box::new(move || {
                if let Some(shell) = close.upgrade().filter(current) {
                    shell.with_session(|s| s.handle_closed(now_ms(), js_sys::Math::random()));
                    shell.pump();
                }
            }),
        };
        match Socket::open(&self.url, handlers) {
            Ok(socket) => *self.socket.borrow_mut() = Some(socket),
            Err(err) => {
                web_sys::console::warn_1(&format!("catalk: cannot open {}: {err}", self.url).into());
                self.with_session(|s| s.handle_closed(now_ms(), js_sys::Math::random()));
            }
        }
    }

    /// Stores live facts in order. While one write is in flight, later facts wait and
    /// go together in the next transaction: a busy channel costs one IndexedDB
    /// transaction per write, not one per fact.
    fn persist(self: &Rc<Self>, facts: Vec<Fact>) {
        if facts.is_empty() {
            return;
        }
        self.unsaved.borrow_mut().extend(facts);
        if self.saving.replace(true) {
            return;
        }
        let shell = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let batch = std::mem::take(&mut *shell.unsaved.borrow_mut());
                if batch.is_empty() {
                    shell.saving.set(false);
                    return;
                }
                match shell.store.put_facts(&batch).await {
                    Ok(_) => shell.sync_input(SyncInput::Stored(batch)),
                    Err(err) => shell.storage_error(&err),
                }
            }
        });
    }

    /// Reports a storage failure to the user.
    pub fn storage_error(&self, err: &StoreError) {
        let (code, message) = match err {
            StoreError::QuotaExceeded => {
                ("quota_exceeded", "Storage is full: new messages cannot be saved on this device".to_owned())
            }
            other => ("storage", other.to_string()),
        };
        web_sys::console::error_1(&format!("catalk: {message}").into());
        self.emit_js(&js::error_event(code, &message));
    }

    fn emit(self: &Rc<Self>, event: Event) {
        match &event {
            Event::Ready { .. } => self.on_ready(),
            Event::Presence { online } => {
                if self.holdings_loaded.get() {
                    self.update_peers(online);
                }
                let mut fresh = Vec::new();
                {
                    let mut names = self.names.borrow_mut();
                    for person in online {
                        if names.get(&person.key) != Some(&person.name) {
                            names.insert(person.key.clone(), person.name.clone());
                            fresh.push((person.key.clone(), person.name.clone()));
                        }
                    }
                }
                if !fresh.is_empty() {
                    let shell = Rc::clone(self);
                    wasm_bindgen_futures::spawn_local(async move {
                        if let Err(err) = shell.store.put_names(&fresh).await {
                            shell.storage_error(&err);
                        }
                    });
                }
            }
            _ => {}
        }
        self.emit_js(&js::to_js(&event));
    }

    fn emit_js(&self, value: &wasm_bindgen::JsValue) {
        let listener = self.listener.borrow().clone();
        if let Some(listener) = listener
            && let Err(err) = listener.call1(&wasm_bindgen::JsValue::NULL, value)
        {
            web_sys::console::error_2(&"catalk: event listener threw".into(), &err);
        }
    }
}
