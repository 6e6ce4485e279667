//! The table of sync links to other peers: one entry per peer key, with an
//! explicit stage, and the rules that are about links alone (which offer wins
//! a glare, which link an event belongs to).

use crate::client::io::LinkId;
use catalk_proto::{PeerKind, PublicKey};
use std::collections::BTreeMap;

/// A fallback deadline that never comes (the relay carries no peer messages).
pub const NEVER: u64 = u64::MAX;

/// Where a link to one peer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The shell is making our offer.
    MakingOffer,
    /// Our offer went out; no answer yet.
    Offered,
    /// Connection `conn` answered; the data channel should open before `fallback_at`.
    Answered {
        /// The answering connection.
        conn: u64,
        /// When to go through the relay instead, if the channel is still shut.
        fallback_at: u64,
    },
    /// The shell is making our answer to the offer of connection `conn`.
    MakingAnswer {
        /// The offering connection.
        conn: u64,
    },
    /// Our answer went to connection `conn`; waiting for the channel to open until
    /// `expires_at` (the offering side falls back to the relay, or gives up, before).
    AnswerSent {
        /// The offering connection.
        conn: u64,
        /// When to give up on this link.
        expires_at: u64,
    },
    /// The data channel is open.
    Direct,
    /// Peer messages go through the relay to and from connection `conn` (§12.2).
    Relayed {
        /// The peer's connection.
        conn: u64,
    },
}

/// How a link carries peer messages, once it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    /// A WebRTC data channel between the two devices (host, STUN-found or peer-reflexive addresses).
    Direct,
    /// A WebRTC data channel through a TURN server (either side's selected candidate is a relay one).
    Turn,
    /// `peer` frames through the relay.
    Relay,
}

/// How many links carry peer messages now, by [`Carrier`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkCounts {
    /// Over a direct data channel.
    pub direct: u32,
    /// Over a data channel through TURN.
    pub turn: u32,
    /// Through the relay.
    pub relay: u32,
}

impl LinkCounts {
    fn add(mut self, carrier: Carrier) -> Self {
        match carrier {
            Carrier::Direct => self.direct += 1,
            Carrier::Turn => self.turn += 1,
            Carrier::Relay => self.relay += 1,
        }
        self
    }
}

/// One peer's link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The shell's WebRTC connection (none once relayed).
    pub id: Option<LinkId>,
    /// Where it stands.
    pub stage: Stage,
    /// What the peer is (from its presence when we offered, from its signal when it did).
    pub kind: PeerKind,
    /// Whether the open data channel goes through a TURN server (the shell's
    /// [`crate::client::Input::LinkPath`]).
    pub turn: bool,
    /// Until when the path of the just opened data channel may still be told: meanwhile the
    /// link is not reported to the relay (it would count as direct).
    pub path_due: Option<u64>,
}

impl Link {
    /// A link at `stage`, not (yet) known to go through TURN.
    pub fn new(id: Option<LinkId>, stage: Stage, kind: PeerKind) -> Self {
        Self { id, stage, kind, turn: false, path_due: None }
    }

    /// Whether we made the offer and it has not opened yet: the side a glare is about.
    pub fn offering(&self) -> bool {
        matches!(self.stage, Stage::MakingOffer | Stage::Offered | Stage::Answered { .. })
    }

    /// Whether the sync engine was told it is connected.
    pub fn carries(&self) -> Option<Carrier> {
        match self.stage {
            Stage::Direct if self.turn => Some(Carrier::Turn),
            Stage::Direct => Some(Carrier::Direct),
            Stage::Relayed { .. } => Some(Carrier::Relay),
            _ => None,
        }
    }
}

/// Every link, by peer key. Invariant: each [`LinkId`] belongs to at most one
/// entry, and an id once replaced is never current again.
#[derive(Debug, Default)]
pub struct Links {
    by_peer: BTreeMap<PublicKey, Link>,
    next_id: u64,
}

impl Links {
    /// A fresh link id.
    pub fn new_id(&mut self) -> LinkId {
        self.next_id += 1;
        LinkId(self.next_id)
    }

    /// The link to `peer`.
    pub fn get(&self, peer: &PublicKey) -> Option<&Link> {
        self.by_peer.get(peer)
    }

    /// The link to `peer`, to change.
    pub fn get_mut(&mut self, peer: &PublicKey) -> Option<&mut Link> {
        self.by_peer.get_mut(peer)
    }

