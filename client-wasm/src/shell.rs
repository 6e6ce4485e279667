//! The browser shell: holds one `catalk_core::Client` (the sans-IO driver) and
//! carries out what it asks for with a WebSocket, WebRTC links, IndexedDB, one
//! timer and the page's event listener. It decides nothing itself: glare, the
//! relay fallback, peer choice, holdings and put batching are the driver's.
//!
//! [`Shell::pump`] drains the driver's outputs ([`outputs`], [`links`],
//! [`verify`]); every socket, link, store and verifier answer is fed back as an
//! `Input` and pumped again.

mod links;
mod outputs;
mod verify;

use crate::idb_store::IdbStore;
use crate::identity::{self, Identity};
use crate::rtc::PeerLink;
use crate::socket::Socket;
use catalk_core::client::{Input, LinkId};
use catalk_core::{ActionError, Client, ClientConfig, ConnectionStatus};
use catalk_proto::{DraftId, FactId, IceServer};
use futures_channel::oneshot;
use gloo_timers::callback::Timeout;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// The longest the timer waits before asking the driver again.
const MAX_TIMER_MS: u32 = 60_000;

type Reply = oneshot::Sender<Result<Option<FactId>, ActionError>>;

/// Everything one open client holds. Single-threaded: shared with `Rc`, mutated
/// through `RefCell`s that are never held across an await, a callback or the
/// carrying out of an output.
pub struct Shell {
    url: String,
    /// The history store.
    pub store: IdbStore,
    identity: RefCell<Option<Identity>>,
    client: RefCell<Option<Client>>,
    /// Counts the clients made: answers meant for an earlier one (its links,
    /// loads, puts and verifications) are dropped.
    epoch: Cell<u64>,
    socket: RefCell<Option<Socket>>,
    /// Counts the sockets opened: events of an older one are dropped.
    generation: Cell<u64>,
    /// The driver's WebRTC links, once made.
    links: RefCell<HashMap<LinkId, PeerLink>>,
    pending: RefCell<HashMap<u64, Reply>>,
    timer: RefCell<Option<Timeout>>,
    listener: RefCell<Option<js_sys::Function>>,
    names: RefCell<HashMap<String, String>>,
    /// The page's STUN/TURN servers, kept for the clients of later identities.
    ice_servers: RefCell<Vec<IceServer>>,
    verifier: RefCell<Option<js_sys::Function>>,
    verifying: RefCell<HashMap<u64, verify::Job>>,
    next_job: Cell<u64>,
}

