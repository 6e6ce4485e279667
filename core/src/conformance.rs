//! The conformance suite every [`HistoryStore`] must pass: the in-memory store
//! natively, IndexedDB in Chromium, the virtual client's disk store.
//!
//! Each check uses its own channel names, so one empty store serves the whole run.

use crate::store::{HeldMessage, HistoryStore};
use catalk_proto::{ChannelName, DraftId, Fact, FactBody, FactId, Privileges, PublicKey, sign_post};

/// The outcome of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Checks that passed.
    pub passed: usize,
    /// One line per failed check: its name and what went wrong.
    pub failures: Vec<String>,
}

fn relay() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32])
}

fn channel(name: &str) -> ChannelName {
    ChannelName::new(name).unwrap_or_else(|_| ChannelName::general())
}

/// A signed message fact in `channel` with id time `ms` and sequence `n`.
pub fn message(channel_name: &str, ms: u64, n: u128) -> Fact {
    linked_message(channel_name, ms, n, None, FactId::from_parts(1, 0))
}

/// Like [`message`], with its own `prev` link and epoch.
fn linked_message(channel_name: &str, ms: u64, n: u128, prev: Option<FactId>, epoch: FactId) -> Fact {
    let relay = relay();
    let author = ed25519_dalek::SigningKey::from_bytes(&[0x6b; 32]);
    let channel = channel(channel_name);
    let draft = DraftId::from_parts(ms, n);
    let text = format!("message {n} in {channel_name}");
    let author_sig = sign_post(&author, &PublicKey::of(&relay), &channel, &draft, &text);
    Fact::sign(
        &relay,
        FactId::from_parts(ms, n),
        FactBody::Message { channel, author: PublicKey::of(&author), draft, text, prev, epoch, author_sig },
    )
}

fn ids(facts: &[Fact]) -> Vec<FactId> {
    facts.iter().map(|f| f.id).collect()
}

/// What `holdings` should list of `facts` (given oldest first): their messages, newest first.
fn held_newest_first(facts: &[Fact]) -> Vec<HeldMessage> {
    facts.iter().rev().filter_map(HeldMessage::of).collect()
}

/// `count` messages of `channel_name` from id time `ms`, each linked to the one
/// before; the epoch changes halfway, as after a relay restart.
fn chain(channel_name: &str, ms: u64, count: u64) -> Vec<Fact> {
    let (first_epoch, second_epoch) = (FactId::from_parts(ms - 1, 0), FactId::from_parts(ms + count / 2, 0));
    let mut prev = None;
    (0..count)
        .map(|n| {
            let epoch = if n < count / 2 { first_epoch } else { second_epoch };
            let fact = linked_message(channel_name, ms + n, u128::from(n) + 1, prev, epoch);
            prev = Some(fact.id);
            fact
        })
        .collect()
}

fn channel_fact(name: &str, id: FactId) -> Fact {
    let relay = relay();
    Fact::sign(&relay, id, FactBody::Channel { name: channel(name), creator: PublicKey::of(&relay) })
}

type CheckResult = Result<(), String>;

fn ensure(ok: bool, what: impl FnOnce() -> String) -> CheckResult {
    if ok { Ok(()) } else { Err(what()) }
}

async fn put_then_get_returns_the_same_fact<S: HistoryStore>(store: &S) -> CheckResult {
    let fact = message("conf-get", 1_000, 1);
    store.put_facts(std::slice::from_ref(&fact)).await.map_err(|e| e.to_string())?;
    let back = store.fact(fact.id).await.map_err(|e| e.to_string())?;
    ensure(back.as_ref() == Some(&fact), || format!("got {back:?}"))?;
    let missing = store.fact(FactId::from_parts(1, 1)).await.map_err(|e| e.to_string())?;
    ensure(missing.is_none(), || "an id never stored was found".into())
}

async fn put_is_idempotent<S: HistoryStore>(store: &S) -> CheckResult {
    let facts: Vec<Fact> = (0..3).map(|n| message("conf-idem", 2_000, n)).collect();
    let first = store.put_facts(&facts).await.map_err(|e| e.to_string())?;
    let again = store.put_facts(&facts).await.map_err(|e| e.to_string())?;
    let count = store.count_messages(&channel("conf-idem")).await.map_err(|e| e.to_string())?;
    ensure((first, again, count) == (3, 0, 3), || format!("new {first} then {again}, count {count}"))
}

