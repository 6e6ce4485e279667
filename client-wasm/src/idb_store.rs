//! The IndexedDB history store and the small key-value stores beside it.
//!
//! Schema (database `catalk`, version 1):
//! - `facts` (key path `id`): `{ id, kind, channel, json }`, where `json` is the
//!   fact as sent by the relay. Index `by_channel` on `[channel, id]` serves
//!   "the page of messages before id X in channel C" with one cursor walk;
//!   index `by_kind` lists channel and grant facts.
//! - `names` (key path `key`): `{ key, name, fact? }`, each person's card: the name and the
//!   newest presence fact seen of the key (`fact`, its JSON; records written before cards
//!   existed have only the name).
//! - `meta` (out-of-line keys): the identity record and its wrapping key.

use catalk_core::{HeldMessage, HistoryStore, StoreError};
use catalk_proto::{ChannelName, Fact, FactBody, FactId};
use idb::{
    CursorDirection, Database, DatabaseEvent as _, Factory, IndexParams, KeyPath, KeyRange, ObjectStoreParams, Query,
    TransactionMode,
};
use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

const VERSION: u32 = 1;
const FACTS: &str = "facts";
const NAMES: &str = "names";
const META: &str = "meta";

/// A handle on one IndexedDB database.
#[derive(Debug)]
pub struct IdbStore {
    db: Database,
}

fn backend(err: impl std::fmt::Debug) -> StoreError {
    let text = format!("{err:?}");
    if text.contains("QuotaExceeded") { StoreError::QuotaExceeded } else { StoreError::Backend(text) }
}

/// Maps an `idb` error, looking inside for the DOMException name browsers use for a full quota.
fn idb_error(err: idb::Error) -> StoreError {
    let name = match &err {
        idb::Error::DomException(e) => Some(e.name()),
        other => format!("{other:?}").contains("QuotaExceeded").then(|| "QuotaExceededError".to_owned()),
    };
    match name.as_deref() {
        Some("QuotaExceededError") => StoreError::QuotaExceeded,
        _ => StoreError::Backend(err.to_string()),
    }
}

/// Why a transaction that did not commit was aborted.
fn aborted(error: Option<web_sys::DomException>) -> StoreError {
    match error {
        Some(e) if e.name() == "QuotaExceededError" => StoreError::QuotaExceeded,
        Some(e) => StoreError::Backend(format!("transaction aborted: {}: {}", e.name(), e.message())),
        None => StoreError::Backend("transaction aborted".into()),
    }
}

fn kind_name(body: &FactBody) -> &'static str {
    match body {
        FactBody::Epoch {} => "epoch",
        FactBody::Channel { .. } => "channel",
        FactBody::Message { .. } => "message",
        FactBody::Presence { .. } => "presence",
        FactBody::Grant { .. } => "grant",
        _ => "other",
    }
}

fn set(object: &Object, key: &str, value: &JsValue) -> Result<(), StoreError> {
    Reflect::set(object, &JsValue::from_str(key), value).map(|_| ()).map_err(backend)
}

fn record(fact: &Fact) -> Result<JsValue, StoreError> {
    let object = Object::new();
    let channel = match &fact.body {
        FactBody::Message { channel, .. } | FactBody::Channel { name: channel, .. } => channel.to_string(),
        _ => String::new(),
    };
    let json = serde_json::to_string(fact).map_err(|e| StoreError::Backend(e.to_string()))?;
    set(&object, "id", &JsValue::from_str(&fact.id.to_string()))?;
    set(&object, "kind", &JsValue::from_str(kind_name(&fact.body)))?;
    set(&object, "channel", &JsValue::from_str(&channel))?;
    set(&object, "json", &JsValue::from_str(&json))?;
    Ok(object.into())
}

