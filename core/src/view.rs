//! Plain views of facts for user interfaces.

use catalk_proto::{Fact, FactBody, Privileges, PublicKey};
use serde::Serialize;

/// A message as a UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageView {
    /// The fact id (ULID text).
    pub id: String,
    /// Channel name.
    pub channel: String,
    /// Author public key (base64url).
    pub author: String,
    /// Body.
    pub text: String,
    /// Milliseconds since the Unix epoch, from the id.
    pub time: u64,
}

impl MessageView {
    /// The view of a message fact; `None` for other kinds.
    pub fn of(fact: &Fact) -> Option<Self> {
        match &fact.body {
            FactBody::Message { channel, author, text, .. } => Some(Self {
                id: fact.id.to_string(),
                channel: channel.to_string(),
                author: author.to_string(),
                text: text.clone(),
                time: fact.id.timestamp_ms(),
            }),
            _ => None,
        }
    }
}

/// A person's display name, as a UI labels their messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameView {
    /// Public key (base64url).
    pub key: String,
    /// Display name.
    pub name: String,
}

/// Someone online, as a UI shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnlineView {
    /// Public key (base64url).
    pub key: String,
    /// Display name.
    pub name: String,
    /// What they may do.
    pub privileges: Privileges,
}

impl OnlineView {
    /// Builds the view.
    pub fn new(key: &PublicKey, name: &str, privileges: Privileges) -> Self {
        Self { key: key.to_string(), name: name.to_owned(), privileges }
    }
}
