//! Micro-benchmarks of the sync engine on large stores: indexing stored facts,
//! gap detection, planning requests with many peers, and serving a page.
//!
//! Every fact is built and signed once, outside the timed loops, by the
//! simulator's [`History`] (100,000 messages, a relay restart at message 5,000,
//! so two epochs). Signing and verification are benchmarked in `catalk-proto`.
//!
//! Run with `cargo bench -p catalk-core --bench sync`; results are recorded in
//! `docs/benchmarks.md`.

use catalk_core::sync::sim::history::{History, relay_public};
use catalk_core::sync::{HistoryStatus, PeerId, SyncConfig, SyncEngine, SyncInput, SyncOutput};
use catalk_core::{HistoryStore, MemoryStore};
use catalk_proto::{Fact, PeerKind, PeerMessage};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Messages in the large store.
const MESSAGES: usize = 100_000;
/// The first message of the second relay run.
const RESTART_AT: usize = 5_000;
/// Messages missing from the store with holes, one every `MESSAGES / HOLES`.
const HOLES: usize = 100;
/// Peers connected to the planning engine, the last `VIRTUAL_PEERS` of them virtual clients.
const PEERS: usize = 1_000;
/// Virtual clients among `PEERS`.
const VIRTUAL_PEERS: usize = 100;

/// The shared history, signed once (a few seconds).
fn history() -> &'static History {
    static HISTORY: OnceLock<History> = OnceLock::new();
    HISTORY.get_or_init(|| History::new("general", MESSAGES, Some(RESTART_AT)))
}

/// The preamble and the first `n` messages.
fn store_of(history: &History, n: usize) -> Vec<Fact> {
    let mut facts = history.preamble();
    facts.extend(history.messages[..n].iter().cloned());
    facts
}

/// The whole history but `HOLES` messages spread evenly (none at the bottom or the restart).
fn store_with_holes(history: &History) -> Vec<Fact> {
    let every = MESSAGES / HOLES;
    let mut facts = history.preamble();
    facts.extend(history.messages.iter().enumerate().filter(|(n, _)| n % every != every / 2).map(|(_, f)| f.clone()));
    facts
}

/// Everything the engine asks of the shell, in order.
fn drain(engine: &mut SyncEngine) -> Vec<SyncOutput> {
    std::iter::from_fn(|| engine.poll_output()).collect()
}

/// An engine that has been handed `facts` as the local store at start.
fn engine_with(facts: Vec<Fact>, kind: PeerKind) -> SyncEngine {
    let mut engine = SyncEngine::new(SyncConfig::default(), kind, vec![relay_public()]);
    engine.set_seed(1);
    engine.handle_input(0, SyncInput::Stored(facts));
    drain(&mut engine);
    engine
}

/// The hello a peer of `kind` holding the whole history sends when a data channel opens.
fn full_hello(kind: PeerKind) -> String {
    let mut seed = engine_with(history().all(), kind);
    seed.handle_input(0, SyncInput::Connected { peer: "joiner".into(), kind: PeerKind::Browser });
    drain(&mut seed)
        .into_iter()
        .find_map(|output| match output {
            SyncOutput::Send { text, .. } => Some(text),
            _ => None,
        })
        .expect("a hello on connect")
}

fn peer_id(n: usize) -> PeerId {
    format!("p{n}:1")
}

fn peer_index(id: &str) -> Option<usize> {
    id.strip_prefix('p')?.split_once(':')?.0.parse().ok()
}

fn peer_kind(n: usize) -> PeerKind {
    if n >= PEERS - VIRTUAL_PEERS { PeerKind::Virtual } else { PeerKind::Browser }
}

