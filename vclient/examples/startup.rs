//! Measures what a start costs with a large history in the redb store: reading
//! what the sync engine must index, the whole history at once (as the shells
//! did before the client driver) against the paged holdings query (what the
//! driver does). Run each read in its own process under `/usr/bin/time -v`
//! for its peak memory:
//!
//! ```text
//! cargo build --release -p catalk-vclient --example startup
//! target/release/examples/startup make /tmp/h 100000
//! /usr/bin/time -v target/release/examples/startup whole /tmp/h
//! /usr/bin/time -v target/release/examples/startup paged /tmp/h
//! ```

use catalk_core::HistoryStore as _;
use catalk_core::client::{HOLDINGS_PAGE, StoreAnswer, StoreQuery, run_query};
use catalk_core::sync::{SyncConfig, SyncEngine, SyncInput};
use catalk_proto::{ChannelName, DraftId, Fact, FactBody, FactId, PeerKind, PublicKey, sign_post};
use catalk_vclient::{DiskStore, StoreOptions};
use std::time::Instant;

fn history(count: u64) -> Vec<Fact> {
    let relay = ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32]);
    let author = ed25519_dalek::SigningKey::from_bytes(&[0x6b; 32]);
    let general = ChannelName::general();
    let epoch = Fact::sign(&relay, FactId::from_parts(1_000, 0), FactBody::Epoch {});
    let channel = Fact::sign(
        &relay,
        FactId::from_parts(1_000, 1),
        FactBody::Channel { name: general.clone(), creator: PublicKey::of(&relay) },
    );
    let mut facts = vec![epoch.clone(), channel.clone()];
    let mut prev = channel.id;
    for n in 0..count {
        let draft = DraftId::from_parts(2_000 + n, 1);
        let text = format!("message {n}: a line of the length people usually write in a chat");
        let author_sig = sign_post(&author, &PublicKey::of(&relay), &general, &draft, &text);
        let id = FactId::from_parts(2_000 + n, 1);
        let body = FactBody::Message {
            channel: general.clone(),
            author: PublicKey::of(&author),
            draft,
            text,
            prev: Some(prev),
            epoch: epoch.id,
            author_sig,
        };
        facts.push(Fact::sign(&relay, id, body));
        prev = id;
    }
    facts
}

fn engine() -> SyncEngine {
    SyncEngine::new(SyncConfig::default(), PeerKind::Virtual, Vec::new())
}

async fn whole(store: &DiskStore) -> anyhow::Result<SyncEngine> {
    let mut engine = engine();
    let channels = store.channels().await?;
    let mut facts = channels.clone();
    for channel in &channels {
        if let FactBody::Channel { name, .. } = &channel.body {
            facts.append(&mut store.messages_before(name, None, usize::MAX).await?);
        }
    }
    engine.handle_input(0, SyncInput::Stored(facts));
    Ok(engine)
}

async fn paged(store: &DiskStore) -> anyhow::Result<SyncEngine> {
    let mut engine = engine();
    let StoreAnswer::Startup { channels, .. } = run_query(store, &StoreQuery::Startup).await? else {
        anyhow::bail!("not a startup answer")
    };
    engine.handle_input(0, SyncInput::Stored(channels.clone()));
    for channel in &channels {
        let FactBody::Channel { name, .. } = &channel.body else { continue };
        let mut before = None;
        loop {
            let query = StoreQuery::Holdings { channel: name.clone(), before, limit: HOLDINGS_PAGE };
            let StoreAnswer::Holdings(held) = run_query(store, &query).await? else { anyhow::bail!("not holdings") };
            let full = held.len() == HOLDINGS_PAGE;
            before = held.last().map(|h| h.id);
            engine.handle_input(0, SyncInput::Held { channel: name.clone(), held });
            if !full {
                break;
            }
        }
    }
    Ok(engine)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(dir)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: startup make|whole|paged|open <dir> [count]")
    };
    let path = std::path::Path::new(dir).join("history.redb");
    if mode == "make" {
        let count: u64 = args.get(3).map_or(Ok(100_000), |a| a.parse())?;
        std::fs::create_dir_all(dir)?;
        let store = DiskStore::open(&path, StoreOptions::default())?;
        for chunk in history(count).chunks(5_000) {
            store.put_facts(chunk).await?;
        }
        println!("{count} messages stored in {}", path.display());
        return Ok(());
    }
    let store = DiskStore::open(&path, StoreOptions::default())?;
    let started = Instant::now();
    let engine = match mode.as_str() {
        "whole" => whole(&store).await?,
        "paged" => paged(&store).await?,
        "open" => engine(),
        other => anyhow::bail!("unknown mode {other}"),
    };
    let held = engine.holdings().iter().map(|h| h.count).sum::<u64>();
    println!("{mode}: {held} indexed in {:.0} ms", started.elapsed().as_secs_f64() * 1e3);
    Ok(())
}
