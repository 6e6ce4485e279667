//! Driver tests on a deterministic world: a small relay, memory stores and
//! emulated data channels (see `world.rs`).

mod mini_relay;
mod world;

use crate::client::Stage;
use catalk_proto::PeerKind;
use world::{Paths, World};

/// A world where member 0 posted `n` messages and stays online.
fn history_of(n: usize, paths: Paths, fallback: bool) -> World {
    let mut world = World::new(paths, fallback);
    let author = world.add(PeerKind::Browser);
    world.connect(author);
    for i in 0..n {
        world.post(author, &format!("message {i}"));
        world.advance(10);
    }
    world
}

/// The `prev` of the newest message member `m` holds.
fn newest_prev(world: &World, m: usize) -> Option<catalk_proto::FactId> {
    match world.held(m).last().map(|fact| &fact.body) {
        Some(catalk_proto::FactBody::Message { prev, .. }) => *prev,
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn a_late_joiner_fills_from_a_member_over_a_data_channel() {
    let mut world = history_of(30, Paths::Open, false);
    let joiner = world.add(PeerKind::Browser);
    world.connect(joiner);
    world.advance(2_000);
    assert_eq!(world.held(joiner).len(), 30);
    let stats = world.members[joiner].client.stats();
    assert_eq!(stats.backfilled_stored, 30);
    assert_eq!(stats.links_relayed, 0);
    assert_eq!(world.members[joiner].client.link_stage(&world.key_of(0)), Some(Stage::Direct));
}

#[test]
fn glare_within_the_same_millisecond_leaves_one_link() {
    let mut world = World::new(Paths::Open, false);
    // Without heads in the welcome, so that each side lacks what only the other holds.
    world.relay.send_heads = false;
    let (a, b) = (world.add(PeerKind::Browser), world.add(PeerKind::Browser));
    // Each ends up with a gap only the other can fill.
    for (who, text) in [(a, "one"), (b, "two"), (a, "three")] {
        world.connect(who);
        world.post(who, text);
        world.leave(who);
        world.advance(100);
    }
    world.connect_together(&[a, b]);
    world.advance(3_000);
    assert!(world.members[a].offers >= 1 && world.members[b].offers >= 1, "both offered: a glare");
    assert_eq!(world.wires(), 1, "exactly one connection survives");
    let (ka, kb) = (world.key_of(a), world.key_of(b));
    assert_eq!(world.members[a].client.link_stage(&kb), Some(Stage::Direct));
    assert_eq!(world.members[b].client.link_stage(&ka), Some(Stage::Direct));
    assert_eq!(world.held(a).len(), 3);
    assert_eq!(world.held(b).len(), 3);
}

#[test]
fn a_link_that_never_opens_falls_back_to_the_relay() {
    let mut world = history_of(20, Paths::Blocked, true);
    let joiner = world.add(PeerKind::Browser);
    world.connect(joiner);
    world.advance(3_000);
    assert_eq!(world.held(joiner).len(), 1, "only the newest, from the welcome, before the fallback deadline");
    world.advance(5_000);
    assert_eq!(world.held(joiner).len(), 20);
    assert_eq!(world.members[joiner].client.stats().links_relayed, 1);
    assert!(world.relay.carried_peer_frames > 0);
    assert_eq!(world.wires(), 0, "the unopened data channel was closed");
    assert_eq!(world.relay.link_reports.get(&world.key_of(joiner)), Some(&(0, 0, 1)), "told the relay");
}

#[test]
fn links_through_turn_are_told_apart_and_reported_to_the_relay() {
    let mut world = history_of(20, Paths::Turn, false);
    let joiner = world.add(PeerKind::Browser);
    world.connect(joiner);
    world.advance(3_000);
    assert_eq!(world.held(joiner).len(), 20);
    let stats = world.members[joiner].client.stats();
    assert_eq!((stats.links_direct, stats.links_turn, stats.links_relayed), (0, 1, 0));
    let links = world.members[joiner].client.links();
    assert_eq!(links.len(), 1);
    assert_eq!((links[0].peer, links[0].path), (world.key_of(0), crate::client::Carrier::Turn));
    assert_eq!(world.relay.link_reports.get(&world.key_of(joiner)), Some(&(0, 1, 0)), "told the relay");
    assert_eq!(world.relay.link_reports.get(&world.key_of(0)), Some(&(0, 1, 0)), "the author's side too");
}

#[test]
fn without_the_relay_fallback_a_blocked_link_fills_nothing() {
    let mut world = history_of(20, Paths::Blocked, false);
    let joiner = world.add(PeerKind::Browser);
    world.connect(joiner);
    world.advance(30_000);
    assert_eq!(world.held(joiner).len(), 1, "only the newest, from the welcome");
    assert_eq!(world.relay.carried_peer_frames, 0);
}

#[test]
fn a_virtual_client_serves_through_the_relay_fallback() {
    let mut world = World::new(Paths::Blocked, true);
    let keeper = world.add(PeerKind::Virtual);
    world.connect(keeper);
    let author = world.add(PeerKind::Browser);
    world.connect(author);
    for i in 0..15 {
        world.post(author, &format!("kept {i}"));
    }
    world.leave(author);
    assert_eq!(world.held(keeper).len(), 15, "the keeper stored them live");
    let joiner = world.add(PeerKind::Browser);
    world.connect(joiner);
    world.advance(10_000);
    assert_eq!(world.held(joiner).len(), 15);
    let keeper_stats = world.members[keeper].client.stats();
    assert!(keeper_stats.sync.served_facts >= 14, "all but the newest (from the welcome): {keeper_stats:?}");
    assert_eq!(keeper_stats.links_relayed, 1);
}

#[test]
fn a_virtual_client_is_only_the_last_resort() {
    let mut world = World::new(Paths::Open, false);
    let keeper = world.add(PeerKind::Virtual);
    world.connect(keeper);
    let author = world.add(PeerKind::Browser);
    world.connect(author);
    for i in 0..25 {
        world.post(author, &format!("m {i}"));
        world.advance(5);
    }
    let joiner = world.add(PeerKind::Browser);
    world.connect(joiner);
    world.advance(5_000);
    assert_eq!(world.held(joiner).len(), 25);
    assert!(world.members[author].client.stats().sync.served_facts >= 24, "all but the newest (from the welcome)");
    assert_eq!(world.members[keeper].client.stats().sync.served_facts, 0, "the keeper was not asked");
}

#[test]
fn after_a_relay_restart_the_chain_continues_from_the_presented_head() {
    let mut world = history_of(5, Paths::Open, false);
    let joiner = world.add(PeerKind::Browser);
    world.connect(joiner);
    world.advance(2_000);
    let head = world.held(0).last().unwrap().id;
    world.restart_relay();
    world.advance(60_000);
    assert!(world.members.iter().all(|m| m.conn.is_some()), "both reconnected");
    world.post(0, "after the restart");
    world.advance(1_000);
    assert_eq!(newest_prev(&world, joiner), Some(head), "chained to the presented head");
    assert_eq!(world.held(joiner).len(), 6);
}

#[test]
fn relayed_links_end_with_the_relay_connection_and_are_made_again() {
    let mut world = history_of(10, Paths::Blocked, true);
    let joiner = world.add(PeerKind::Browser);
    world.connect(joiner);
    world.advance(8_000);
    assert_eq!(world.members[joiner].client.stats().links_relayed, 1);
    world.restart_relay();
    assert_eq!(world.members[joiner].client.stats().links_relayed, 0, "ended with the socket");
    world.advance(60_000);
    world.leave(0);
    let late = world.add(PeerKind::Browser);
    world.connect(late);
    world.advance(10_000);
    assert_eq!(world.held(late).len(), 10, "the joiner serves the late one through the relay");
}

#[test]
fn peers_are_looked_for_only_after_the_holdings_are_read() {
    let mut world = history_of(12, Paths::Open, false);
    let history = world.held(0);
    let returning = world.add_with(PeerKind::Browser, &history, 5);
    world.connect(returning);
    world.advance(3_000);
    let log = &world.members[returning].log;
    let pages = log.iter().filter(|l| **l == "holdings").count();
    assert_eq!(pages, 3, "12 held messages in pages of 5: {log:?}");
    let last_page = log.iter().rposition(|l| *l == "holdings");
    let first_link = log.iter().position(|l| *l == "offer" || *l == "answer");
    assert!(first_link.is_none_or(|link| Some(link) > last_page), "{log:?}");
    assert_eq!(world.members[returning].client.stats().backfilled_stored, 0, "it held everything");
}

#[test]
fn a_fresh_start_presents_the_stored_head_to_a_restarted_relay() {
    let mut world = history_of(4, Paths::Open, false);
    let history = world.history(0);
    world.leave(0);
    world.restart_relay();
    let returning = world.add_with(PeerKind::Browser, &history, 100);
    world.connect(returning);
    world.post(returning, "back again");
    assert_eq!(newest_prev(&world, returning), history.last().map(|f| f.id));
}

#[test]
fn complete_is_said_only_once_the_backfill_is_in_the_store() {
    use crate::sync::HistoryStatus;
    let mut world = history_of(30, Paths::Open, false);
    let joiner = world.add(PeerKind::Browser);
    world.slow_store = Some(joiner);
    world.connect(joiner);
    world.advance(2_000);
    let general = catalk_proto::ChannelName::general();
    assert_ne!(world.statuses(joiner).last(), Some(&HistoryStatus::Complete), "not while the writes wait");
    assert_ne!(world.members[joiner].client.history_status(&general), HistoryStatus::Complete);
    world.release_puts();
    assert_eq!(world.statuses(joiner).last(), Some(&HistoryStatus::Complete));
    assert_eq!(world.members[joiner].client.history_status(&general), HistoryStatus::Complete);
    assert_eq!(world.held(joiner).len(), 30);
}

#[test]
fn a_returning_member_finds_what_was_said_while_away_and_is_never_told_complete_before() {
    use crate::sync::HistoryStatus;
    let mut world = history_of(10, Paths::Open, false);
    let ben = world.add(PeerKind::Browser);
    world.connect(ben);
    world.advance(2_000);
    assert_eq!(world.held(ben).len(), 10);
    world.leave(ben);
    for i in 0..3 {
        world.post(0, &format!("while Ben was away {i}"));
        world.advance(10);
    }
    let told_before = world.statuses(ben).len();
    world.connect(ben);
    world.advance(2_000);
    assert_eq!(world.held(ben).len(), 13, "the three came back");
    let since: Vec<HistoryStatus> = world.statuses(ben)[told_before..].to_vec();
    let first_complete = since.iter().position(|s| *s == HistoryStatus::Complete);
    assert!(first_complete.is_some(), "complete in the end: {since:?}");
    assert!(
        since[..first_complete.unwrap_or(0)].iter().any(|s| matches!(s, HistoryStatus::Filling { .. })),
        "{since:?}"
    );
}

#[test]
fn links_use_the_turn_credentials_of_the_welcome() {
    let mut world = history_of(3, Paths::Open, false);
    let turn = catalk_proto::IceServer {
        urls: vec!["turn:turn.example.org:3478".into()],
        username: Some("1700003600:key".into()),
        credential: Some("secret".into()),
    };
    world.relay.turn = Some(turn.clone());
    let joiner = world.add(PeerKind::Browser);
    let stun: catalk_proto::IceServer = "stun:stun.example.org:3478".parse().unwrap();
    world.members[joiner].client.set_ice_servers(vec![stun.clone()]);
    world.connect(joiner);
    world.advance(1_000);
    assert_eq!(world.offered_ice_servers, vec![vec![stun, turn]]);
}

#[test]
fn a_relay_socket_blip_keeps_the_direct_links() {
    let mut world = history_of(5, Paths::Open, false);
    let joiner = world.add(PeerKind::Browser);
    world.connect(joiner);
    world.advance(2_000);
    let author = world.key_of(0);
    assert_eq!(world.members[joiner].client.link_stage(&author), Some(Stage::Direct));
    world.drop_socket(joiner);
    assert_eq!(world.members[joiner].client.link_stage(&author), Some(Stage::Direct), "kept while away");
    world.advance(3_000);
    assert!(world.members[joiner].conn.is_some(), "reconnected");
    assert_eq!(world.members[joiner].client.link_stage(&author), Some(Stage::Direct), "kept after");
}

#[test]
fn an_answer_whose_link_never_opens_is_given_up() {
    let mut world = history_of(5, Paths::Blocked, false);
    let joiner = world.add(PeerKind::Browser);
    world.connect(joiner);
    world.advance(1_000);
    let joiner_key = world.key_of(joiner);
    assert!(matches!(world.members[0].client.link_stage(&joiner_key), Some(Stage::AnswerSent { .. })));
    world.advance(30_000);
    assert!(
        !matches!(world.members[0].client.link_stage(&joiner_key), Some(Stage::AnswerSent { .. })),
        "the stale answer is gone"
    );
    assert!(!world.members[0].closed.is_empty(), "its connection was closed");
}

#[test]
fn a_late_joiner_learns_the_names_of_authors_who_are_away_from_the_member_serving_it() {
    let mut world = history_of(5, Paths::Open, false);
    let keeper = world.add(PeerKind::Browser);
    world.connect(keeper);
    world.advance(3_000);
    assert_eq!(world.held(keeper).len(), 5);
    world.leave(0);
    let joiner = world.add(PeerKind::Browser);
    world.connect(joiner);
    world.advance(3_000);
    assert_eq!(world.held(joiner).len(), 5, "filled from the keeper");
    let author = world.key_of(0).to_string();
    let named = world.members[joiner].events.iter().any(|event| {
        matches!(event, crate::Event::Names { people } if people.iter().any(|p| p.key == author && !p.name.is_empty()))
    });
    assert!(named, "the author's name came with the page: {:?}", world.members[joiner].client.journal());
    let cards = futures_executor::block_on(crate::HistoryStore::presence(&world.members[joiner].store)).unwrap();
    let is_author = |card: &catalk_proto::Fact| matches!(&card.body, catalk_proto::FactBody::Presence { key, .. } if key.to_string() == author);
    assert!(cards.iter().any(is_author), "and stored");
}

#[test]
fn a_channel_whose_backfill_could_not_be_stored_is_never_complete() {
    let mut world = history_of(20, Paths::Open, false);
    let joiner = world.add(PeerKind::Browser);
    world.failing_puts = Some(joiner);
    world.connect(joiner);
    world.advance(3_000);
    let general = catalk_proto::ChannelName::general();
    assert!(!world.statuses(joiner).contains(&crate::sync::HistoryStatus::Complete), "{:?}", world.statuses(joiner));
    assert_ne!(world.members[joiner].client.history_status(&general), crate::sync::HistoryStatus::Complete);
    let told = world.members[joiner]
        .events
        .iter()
        .any(|e| matches!(e, crate::Event::Error { code, .. } if code == "quota_exceeded"));
    assert!(told, "the person is told the store is full");
}

#[test]
fn a_peer_that_cannot_read_its_store_refuses_instead_of_answering_empty() {
    let mut world = history_of(20, Paths::Open, false);
    world.failing_pages = Some(0);
    let joiner = world.add(PeerKind::Browser);
    world.connect(joiner);
    world.advance(3_000);
    let general = catalk_proto::ChannelName::general();
    assert!(world.held(joiner).len() < 20, "nothing served");
    assert!(!world.statuses(joiner).contains(&crate::sync::HistoryStatus::Complete), "{:?}", world.statuses(joiner));
    assert_ne!(world.members[joiner].client.history_status(&general), crate::sync::HistoryStatus::Complete);
    world.failing_pages = None;
    world.advance(10_000);
    assert_eq!(world.held(joiner).len(), 20, "asked again later, and filled");
}