async fn pages_walk_back_in_order<S: HistoryStore>(store: &S) -> CheckResult {
    let facts: Vec<Fact> = (0..25).map(|n| message("conf-page", 3_000 + n as u64, n)).collect();
    store.put_facts(&facts).await.map_err(|e| e.to_string())?;
    let ch = channel("conf-page");
    let newest = store.messages_before(&ch, None, 10).await.map_err(|e| e.to_string())?;
    ensure(ids(&newest) == ids(&facts[15..25]), || format!("newest page {:?}", ids(&newest)))?;
    let older = store.messages_before(&ch, Some(facts[15].id), 10).await.map_err(|e| e.to_string())?;
    ensure(ids(&older) == ids(&facts[5..15]), || format!("second page {:?}", ids(&older)))?;
    let oldest = store.messages_before(&ch, Some(facts[5].id), 10).await.map_err(|e| e.to_string())?;
    ensure(ids(&oldest) == ids(&facts[0..5]), || format!("last page {:?}", ids(&oldest)))?;
    let none = store.messages_before(&ch, Some(facts[0].id), 10).await.map_err(|e| e.to_string())?;
    ensure(none.is_empty(), || format!("before the first: {:?}", ids(&none)))?;
    let zero = store.messages_before(&ch, None, 0).await.map_err(|e| e.to_string())?;
    ensure(zero.is_empty(), || "limit 0 returned messages".into())
}

async fn out_of_order_inserts_read_back_sorted<S: HistoryStore>(store: &S) -> CheckResult {
    let facts: Vec<Fact> = (0..12).map(|n| message("conf-order", 4_000 + n as u64, n)).collect();
    let mut shuffled = facts.clone();
    shuffled.reverse();
    shuffled.swap(2, 9);
    for chunk in shuffled.chunks(5) {
        store.put_facts(chunk).await.map_err(|e| e.to_string())?;
    }
    let page = store.messages_before(&channel("conf-order"), None, 100).await.map_err(|e| e.to_string())?;
    ensure(ids(&page) == ids(&facts), || format!("{:?}", ids(&page)))
}

async fn channels_do_not_mix<S: HistoryStore>(store: &S) -> CheckResult {
    let a: Vec<Fact> = (0..4).map(|n| message("conf-mix-a", 5_000, n)).collect();
    let b: Vec<Fact> = (10..14).map(|n| message("conf-mix-b", 5_000, n)).collect();
    store.put_facts(&[a.clone(), b.clone()].concat()).await.map_err(|e| e.to_string())?;
    let page_a = store.messages_before(&channel("conf-mix-a"), None, 100).await.map_err(|e| e.to_string())?;
    let page_b = store.messages_before(&channel("conf-mix-b"), None, 100).await.map_err(|e| e.to_string())?;
    ensure(ids(&page_a) == ids(&a) && ids(&page_b) == ids(&b), || "pages mix channels".into())?;
    let empty = store.messages_before(&channel("conf-mix-none"), None, 100).await.map_err(|e| e.to_string())?;
    ensure(empty.is_empty(), || "an unknown channel has messages".into())
}

async fn channel_and_grant_facts_are_listed<S: HistoryStore>(store: &S) -> CheckResult {
    let relay = relay();
    let creator = PublicKey::of(&relay);
    let created =
        Fact::sign(&relay, FactId::from_parts(6_000, 1), FactBody::Channel { name: channel("conf-listed"), creator });
    let grant = Fact::sign(
        &relay,
        FactId::from_parts(6_000, 2),
        FactBody::Grant { grantee: creator, privileges: Privileges::OWNER_ALL, issuer: creator },
    );
    store.put_facts(&[created.clone(), grant.clone()]).await.map_err(|e| e.to_string())?;
    let channels = store.channels().await.map_err(|e| e.to_string())?;
    ensure(channels.contains(&created), || format!("channels: {:?}", ids(&channels)))?;
    ensure(!channels.contains(&grant), || "a grant is listed as a channel".into())?;
    let grants = store.grants().await.map_err(|e| e.to_string())?;
    ensure(grants.contains(&grant) && !grants.contains(&created), || format!("grants: {:?}", ids(&grants)))
}

