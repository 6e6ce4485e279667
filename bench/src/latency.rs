//! `latency`: N clients online, a steady R posts per second, publish→deliver percentiles.

use crate::load::{self, Fleet, FleetOptions, Pace, Publishers, Shared};
use crate::relay::{StartupReport, Target};
use crate::{http, sockets};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Options of a latency run.
#[derive(Debug, Clone)]
pub struct LatencyOptions {
    /// Clients online; all of them receive every post.
    pub clients: usize,
    /// Posts per second of the whole run.
    pub rate: f64,
    /// How many of the clients post (round-robin).
    pub publishers: usize,
    /// Length of the measurement window.
    pub duration: Duration,
    /// Posting time before the window opens.
    pub warmup: Duration,
    /// Bytes of each message text.
    pub body_bytes: usize,
    /// How clients connect.
    pub fleet: FleetOptions,
}

/// What a latency run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    /// `"latency"`.
    pub mode: &'static str,
    /// Clients asked for.
    pub clients: usize,
    /// Clients welcomed.
    pub logged_in: usize,
    /// Logins that failed.
    pub failed_logins: usize,
    /// The first login error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Of which posting.
    pub publishers: usize,
    /// Posts per second asked for.
    pub rate: f64,
    /// Length of the measurement window.
    pub duration_s: f64,
    /// Posts acknowledged per second in the window.
    pub accepted_per_s: f64,
    /// Message facts received per second in the window, by every client.
    pub delivered_per_s: f64,
    /// Deliveries expected in the window: accepted × logged-in clients.
    pub expected_deliveries: u64,
    /// Deliveries of posts sent in the window that were timed.
    pub latency_samples: u64,
    /// Median publish→deliver latency.
    pub p50_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// 99.9th percentile.
    pub p999_ms: Option<f64>,
    /// Largest.
    pub max_ms: Option<f64>,
    /// Error frames, by code.
    pub errors: BTreeMap<String, u64>,
    /// Relay CPU seconds in the window (null when its pid is unknown).
    pub relay_cpu_s: Option<f64>,
    /// This tool's CPU seconds in the window.
    pub bench_cpu_s: Option<f64>,
    /// CPU seconds of every other process on the machine in the window (noise).
    pub other_cpu_s: Option<f64>,
    /// Relay memory after the run.
    pub relay_rss_after_bytes: Option<u64>,
    /// Connections the relay closed or lost before the end.
    pub disconnected: u64,
    /// Why, by reason.
    pub disconnect_reasons: BTreeMap<String, u64>,
    /// From the first connect to the last welcome.
    pub login_s: f64,
    /// Local source addresses the clients were spread over.
    pub source_addresses: usize,
    /// Start-up figures of a spawned relay.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub startup: Option<StartupReport>,
}

/// Runs a latency benchmark against `target`.
pub async fn latency(target: &Target, options: &LatencyOptions, progress: bool) -> anyhow::Result<LatencyReport> {
    anyhow::ensure!(options.rate > 0.0, "the rate must be positive");
    let clients = options.clients.max(1);
    let publishers = options.publishers.clamp(1, clients);
    sockets::raise_fd_limit(clients)?;
    let mut relay = target.start().await?;
    let relay_key = http::relay_key(relay.addr).await?;
    let seconds = (options.warmup + options.duration).as_secs_f64() + 1.0;
    let per_publisher = ((options.rate * seconds) / publishers as f64).ceil() as usize + 1;
    let shared = Shared::new(per_publisher * publishers);
    let mut fleet = Fleet::new(&relay, clients, options.fleet, shared.clone())?;
    let first_publisher = clients - publishers;
    let keys: Vec<_> = (first_publisher..clients).map(|i| fleet.key(i)).collect();
    let body_bytes = options.body_bytes;
    let frames =
        tokio::task::spawn_blocking(move || load::presign(&keys, relay_key, per_publisher, body_bytes)).await?;

    let bar = load::bar(progress, clients as u64, "logging in");
    let started = Instant::now();
    let subscribe = {
        let shared = shared.clone();
        move |_, client: crate::conn::Client, stop| {
            let shared = shared.clone();
            async move { load::read_frames(client.ws, shared, stop, true, true, || {}).await }
        }
    };
    fleet.login(&relay, 0..first_publisher, &bar, subscribe).await?;
    let (go_tx, go) = tokio::sync::watch::channel(None);
    let publishers_drive = Publishers {
        frames: Arc::new(Mutex::new(frames)),
        first_index: first_publisher,
        per_publisher,
        pace: Pace::Rate { interval: Duration::from_secs_f64(1.0 / options.rate) },
        go,
        shared: shared.clone(),
        record: true,
    };
    let publish = move |index, client, stop| publishers_drive.clone().drive(index, client, stop);
    fleet.login(&relay, first_publisher..clients, &bar, publish).await?;
    let login = started.elapsed();
    bar.finish_and_clear();
    anyhow::ensure!(fleet.logged_in > 0, "no client logged in: {}", fleet.first_error.clone().unwrap_or_default());
    let bar = load::bar(progress, 0, "fan-out");
    load::settle(&shared, Duration::from_secs(1), Duration::from_secs(3600), &bar).await;
    bar.finish_and_clear();

    let _ = go_tx.send(Some(Instant::now() + Duration::from_millis(50)));
    let window =
        load::measure(&shared, relay.proc(), options.warmup, options.duration, Duration::from_secs(10), progress).await;
    relay.check_alive()?;
    let relay_rss_after_bytes = relay.rss_bytes();
    let errors = Shared::snapshot(&shared.errors);
    let disconnect_reasons = Shared::snapshot(&shared.disconnects);
    let (logged_in, failed_logins, first_error) = (fleet.logged_in, fleet.failed, fleet.first_error.clone());
    let source_addresses = fleet.source_addresses();
    let histogram = fleet.stop(&mut relay).await;
    let seconds = window.elapsed.as_secs_f64();
    Ok(LatencyReport {
        mode: "latency",
        clients,
        logged_in,
        failed_logins,
        first_error,
        publishers,
        rate: options.rate,
        duration_s: seconds,
        accepted_per_s: window.acks as f64 / seconds,
        delivered_per_s: window.facts as f64 / seconds,
        expected_deliveries: window.acks * logged_in as u64,
        latency_samples: histogram.count(),
        p50_ms: histogram.quantile_ms(0.50),
        p90_ms: histogram.quantile_ms(0.90),
        p99_ms: histogram.quantile_ms(0.99),
        p999_ms: histogram.quantile_ms(0.999),
        max_ms: histogram.max_ms(),
        errors,
        relay_cpu_s: window.relay_cpu_s,
        bench_cpu_s: window.bench_cpu_s,
        other_cpu_s: window.other_cpu_s,
        relay_rss_after_bytes,
        disconnected: disconnect_reasons.values().sum(),
        disconnect_reasons,
        login_s: login.as_secs_f64(),
        source_addresses,
        startup: relay.startup,
    })
}