    /// The peer whose current link is `id`.
    pub fn peer_of(&self, id: LinkId) -> Option<PublicKey> {
        self.by_peer.iter().find(|(_, link)| link.id == Some(id)).map(|(peer, _)| *peer)
    }

    /// Sets the link to `peer`, returning the one it replaces.
    pub fn insert(&mut self, peer: PublicKey, link: Link) -> Option<Link> {
        self.by_peer.insert(peer, link)
    }

    /// Removes the link to `peer`.
    pub fn remove(&mut self, peer: &PublicKey) -> Option<Link> {
        self.by_peer.remove(peer)
    }

    /// Every link.
    pub fn iter(&self) -> impl Iterator<Item = (&PublicKey, &Link)> {
        self.by_peer.iter()
    }

    /// Removes every link.
    pub fn drain(&mut self) -> Vec<(PublicKey, Link)> {
        std::mem::take(&mut self.by_peer).into_iter().collect()
    }

    /// The earliest deadline of a link: a relay fallback or an answer that never opened.
    pub fn next_deadline(&self) -> Option<u64> {
        self.by_peer
            .values()
            .filter_map(|link| match link.stage {
                Stage::Answered { fallback_at, .. } if fallback_at != NEVER => Some(fallback_at),
                Stage::AnswerSent { expires_at, .. } => Some(expires_at),
                _ => None,
            })
            .min()
    }

    /// Peers whose fallback deadline passed at `now`, with the answering connection.
    pub fn stuck(&self, now: u64) -> Vec<(PublicKey, u64)> {
        self.by_peer
            .iter()
            .filter_map(|(peer, link)| match link.stage {
                Stage::Answered { conn, fallback_at } if fallback_at <= now && fallback_at != NEVER => {
                    Some((*peer, conn))
                }
                _ => None,
            })
            .collect()
    }

    /// Peers whose answered link has not opened by its deadline at `now`.
    pub fn expired_answers(&self, now: u64) -> Vec<PublicKey> {
        let expired = |link: &Link| matches!(link.stage, Stage::AnswerSent { expires_at, .. } if expires_at <= now);
        self.by_peer.iter().filter(|(_, link)| expired(link)).map(|(peer, _)| *peer).collect()
    }

    /// The latest time a just opened link's path may still arrive, if one is awaited at `now`.
    pub fn path_awaited(&self, now: u64) -> Option<u64> {
        self.by_peer.values().filter_map(|link| link.path_due).filter(|due| *due > now).max()
    }

    /// How many links carry peer messages, by carrier.
    pub fn carrying(&self) -> LinkCounts {
        self.by_peer.values().filter_map(Link::carries).fold(LinkCounts::default(), LinkCounts::add)
    }
}

/// Glare: both sides offered at once. The offer of the key that sorts first
/// wins on both sides, so exactly one connection survives.
pub fn our_offer_wins(own: &PublicKey, theirs: &PublicKey) -> bool {
    own.to_string() < theirs.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> PublicKey {
        PublicKey::of(&ed25519_dalek::SigningKey::from_bytes(&[n; 32]))
    }

    #[test]
    fn exactly_one_side_wins_a_glare() {
        let (a, b) = (key(1), key(2));
        assert_ne!(our_offer_wins(&a, &b), our_offer_wins(&b, &a));
    }

    #[test]
    fn events_of_a_replaced_link_belong_to_no_peer() {
        let mut links = Links::default();
        let peer = key(3);
        let old = links.new_id();
        links.insert(peer, Link::new(Some(old), Stage::Offered, PeerKind::Browser));
        let new = links.new_id();
        links.insert(peer, Link::new(Some(new), Stage::MakingAnswer { conn: 1 }, PeerKind::Browser));
        assert_eq!(links.peer_of(old), None);
        assert_eq!(links.peer_of(new), Some(peer));
    }

    #[test]
    fn only_answered_offers_past_their_deadline_are_stuck() {
        let mut links = Links::default();
        let (a, b) = (key(4), key(5));
        let (ia, ib) = (links.new_id(), links.new_id());
        links.insert(a, Link::new(Some(ia), Stage::Answered { conn: 7, fallback_at: 100 }, PeerKind::Browser));
        links.insert(b, Link::new(Some(ib), Stage::Offered, PeerKind::Browser));
        assert_eq!(links.next_deadline(), Some(100));
        assert!(links.stuck(99).is_empty());
        assert_eq!(links.stuck(100), vec![(a, 7)]);
    }
}
