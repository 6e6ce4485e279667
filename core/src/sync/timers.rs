//! Deadlines: stalled requests and hellos, data channels that never open,
//! and the next time anything is due (for `poll_timeout`).

use crate::sync::config::{
    CONNECT_TIMEOUT_MS, FILLING_GRACE_MS, IDLE_CLOSE_MS, USELESS_GRACE_MS, VIRTUAL_PATIENCE_MS, VIRTUAL_SETTLE_MS,
};
use crate::sync::engine::SyncEngine;
use crate::sync::output::SyncOutput;
use crate::sync::peers::{Link, Peer};

impl SyncEngine {
    /// Acts on every deadline that has passed; `true` when any had.
    pub(super) fn expire(&mut self) -> bool {
        let now = self.now;
        // Each request has its own deadline; a peer whose requests time out
        // together stalled once. One whose answer is being verified by the shell
        // is not waiting for its peer.
        let stalled: std::collections::BTreeSet<String> = self
            .requests
            .values()
            .filter(|r| r.deadline <= now && r.verifying == 0)
            .map(|r| r.peer.clone())
            .chain(self.probes.values().filter(|p| p.deadline <= now).map(|p| p.peer.clone()))
            .collect();
        self.requests.retain(|_, r| r.deadline > now || r.verifying > 0);
        self.probes.retain(|_, p| p.deadline > now);
        let mut silent = Vec::new();
        let mut unopened = Vec::new();
        for (id, peer) in self.linked_peers() {
            match peer.link {
                Link::Open { since, hello: None } if since + self.config.request_timeout_ms <= now => {
                    silent.push(id.clone());
                }
                Link::Connecting { since } if since + CONNECT_TIMEOUT_MS <= now => unopened.push(id.clone()),
                _ => {}
            }
        }
        let acted = !stalled.is_empty() || !silent.is_empty() || !unopened.is_empty();
        for id in stalled.into_iter().chain(silent) {
            self.stats.timeouts += 1;
            self.punish_stall(&id);
        }
        for id in unopened {
            self.outputs.push_back(SyncOutput::Disconnect { peer: id.clone() });
            self.drop_link(&id);
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.tried_until = now + self.config.penalty_ms;
            }
        }
        let penalty = self.config.penalty_ms;
        for state in self.channels.values_mut() {
            if state.fruitless > 0 && now >= state.fruitless_since + penalty {
                state.fruitless = 0;
            }
        }
        acted
    }

    /// Forgets offline peers whose penalty ran out.
    pub(super) fn forget_gone(&mut self) {
        let gone: Vec<String> =
            self.peers.iter().filter(|(_, p)| !p.online && p.link == Link::Closed).map(|(id, _)| id.clone()).collect();
        for id in gone {
            self.forget_if_gone(&id);
        }
    }

    /// The earliest future time at which something is due.
    pub(super) fn next_deadline(&self) -> Option<u64> {
        let now = self.now;
        let needing = self.need_since.is_some();
        let mut next: Option<u64> = None;
        let mut at = |t: u64| {
            if t > now && next.is_none_or(|n| t < n) {
                next = Some(t);
            }
        };
        self.requests.values().for_each(|r| at(r.deadline));
        self.probes.values().for_each(|p| at(p.deadline));
        // Closed peers matter only while looking for peers (penalties, tries running out).
        let peers: Box<dyn Iterator<Item = &Peer>> =
            if needing { Box::new(self.peers.values()) } else { Box::new(self.linked_peers().map(|(_, p)| p)) };
        for peer in peers {
            match &peer.link {
                Link::Connecting { since } => at(since + CONNECT_TIMEOUT_MS),
                Link::Open { since, hello: None } => at(since + self.config.request_timeout_ms),
                Link::Open { .. } => {
                    if let Some(useless) = peer.useless_since
                        && !peer.busy()
                    {
                        at(peer.last_activity + IDLE_CLOSE_MS);
                        if needing {
                            let idle_since = useless.max(peer.last_activity);
                            at(idle_since + USELESS_GRACE_MS);
                            at(idle_since + FILLING_GRACE_MS);
                        }
                    }
                }
                Link::Closed => {}
            }
            at(peer.penalised_until);
            at(peer.cooldown_until);
            if needing && peer.online {
                at(peer.tried_until);
            }
        }
        if let Some(since) = self.need_since {
            at(since + VIRTUAL_SETTLE_MS);
            at(since + VIRTUAL_PATIENCE_MS);
        }
        for state in self.channels.values() {
            if state.fruitless > 0 {
                at(state.fruitless_since + self.config.penalty_ms);
            }
        }
        next
    }
}
