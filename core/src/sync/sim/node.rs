//! One simulated peer: a real [`SyncEngine`] with the shell's parts faked
//! (a store that is a bitmap over the shared pre-signed history).

use crate::sync::SyncEngine;
use catalk_proto::PeerKind;

/// What a simulated peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// An owner's history keeper: holds everything, always online.
    Virtual,
    /// A browser that holds everything but serves altered facts.
    Liar,
    /// A browser that holds everything.
    Seed,
    /// A browser that starts with nothing but the channel fact.
    Joiner,
}

impl Role {
    /// The peer kind the role presents.
    pub fn kind(self) -> PeerKind {
        if self == Role::Virtual { PeerKind::Virtual } else { PeerKind::Browser }
    }
}

/// A simulated peer.
#[derive(Debug)]
pub(crate) struct Node {
    /// Its role.
    pub role: Role,
    /// The engine under test.
    pub engine: SyncEngine,
    /// Which history messages its store holds.
    pub held: Vec<bool>,
    /// How many.
    pub held_count: usize,
    /// Online at the (simulated) relay.
    pub online: bool,
    /// Its current connection number (a new one after each return).
    pub conn: u32,
    /// When it (last) joined.
    pub joined_at: u64,
    /// When it first held everything and reported `complete`.
    pub complete_at: Option<u64>,
    /// Peers whose presence it was told of.
    pub knows: Vec<usize>,
    /// Peers told of its presence.
    pub known_by: Vec<usize>,
    /// The timer time currently scheduled, and its generation.
    pub timer: Option<u64>,
    /// Bumped whenever a new timer is scheduled; stale timer events are ignored.
    pub timer_gen: u64,
    /// Whether it went offline once already.
    pub churned: bool,
}

impl Node {
    /// A node holding the first `held` of `total` messages (all or none).
    pub fn new(role: Role, engine: SyncEngine, total: usize, holds_all: bool) -> Self {
        Self {
            role,
            engine,
            held: vec![holds_all; total],
            held_count: if holds_all { total } else { 0 },
            online: false,
            conn: 0,
            joined_at: 0,
            complete_at: None,
            knows: Vec::new(),
            known_by: Vec::new(),
            timer: None,
            timer_gen: 0,
            churned: false,
        }
    }
}

/// The peer id of node `n` on connection `conn`, as a shell would name it.
pub(crate) fn peer_id(n: usize, conn: u32) -> String {
    format!("n{n}:{conn}")
}

/// The node and connection of a peer id made by [`peer_id`].
pub(crate) fn parse_peer(id: &str) -> Option<(usize, u32)> {
    let (node, conn) = id.strip_prefix('n')?.split_once(':')?;
    Some((node.parse().ok()?, conn.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_round_trip() {
        assert_eq!(parse_peer(&peer_id(42, 3)), Some((42, 3)));
        assert_eq!(parse_peer("x1:2"), None);
    }
}