/// A signed presence fact showing `key` as `name`, with id time `ms`.
pub fn presence_of(key: PublicKey, name: &str, ms: u64) -> Fact {
    let name = catalk_proto::DisplayName::new(name).unwrap_or_else(|_| panic!("a valid test name: {name:?}"));
    let body = FactBody::Presence { key, name, online: true, privileges: Privileges::NONE };
    Fact::sign(&relay(), FactId::from_parts(ms, 1), body)
}

async fn presence_is_not_history<S: HistoryStore>(store: &S) -> CheckResult {
    let presence = presence_of(PublicKey::of(&relay()), "p", 7_000);
    let new = store.put_facts(std::slice::from_ref(&presence)).await.map_err(|e| e.to_string())?;
    let back = store.fact(presence.id).await.map_err(|e| e.to_string())?;
    ensure(new == 0 && back.is_none(), || format!("presence stored as history: new {new}, found {}", back.is_some()))
}

async fn presence_cards_keep_the_newest_per_key<S: HistoryStore>(store: &S) -> CheckResult {
    let key = PublicKey::from_bytes([0x3c; 32]);
    let facts = [presence_of(key, "middle", 7_500), presence_of(key, "newest", 8_000), presence_of(key, "old", 6_000)];
    for fact in &facts {
        store.put_facts(std::slice::from_ref(fact)).await.map_err(|e| e.to_string())?;
    }
    let cards = store.presence().await.map_err(|e| e.to_string())?;
    let of_key: Vec<&Fact> =
        cards.iter().filter(|f| matches!(&f.body, FactBody::Presence { key: k, .. } if *k == key)).collect();
    ensure(of_key == [&facts[1]], || {
        format!("cards of the key: {:?}", ids(&of_key.into_iter().cloned().collect::<Vec<_>>()))
    })
}

async fn holdings_list_newest_first_with_prev_and_epoch<S: HistoryStore>(store: &S) -> CheckResult {
    let facts = chain("conf-hold-order", 8_000, 12);
    let mut shuffled = facts.clone();
    shuffled.swap(0, 7);
    shuffled.swap(3, 11);
    for chunk in shuffled.chunks(5) {
        store.put_facts(chunk).await.map_err(|e| e.to_string())?;
    }
    let held = store.holdings(&channel("conf-hold-order"), None, 100).await.map_err(|e| e.to_string())?;
    ensure(held == held_newest_first(&facts), || format!("got {held:?}"))
}

async fn holdings_pages_visit_every_message_once<S: HistoryStore>(store: &S) -> CheckResult {
    let name = "conf-hold-page";
    let facts = chain(name, 9_000, 25);
    // The channel's own fact sorts among its messages: it must neither be listed nor take a place in a page.
    let created = channel_fact(name, FactId::from_parts(9_012, 999));
    store.put_facts(&[facts.clone(), vec![created]].concat()).await.map_err(|e| e.to_string())?;
    let ch = channel(name);
    let (mut visited, mut sizes, mut before) = (Vec::new(), Vec::new(), None);
    while sizes.len() < 10 {
        let page = store.holdings(&ch, before, 7).await.map_err(|e| e.to_string())?;
        sizes.push(page.len());
        visited.extend_from_slice(&page);
        match page.last() {
            Some(last) if page.len() == 7 => before = Some(last.id),
            _ => break,
        }
    }
    ensure(sizes == [7, 7, 7, 4], || format!("page sizes {sizes:?}"))?;
    ensure(visited == held_newest_first(&facts), || {
        format!("visited {:?}", visited.iter().map(|h| h.id).collect::<Vec<_>>())
    })?;
    let zero = store.holdings(&ch, None, 0).await.map_err(|e| e.to_string())?;
    ensure(zero.is_empty(), || "limit 0 returned holdings".into())
}

