//! Runs the history-sync simulator and prints its report as JSON.
//!
//! `cargo run --release -p catalk-core --example sim -- [peers] [messages] [seed]`
//! (defaults: 10,000 peers, 200 messages, seed 1). One browser peer in a
//! hundred lies; the other settings are `SimParams::default()`.

use catalk_core::sync::sim::{SimParams, run_simulation};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut next = |default: u64| args.next().and_then(|a| a.parse().ok()).unwrap_or(default);
    let peers = next(10_000) as usize;
    let messages = next(200) as usize;
    let seed = next(1);
    let params = SimParams {
        peers,
        messages,
        seed,
        liars: peers / 100,
        restart_at: Some(messages * 3 / 5),
        ..SimParams::default()
    };
    let report = run_simulation(&params);
    match serde_json::to_string_pretty(&report) {
        Ok(json) => println!("{json}"),
        Err(err) => eprintln!("cannot encode the report: {err}"),
    }
}
