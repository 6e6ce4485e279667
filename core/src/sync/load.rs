//! Answering a peer's page request from any history store.

use crate::store::{HistoryStore, StoreError};
use catalk_proto::{ChannelName, Fact, FactId};

/// Up to `limit` messages of `channel` with `after < id < before`, newest first,
/// and whether the range holds more: what [`crate::sync::SyncInput::Loaded`]
/// carries back for a [`crate::sync::SyncOutput::Load`].
pub async fn load_page<S: HistoryStore>(
    store: &S,
    channel: &ChannelName,
    before: Option<FactId>,
    after: Option<FactId>,
    limit: u32,
) -> Result<(Vec<Fact>, bool), StoreError> {
    let limit = limit as usize;
    // One extra tells whether more remain in the range.
    let page = store.messages_before(channel, before, limit + 1).await?;
    let mut facts: Vec<Fact> = page.into_iter().rev().filter(|f| after.is_none_or(|after| f.id > after)).collect();
    let more = facts.len() > limit;
    facts.truncate(limit);
    Ok((facts, more))
}
