//! catalk's browser client, compiled to wasm32 with wasm-bindgen.
//!
//! It keeps the user's key (encrypted at rest under a non-extractable
//! WebCrypto key), talks to the relay over a browser WebSocket, verifies every
//! fact with `catalk-proto`, and stores history in IndexedDB. The logic lives in
//! `catalk-core` (no IO); this crate is the thin browser shell. Its JavaScript
//! API is documented in `docs/client-api.md`.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod ice_path;
mod idb_store;
mod identity;
mod js;
mod rtc;
#[cfg(feature = "selftest")]
mod selftest;
mod shell;
mod socket;
mod webcrypto;

use catalk_core::{HistoryStore, MessageView};
use catalk_proto::{ChannelName, FactId, Privileges, PublicKey};
use identity::{Identity, IdentityError};
use shell::Shell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

fn identity_error(err: IdentityError) -> JsValue {
    let code = match &err {
        IdentityError::BadPassphrase => "bad_passphrase",
        IdentityError::BadBackup(_) => "bad_backup",
        IdentityError::BadName(_) => "invalid_name",
        IdentityError::Store(catalk_core::StoreError::QuotaExceeded) => "quota_exceeded",
        IdentityError::Store(_) => "storage",
        IdentityError::Crypto(_) => "crypto",
    };
    js::error(code, &err.to_string())
}

fn action_error(err: catalk_core::ActionError) -> JsValue {
    js::error(err.code.as_str(), &err.message)
}

fn identity_view(identity: &Identity) -> JsValue {
    #[derive(serde::Serialize)]
    struct View {
        key: String,
        name: String,
        fingerprint: String,
    }
    js::to_js(&View {
        key: identity.public().to_string(),
        name: identity.name.to_string(),
        fingerprint: identity.fingerprint(),
    })
}

fn id_result(result: Result<Option<FactId>, catalk_core::ActionError>) -> Result<JsValue, JsValue> {
    match result {
        Ok(id) => Ok(id.map_or(JsValue::NULL, |id| JsValue::from_str(&id.to_string()))),
        Err(err) => Err(action_error(err)),
    }
}

/// One client: identity, connection and history. See `docs/client-api.md`.
#[wasm_bindgen]
pub struct CatalkClient {
    shell: Rc<Shell>,
}

#[wasm_bindgen]
impl CatalkClient {
    /// Opens IndexedDB and loads the identity kept on this device.
    pub async fn open(relay_url: String) -> Result<CatalkClient, JsValue> {
        let shell = Shell::open(relay_url).await.map_err(identity_error)?;
        Ok(Self { shell })
    }

    /// `{ key, name, fingerprint }` or `null`.
    pub fn identity(&self) -> JsValue {
        self.shell.identity().as_ref().map_or(JsValue::NULL, identity_view)
    }

    /// Creates a key pair on this device.
    #[wasm_bindgen(js_name = createIdentity)]
    pub async fn create_identity(&self, name: String) -> Result<JsValue, JsValue> {
        let identity = identity::create(&self.shell.store, &name).await.map_err(identity_error)?;
        self.shell.adopt_identity(identity.clone());
        Ok(identity_view(&identity))
    }

    /// Changes the display name (reconnects so presence shows it).
    #[wasm_bindgen(js_name = setName)]
    pub async fn set_name(&self, name: String) -> Result<JsValue, JsValue> {
        let mut identity = self.shell.identity().ok_or_else(|| js::error("no_identity", "create an identity first"))?;
        identity.name = catalk_proto::DisplayName::new(&name).map_err(|e| js::error("invalid_name", &e.to_string()))?;
        identity::save(&self.shell.store, &identity).await.map_err(identity_error)?;
        let view = identity_view(&identity);
        self.shell.rename(identity);
        Ok(view)
    }

    /// The backup file contents, encrypted with `passphrase`.
    #[wasm_bindgen(js_name = exportBackup)]
    pub async fn export_backup(&self, passphrase: String) -> Result<JsValue, JsValue> {
        let identity = self.shell.identity().ok_or_else(|| js::error("no_identity", "create an identity first"))?;
        if passphrase.chars().count() < 8 {
            return Err(js::error("weak_passphrase", "use a passphrase of at least 8 characters"));
        }
        identity::export_backup(&identity, &passphrase).await.map(|t| JsValue::from_str(&t)).map_err(identity_error)
    }

    /// Replaces this device's identity with the one in a backup file.
    #[wasm_bindgen(js_name = importBackup)]
    pub async fn import_backup(&self, text: String, passphrase: String) -> Result<JsValue, JsValue> {
        let identity = identity::import_backup(&text, &passphrase).await.map_err(identity_error)?;
        identity::save(&self.shell.store, &identity).await.map_err(identity_error)?;
        self.shell.adopt_identity(identity.clone());
        Ok(identity_view(&identity))
    }

    /// Sets the event listener.
    #[wasm_bindgen(js_name = onEvent)]
    pub fn on_event(&self, listener: js_sys::Function) {
        self.shell.set_listener(listener);
    }

    /// Starts the connection loop.
    pub async fn connect(&self) {
        self.shell.connect();
    }

