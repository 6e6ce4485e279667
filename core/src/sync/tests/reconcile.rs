//! Set reconciliation between peers whose difference no `prev` chain shows:
//! run one's tail after a stale head that was presented at a restart.

use super::*;

/// 400 messages; the run starting at message 300 links to message 249, so
/// messages 250..300 are linked from nothing.
fn forked() -> History {
    History::with_stale_head("general", 400, 300, 249)
}

/// Everything but messages `tail` of `h`.
fn without(h: &History, tail: std::ops::Range<usize>) -> Vec<Fact> {
    let gone: BTreeSet<FactId> = h.messages[tail].iter().map(|m| m.id).collect();
    h.all().into_iter().filter(|f| !gone.contains(&f.id)).collect()
}

/// Bytes of `sums` and `parts` messages sent, and how many `sums`.
fn reconciliation_traffic(net: &Net) -> (usize, usize) {
    let mut bytes = 0;
    let mut sums = 0;
    for (_, _, message) in &net.sent {
        if matches!(message, PeerMessage::Sums { .. } | PeerMessage::Parts { .. }) {
            bytes += serde_json::to_string(message).map_or(0, |t| t.len());
        }
        sums += usize::from(matches!(message, PeerMessage::Sums { .. }));
    }
    (bytes, sums)
}

#[test]
fn a_fork_tail_no_chain_shows_is_found_and_only_it_is_fetched() {
    let h = forked();
    let mut net = Net::default();
    net.add("seed", PeerKind::Browser, h.all(), config());
    net.add("late", PeerKind::Browser, without(&h, 250..300), config());
    assert_eq!(net.status("late"), HistoryStatus::Complete, "the chain alone cannot tell");
    net.link("late", "seed");
    assert!(net.holds_all("late", &h));
    assert_eq!(net.node("late").persisted.len(), 50);
    assert_eq!(net.node("seed").engine.stats().served_facts, 50, "nothing held is sent again");
    assert_eq!(net.status("late"), HistoryStatus::Complete);
    assert_eq!(forged_persisted(&net, &h), 0);
}

#[test]
fn peers_differing_by_a_short_fork_tail_among_thousands_exchange_little() {
    let h = History::with_stale_head("general", 5_000, 4_000, 3_990);
    let mut net = Net::default();
    net.add("seed", PeerKind::Browser, h.all(), config());
    net.add("late", PeerKind::Browser, without(&h, 3_991..4_000), config());
    net.link("late", "seed");
    assert!(net.holds_all("late", &h));
    assert_eq!(net.node("seed").engine.stats().served_facts, 9);
    let (bytes, sums) = reconciliation_traffic(&net);
    // Both sides reconcile once, down to where the tail is: 5,000 ids are 16
    // parts of 313, then 16 of 20, then parts of 2 ids listed:
    // some 5 KB each way.
    assert!(sums <= 8, "{sums} sums");
    assert!(bytes < 11_000, "{bytes} bytes of reconciliation for 5,000 ids (listing them all: 140,000)");
}

#[test]
fn peers_in_sync_up_to_the_older_ones_newest_do_not_reconcile() {
    let h = forked();
    let mut net = Net::default();
    net.add("behind", PeerKind::Browser, without(&h, 390..400), config());
    net.add("ahead", PeerKind::Browser, h.all(), config());
    net.link("behind", "ahead");
    assert!(net.holds_all("behind", &h));
    let (_, sums) = reconciliation_traffic(&net);
    assert_eq!(sums, 0, "the top was fetched by the chain rules; nothing else differs");
}

#[test]
fn a_peer_whose_parts_do_not_add_up_is_penalised() {
    let h = forked();
    let mut net = Net::default();
    net.add("odd", PeerKind::Browser, h.all(), config());
    net.serve("odd", Serving::Miscounted);
    net.add("late", PeerKind::Browser, without(&h, 250..300), config());
    net.link("late", "odd");
    assert!(net.disconnects("odd"));
    assert_eq!(net.node("late").engine.stats().rejected_answers, 1);
    assert_eq!(net.node("late").persisted.len(), 0);
}

#[test]
fn ids_shown_but_withheld_are_given_up_and_fetched_from_an_honest_peer() {
    let h = forked();
    let tail: BTreeSet<FactId> = h.messages[250..300].iter().map(|m| m.id).collect();
    let mut net = Net::default();
    net.add("stingy", PeerKind::Browser, h.all(), config());
    net.serve("stingy", Serving::Withholding(tail));
    net.add("late", PeerKind::Browser, without(&h, 250..300), config());
    net.link("late", "stingy");
    assert_eq!(net.node("late").persisted.len(), 0);
    assert_eq!(net.status("late"), HistoryStatus::Complete, "a withheld range is not missing forever");
    // Its status is complete, so it looks for no peer; one that links anyway reconciles.
    net.add("honest", PeerKind::Browser, h.all(), config());
    net.link("late", "honest");
    assert!(net.holds_all("late", &h));
}