fn fact_of(value: &JsValue) -> Result<Fact, StoreError> {
    let json = Reflect::get(value, &JsValue::from_str("json"))
        .ok()
        .and_then(|j| j.as_string())
        .ok_or_else(|| StoreError::Corrupt("record without json".into()))?;
    serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn pair(a: &str, b: &str) -> JsValue {
    js_sys::Array::of2(&JsValue::from_str(a), &JsValue::from_str(b)).into()
}

impl IdbStore {
    /// Opens (creating or upgrading) the database `name`.
    pub async fn open(name: &str) -> Result<Self, StoreError> {
        let factory = Factory::new().map_err(backend)?;
        let mut request = factory.open(name, Some(VERSION)).map_err(backend)?;
        request.on_upgrade_needed(|event| {
            let Ok(db) = event.database() else { return };
            let names = db.store_names();
            if !names.iter().any(|n| n == FACTS) {
                let mut params = ObjectStoreParams::new();
                params.key_path(Some(KeyPath::new_single("id")));
                if let Ok(store) = db.create_object_store(FACTS, params) {
                    let _ = store.create_index(
                        "by_channel",
                        KeyPath::new_array(["channel", "id"]),
                        Some(IndexParams::new()),
                    );
                    let _ = store.create_index("by_kind", KeyPath::new_single("kind"), Some(IndexParams::new()));
                }
            }
            if !names.iter().any(|n| n == NAMES) {
                let mut params = ObjectStoreParams::new();
                params.key_path(Some(KeyPath::new_single("key")));
                let _ = db.create_object_store(NAMES, params);
            }
            if !names.iter().any(|n| n == META) {
                let _ = db.create_object_store(META, ObjectStoreParams::new());
            }
        });
        let db = request.await.map_err(backend)?;
        Ok(Self { db })
    }

    /// Deletes the database `name` (the self-test's scratch database).
    #[cfg(feature = "selftest")]
    pub async fn delete(name: &str) -> Result<(), StoreError> {
        let factory = Factory::new().map_err(backend)?;
        factory.delete(name).map_err(backend)?.await.map_err(backend)
    }

    /// Closes the handle (the self-test's, before it deletes its scratch database).
    #[cfg(feature = "selftest")]
    pub fn close(&self) {
        self.db.close();
    }

    async fn write(&self, store_name: &str, values: &[(JsValue, Option<JsValue>)]) -> Result<(), StoreError> {
        let tx = self.db.transaction(&[store_name], TransactionMode::ReadWrite).map_err(backend)?;
        let store = tx.object_store(store_name).map_err(backend)?;
        for (value, key) in values {
            store.put(value, key.as_ref()).map_err(idb_error)?;
        }
        commit(tx).await
    }

    /// Stores `value` under `key` in the meta store.
    pub async fn put_meta(&self, key: &str, value: &JsValue) -> Result<(), StoreError> {
        self.write(META, &[(value.clone(), Some(JsValue::from_str(key)))]).await
    }

    /// Reads `key` from the meta store.
    pub async fn get_meta(&self, key: &str) -> Result<Option<JsValue>, StoreError> {
        let tx = self.db.transaction(&[META], TransactionMode::ReadOnly).map_err(backend)?;
        let store = tx.object_store(META).map_err(backend)?;
        store.get(JsValue::from_str(key)).map_err(backend)?.await.map_err(backend)
    }

    /// Keeps presence facts as cards (`{ key, name, fact }`), unless a newer one of the key is held.
    async fn put_cards(&self, cards: &[&Fact]) -> Result<(), StoreError> {
        let tx = self.db.transaction(&[NAMES], TransactionMode::ReadWrite).map_err(backend)?;
        let store = tx.object_store(NAMES).map_err(backend)?;
        for fact in cards {
            let FactBody::Presence { key, name, .. } = &fact.body else { continue };
            let key = key.to_string();
            let held = store.get(JsValue::from_str(&key)).map_err(backend)?.await.map_err(backend)?;
            if held.as_ref().and_then(card_of).is_some_and(|held| held.id >= fact.id) {
                continue;
            }
            let json = serde_json::to_string(fact).map_err(|e| StoreError::Backend(e.to_string()))?;
            let object = Object::new();
            set(&object, "key", &JsValue::from_str(&key))?;
            set(&object, "name", &JsValue::from_str(name.as_str()))?;
            set(&object, "fact", &JsValue::from_str(&json))?;
            store.put(&object.into(), None).map_err(idb_error)?;
        }
        commit(tx).await
    }

    /// Every recorded display name.
    pub async fn names(&self) -> Result<Vec<(String, String)>, StoreError> {
        let tx = self.db.transaction(&[NAMES], TransactionMode::ReadOnly).map_err(backend)?;
        let store = tx.object_store(NAMES).map_err(backend)?;
        let values = store.get_all(None, None).map_err(backend)?.await.map_err(backend)?;
        let field = |v: &JsValue, k: &str| Reflect::get(v, &JsValue::from_str(k)).ok().and_then(|x| x.as_string());
        Ok(values.iter().filter_map(|v| Some((field(v, "key")?, field(v, "name")?))).collect())
    }

    /// Up to `limit` messages of `channel` below `upper`, oldest first, read one record per step.
    async fn walk_messages_before(
        &self,
        channel: &ChannelName,
        upper: &str,
        limit: usize,
    ) -> Result<Vec<Fact>, StoreError> {
        let range =
            KeyRange::bound(&pair(channel.as_str(), ""), &pair(channel.as_str(), upper), Some(false), Some(true))
                .map_err(backend)?;
        let tx = self.db.transaction(&[FACTS], TransactionMode::ReadOnly).map_err(backend)?;
        let index = tx.object_store(FACTS).map_err(backend)?.index("by_channel").map_err(backend)?;
        let cursor = index
            .open_cursor(Some(Query::KeyRange(range)), Some(CursorDirection::Prev))
            .map_err(backend)?
            .await
            .map_err(backend)?;
        let mut page = Vec::with_capacity(limit.min(512));
        if let Some(cursor) = cursor {
            let mut cursor = cursor.into_managed();
            while page.len() < limit {
                let Some(value) = cursor.value().map_err(backend)? else { break };
                let fact = fact_of(&value)?;
                if matches!(fact.body, FactBody::Message { .. }) {
                    page.push(fact);
                }
                if cursor.next(None).await.is_err() {
                    break;
                }
            }
        }
        page.reverse();
        Ok(page)
    }

    async fn facts_of_kind(&self, kind: &str) -> Result<Vec<Fact>, StoreError> {
        let tx = self.db.transaction(&[FACTS], TransactionMode::ReadOnly).map_err(backend)?;
        let index = tx.object_store(FACTS).map_err(backend)?.index("by_kind").map_err(backend)?;
        let values =
            index.get_all(Some(Query::Key(JsValue::from_str(kind))), None).map_err(backend)?.await.map_err(backend)?;
        values.iter().map(fact_of).collect()
    }
}

/// Whether each of `facts` is already in the store. Usually one request: the keys
/// between the batch's oldest and newest id (a backfilled page holds nothing
/// else there); when that span holds many other records, one count per fact,
/// all asked at once and read after.
async fn held_among(store: &idb::ObjectStore, facts: &[&Fact]) -> Result<Vec<bool>, StoreError> {
    let (Some(oldest), Some(newest)) = (facts.iter().map(|f| f.id).min(), facts.iter().map(|f| f.id).max()) else {
        return Ok(Vec::new());
    };
    let span = KeyRange::bound(
        &JsValue::from_str(&oldest.to_string()),
        &JsValue::from_str(&newest.to_string()),
        Some(false),
        Some(false),
    )
    .map_err(backend)?;
    let cap = u32::try_from(facts.len() * 2 + 16).unwrap_or(u32::MAX);
    let keys = store.get_all_keys(Some(Query::KeyRange(span)), Some(cap)).map_err(backend)?.await.map_err(backend)?;
    if keys.len() < cap as usize {
        let held: std::collections::HashSet<String> = keys.iter().filter_map(|k| k.as_string()).collect();
        return Ok(facts.iter().map(|f| held.contains(&f.id.to_string())).collect());
    }
    let mut asked = Vec::with_capacity(facts.len());
    for fact in facts {
        asked.push(store.count(Some(Query::Key(JsValue::from_str(&fact.id.to_string())))).map_err(backend)?);
    }
    let mut held = Vec::with_capacity(facts.len());
    for answer in asked {
        held.push(answer.await.map_err(backend)? > 0);
    }
    Ok(held)
}

/// Commits `tx` and reports why it did not, if it did not.
async fn commit(tx: idb::Transaction) -> Result<(), StoreError> {
    let raw: web_sys::IdbTransaction = tx.into();
    let result = idb::Transaction::from(raw.clone()).commit().map_err(idb_error)?.await;
    match result {
        Ok(r) if r.is_committed() => Ok(()),
        Ok(_) => Err(aborted(raw.error())),
        Err(err) => Err(match raw.error() {
            Some(e) => aborted(Some(e)),
            None => idb_error(err),
        }),
    }
}

/// The presence fact of a `names` record, when it has one.
fn card_of(record: &JsValue) -> Option<Fact> {
    let json = Reflect::get(record, &JsValue::from_str("fact")).ok()?.as_string()?;
    serde_json::from_str(&json).ok()
}

impl HistoryStore for IdbStore {
    async fn put_facts(&self, facts: &[Fact]) -> Result<usize, StoreError> {
        let cards: Vec<&Fact> = facts.iter().filter(|f| matches!(f.body, FactBody::Presence { .. })).collect();
        if !cards.is_empty() {
            self.put_cards(&cards).await?;
        }
        let tx = self.db.transaction(&[FACTS], TransactionMode::ReadWrite).map_err(backend)?;
        let store = tx.object_store(FACTS).map_err(backend)?;
        // One fact per id (a batch may repeat one), presence never.
        let mut seen = std::collections::BTreeSet::new();
        let candidates: Vec<&Fact> =
            facts.iter().filter(|f| !matches!(f.body, FactBody::Presence { .. }) && seen.insert(f.id)).collect();
        let held = held_among(&store, &candidates).await?;
        let mut new = 0;
        for (fact, held) in candidates.into_iter().zip(held) {
            if !held {
                store.put(&record(fact)?, None).map_err(backend)?;
                new += 1;
            }
        }
        commit(tx).await.map(|()| new)
    }

    async fn fact(&self, id: FactId) -> Result<Option<Fact>, StoreError> {
        let tx = self.db.transaction(&[FACTS], TransactionMode::ReadOnly).map_err(backend)?;
        let store = tx.object_store(FACTS).map_err(backend)?;
        let value = store.get(JsValue::from_str(&id.to_string())).map_err(backend)?.await.map_err(backend)?;
        value.as_ref().map(fact_of).transpose()
    }

    async fn messages_before(
        &self,
        channel: &ChannelName,
        before: Option<FactId>,
        limit: usize,
    ) -> Result<Vec<Fact>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let upper = before.map_or_else(|| "\u{ffff}".to_owned(), |id| id.to_string());
        let range = || {
            KeyRange::bound(&pair(channel.as_str(), ""), &pair(channel.as_str(), &upper), Some(false), Some(true))
                .map_err(backend)
        };
        let tx = self.db.transaction(&[FACTS], TransactionMode::ReadOnly).map_err(backend)?;
        let index = tx.object_store(FACTS).map_err(backend)?.index("by_channel").map_err(backend)?;
        // Find the page's oldest key with one cursor jump, then read the page with
        // one getAll: three requests instead of one event-loop turn per record.
        let cursor = index
            .open_key_cursor(Some(Query::KeyRange(range()?)), Some(CursorDirection::Prev))
            .map_err(backend)?
            .await
            .map_err(backend)?;
        let Some(cursor) = cursor else { return Ok(Vec::new()) };
        let mut cursor = cursor.into_managed();
        let steps = u32::try_from(limit - 1).unwrap_or(u32::MAX);
        if steps > 0 {
            cursor.advance(steps).await.map_err(backend)?;
        }
        let page_range = match cursor.key().map_err(backend)? {
            Some(oldest) => {
                KeyRange::bound(&oldest, &pair(channel.as_str(), &upper), Some(false), Some(true)).map_err(backend)?
            }
            // Fewer than `limit` records: the whole range is the page.
            None => range()?,
        };
        let values = index.get_all(Some(Query::KeyRange(page_range)), None).map_err(backend)?.await.map_err(backend)?;
        let records = values.len();
        let mut page = Vec::with_capacity(records);
        for value in &values {
            let fact = fact_of(value)?;
            if matches!(fact.body, FactBody::Message { .. }) {
                page.push(fact);
            }
        }
        if page.len() < records && records >= limit {
            // The channel's own channel fact took a place in the page: walk it record by record.
            return self.walk_messages_before(channel, &upper, limit).await;
        }
        Ok(page)
    }

    async fn holdings(
        &self,
        channel: &ChannelName,
        before: Option<FactId>,
        limit: usize,
    ) -> Result<Vec<HeldMessage>, StoreError> {
        // The page `messages_before` reads (a key-cursor jump, then one getAll);
        // `prev` and `epoch` live only in each record's JSON, so it is decoded whole.
        let page = self.messages_before(channel, before, limit).await?;
        Ok(page.iter().rev().filter_map(HeldMessage::of).collect())
    }

    async fn channels(&self) -> Result<Vec<Fact>, StoreError> {
        self.facts_of_kind("channel").await
    }

    async fn grants(&self) -> Result<Vec<Fact>, StoreError> {
        self.facts_of_kind("grant").await
    }

    async fn presence(&self) -> Result<Vec<Fact>, StoreError> {
        let tx = self.db.transaction(&[NAMES], TransactionMode::ReadOnly).map_err(backend)?;
        let store = tx.object_store(NAMES).map_err(backend)?;
        let values = store.get_all(None, None).map_err(backend)?.await.map_err(backend)?;
        Ok(values.iter().filter_map(card_of).collect())
    }

    async fn count_messages(&self, channel: &ChannelName) -> Result<usize, StoreError> {
        let range =
            KeyRange::bound(&pair(channel.as_str(), ""), &pair(channel.as_str(), "\u{ffff}"), Some(false), Some(false))
                .map_err(backend)?;
        let tx = self.db.transaction(&[FACTS], TransactionMode::ReadOnly).map_err(backend)?;
        let index = tx.object_store(FACTS).map_err(backend)?.index("by_channel").map_err(backend)?;
        let count = index.count(Some(Query::KeyRange(range))).map_err(backend)?.await.map_err(backend)?;
        // The index also holds this channel's creation fact; count only messages.
        let channel_facts = self
            .facts_of_kind("channel")
            .await?
            .iter()
            .filter(|f| matches!(&f.body, FactBody::Channel { name, .. } if name == channel))
            .count();
        Ok((count as usize).saturating_sub(channel_facts))
    }
}
