//! A deterministic simulator that drives the real [`crate::sync::SyncEngine`]
//! for many peers: a seeded PRNG, a virtual clock, a virtual network with
//! per-link latency, message loss (a lost message is a dropped data channel
//! message, so timeouts must handle it), churn (peers leave and come back on
//! a new connection) and lying peers (they serve altered facts).
//!
//! Some browser "seeds" hold a channel's full history (pre-signed once and
//! shared, with a relay restart in the middle), late joiners hold only the
//! channel fact, a few virtual clients hold everything. Each peer learns the
//! presence of a random sample of online peers (and of every virtual
//! client), as a relay's presence list would show a busy server's.
//!
//! [`run_simulation`] reports completeness, virtual time to complete, bytes
//! moved against the missing facts' own JSON size and the share of fact bytes
//! served by virtual clients. The same inputs give the same report.

pub mod history;
mod node;
mod world;

use crate::sync::SyncConfig;
use node::Role;
use serde::Serialize;
use world::{World, forge_all};

/// What to simulate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimParams {
    /// PRNG seed; the same seed gives the same run.
    pub seed: u64,
    /// Browser peers in all (seeds, liars and joiners).
    pub peers: usize,
    /// Share of browser peers that hold the full history from the start.
    pub seed_share: f64,
    /// Browser peers that hold everything but serve altered facts.
    pub liars: usize,
    /// Virtual clients (hold everything, always online).
    pub virtual_peers: usize,
    /// Messages in the channel's history.
    pub messages: usize,
    /// Index of the first message of a second relay run (`prev: None`).
    pub restart_at: Option<usize>,
    /// One-way latency per data channel, chosen uniformly in this range (ms).
    pub latency_ms: (u64, u64),
    /// Time to open a data channel (ms).
    pub connect_ms: (u64, u64),
    /// Probability that a peer message is lost.
    pub loss: f64,
    /// Share of browser peers that go offline once and come back.
    pub churn: f64,
    /// How long after joining a churning peer leaves (ms).
    pub online_before_churn_ms: (u64, u64),
    /// How long it stays away (ms).
    pub offline_ms: (u64, u64),
    /// Joiners come online uniformly within this time (ms).
    pub join_spread_ms: u64,
    /// How many online browser peers each peer learns about when it joins.
    pub presence_sample: usize,
    /// Virtual time limit (ms).
    pub max_time_ms: u64,
    /// The engines' configuration.
    pub config: SyncConfig,
}

impl Default for SimParams {
    fn default() -> Self {
        Self {
            seed: 1,
            peers: 1_000,
            seed_share: 0.05,
            liars: 10,
            virtual_peers: 2,
            messages: 200,
            restart_at: Some(120),
            latency_ms: (20, 120),
            connect_ms: (150, 600),
            loss: 0.002,
            churn: 0.1,
            online_before_churn_ms: (100, 3_000),
            offline_ms: (500, 5_000),
            join_spread_ms: 5_000,
            presence_sample: 20,
            max_time_ms: 600_000,
            config: SyncConfig::default(),
        }
    }
}

/// Virtual times to complete, over the joiners that completed (ms after joining).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// The slowest.
    pub max: u64,
}

/// What a simulation found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    /// The PRNG seed.
    pub seed: u64,
    /// Browser peers.
    pub peers: usize,
    /// Browser peers holding everything at the start (liars excluded).
    pub seeds: usize,
    /// Lying browser peers.
    pub liars: usize,
    /// Virtual clients.
    pub virtual_peers: usize,
    /// Late joiners (start with nothing).
    pub joiners: usize,
    /// Messages in the history.
    pub messages: usize,
    /// Joiners that hold every message, verified, and report `complete`.
    pub completed_joiners: usize,
    /// `completed_joiners / joiners`.
    pub completeness: f64,
    /// Time from joining to complete.
    pub time_to_complete_ms: Percentiles,
    /// Virtual time when the run ended.
    pub virtual_time_ms: u64,
    /// Bytes of every peer message sent (hellos, pages, facts, refusals).
    pub bytes_moved: u64,
    /// Bytes of `facts` answers.
    pub fact_bytes_served: u64,
    /// The missing facts' own JSON size: what every joiner lacked at the start.
    pub missing_fact_bytes: u64,
    /// `bytes_moved / missing_fact_bytes`.
    pub overhead: f64,
    /// Share of `fact_bytes_served` served by virtual clients.
    pub virtual_served_share: f64,
    /// Forged facts that reached a store (must be 0).
    pub forged_persisted: u64,
    /// Answers dropped for a forged or out-of-range fact.
    pub rejected_answers: u64,
    /// Requests and hellos that timed out.
    pub timeouts: u64,
    /// Page requests refused for a rate limit.
    pub refused_rate_limited: u64,
    /// Peer messages sent.
    pub peer_messages: u64,
    /// Peer messages lost on the way.
    pub lost_messages: u64,
    /// Data channels asked for.
    pub connects: u64,
    /// Browser peers that went offline once and came back.
    pub churned: usize,
    /// Simulator events processed.
    pub events: u64,
}

