//! How members' sync links carry history, as their clients report it (`links` frames):
//! one share per connection, summed into relay-wide gauges for `/metrics`.
//!
//! The relay cannot see data channels; the numbers are what clients say, clamped so that one
//! connection cannot claim more than [`MAX_REPORTED`] links of a kind.

use std::sync::atomic::{AtomicI64, Ordering};

/// The most links of one kind a connection may report.
pub const MAX_REPORTED: u32 = 256;

/// The paths a link can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPath {
    /// A direct data channel.
    Direct,
    /// A data channel through TURN.
    Turn,
    /// Peer frames through this relay.
    Relay,
}

impl LinkPath {
    /// Every path, in gauge order.
    pub const ALL: [LinkPath; 3] = [LinkPath::Direct, LinkPath::Turn, LinkPath::Relay];

    /// The `path` label at `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            LinkPath::Direct => "direct",
            LinkPath::Turn => "turn",
            LinkPath::Relay => "relay",
        }
    }
}

/// Relay-wide sums of what connections reported, by path.
#[derive(Debug, Default)]
pub struct LinkGauges {
    links: [AtomicI64; 3],
}

impl LinkGauges {
    /// Links on `path` now, over all connections.
    pub fn get(&self, path: LinkPath) -> i64 {
        self.links[path as usize].load(Ordering::Relaxed)
    }

    fn add(&self, counts: [u32; 3], sign: i64) {
        for (gauge, count) in self.links.iter().zip(counts) {
            gauge.fetch_add(sign * i64::from(count), Ordering::Relaxed);
        }
    }
}

/// One connection's report; call [`LinkShare::clear`] when the connection ends.
#[derive(Debug, Default)]
pub struct LinkShare {
    reported: [u32; 3],
}

impl LinkShare {
    /// Replaces this connection's report with `direct`, `turn` and `relay` links.
    pub fn report(&mut self, gauges: &LinkGauges, direct: u32, turn: u32, relay: u32) {
        let counts = [direct, turn, relay].map(|n| n.min(MAX_REPORTED));
        gauges.add(self.reported, -1);
        gauges.add(counts, 1);
        self.reported = counts;
    }

    /// Takes this connection's links out of the sums.
    pub fn clear(&mut self, gauges: &LinkGauges) {
        self.report(gauges, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_replace_each_other_and_leave_nothing_when_cleared() {
        let gauges = LinkGauges::default();
        let (mut a, mut b) = (LinkShare::default(), LinkShare::default());
        a.report(&gauges, 2, 1, 0);
        b.report(&gauges, 1, 0, 1);
        a.report(&gauges, 1, 1, 0);
        assert_eq!(LinkPath::ALL.map(|p| gauges.get(p)), [2, 1, 1]);
        a.clear(&gauges);
        b.clear(&gauges);
        assert_eq!(LinkPath::ALL.map(|p| gauges.get(p)), [0, 0, 0]);
    }

    #[test]
    fn a_connection_cannot_claim_more_than_the_cap() {
        let gauges = LinkGauges::default();
        let mut share = LinkShare::default();
        share.report(&gauges, u32::MAX, 0, 0);
        assert_eq!(gauges.get(LinkPath::Direct), i64::from(MAX_REPORTED));
    }
}
