//! What a history store must do. Implemented by the in-memory store, the
//! browser's IndexedDB store and the virtual client's disk store; all run the
//! same conformance suite (`crate::conformance`, feature `test-support`).

use catalk_proto::{ChannelName, Fact, FactBody, FactId};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The device's storage quota is exhausted; nothing of this write was stored.
    #[error("storage quota exceeded")]
    QuotaExceeded,
    /// A stored record could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The backend failed.
    #[error("storage backend: {0}")]
    Backend(String),
}

/// What the sync engine indexes of one held message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldMessage {
    /// The message's id.
    pub id: FactId,
    /// The message's `prev` link.
    pub prev: Option<FactId>,
    /// The epoch fact of the relay run that accepted the message.
    pub epoch: FactId,
}

impl HeldMessage {
    /// The held-message view of a message fact; `None` for other facts.
    pub fn of(fact: &Fact) -> Option<Self> {
        match &fact.body {
            FactBody::Message { prev, epoch, .. } => Some(Self { id: fact.id, prev: *prev, epoch: *epoch }),
            _ => None,
        }
    }
}

/// A store of verified facts (messages, channels, grants, epochs). Presence
/// facts are not history: `put_facts` keeps only the newest of each key, as
/// that person's card (their name for messages whose author is away), listed
/// by [`HistoryStore::presence`] and never returned as history.
///
/// Methods take `&self`: stores are handles (IndexedDB, a database file) or
/// use interior mutability. Futures need not be `Send` (browsers are single-threaded).
#[allow(async_fn_in_trait)]
pub trait HistoryStore {
    /// Stores facts; a fact already held (same id) is left as is. Returns how many were new.
    async fn put_facts(&self, facts: &[Fact]) -> Result<usize, StoreError>;

    /// The fact with `id`, if held.
    async fn fact(&self, id: FactId) -> Result<Option<Fact>, StoreError>;

    /// Up to `limit` messages of `channel` with ids below `before` (or the newest
    /// when `before` is `None`), returned oldest first.
    async fn messages_before(
        &self,
        channel: &ChannelName,
        before: Option<FactId>,
        limit: usize,
    ) -> Result<Vec<Fact>, StoreError>;

    /// Up to `limit` held messages of `channel` with ids below `before` (the
    /// newest when `None`), newest first: page on with `before` = the last id
    /// returned; fewer than `limit` means no more. What a shell tells the sync
    /// engine it holds, without loading whole messages.
    async fn holdings(
        &self,
        channel: &ChannelName,
        before: Option<FactId>,
        limit: usize,
    ) -> Result<Vec<HeldMessage>, StoreError>;

    /// Every channel fact held.
    async fn channels(&self) -> Result<Vec<Fact>, StoreError>;

    /// Every grant fact held.
    async fn grants(&self) -> Result<Vec<Fact>, StoreError>;

    /// The newest presence fact held of each key.
    async fn presence(&self) -> Result<Vec<Fact>, StoreError>;

    /// How many messages of `channel` are held.
    async fn count_messages(&self, channel: &ChannelName) -> Result<usize, StoreError>;
}
