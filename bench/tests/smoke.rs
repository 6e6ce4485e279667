//! Smoke runs of every benchmark against an in-process relay, so the tool keeps
//! working. Benchmarks are not tests: nothing here checks a timing.

use catalk_bench::{FleetOptions, IdleOptions, LatencyOptions, Target, ThroughputOptions};
use catalk_testkit::{TestRelay, relay_config};
use std::time::Duration;

const CLIENTS: usize = 50;

async fn relay() -> anyhow::Result<(TestRelay, Target)> {
    let mut config = relay_config();
    config.limits.max_connections_per_ip = 1_000;
    config.limits.frames_per_second = 100_000;
    config.limits.posts_per_second_per_key = 100_000;
    let relay = TestRelay::start(config).await?;
    let target = Target::Url { url: relay.ws_url(), pid: None };
    Ok((relay, target))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_logs_every_client_in() -> anyhow::Result<()> {
    let (relay, target) = relay().await?;
    let options = IdleOptions {
        clients: CLIENTS,
        fleet: FleetOptions { concurrency: 8, ..FleetOptions::default() },
        hold: Duration::ZERO,
        settle_limit: Duration::from_secs(30),
    };
    let report = catalk_bench::idle(&target, &options, false).await?;
    assert_eq!(report.logged_in, CLIENTS, "{report:?}");
    assert_eq!(report.failed_logins, 0);
    assert_eq!(report.disconnected, 0, "{report:?}");
    // Every client sees its own presence fact, those of the clients after it live,
    // and those before it in the snapshot after its welcome (overlapping logins can
    // repeat some): the O(N²) fan-out.
    let n = CLIENTS as u64;
    assert!((n * (n + 1) / 2..=2 * n * n).contains(&report.presence_frames), "{report:?}");
    assert!(report.relay_rss_before_bytes.is_none(), "no pid, no memory figures");
    let json = serde_json::to_value(&report)?;
    for field in ["clients", "relay_rss_before_bytes", "relay_rss_after_bytes", "rss_per_conn_bytes"] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    relay.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_delivers_accepted_posts() -> anyhow::Result<()> {
    let (relay, target) = relay().await?;
    let options = ThroughputOptions {
        publishers: 2,
        subscribers: CLIENTS - 2,
        duration: Duration::from_secs(2),
        warmup: Duration::from_millis(200),
        window: 16,
        body_bytes: 64,
        fleet: FleetOptions { concurrency: 8, ..FleetOptions::default() },
        crypto_time: Duration::from_millis(100),
        messages_per_publisher: Some(10_000),
    };
    let report = catalk_bench::throughput(&target, &options, false).await?;
    assert_eq!(report.logged_in, CLIENTS, "{report:?}");
    assert!(report.accepted > 0, "{report:?}");
    assert!(report.delivered > 0, "{report:?}");
    assert!(report.latency_samples > 0, "{report:?}");
    assert!(report.p50_ms.is_some() && report.p99_ms.is_some());
    assert!(report.crypto.crypto_limit_per_s > 0.0);
    assert!(report.ratio_to_crypto_limit > 0.0);
    let json = serde_json::to_value(&report)?;
    for field in
        ["accepted_per_s", "delivered_per_s", "p50_ms", "p99_ms", "crypto_limit_per_s", "ratio_to_crypto_limit"]
    {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    relay.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_times_every_delivery() -> anyhow::Result<()> {
    let (relay, target) = relay().await?;
    let options = LatencyOptions {
        clients: CLIENTS,
        rate: 50.0,
        publishers: 5,
        duration: Duration::from_secs(2),
        warmup: Duration::from_millis(200),
        body_bytes: 64,
        fleet: FleetOptions { concurrency: 8, ..FleetOptions::default() },
    };
    let report = catalk_bench::latency(&target, &options, false).await?;
    assert_eq!(report.logged_in, CLIENTS, "{report:?}");
    assert!(report.accepted_per_s > 0.0, "{report:?}");
    assert!(report.latency_samples > 0, "{report:?}");
    assert!(report.p99_ms.is_some() && report.max_ms.is_some());
    relay.stop().await
}
