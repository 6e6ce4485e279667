//! `throughput`: P publishers post as fast as the relay accepts, S subscribers
//! receive; the result is set against the machine's raw crypto limit.

use crate::crypto::{self, CryptoLimit};
use crate::load::{self, Fleet, FleetOptions, Pace, Publishers, Shared};
use crate::relay::{StartupReport, Target};
use crate::{http, sockets};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Options of a throughput run.
#[derive(Debug, Clone)]
pub struct ThroughputOptions {
    /// Clients that post.
    pub publishers: usize,
    /// Clients that only receive.
    pub subscribers: usize,
    /// Length of the measurement window.
    pub duration: Duration,
    /// Posting time before the window opens.
    pub warmup: Duration,
    /// Unanswered posts each publisher keeps in flight.
    pub window: usize,
    /// Bytes of each message text.
    pub body_bytes: usize,
    /// How clients connect.
    pub fleet: FleetOptions,
    /// How long to measure the crypto limit.
    pub crypto_time: Duration,
    /// Pre-signed posts per publisher; default: enough for the crypto limit plus half.
    pub messages_per_publisher: Option<usize>,
}

/// What a throughput run measured.
#[derive(Debug, Clone, Serialize)]
pub struct ThroughputReport {
    /// `"throughput"`.
    pub mode: &'static str,
    /// Publishers asked for.
    pub publishers: usize,
    /// Subscribers asked for.
    pub subscribers: usize,
    /// Clients welcomed.
    pub logged_in: usize,
    /// Logins that failed.
    pub failed_logins: usize,
    /// The first login error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Length of the measurement window.
    pub duration_s: f64,
    /// Posts acknowledged in the window.
    pub accepted: u64,
    /// `accepted` per second.
    pub accepted_per_s: f64,
    /// Message facts received in the window by every client (publishers included).
    pub delivered: u64,
    /// `delivered` per second.
    pub delivered_per_s: f64,
    /// Message facts per second received by subscribers only.
    pub subscriber_delivered_per_s: f64,
    /// Median publish→deliver latency of posts sent in the window, over every subscriber.
    pub p50_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Largest.
    pub max_ms: Option<f64>,
    /// Deliveries the percentiles are over.
    pub latency_samples: u64,
    /// The machine's raw Ed25519 rate: messages/s verified (`verify_strict`) and signed, all cores.
    #[serde(flatten)]
    pub crypto: CryptoLimit,
    /// `accepted_per_s` / `crypto_limit_per_s`.
    pub ratio_to_crypto_limit: f64,
    /// Error frames, by code, over the whole run.
    pub errors: BTreeMap<String, u64>,
    /// Relay CPU seconds in the window (null when its pid is unknown).
    pub relay_cpu_s: Option<f64>,
    /// This tool's CPU seconds in the window.
    pub bench_cpu_s: Option<f64>,
    /// CPU seconds of every other process on the machine in the window (noise).
    pub other_cpu_s: Option<f64>,
    /// Relay memory after the run.
    pub relay_rss_after_bytes: Option<u64>,
    /// Publishers that ran out of pre-signed posts (the figures are then too low).
    pub publishers_exhausted: u64,
    /// Connections the relay closed or lost before the end.
    pub disconnected: u64,
    /// Why, by reason.
    pub disconnect_reasons: BTreeMap<String, u64>,
    /// Local source addresses the clients were spread over.
    pub source_addresses: usize,
    /// Start-up figures of a spawned relay.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub startup: Option<StartupReport>,
}

/// Runs a throughput benchmark against `target`.
pub async fn throughput(
    target: &Target,
    options: &ThroughputOptions,
    progress: bool,
) -> anyhow::Result<ThroughputReport> {
    anyhow::ensure!(options.publishers > 0, "at least one publisher is needed");
    let (subscribers, publishers) = (options.subscribers, options.publishers);
    let total = subscribers + publishers;
    sockets::raise_fd_limit(total)?;
    let mut relay = target.start().await?;
    let crypto_time = options.crypto_time;
    let crypto = tokio::task::spawn_blocking(move || crypto::measure(crypto_time)).await?;
    let relay_key = http::relay_key(relay.addr).await?;
    let per_publisher = options.messages_per_publisher.unwrap_or_else(|| {
        let seconds = (options.warmup + options.duration).as_secs_f64() + 1.0;
        ((crypto.crypto_limit_per_s * seconds * 1.5) / publishers as f64).ceil() as usize
    });
    let shared = Shared::new(per_publisher * publishers);
    let mut fleet = Fleet::new(&relay, total, options.fleet, shared.clone())?;
    let keys: Vec<_> = (subscribers..total).map(|i| fleet.key(i)).collect();
    let body_bytes = options.body_bytes;
    let signing = load::bar(progress, 1, "signing");
    signing.enable_steady_tick(Duration::from_millis(200));
    let frames =
        tokio::task::spawn_blocking(move || load::presign(&keys, relay_key, per_publisher, body_bytes)).await?;
    signing.finish_and_clear();

    let bar = load::bar(progress, total as u64, "logging in");
    let subscribe = {
        let shared = shared.clone();
        move |_, client: crate::conn::Client, stop| {
            let shared = shared.clone();
            async move { load::read_frames(client.ws, shared, stop, true, true, || {}).await }
        }
    };
    fleet.login(&relay, 0..subscribers, &bar, subscribe).await?;
    let (go_tx, go) = tokio::sync::watch::channel(None);
    let publishers_drive = Publishers {
        frames: Arc::new(Mutex::new(frames)),
        first_index: subscribers,
        per_publisher,
        pace: Pace::Window(options.window),
        go,
        shared: shared.clone(),
        record: false,
    };
    let publish = move |index, client, stop| publishers_drive.clone().drive(index, client, stop);
    fleet.login(&relay, subscribers..total, &bar, publish).await?;
    bar.finish_and_clear();
    anyhow::ensure!(fleet.logged_in > 0, "no client logged in: {}", fleet.first_error.clone().unwrap_or_default());
    load::settle(&shared, Duration::from_millis(500), Duration::from_secs(600), &load::bar(false, 0, "")).await;

    let _ = go_tx.send(Some(Instant::now()));
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
    let accepted_per_s = window.acks as f64 / seconds;
    Ok(ThroughputReport {
        mode: "throughput",
        publishers,
        subscribers,
        logged_in,
        failed_logins,
        first_error,
        duration_s: seconds,
        accepted: window.acks,
        accepted_per_s,
        delivered: window.facts,
        delivered_per_s: window.facts as f64 / seconds,
        subscriber_delivered_per_s: window.subscriber_facts as f64 / seconds,
        p50_ms: histogram.quantile_ms(0.50),
        p99_ms: histogram.quantile_ms(0.99),
        max_ms: histogram.max_ms(),
        latency_samples: histogram.count(),
        crypto,
        ratio_to_crypto_limit: accepted_per_s / crypto.crypto_limit_per_s,
        errors,
        relay_cpu_s: window.relay_cpu_s,
        bench_cpu_s: window.bench_cpu_s,
        other_cpu_s: window.other_cpu_s,
        relay_rss_after_bytes,
        publishers_exhausted: shared.exhausted.load(Ordering::Relaxed),
        disconnected: disconnect_reasons.values().sum(),
        disconnect_reasons,
        source_addresses,
        startup: relay.startup,
    })
}
