//! Runs the history-sync simulator and prints its report as JSON.
//!
//! ```text
//! cargo run --release -p catalk-core --example sim -- [peers] [messages] [seed]
//! cargo run --release -p catalk-core --example sim -- backfill [messages] [seeds] [rtt_ms] [requests_per_peer]
//! ```
//!
//! The first form (defaults: 10,000 peers, 200 messages, seed 1) is a busy
//! relay: one browser peer in a hundred lies; the other settings are
//! `SimParams::default()`. The second (defaults: 10,000 messages, 3 seeds,
//! 50 ms round trip, the default requests per peer) is one joiner filling a
//! long history from a few browser seeds: no loss, churn, liars or virtual
//! clients, every link the same round trip, so the time to complete is the
//! latency-bound backfill alone.

use catalk_core::sync::SyncConfig;
use catalk_core::sync::sim::{SimParams, run_simulation};

const HELP: &str = "usage: sim [peers] [messages] [seed]
       sim backfill [messages] [seeds] [rtt_ms] [requests_per_peer]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{HELP}");
        return;
    }
    let backfill = args.first().is_some_and(|a| a == "backfill");
    let mut numbers = args.iter().skip(usize::from(backfill));
    let mut next = |default: u64| numbers.next().and_then(|a| a.parse().ok()).unwrap_or(default);
    let params = if backfill {
        let messages = next(10_000) as usize;
        let seeds = next(3).max(1) as usize;
        let one_way = next(50) / 2;
        let defaults = SyncConfig::default();
        let max_requests_per_peer = next(defaults.max_requests_per_peer as u64) as usize;
        SimParams {
            peers: seeds + 1,
            seed_share: seeds as f64 / (seeds + 1) as f64,
            liars: 0,
            virtual_peers: 0,
            messages,
            restart_at: Some(messages * 3 / 5),
            latency_ms: (one_way, one_way),
            connect_ms: (300, 300),
            loss: 0.0,
            churn: 0.0,
            join_spread_ms: 0,
            config: SyncConfig { max_requests_per_peer, ..defaults },
            ..SimParams::default()
        }
    } else {
        let peers = next(10_000) as usize;
        let messages = next(200) as usize;
        let seed = next(1);
        SimParams {
            peers,
            messages,
            seed,
            liars: peers / 100,
            restart_at: Some(messages * 3 / 5),
            ..SimParams::default()
        }
    };
    let report = run_simulation(&params);
    match serde_json::to_string_pretty(&report) {
        Ok(json) => println!("{json}"),
        Err(err) => eprintln!("cannot encode the report: {err}"),
    }
}
