//! What the engine knows about each peer: presence, the data channel, its
//! advertised holdings, penalties, our requests in flight and its serving budget.

use crate::sync::bucket::Bucket;
use catalk_proto::{ChannelHoldings, ChannelName, PeerKind};
use std::collections::{BTreeMap, BTreeSet};

/// The state of the data channel to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Link {
    /// No data channel.
    Closed,
    /// We asked the shell to connect at `since`.
    Connecting {
        /// When.
        since: u64,
    },
    /// Open since `since`; `hello` once the peer has said it.
    Open {
        /// When it opened.
        since: u64,
        /// The peer's holdings per channel, once it said hello.
        hello: Option<BTreeMap<ChannelName, ChannelHoldings>>,
    },
}

/// One peer.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// Browser or virtual client.
    pub kind: PeerKind,
    /// Online at the relay (as far as presence says).
    pub online: bool,
    /// The data channel.
    pub link: Link,
    /// Our requests in flight to it (at most `max_requests_per_peer`).
    pub outstanding: BTreeSet<u64>,
    /// Whether it answered a request of ours with valid facts. Until then it
    /// gets one request at a time, so a liar costs one page, not a pipeline.
    pub proven: bool,
    /// Not asked (nor connected to) before this time: it lied or stalled.
    pub penalised_until: u64,
    /// When the pause after a stall (not a lie) ends: until then, after its
    /// first stall, it is still a peer to come back to, so the last resort
    /// waits for it.
    pub stalled_until: u64,
    /// Stalls since it last answered with valid facts.
    pub stalls: u32,
    /// Not asked before this time: it refused for its rate limit.
    pub cooldown_until: u64,
    /// Not connected to again before this time: it had nothing for us.
    pub tried_until: u64,
    /// Last request either way, or when the channel opened.
    pub last_activity: u64,
    /// Since when the peer has been of no use for anything we miss.
    pub useless_since: Option<u64>,
    /// Its serving budget (facts).
    pub bucket: Bucket,
    /// Whether its latest hello was weighed for the channels we need peers for.
    pub judged: bool,
    /// Our `sums` requests in flight to it.
    pub probing: BTreeSet<u64>,
    /// `sums` requests we may still send it for its latest hello.
    pub probe_budget: u32,
    /// Whether the open data channel was opened by the peer (not asked for by us).
    pub inbound: bool,
}

impl Peer {
    /// A peer not yet connected.
    pub fn new(kind: PeerKind, bucket: Bucket) -> Self {
        Self {
            kind,
            online: true,
            link: Link::Closed,
            outstanding: BTreeSet::new(),
            proven: false,
            penalised_until: 0,
            stalled_until: 0,
            stalls: 0,
            cooldown_until: 0,
            tried_until: 0,
            last_activity: 0,
            useless_since: None,
            bucket,
            judged: false,
            probing: BTreeSet::new(),
            probe_budget: 0,
            inbound: false,
        }
    }

    /// Whether the data channel is open.
    pub fn is_open(&self) -> bool {
        matches!(self.link, Link::Open { .. })
    }

    /// The peer's holdings, once it said hello.
    pub fn hello(&self) -> Option<&BTreeMap<ChannelName, ChannelHoldings>> {
        match &self.link {
            Link::Open { hello: Some(hello), .. } => Some(hello),
            _ => None,
        }
    }

    /// Whether the peer is penalised at `now`.
    pub fn penalised(&self, now: u64) -> bool {
        now < self.penalised_until
    }

    /// Whether it waits out its first stall at `now`, to be tried once more after.
    pub fn stalled_once(&self, now: u64) -> bool {
        self.online && self.stalls == 1 && now < self.stalled_until && self.penalised_until <= self.stalled_until
    }

    /// Whether any request of ours is in flight to it.
    pub fn busy(&self) -> bool {
        !self.outstanding.is_empty() || !self.probing.is_empty()
    }

    /// How many more requests can be sent to it now, with at most `max` in
    /// flight once it is proven (one before).
    pub fn free_slots(&self, now: u64, max: usize) -> usize {
        if self.hello().is_none() || self.penalised(now) || now < self.cooldown_until {
            return 0;
        }
        let max = if self.proven { max.max(1) } else { 1 };
        max.saturating_sub(self.outstanding.len())
    }

    /// Whether the peer may be connected to now.
    pub fn connectable(&self, now: u64) -> bool {
        self.online && self.link == Link::Closed && !self.penalised(now) && now >= self.tried_until
    }

    /// Whether the peer's hello says it is still filling some channel.
    pub fn filling(&self) -> bool {
        self.hello().is_some_and(|hello| hello.values().any(|h| !h.complete))
    }
}

/// A stable pseudo-random rank of a peer id under `salt`, to spread choices.
pub(crate) fn rank(salt: u64, peer: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in peer.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    crate::sync::rng::mix64(hash ^ salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_depend_on_the_salt() {
        let a: Vec<u64> = ["p1", "p2", "p3"].iter().map(|p| rank(1, p)).collect();
        let b: Vec<u64> = ["p1", "p2", "p3"].iter().map(|p| rank(2, p)).collect();
        assert_ne!(a, b);
        assert_eq!(rank(7, "p1"), rank(7, "p1"));
    }

    #[test]
    fn a_penalised_peer_is_neither_asked_nor_connected_and_a_proven_one_gets_a_pipeline() {
        let mut peer = Peer::new(PeerKind::Browser, Bucket::new(10, 10, 0));
        peer.penalised_until = 100;
        assert!(!peer.connectable(50) && peer.connectable(100));
        peer.link = Link::Open { since: 0, hello: Some(BTreeMap::new()) };
        assert_eq!((peer.free_slots(50, 4), peer.free_slots(100, 4)), (0, 1), "one request until proven");
        peer.proven = true;
        assert_eq!(peer.free_slots(100, 4), 4);
        peer.outstanding.extend([1, 2, 3]);
        assert_eq!(peer.free_slots(100, 4), 1);
        assert_eq!(peer.free_slots(100, 2), 0);
    }
}
