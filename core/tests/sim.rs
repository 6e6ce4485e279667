//! The history-sync simulator at the scale of a busy relay: 1,000 peers with
//! churn, message loss and lying peers, driving the real `SyncEngine`.

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