fn offline(message: &str) -> ActionError {
    ActionError::offline(message)
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
            client: RefCell::new(None),
            epoch: Cell::new(0),
            socket: RefCell::new(None),
            generation: Cell::new(0),
            links: RefCell::new(HashMap::new()),
            pending: RefCell::new(HashMap::new()),
            timer: RefCell::new(None),
            listener: RefCell::new(None),
            names: RefCell::new(names),
            ice_servers: RefCell::new(Vec::new()),
            verifier: RefCell::new(None),
            verifying: RefCell::new(HashMap::new()),
            next_job: Cell::new(0),
        });
        if let Some(identity) = identity {
            shell.adopt_identity(identity);
        }
        Ok(shell)
    }

    /// The identity, if any.
    pub fn identity(&self) -> Option<Identity> {
        self.identity.borrow().clone()
    }

    /// Replaces the identity: the old client stops and its socket and links
    /// close; a fresh client starts for the new key, connecting if the old one was.
    pub fn adopt_identity(self: &Rc<Self>, identity: Identity) {
        let was_running = self.view(|c| c.session().status() != ConnectionStatus::Offline).unwrap_or(false);
        self.with_client(|c| c.stop(now_ms()));
        self.pump();
        self.epoch.set(self.epoch.get() + 1);
        self.generation.set(self.generation.get() + 1);
        let socket = self.socket.borrow_mut().take();
        drop(socket);
        let links: Vec<PeerLink> = self.links.borrow_mut().drain().map(|(_, link)| link).collect();
        drop(links);
        self.pending.borrow_mut().clear();
        self.verifying.borrow_mut().clear();
        let mut client = Client::new(identity.key.clone(), identity.name.clone(), ClientConfig::browser());
        client.set_ice_servers(self.ice_servers.borrow().clone());
        if was_running {
            client.connect(now_ms());
        }
        *self.identity.borrow_mut() = Some(identity);
        *self.client.borrow_mut() = Some(client);
        self.pump();
    }

    /// Records a renamed identity and announces the new name.
    pub fn rename(self: &Rc<Self>, identity: Identity) {
        let name = identity.name.clone();
        *self.identity.borrow_mut() = Some(identity);
        self.with_client(|c| c.set_name(now_ms(), name));
        self.pump();
    }

    /// Sets the single event listener.
    pub fn set_listener(&self, listener: js_sys::Function) {
        *self.listener.borrow_mut() = Some(listener);
    }

    /// Sets (`Some`) or removes the page's verifier of peers' answers.
    pub fn set_verifier(&self, verifier: Option<js_sys::Function>) {
        *self.verifier.borrow_mut() = verifier;
    }

    /// Sets the STUN/TURN servers for links made from now on.
    pub fn set_ice_servers(&self, servers: Vec<IceServer>) {
        self.with_client(|c| c.set_ice_servers(servers.clone()));
        *self.ice_servers.borrow_mut() = servers;
    }

    /// The STUN/TURN servers in use.
    pub fn ice_servers(&self) -> Vec<IceServer> {
        self.ice_servers.borrow().clone()
    }

    /// Reads the client, if there is one (no identity: none).
    pub fn view<T>(&self, f: impl FnOnce(&Client) -> T) -> Option<T> {
        self.client.borrow().as_ref().map(f)
    }

    /// Changes the client; the caller pumps afterwards.
    fn with_client<T>(&self, f: impl FnOnce(&mut Client) -> T) -> Option<T> {
        self.client.borrow_mut().as_mut().map(f)
    }

    /// The last display name seen for `key`.
    pub fn name_of(&self, key: &str) -> Option<String> {
        self.names.borrow().get(key).cloned()
    }

    /// Starts the connection loop (the driver presents what the store holds at login).
    pub fn connect(self: &Rc<Self>) {
        self.with_client(|c| c.connect(now_ms()));
        self.pump();
    }

    /// Trusts the relay's new signing key and logs in again; false when no change waits.
    pub fn accept_relay_key(self: &Rc<Self>) -> bool {
        let accepted = self.with_client(|c| c.accept_relay_key(now_ms())).unwrap_or(false);
        self.pump();
        accepted
    }

    /// Logs out and closes every link.
    pub fn close(self: &Rc<Self>) {
        self.with_client(|c| c.stop(now_ms()));
        self.pump();
    }

    /// Starts an action and waits for the relay's answer.
    pub async fn request(
        self: &Rc<Self>,
        start: impl FnOnce(&mut Client) -> Result<u64, ActionError>,
    ) -> Result<Option<FactId>, ActionError> {
        let rid = self.with_client(start).unwrap_or_else(|| Err(offline("no identity yet")))?;
        let (tx, rx) = oneshot::channel();
        self.pending.borrow_mut().insert(rid, tx);
        self.pump();
        rx.await.unwrap_or_else(|_| Err(offline("request dropped")))
    }

    /// A fresh draft id from the clock and the CSPRNG.
    pub fn draft_id() -> DraftId {
        let mut bytes = [0u8; 16];
        let _ = getrandom::fill(&mut bytes);
        DraftId::from_parts(now_ms(), u128::from_le_bytes(bytes))
    }

    /// Carries out everything the driver asks for, then arms the timer for its next deadline.
    pub fn pump(self: &Rc<Self>) {
        // Each borrow ends before the output is carried out: that may feed the driver again.
        while let Some(output) = self.with_client(Client::poll_output).flatten() {
            self.carry_out(output);
        }
        self.arm_timer();
    }

    /// Feeds `input` now; inside a pump, whose loop carries out what follows.
    fn feed(&self, input: Input) {
        self.with_client(|c| c.handle_input(now_ms(), input));
    }

    /// An answer for the client of `epoch` arrived: fed (if that client is still current) and pumped.
    fn answer(self: &Rc<Self>, epoch: u64, input: Input) {
        if self.epoch.get() == epoch {
            self.feed(input);
            self.pump();
        }
    }

    fn arm_timer(self: &Rc<Self>) {
        let timer = self.view(Client::poll_timeout).flatten().map(|at| {
            let delay = u32::try_from(at.saturating_sub(now_ms())).unwrap_or(u32::MAX).min(MAX_TIMER_MS);
            let shell = Rc::downgrade(self);
            Timeout::new(delay, move || {
                if let Some(shell) = shell.upgrade() {
                    shell.with_client(|c| c.handle_timeout(now_ms()));
                    shell.pump();
                }
            })
        });
        // Dropping the previous timeout cancels it.
        let previous = self.timer.replace(timer);
        drop(previous);
    }

    /// Hands `value` to the page's event listener.
    fn emit(&self, value: &wasm_bindgen::JsValue) {
        let listener = self.listener.borrow().clone();
        if let Some(listener) = listener
            && let Err(err) = listener.call1(&wasm_bindgen::JsValue::NULL, value)
        {
            web_sys::console::error_2(&"catalk: event listener threw".into(), &err);
        }
    }
}