async fn holdings_exclude_other_channels_and_non_message_facts<S: HistoryStore>(store: &S) -> CheckResult {
    let relay = relay();
    let creator = PublicKey::of(&relay);
    let a: Vec<Fact> = (0..4).map(|n| message("conf-hold-a", 10_000 + n as u64 * 10, n)).collect();
    // A name that extends the other one, with ids between its messages.
    let a2: Vec<Fact> = (0..4).map(|n| message("conf-hold-a2", 10_005 + n as u64 * 10, n)).collect();
    let others = vec![
        channel_fact("conf-hold-a", FactId::from_parts(10_001, 0)),
        channel_fact("conf-hold-a2", FactId::from_parts(10_002, 0)),
        Fact::sign(&relay, FactId::from_parts(10_013, 0), FactBody::Epoch {}),
        Fact::sign(
            &relay,
            FactId::from_parts(10_017, 0),
            FactBody::Grant { grantee: creator, privileges: Privileges::OWNER_ALL, issuer: creator },
        ),
    ];
    store.put_facts(&[a.clone(), a2.clone(), others].concat()).await.map_err(|e| e.to_string())?;
    let held_a = store.holdings(&channel("conf-hold-a"), None, 100).await.map_err(|e| e.to_string())?;
    ensure(held_a == held_newest_first(&a), || format!("conf-hold-a: {held_a:?}"))?;
    let held_a2 = store.holdings(&channel("conf-hold-a2"), None, 100).await.map_err(|e| e.to_string())?;
    ensure(held_a2 == held_newest_first(&a2), || format!("conf-hold-a2: {held_a2:?}"))
}

async fn holdings_of_an_empty_or_unknown_channel_are_empty<S: HistoryStore>(store: &S) -> CheckResult {
    let unknown = store.holdings(&channel("conf-hold-none"), None, 100).await.map_err(|e| e.to_string())?;
    ensure(unknown.is_empty(), || format!("an unknown channel holds {unknown:?}"))?;
    store
        .put_facts(&[channel_fact("conf-hold-bare", FactId::from_parts(11_000, 0))])
        .await
        .map_err(|e| e.to_string())?;
    let bare = store.holdings(&channel("conf-hold-bare"), None, 100).await.map_err(|e| e.to_string())?;
    ensure(bare.is_empty(), || format!("a channel without messages holds {bare:?}"))?;
    let facts = chain("conf-hold-edge", 11_100, 2);
    store.put_facts(&facts).await.map_err(|e| e.to_string())?;
    let ch = channel("conf-hold-edge");
    let older = store.holdings(&ch, Some(facts[1].id), 100).await.map_err(|e| e.to_string())?;
    ensure(older == held_newest_first(&facts[..1]), || format!("before the newest: {older:?}"))?;
    let none = store.holdings(&ch, Some(facts[0].id), 100).await.map_err(|e| e.to_string())?;
    ensure(none.is_empty(), || format!("before the oldest: {none:?}"))
}

/// Runs every check against `store` (which should start empty).
pub async fn run<S: HistoryStore>(store: &S) -> Report {
    let mut report = Report::default();
    let mut record = |name: &str, result: CheckResult| match result {
        Ok(()) => report.passed += 1,
        Err(why) => report.failures.push(format!("{name}: {why}")),
    };
    record("put_then_get_returns_the_same_fact", put_then_get_returns_the_same_fact(store).await);
    record("put_is_idempotent", put_is_idempotent(store).await);
    record("pages_walk_back_in_order", pages_walk_back_in_order(store).await);
    record("out_of_order_inserts_read_back_sorted", out_of_order_inserts_read_back_sorted(store).await);
    record("channels_do_not_mix", channels_do_not_mix(store).await);
    record("channel_and_grant_facts_are_listed", channel_and_grant_facts_are_listed(store).await);
    record("presence_is_not_history", presence_is_not_history(store).await);
    record("presence_cards_keep_the_newest_per_key", presence_cards_keep_the_newest_per_key(store).await);
    record(
        "holdings_list_newest_first_with_prev_and_epoch",
        holdings_list_newest_first_with_prev_and_epoch(store).await,
    );
    record("holdings_pages_visit_every_message_once", holdings_pages_visit_every_message_once(store).await);
    record(
        "holdings_exclude_other_channels_and_non_message_facts",
        holdings_exclude_other_channels_and_non_message_facts(store).await,
    );
    record(
        "holdings_of_an_empty_or_unknown_channel_are_empty",
        holdings_of_an_empty_or_unknown_channel_are_empty(store).await,
    );
    report
}
