//! `idle`: log N clients in, hold them, and weigh the relay.

use crate::load::{self, Fleet, FleetOptions, Shared};
use crate::procfs::{CpuSample, Proc};
use crate::relay::{StartupReport, Target};
use crate::sockets;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Options of an idle run.
#[derive(Debug, Clone)]
pub struct IdleOptions {
    /// Clients to log in and hold.
    pub clients: usize,
    /// How clients connect.
    pub fleet: FleetOptions,
    /// How long to hold the clients after the relay has gone quiet.
    pub hold: Duration,
    /// Longest wait for the presence fan-out to finish.
    pub settle_limit: Duration,
}

/// What an idle run measured.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    /// `"idle"`.
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
    /// Relay memory before the first client (null when its pid is unknown).
    pub relay_rss_before_bytes: Option<u64>,
    /// Relay memory with every client logged in, once the fan-out is done.
    pub relay_rss_after_bytes: Option<u64>,
    /// (after − before) / logged-in clients.
    pub rss_per_conn_bytes: Option<f64>,
    /// From the first connect to the last welcome.
    pub login_s: f64,
    /// Logins per second over `login_s`.
    pub logins_per_s: f64,
    /// From the first connect to the last frame of the presence fan-out.
    pub fanout_s: f64,
    /// Frames the clients received after their welcome (presence facts of later logins).
    pub presence_frames: u64,
    /// Bytes of those frames.
    pub presence_bytes: u64,
    /// `presence_frames` / `fanout_s`.
    pub fanout_frames_per_s: f64,
    /// Average size of a welcome frame.
    pub welcome_bytes_avg: f64,
    /// Relay CPU seconds spent logging everyone in (null when its pid is unknown).
    pub relay_cpu_s: Option<f64>,
    /// This tool's CPU seconds over the same time.
    pub bench_cpu_s: Option<f64>,
    /// CPU seconds of every other process on the machine over the same time (noise).
    pub other_cpu_s: Option<f64>,
    /// This tool's own memory with every client logged in.
    pub bench_rss_bytes: Option<u64>,
    /// Connections the relay closed or lost before the end.
    pub disconnected: u64,
    /// Why, by reason (error code, close reason).
    pub disconnect_reasons: BTreeMap<String, u64>,
    /// Local source addresses the clients were spread over.
    pub source_addresses: usize,
    /// Open-file limit of this process (and of a spawned relay).
    pub fd_limit: u64,
    /// Start-up figures of a spawned relay.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub startup: Option<StartupReport>,
}

/// Runs an idle benchmark against `target`.
pub async fn idle(target: &Target, options: &IdleOptions, progress: bool) -> anyhow::Result<IdleReport> {
    let fd_limit = sockets::raise_fd_limit(options.clients)?;
    let mut relay = target.start().await?;
    let rss_before = relay.rss_bytes();
    let shared = Shared::new(0);
    let mut fleet = Fleet::new(&relay, options.clients, options.fleet, shared.clone())?;
    let relay_cpu = CpuSample::take(relay.proc());
    let bench_cpu = CpuSample::take(Some(Proc::This));
    let machine = CpuSample::machine();
    let started = Instant::now();
    let bar = load::bar(progress, options.clients as u64, "logging in");
    let drive = {
        let shared = shared.clone();
        move |_, client: crate::conn::Client, stop| {
            let shared = shared.clone();
            async move { load::read_frames(client.ws, shared, stop, false, true, || {}).await }
        }
    };
    fleet.login(&relay, 0..options.clients, &bar, drive).await?;
    let login = started.elapsed();
    bar.finish_and_clear();
    let bar = load::bar(progress, 0, "fan-out");
    let fanout = login + load::settle(&shared, Duration::from_secs(1), options.settle_limit, &bar).await;
    bar.finish_and_clear();
    let relay_cpu_s = CpuSample::take(relay.proc()).since(relay_cpu);
    let bench_cpu_s = CpuSample::take(Some(Proc::This)).since(bench_cpu);
    let other_cpu_s = load::other_cpu(CpuSample::machine().since(machine), relay_cpu_s, bench_cpu_s);
    relay.check_alive()?;
    let rss_after = relay.rss_bytes();
    let bench_rss_bytes = Proc::This.rss_bytes().ok();
    if !options.hold.is_zero() {
        let bar = load::bar(progress, options.hold.as_secs(), "holding");
        let until = Instant::now() + options.hold;
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_secs(1).min(until - Instant::now())).await;
            bar.inc(1);
        }
        bar.finish_and_clear();
    }
    let presence_frames = shared.frames.load(Ordering::Relaxed);
    let presence_bytes = shared.bytes.load(Ordering::Relaxed);
    let disconnect_reasons = Shared::snapshot(&shared.disconnects);
    let report = IdleReport {
        mode: "idle",
        clients: options.clients,
        logged_in: fleet.logged_in,
        failed_logins: fleet.failed,
        first_error: fleet.first_error.clone(),
        relay_rss_before_bytes: rss_before,
        relay_rss_after_bytes: rss_after,
        rss_per_conn_bytes: match (rss_before, rss_after) {
            (Some(before), Some(after)) if fleet.logged_in > 0 => {
                Some((after as f64 - before as f64) / fleet.logged_in as f64)
            }
            _ => None,
        },
        login_s: login.as_secs_f64(),
        logins_per_s: fleet.logged_in as f64 / login.as_secs_f64(),
        fanout_s: fanout.as_secs_f64(),
        presence_frames,
        presence_bytes,
        fanout_frames_per_s: presence_frames as f64 / fanout.as_secs_f64().max(1e-9),
        welcome_bytes_avg: fleet.welcome_bytes as f64 / fleet.logged_in.max(1) as f64,
        relay_cpu_s,
        bench_cpu_s,
        other_cpu_s,
        bench_rss_bytes,
        disconnected: disconnect_reasons.values().sum(),
        disconnect_reasons,
        source_addresses: fleet.source_addresses(),
        fd_limit,
        startup: relay.startup,
    };
    fleet.stop(&mut relay).await;
    Ok(report)
}
