//! Pacing of peer messages through the relay's fallback: the relay allows each connection
//! `sync_fallback_bytes_per_second` (a bucket whose burst is the larger of the rate and its
//! frame limit) and refuses — drops — whatever comes faster, so the driver sends at a little
//! under that rate and queues the rest, in order.

use catalk_proto::{PeerMessage, PublicKey};
use std::collections::VecDeque;

/// The share of the relay's rate the driver uses (the two clocks differ a little).
const SHARE: f64 = 0.9;
/// Bytes a `peer` frame adds around its message (`{"t":"peer","rid":…,"to":…,"to_conn":…,"msg":…}`).
pub const FRAME_OVERHEAD: usize = 128;

/// A message waiting for its turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// Addressee.
    pub to: PublicKey,
    /// Its connection.
    pub conn: u64,
    /// The message.
    pub msg: PeerMessage,
    /// What it costs of the allowance (its frame's bytes).
    pub cost: usize,
}

/// A token bucket in bytes, refilled continuously, and the queue behind it.
#[derive(Debug, Default)]
pub struct Pacer {
    rate: f64,
    burst: f64,
    tokens: f64,
    updated: u64,
    queue: VecDeque<Queued>,
}

impl Pacer {
    /// The relay's rate and burst for this connection (from the welcome); the bucket starts full.
    pub fn reset(&mut self, now: u64, rate_bytes_per_second: u32, burst_bytes: u32) {
        self.rate = f64::from(rate_bytes_per_second) * SHARE / 1_000.0;
        self.burst = f64::from(burst_bytes.max(rate_bytes_per_second)) * SHARE;
        self.tokens = self.burst;
        self.updated = now;
        self.queue.clear();
    }

    fn refill(&mut self, now: u64) {
        let elapsed = now.saturating_sub(self.updated) as f64;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = now.max(self.updated);
    }

    /// Queues `message`; then take what may go with [`Pacer::ready`].
    pub fn push(&mut self, message: Queued) {
        self.queue.push_back(message);
    }

    /// The queued messages that may go now, in order. A message larger than the whole burst
    /// goes once the bucket is full (the relay's burst is at least its frame limit).
    pub fn ready(&mut self, now: u64) -> Vec<Queued> {
        self.refill(now);
        let mut ready = Vec::new();
        while let Some(next) = self.queue.front() {
            let cost = (next.cost as f64).min(self.burst);
            if self.tokens < cost {
                break;
            }
            self.tokens -= cost;
            ready.extend(self.queue.pop_front());
        }
        ready
    }

    /// When the next queued message may go.
    pub fn deadline(&self) -> Option<u64> {
        let next = self.queue.front()?;
        if self.rate <= 0.0 {
            return None;
        }
        let lacking = ((next.cost as f64).min(self.burst) - self.tokens).max(0.0);
        Some(self.updated + (lacking / self.rate).ceil() as u64)
    }

    /// Drops what waits for `peer` (its link ended).
    pub fn drop_peer(&mut self, peer: &PublicKey) {
        self.queue.retain(|queued| queued.to != *peer);
    }

    /// Messages waiting.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(to: u8, cost: usize) -> Queued {
        Queued { to: PublicKey::from_bytes([to; 32]), conn: 1, msg: PeerMessage::Authors { facts: vec![] }, cost }
    }

    #[test]
    fn sends_a_burst_then_paces_at_a_little_under_the_rate() {
        let mut pacer = Pacer::default();
        pacer.reset(0, 10_000, 10_000);
        for _ in 0..4 {
            pacer.push(queued(1, 4_000));
        }
        assert_eq!(pacer.ready(0).len(), 2, "9,000 bytes of burst: two of 4,000");
        assert_eq!(pacer.deadline(), Some(334), "3,000 more bytes at 9 bytes/ms");
        assert!(pacer.ready(333).is_empty());
        assert_eq!(pacer.ready(334).len(), 1);
        assert_eq!(pacer.waiting(), 1);
        let next = pacer.deadline().unwrap_or(0);
        assert!((770..=780).contains(&next), "4,000 bytes later: {next}");
        assert_eq!(pacer.ready(next).len(), 1);
    }

    #[test]
    fn a_message_larger_than_the_burst_goes_when_the_bucket_is_full() {
        let mut pacer = Pacer::default();
        pacer.reset(0, 1_000, 1_000);
        pacer.push(queued(1, 5_000));
        assert_eq!(pacer.ready(0).len(), 1);
        pacer.push(queued(1, 5_000));
        assert_eq!(pacer.deadline(), Some(1_000));
        assert_eq!(pacer.ready(1_000).len(), 1);
    }

    #[test]
    fn what_waits_for_a_gone_peer_is_dropped() {
        let mut pacer = Pacer::default();
        pacer.reset(0, 1_000, 1_000);
        pacer.push(queued(1, 900));
        pacer.push(queued(2, 900));
        pacer.push(queued(1, 900));
        pacer.drop_peer(&PublicKey::from_bytes([2; 32]));
        assert_eq!(pacer.ready(0).len(), 1);
        assert_eq!(pacer.waiting(), 1);
    }
}