/// The roles of all peers: virtual clients, liars, seeds, then joiners.
fn roles(params: &SimParams) -> Vec<Role> {
    let seeds = ((params.peers as f64) * params.seed_share).round() as usize;
    let seeds = seeds.min(params.peers.saturating_sub(params.liars));
    let joiners = params.peers.saturating_sub(seeds + params.liars);
    let mut roles = vec![Role::Virtual; params.virtual_peers];
    roles.extend(std::iter::repeat_n(Role::Liar, params.liars));
    roles.extend(std::iter::repeat_n(Role::Seed, seeds));
    roles.extend(std::iter::repeat_n(Role::Joiner, joiners));
    roles
}

fn percentiles(mut times: Vec<u64>) -> Percentiles {
    if times.is_empty() {
        return Percentiles::default();
    }
    times.sort_unstable();
    let at = |q: f64| times[(((times.len() - 1) as f64) * q).round() as usize];
    Percentiles { p50: at(0.5), p95: at(0.95), max: at(1.0) }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Runs one simulation.
pub fn run_simulation(params: &SimParams) -> SimReport {
    let history = history::History::new("general", params.messages, params.restart_at);
    let forged = forge_all(&history);
    let roles = roles(params);
    let mut world = World::new(*params, &history, &forged, &roles);
    world.run();
    let count = |role: Role| roles.iter().filter(|r| **r == role).count();
    let joiners: Vec<&node::Node> = world.nodes.iter().filter(|n| n.role == Role::Joiner).collect();
    let completed: Vec<u64> =
        joiners.iter().filter_map(|n| n.complete_at.map(|at| at.saturating_sub(n.joined_at))).collect();
    let stats: Vec<(Role, crate::sync::SyncStats)> = world.nodes.iter().map(|n| (n.role, n.engine.stats())).collect();
    let served: u64 = stats.iter().map(|(_, s)| s.served_bytes).sum();
    let served_virtual: u64 = stats.iter().filter(|(r, _)| *r == Role::Virtual).map(|(_, s)| s.served_bytes).sum();
    let missing_fact_bytes = world.history_bytes() * joiners.len() as u64;
    let tally = world.tally.clone();
    SimReport {
        seed: params.seed,
        peers: params.peers,
        seeds: count(Role::Seed),
        liars: count(Role::Liar),
        virtual_peers: count(Role::Virtual),
        joiners: joiners.len(),
        messages: params.messages,
        completed_joiners: completed.len(),
        completeness: ratio(completed.len() as u64, joiners.len() as u64),
        time_to_complete_ms: percentiles(completed),
        virtual_time_ms: world.now(),
        bytes_moved: tally.bytes_moved,
        fact_bytes_served: served,
        missing_fact_bytes,
        overhead: ratio(tally.bytes_moved, missing_fact_bytes),
        virtual_served_share: ratio(served_virtual, served),
        forged_persisted: tally.forged_persisted,
        rejected_answers: stats.iter().map(|(_, s)| s.rejected_answers).sum(),
        timeouts: stats.iter().map(|(_, s)| s.timeouts).sum(),
        refused_rate_limited: stats.iter().map(|(_, s)| s.refused_rate_limited).sum(),
        peer_messages: tally.peer_messages,
        lost_messages: tally.lost_messages,
        connects: tally.connects,
        churned: tally.churned,
        events: tally.events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SimParams {
        SimParams { peers: 60, messages: 120, restart_at: Some(70), liars: 2, ..SimParams::default() }
    }

    #[test]
    fn a_small_network_completes_with_nothing_forged_stored() {
        let report = run_simulation(&small());
        assert_eq!(report.completed_joiners, report.joiners, "{report:#?}");
        assert_eq!(report.forged_persisted, 0);
    }

    #[test]
    fn the_same_seed_gives_the_same_report() {
        let params = SimParams { peers: 30, messages: 60, ..small() };
        assert_eq!(run_simulation(&params), run_simulation(&params));
        let other = run_simulation(&SimParams { seed: 2, ..params });
        assert_ne!(other.events, run_simulation(&params).events);
    }

    #[test]
    fn roles_add_up() {
        let roles = roles(&SimParams { peers: 100, seed_share: 0.1, liars: 3, virtual_peers: 2, ..small() });
        assert_eq!(roles.len(), 102);
        assert_eq!(roles.iter().filter(|r| **r == Role::Seed).count(), 10);
        assert_eq!(roles.iter().filter(|r| **r == Role::Joiner).count(), 87);
    }
}