    /// The relay's unexpected new signing key the client stopped for, `{ previous: [key], current: key }`,
    /// or `null` (see the `relay_key_changed` event).
    #[wasm_bindgen(js_name = relayKeyChange)]
    pub fn relay_key_change(&self) -> JsValue {
        self.shell.view(|c| c.session().relay_key_change().map(js::to_js)).flatten().unwrap_or(JsValue::NULL)
    }

    /// Trusts the relay's new signing key after a `relay_key_changed` event and logs in again;
    /// the history signed by the earlier keys stays verified. Returns false when no change waits.
    #[wasm_bindgen(js_name = acceptRelayKey)]
    pub fn accept_relay_key(&self) -> bool {
        self.shell.accept_relay_key()
    }

    /// `"offline" | "connecting" | "connected" | "reconnecting" | "key_changed"`.
    pub fn status(&self) -> JsValue {
        let status = self.shell.view(|c| c.session().status()).unwrap_or(catalk_core::ConnectionStatus::Offline);
        js::to_js(&status)
    }

    /// This key's privileges.
    pub fn privileges(&self) -> JsValue {
        js::to_js(&self.shell.view(|c| c.session().privileges()).unwrap_or(Privileges::NONE))
    }

    /// `[{ id, name, creator }]`, `general` first.
    pub fn channels(&self) -> JsValue {
        js::to_js(&self.shell.view(|c| c.session().channel_views()).unwrap_or_default())
    }

    /// `[{ key, name, privileges }]`.
    pub fn online(&self) -> JsValue {
        js::to_js(&self.shell.view(|c| c.session().online_views()).unwrap_or_default())
    }

    /// The last display name seen for `key`, or `null`.
    #[wasm_bindgen(js_name = nameOf)]
    pub fn name_of(&self, key: String) -> JsValue {
        self.shell.name_of(&key).map_or(JsValue::NULL, |n| JsValue::from_str(&n))
    }

    /// The newest `limit` messages of `channel`, oldest first.
    pub async fn latest(&self, channel: String, limit: u32) -> Result<JsValue, JsValue> {
        self.page(&channel, None, limit).await
    }

    /// Up to `limit` messages older than `before_id`, oldest first.
    pub async fn before(&self, channel: String, before_id: String, limit: u32) -> Result<JsValue, JsValue> {
        let before: FactId = before_id.parse().map_err(|_| js::error("invalid", "not a message id"))?;
        self.page(&channel, Some(before), limit).await
    }

    async fn page(&self, channel: &str, before: Option<FactId>, limit: u32) -> Result<JsValue, JsValue> {
        let channel = ChannelName::new(channel).map_err(|e| js::error("invalid", &e.to_string()))?;
        let facts = self
            .shell
            .store
            .messages_before(&channel, before, limit.min(1000) as usize)
            .await
            .map_err(|e| js::error("storage", &e.to_string()))?;
        let views: Vec<MessageView> = facts.iter().filter_map(MessageView::of).collect();
        Ok(js::to_js(&views))
    }

    /// Posts a message; resolves to its id.
    pub async fn post(&self, channel: String, text: String) -> Result<JsValue, JsValue> {
        let draft = Shell::draft_id();
        id_result(self.shell.request(|c| c.post(&channel, &text, draft)).await)
    }

    /// Creates a channel.
    #[wasm_bindgen(js_name = createChannel)]
    pub async fn create_channel(&self, name: String) -> Result<JsValue, JsValue> {
        id_result(self.shell.request(|c| c.create_channel(&name)).await)
    }

    /// Claims ownership with the relay's one-time token.
    pub async fn claim(&self, token: String) -> Result<JsValue, JsValue> {
        id_result(self.shell.request(|c| c.claim(&token)).await)
    }

    /// Sets another key's privileges (owners only).
    pub async fn grant(&self, key: String, privileges: JsValue) -> Result<JsValue, JsValue> {
        let key: PublicKey = key.parse().map_err(|_| js::error("invalid", "not a public key"))?;
        let privileges: Privileges =
            serde_wasm_bindgen::from_value(privileges).map_err(|e| js::error("invalid", &e.to_string()))?;
        id_result(self.shell.request(|c| c.grant(key, privileges)).await)
    }

    /// `{ state: "complete" | "filling" | "missing" | "unknown", missing?: [{ after, before }] }` for a channel.
    #[wasm_bindgen(js_name = historyStatus)]
    pub fn history_status(&self, channel: String) -> JsValue {
        match ChannelName::new(&channel) {
            Ok(channel) => self.shell.view(|c| js::to_js(&c.history_status(&channel))).unwrap_or(JsValue::NULL),
            Err(_) => JsValue::NULL,
        }
    }

    /// Sets the STUN/TURN servers for data channels opened from now on: an array of
    /// `RTCIceServer` objects (`{ urls, username?, credential? }`), e.g. `ice_servers`
    /// from the relay's `/.well-known/catalk.json`. Empty: host candidates only.
    #[wasm_bindgen(js_name = setIceServers)]
    pub fn set_ice_servers(&self, servers: JsValue) -> Result<(), JsValue> {
        let servers: Vec<catalk_proto::IceServer> =
            serde_wasm_bindgen::from_value(servers).map_err(|e| js::error("invalid", &e.to_string()))?;
        self.shell.set_ice_servers(servers);
        Ok(())
    }

