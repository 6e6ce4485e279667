//! The virtual client against a real relay, with a native peer over real WebRTC on loopback:
//! it records live traffic, serves a late joiner's backfill, and keeps its history across a restart.

use catalk_core::HistoryStore as _;
use catalk_proto::{ChannelName, PeerKind, PublicKey};
use catalk_testkit::{TestClient, TestRelay, relay_config, user_key};
use catalk_vclient::{DiskStore, Metrics, Settings, Shell, StoreOptions};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::oneshot;

const KEEPER: u8 = 9;

fn settings(relay: &TestRelay, dir: &std::path::Path, kind: PeerKind) -> Settings {
    Settings {
        relay_url: relay.ws_url(),
        name: "keeper".into(),
        store_path: dir.join("history.redb"),
        store_options: StoreOptions::default(),
        rtc: catalk_rtc::RtcConfig { udp_bind: Some("127.0.0.1:0".parse().expect("addr")), ..Default::default() },
        metrics_addr: None,
        prune_every: Duration::from_secs(60),
        kind,
    }
}

/// A running shell; dropping `stop` ends it.
struct Running {
    metrics: Arc<Metrics>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn start(settings: Settings, key: u8) -> anyhow::Result<Running> {
    let store = DiskStore::open(&settings.store_path, settings.store_options)?;
    let metrics = Arc::new(Metrics::default());
    let shell = Shell::new(settings, user_key(key), store, Arc::clone(&metrics));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(shell.run(async move {
        let _ = stopped.await;
    }));
    Ok(Running { metrics, stop, task })
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn until(what: &str, timeout: Duration, check: impl Fn() -> bool) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    while !check() {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_live_serves_a_late_joiner_and_keeps_history_across_a_restart() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.virtual_clients = vec![PublicKey::of(&user_key(KEEPER))];
    let relay = TestRelay::start(config).await?;
    let keeper_dir = tempfile::tempdir()?;
    let keeper = start(settings(&relay, keeper_dir.path(), PeerKind::Virtual), KEEPER)?;
    until("the keeper to log in", Duration::from_secs(10), || {
        keeper.metrics.relay_connected.load(Ordering::Relaxed) == 1
    })
    .await?;

    // Ada posts 30 messages live and leaves: only the keeper holds them now.
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    for n in 0..30 {
        let answer = ada.post("general", &format!("message {n}")).await?;
        anyhow::ensure!(matches!(answer, catalk_proto::ServerFrame::Ack { .. }), "post {n}: {answer:?}");
    }
    drop(ada);
    until("the keeper to record 30 messages", Duration::from_secs(10), || {
        keeper.metrics.stored_messages.load(Ordering::Relaxed) == 30
    })
    .await?;
    assert_eq!(keeper.metrics.served_bytes_browser.load(Ordering::Relaxed), 0);

    // A late joiner (a native peer that says it is a browser) fills from the keeper over WebRTC.
    let joiner_dir = tempfile::tempdir()?;
    let joiner = start(settings(&relay, joiner_dir.path(), PeerKind::Browser), 3)?;
    until("the joiner to backfill 30 messages", Duration::from_secs(40), || {
        joiner.metrics.stored_messages.load(Ordering::Relaxed) == 30
    })
    .await?;
    assert_eq!(joiner.metrics.backfilled_facts.load(Ordering::Relaxed), 30);
    assert!(keeper.metrics.served_bytes_browser.load(Ordering::Relaxed) > 0, "served bytes are counted");
    assert_eq!(keeper.metrics.served_bytes_virtual.load(Ordering::Relaxed), 0);
    joiner.stop().await;

    // The keeper restarts: its history is still on disk and it logs in again.
    keeper.stop().await;
    let store = DiskStore::open(&keeper_dir.path().join("history.redb"), StoreOptions::default())?;
    assert_eq!(store.count_messages(&ChannelName::general()).await?, 30);
    drop(store);
    let keeper = start(settings(&relay, keeper_dir.path(), PeerKind::Virtual), KEEPER)?;
    until("the restarted keeper to log in", Duration::from_secs(10), || {
        keeper.metrics.relay_connected.load(Ordering::Relaxed) == 1
    })
    .await?;
    assert_eq!(keeper.metrics.stored_messages.load(Ordering::Relaxed), 30);
    keeper.stop().await;
    relay.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_by_itself_after_the_relay_restarts() -> anyhow::Result<()> {
    let virtual_clients = vec![PublicKey::of(&user_key(KEEPER))];
    let mut config = relay_config();
    config.virtual_clients = virtual_clients.clone();
    let relay = TestRelay::start(config).await?;
    let addr = relay.addr;
    let dir = tempfile::tempdir()?;
    let keeper = start(settings(&relay, dir.path(), PeerKind::Virtual), KEEPER)?;
    let connected = |want: u64| {
        let metrics = Arc::clone(&keeper.metrics);
        move || metrics.relay_connected.load(Ordering::Relaxed) == want
    };
    until("the keeper to log in", Duration::from_secs(10), connected(1)).await?;
    relay.stop().await?;
    until("the keeper to notice", Duration::from_secs(10), connected(0)).await?;
    let mut config = relay_config();
    config.virtual_clients = virtual_clients;
    let relay = TestRelay::start_on(tokio::net::TcpListener::bind(addr).await?, config)?;
    until("the keeper to log in again", Duration::from_secs(30), connected(1)).await?;
    keeper.stop().await;
    relay.stop().await?;
    Ok(())
}
