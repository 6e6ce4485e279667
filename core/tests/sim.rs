//! The history-sync simulator at the scale of a busy relay: 1,000 peers with
//! churn, message loss and lying peers, driving the real `SyncEngine`.

use catalk_core::sync::SyncConfig;
use catalk_core::sync::sim::{SimParams, SimReport, run_simulation};

fn run(params: SimParams) -> SimReport {
    let report = run_simulation(&params);
    eprintln!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    report
}

#[test]
fn a_thousand_peers_all_complete_with_churn_loss_and_liars_and_nothing_forged_is_stored() {
    // A small history keeps the debug build quick; the 10,000-peer run is `examples/sim.rs`.
    let report = run(SimParams { peers: 1_000, messages: 50, restart_at: Some(30), ..SimParams::default() });
    assert_eq!(report.completed_joiners, report.joiners, "every honest joiner completes");
    assert_eq!(report.forged_persisted, 0, "no forged fact is ever persisted");
    assert!(report.rejected_answers > 0, "liars were met, and caught");
    assert!(report.churned > 0 && report.lost_messages > 0, "churn and loss happened");
    assert!(report.virtual_served_share < 0.05, "virtual clients serve little while browser seeds are online");
    assert!(report.overhead < 2.0, "bytes moved stay within twice the missing facts' size");
}

#[test]
fn without_browser_seeds_virtual_clients_start_the_fill_and_browsers_spread_it() {
    let report = run(SimParams {
        peers: 80,
        seed_share: 0.0,
        liars: 0,
        messages: 40,
        restart_at: Some(25),
        ..SimParams::default()
    });
    assert_eq!(report.completed_joiners, report.joiners);
    // Joiners that waited out the patience fetch from virtual clients; once
    // complete they tell their peers, who fetch from them instead.
    assert!(report.virtual_served_share > 0.0 && report.virtual_served_share < 0.5);
}

/// One joiner filling a long history from `seeds` browser seeds, every link a
/// 50 ms round trip, nothing lost: the backfill is latency-bound.
fn backfill(seeds: usize, max_requests_per_peer: usize) -> SimReport {
    run(SimParams {
        peers: seeds + 1,
        seed_share: seeds as f64 / (seeds + 1) as f64,
        liars: 0,
        virtual_peers: 0,
        messages: 2_000,
        restart_at: Some(1_200),
        latency_ms: (25, 25),
        connect_ms: (300, 300),
        loss: 0.0,
        churn: 0.0,
        join_spread_ms: 0,
        config: SyncConfig { max_requests_per_peer, ..SyncConfig::default() },
        ..SimParams::default()
    })
}

#[test]
fn pipelined_pages_backfill_a_long_history_several_times_faster() {
    let serial = backfill(1, 1);
    let pipelined = backfill(1, SyncConfig::default().max_requests_per_peer);
    let three = backfill(3, SyncConfig::default().max_requests_per_peer);
    for report in [&serial, &pipelined, &three] {
        assert_eq!((report.completed_joiners, report.joiners), (1, 1));
        assert_eq!(report.forged_persisted, 0);
        assert_eq!((report.timeouts, report.refused_rate_limited), (0, 0));
        assert!(report.overhead < 1.02, "each fact is fetched once: {}", report.overhead);
    }
    // Past the connection and hello (~350 ms), 20 pages one at a time take
    // 20 round trips; four at a time, five; over three peers, about two.
    let fill = |r: &SimReport| r.time_to_complete_ms.max.saturating_sub(350);
    assert!(fill(&pipelined) * 3 < fill(&serial), "{} vs {}", fill(&pipelined), fill(&serial));
    assert!(fill(&three) < fill(&pipelined), "{} vs {}", fill(&three), fill(&pipelined));
}