    /// The STUN/TURN servers in use (see `setIceServers`).
    #[wasm_bindgen(js_name = iceServers)]
    pub fn ice_servers(&self) -> JsValue {
        js::to_js(&self.shell.ice_servers())
    }

    /// Bytes of history this client served to peers.
    #[wasm_bindgen(js_name = servedBytes)]
    pub fn served_bytes(&self) -> f64 {
        self.shell.view(|c| c.stats().sync.served_bytes).unwrap_or(0) as f64
    }

    /// Sync counters: the sync engine's (`served_bytes`, `served_facts`, `fetched_facts`, `timeouts`, …)
    /// and the driver's (`live_stored`, `backfilled_stored`, `links_direct`, `links_turn`, `links_relayed`), in one object.
    #[wasm_bindgen(js_name = syncStats)]
    pub fn sync_stats(&self) -> JsValue {
        self.shell.view(|c| js::to_js(&c.stats())).unwrap_or(JsValue::NULL)
    }

    /// The links that carry history now: `[{ peer, kind, path }]`, `path` being `"direct"`,
    /// `"turn"` (a data channel through a TURN server) or `"relay"` (through the server).
    pub fn links(&self) -> JsValue {
        self.shell.view(|c| js::to_js(&c.links())).unwrap_or_else(|| js_sys::Array::new().into())
    }

    /// Lets `verifier(ticket, factsJson, trustedJson)` verify the signatures of
    /// peers' answers (in worker threads, with `verifyFactsJson`); it answers
    /// with `verified(ticket, valid)`. Without one they are verified on this thread.
    #[wasm_bindgen(js_name = setVerifier)]
    pub fn set_verifier(&self, verifier: Option<js_sys::Function>) {
        self.shell.set_verifier(verifier);
    }

    /// The verifier's answer for `ticket`: `true` / `false`, or `undefined` when it
    /// could not verify (then this thread does).
    pub fn verified(&self, ticket: f64, valid: Option<bool>) {
        // Tickets are small integers, exact in an f64.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        self.shell.verified(ticket as u64, valid);
    }

    /// The most recent peer-to-peer sync events, oldest first, each
    /// `"<ms since the first> <what>"`: for diagnosis.
    #[wasm_bindgen(js_name = syncJournal)]
    pub fn sync_journal(&self) -> Vec<String> {
        self.shell.view(catalk_core::Client::journal).unwrap_or_default()
    }

    /// Stops the connection loop.
    pub fn close(&self) {
        self.shell.close();
    }
}

/// Verifies facts given as JSON (an array of facts, docs/protocol.md §8.4)
/// against the trusted relay keys (a JSON array of keys): `true` only when every
/// relay and author signature verifies. For the verifier workers.
#[wasm_bindgen(js_name = verifyFactsJson)]
pub fn verify_facts_json(facts_json: &str, trusted_json: &str) -> bool {
    let (Ok(facts), Ok(trusted)) = (
        serde_json::from_str::<Vec<catalk_proto::Fact>>(facts_json),
        serde_json::from_str::<Vec<PublicKey>>(trusted_json),
    ) else {
        return false;
    };
    catalk_proto::verify_facts(&facts, |key| trusted.contains(key)).is_ok()
}

/// Installs a panic hook that reports panics on the console.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("catalk panicked: {info}").into());
    }));
}

#[cfg(test)]
mod tests {
    use super::verify_facts_json;
    use catalk_core::sync::sim::history::{History, forge, relay_public};

    fn json<T: serde::Serialize>(value: &T) -> String {
        serde_json::to_string(value).unwrap_or_default()
    }

    #[test]
    fn the_workers_entry_point_accepts_only_genuine_facts_from_trusted_relays() {
        let history = History::new("general", 20, None);
        let trusted = json(&vec![relay_public()]);
        assert!(verify_facts_json(&json(&history.messages), &trusted));
        let mut forged = history.messages.clone();
        forged[7] = forge(&forged[7]);
        assert!(!verify_facts_json(&json(&forged), &trusted), "one forged fact fails the batch");
        assert!(!verify_facts_json(&json(&history.messages), "[]"), "no trusted relay");
        assert!(!verify_facts_json("[{\"id\":", &trusted), "malformed facts");
        assert!(!verify_facts_json(&json(&history.messages), "not json"), "malformed keys");
    }

    #[test]
    fn sync_stats_keep_the_engine_counters_at_the_top_level() {
        let stats = serde_json::to_value(catalk_core::ClientStats::default()).unwrap_or_default();
        for field in ["served_bytes", "served_facts", "fetched_facts", "timeouts", "rejected_answers", "sums_answered"]
        {
            assert!(stats[field].is_number(), "{field} in {stats}");
        }
        for field in ["live_stored", "backfilled_stored", "links_direct", "links_turn", "links_relayed"] {
            assert!(stats[field].is_number(), "{field} in {stats}");
        }
    }
}