/// The page requests among `outputs`, as (peer, rid).
fn pages(outputs: &[SyncOutput]) -> Vec<(PeerId, u64)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            SyncOutput::Send { peer, text } => match serde_json::from_str::<PeerMessage>(text) {
                Ok(PeerMessage::Page { rid, .. }) => Some((peer.clone(), rid)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The number of missing ranges a status lists.
fn missing_ranges(status: &HistoryStatus) -> usize {
    match status {
        HistoryStatus::Filling { missing } | HistoryStatus::Missing { missing } => missing.len(),
        _ => 0,
    }
}

/// A store with holes, every peer online, and either all of them connected
/// (`connect_all`: peers dialled us) or only those the engine asked to connect;
/// each connected peer said hello with the whole history. Returns the engine
/// and the page requests it sent, oldest first.
fn planning_engine(connect_all: bool) -> (SyncEngine, VecDeque<(PeerId, u64)>) {
    let hellos = [full_hello(PeerKind::Browser), full_hello(PeerKind::Virtual)];
    let mut engine = engine_with(store_with_holes(history()), PeerKind::Browser);
    let mut asked = VecDeque::new();
    let mut in_flight = VecDeque::new();
    let mut handle = |engine: &mut SyncEngine, input: SyncInput, asked: &mut VecDeque<usize>| {
        engine.handle_input(0, input);
        let outputs = drain(engine);
        in_flight.extend(pages(&outputs));
        asked.extend(outputs.iter().filter_map(|output| match output {
            SyncOutput::Connect { peer } => peer_index(peer),
            _ => None,
        }));
    };
    for n in 0..PEERS {
        handle(&mut engine, SyncInput::PeerOnline { peer: peer_id(n), kind: peer_kind(n) }, &mut asked);
    }
    let mut order: VecDeque<usize> = if connect_all { (0..PEERS).collect() } else { std::mem::take(&mut asked) };
    while let Some(n) = order.pop_front() {
        let (peer, kind) = (peer_id(n), peer_kind(n));
        handle(&mut engine, SyncInput::Connected { peer: peer.clone(), kind }, &mut asked);
        let text = hellos[usize::from(kind == PeerKind::Virtual)].clone();
        handle(&mut engine, SyncInput::Received { peer, text }, &mut asked);
        if !connect_all {
            order.append(&mut asked);
        }
    }
    (engine, in_flight)
}

fn indexing(c: &mut Criterion) {
    let history = history();
    let mut group = c.benchmark_group("index");
    for n in [10_000usize, MESSAGES] {
        let facts = store_of(history, n);
        group.throughput(Throughput::Elements(n as u64));
        // The start-up load: the whole store in one `Stored` (includes dropping the facts handed over).
        group.bench_with_input(BenchmarkId::new("stored_at_once", n), &facts, |b, facts| {
            b.iter_batched(
                || facts.clone(),
                |facts| {
                    let mut engine = SyncEngine::new(SyncConfig::default(), PeerKind::Browser, vec![relay_public()]);
                    engine.handle_input(0, SyncInput::Stored(facts));
                    drain(&mut engine);
                    engine
                },
                BatchSize::PerIteration,
            )
        });
        // As a backfill persists them: one `Stored` per page of 100, each followed by planning.
        let chunks: Vec<Vec<Fact>> = facts.chunks(100).map(<[Fact]>::to_vec).collect();
        group.bench_with_input(BenchmarkId::new("stored_in_pages_of_100", n), &chunks, |b, chunks| {
            b.iter_batched(
                || chunks.clone(),
                |chunks| {
                    let mut engine = SyncEngine::new(SyncConfig::default(), PeerKind::Browser, vec![relay_public()]);
                    for chunk in chunks {
                        engine.handle_input(0, SyncInput::Stored(chunk));
                        drain(&mut engine);
                    }
                    engine
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn gaps(c: &mut Criterion) {
    let engine = engine_with(store_with_holes(history()), PeerKind::Browser);
    let channel = history().channel.clone();
    let status = engine.status(&channel);
    assert!(matches!(status, HistoryStatus::Missing { .. }) && missing_ranges(&status) == HOLES, "{status:?}");
    let mut group = c.benchmark_group("gaps");
    group.bench_function("status/no_peers", |b| b.iter(|| black_box(&engine).status(black_box(&channel))));
    group.bench_function("holdings/no_peers", |b| b.iter(|| black_box(&engine).holdings()));
    group.finish();
}

fn planning(c: &mut Criterion) {
    let channel = history().channel.clone();
    let connect_start = Instant::now();
    let (mut engine, mut in_flight) = planning_engine(true);
    eprintln!("plan: {PEERS} peers connected and said hello in {:.2?} (one-off setup)", connect_start.elapsed());
    // 100 gaps and the restart boundary, each asked of its own peer.
    assert_eq!(in_flight.len(), HOLES + 1);
    // Only the `max_peers` (3) peers the engine dialled, each with one request.
    let (mut few, asked_of_few) = planning_engine(false);
    assert_eq!(asked_of_few.len(), SyncConfig::default().max_peers);
    let mut group = c.benchmark_group("plan");

    group.bench_function(BenchmarkId::new("status", format!("{PEERS}_connected")), |b| {
        b.iter(|| black_box(&engine).status(black_box(&channel)))
    });
    // With peers whose sets differ, the restart boundary is a range to check too.
    assert_eq!(missing_ranges(&engine.status(&channel)), HOLES + 1);

    // A timer tick with nothing new to ask (every range in flight, or every connected
    // peer busy): survey, plan and status, nothing to send.
    for (label, engine) in [("1000_online_3_connected", &mut few), ("1000_connected", &mut engine)] {
        engine.handle_timeout(1);
        assert!(pages(&drain(engine)).is_empty());
        group.bench_function(BenchmarkId::new("tick_nothing_to_send", label), |b| {
            b.iter(|| {
                engine.handle_timeout(1);
                drain(engine)
            })
        });
    }

    // A connected peer says hello again (as one does when it completes a channel).
    let hello = full_hello(PeerKind::Browser);
    group.bench_function(BenchmarkId::new("hello", format!("{PEERS}_connected")), |b| {
        b.iter(|| {
            engine.handle_input(1, SyncInput::Received { peer: peer_id(0), text: hello.clone() });
            drain(&mut engine)
        })
    });

    // The oldest request is refused (`rate_limited`): the engine re-plans and asks
    // another idle peer for that range. The clock moves 2 ms each time, so at most
    // ~500 peers are in their 1 s refusal back-off and none times out.
    let mut now = 1;
    group.bench_function(BenchmarkId::new("replan_after_refusal", format!("{PEERS}_connected")), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                now += 2;
                let (peer, rid) = in_flight.pop_front().expect("requests in flight");
                let text =
                    serde_json::to_string(&PeerMessage::Refused { rid, code: catalk_proto::RefusalCode::RateLimited })
                        .expect("a refusal encodes");
                let start = Instant::now();
                engine.handle_input(now, SyncInput::Received { peer, text });
                let outputs = drain(&mut engine);
                spent += start.elapsed();
                let asked = pages(&outputs);
                assert_eq!(asked.len(), 1, "one new request per refusal");
                in_flight.extend(asked);
            }
            spent
        })
    });
    group.finish();
}

fn serving(c: &mut Criterion) {
    let history = history();
    let all = history.all();
    let store = MemoryStore::new();
    futures_executor::block_on(store.put_facts(&all)).expect("the memory store takes the history");
    let mut engine = engine_with(all, PeerKind::Browser);
    let asker: PeerId = "asker:1".into();
    engine.handle_input(0, SyncInput::Connected { peer: asker.clone(), kind: PeerKind::Browser });
    engine.handle_input(0, SyncInput::Received { peer: asker.clone(), text: full_hello(PeerKind::Browser) });
    drain(&mut engine);
    let limit = catalk_proto::MAX_PAGE_FACTS;
    // The clock moves 50 ms a page: 100 facts at the default 2,000 facts/s per peer.
    let mut now = 0;
    let mut rid = 0;
    // A page request below a message spread over the store; returns (now, its text).
    let mut next_page = || {
        now += 50;
        rid += 1;
        let below = &history.messages[(limit as usize) + (rid as usize * 7_919) % (MESSAGES - limit as usize)];
        let page =
            PeerMessage::Page { rid, channel: history.channel.clone(), before: Some(below.id), after: None, limit };
        (now, rid, serde_json::to_string(&page).expect("a page encodes"))
    };
    let load = |outputs: Vec<SyncOutput>| -> Vec<Fact> {
        let Some(SyncOutput::Load { channel, before, limit, .. }) = outputs.into_iter().next() else {
            panic!("a load for the page")
        };
        let mut facts = futures_executor::block_on(store.messages_before(&channel, before, limit as usize))
            .expect("the memory store answers");
        facts.reverse();
        facts
    };
    let served = |outputs: &[SyncOutput]| outputs.iter().filter(|o| matches!(o, SyncOutput::Send { .. })).count();

    let mut group = c.benchmark_group("serve");
    group.throughput(Throughput::Elements(u64::from(limit)));
    // The engine's part: the page request to `Load`, then `Loaded` to the `facts` messages.
    group.bench_function("page_of_100/engine", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let (now, rid, text) = next_page();
                let start = Instant::now();
                engine.handle_input(now, SyncInput::Received { peer: asker.clone(), text });
                let outputs = drain(&mut engine);
                spent += start.elapsed();
                let facts = load(outputs);
                assert_eq!(facts.len(), limit as usize);
                let start = Instant::now();
                engine.handle_input(now, SyncInput::Loaded { peer: asker.clone(), rid, facts, more: true });
                let outputs = drain(&mut engine);
                spent += start.elapsed();
                assert!(served(&outputs) > 0);
            }
            spent
        })
    });
    // The same with the in-memory store's page read in between.
    group.bench_function("page_of_100/with_memory_store", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let (now, rid, text) = next_page();
                let start = Instant::now();
                engine.handle_input(now, SyncInput::Received { peer: asker.clone(), text });
                let facts = load(drain(&mut engine));
                engine.handle_input(now, SyncInput::Loaded { peer: asker.clone(), rid, facts, more: true });
                let outputs = drain(&mut engine);
                spent += start.elapsed();
                assert!(served(&outputs) > 0);
            }
            spent
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the machine is shared and the fixtures are large.
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = indexing, gaps, planning, serving
}
criterion_main!(benches);
