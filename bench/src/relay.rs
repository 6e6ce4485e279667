//! The relay under test: a `catalk-relay` child process on loopback, or a URL.

use crate::http;
use crate::procfs::Proc;
use anyhow::{Context as _, anyhow, bail};
use serde::Serialize;
use std::collections::VecDeque;
use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the relay may take to start before the run fails.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Log lines of the child kept for error messages.
const LOG_TAIL: usize = 20;
/// Limits passed to a spawned relay so that only the machine bounds the run.
const GENEROUS: &str = "1000000";

/// Which relay a run drives.
#[derive(Debug, Clone)]
pub enum Target {
    /// Start `catalk-relay` as a child process on `127.0.0.1` with generous limits.
    Spawn(SpawnOptions),
    /// A relay that is already running; `pid` (if on this machine) lets the run read its memory and CPU.
    Url {
        /// Its websocket URL, e.g. `ws://127.0.0.1:8080/ws`.
        url: String,
        /// Its process id, if known.
        pid: Option<u32>,
    },
}

/// How to start a relay child process.
#[derive(Debug, Clone)]
pub struct SpawnOptions {
    /// The release binary, normally `target/release/catalk-relay`.
    pub relay_bin: PathBuf,
    /// More arguments for the relay (they come last, so they win over the defaults).
    pub extra_args: Vec<String>,
}

/// Start-up figures of a spawned relay.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StartupReport {
    /// From spawning the process to its "listening" log line.
    pub relay_start_to_listening_ms: f64,
    /// From spawning the process to the first `200` from `/healthz`.
    pub relay_start_to_healthy_ms: f64,
    /// Resident memory right after start, before any client connects.
    pub relay_idle_rss_bytes: u64,
    /// Size of the relay binary on disk.
    pub relay_binary_bytes: u64,
}

/// A relay ready for clients. A spawned relay is killed when this is dropped.
#[derive(Debug)]
pub struct Relay {
    /// Websocket URL.
    pub ws_url: String,
    /// Socket address of the websocket endpoint.
    pub addr: SocketAddr,
    /// Process id, when known.
    pub pid: Option<u32>,
    /// Start-up figures, for a spawned relay.
    pub startup: Option<StartupReport>,
    child: Option<Child>,
    log_tail: Arc<Mutex<VecDeque<String>>>,
}

impl Target {
    /// Starts (or resolves) the relay and waits until `/healthz` answers.
    pub async fn start(&self) -> anyhow::Result<Relay> {
        match self {
            Self::Spawn(options) => spawn(options).await,
            Self::Url { url, pid } => {
                let addr = resolve(url).await?;
                wait_healthy(addr, Instant::now()).await?;
                Ok(Relay { ws_url: url.clone(), addr, pid: *pid, startup: None, child: None, log_tail: Arc::default() })
            }
        }
    }
}

impl Relay {
    /// The process to read memory and CPU figures of, if known.
    pub fn proc(&self) -> Option<Proc> {
        self.pid.map(Proc::Pid)
    }

    /// Resident memory of the relay now, if its pid is known.
    pub fn rss_bytes(&self) -> Option<u64> {
        self.proc().and_then(|p| p.rss_bytes().ok())
    }

    /// Fails if a spawned relay has exited, quoting its last log lines.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(child) = &mut self.child
            && let Some(status) = child.try_wait()?
        {
            bail!("the relay exited ({status}); last log lines:\n{}", self.log_tail());
        }
        Ok(())
    }

    /// Stops a spawned relay now (before the clients go, so that their
    /// departure does not set off a storm of offline presence facts).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_tail(&self) -> String {
        let tail = self.log_tail.lock().unwrap_or_else(|p| p.into_inner());
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn spawn(options: &SpawnOptions) -> anyhow::Result<Relay> {
    let binary_bytes = std::fs::metadata(&options.relay_bin)
        .with_context(|| {
            format!(
                "relay binary {} not found; build it with `cargo build --release -p catalk-relay` or pass --relay-bin",
                options.relay_bin.display()
            )
        })?
        .len();
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("no randomness: {e}"))?;
    // The seed's text form is the same unpadded base64url as a public key's.
    let relay_key = catalk_proto::PublicKey::from_bytes(seed).to_string();
    let started = Instant::now();
    let mut child = Command::new(&options.relay_bin)
        .args(["--listen", "127.0.0.1:0", "--no-claim"])
        .args(["--max-connections-per-ip", GENEROUS])
        .args(["--frames-per-second", GENEROUS])
        .args(["--posts-per-second", GENEROUS])
        .args(&options.extra_args)
        .env("CATALK_RELAY_KEY", relay_key)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", options.relay_bin.display()))?;
    let pid = child.id();
    let log_tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let (listening_tx, listening_rx) = tokio::sync::oneshot::channel();
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no relay stdout"))?;
    let stderr = child.stderr.take().ok_or_else(|| anyhow!("no relay stderr"))?;
    watch_log(stdout, log_tail.clone(), Some(listening_tx));
    watch_log(stderr, log_tail.clone(), None);
    let mut relay = Relay {
        ws_url: String::new(),
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        pid: Some(pid),
        startup: None,
        child: Some(child),
        log_tail,
    };
    let (listening_at, addr) = match tokio::time::timeout(START_TIMEOUT, listening_rx).await {
        Ok(Ok(found)) => found,
        _ => {
            relay.check_alive()?;
            bail!("the relay did not log its address within {START_TIMEOUT:?}:\n{}", relay.log_tail());
        }
    };
    let healthy_at = wait_healthy(addr, started).await?;
    relay.addr = addr;
    relay.ws_url = format!("ws://{addr}/ws");
    relay.startup = Some(StartupReport {
        relay_start_to_listening_ms: millis(listening_at - started),
        relay_start_to_healthy_ms: millis(healthy_at - started),
        relay_idle_rss_bytes: Proc::Pid(pid).rss_bytes()?,
        relay_binary_bytes: binary_bytes,
    });
    Ok(relay)
}

/// Reads a child's log lines on a thread: keeps the last few, reports the listening address once.
fn watch_log(
    pipe: impl std::io::Read + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
    mut listening: Option<tokio::sync::oneshot::Sender<(Instant, SocketAddr)>>,
) {
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let now = Instant::now();
            if let Some(addr) = listening_address(&line)
                && let Some(tx) = listening.take()
            {
                let _ = tx.send((now, addr));
            }
            let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
            if tail.len() == LOG_TAIL {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    });
}

/// The address in the relay's "catalk relay listening on http://127.0.0.1:1234" line.
fn listening_address(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let rest = rest.strip_prefix("http://").or_else(|| rest.strip_prefix("https://"))?;
    rest.split(|c: char| c == '/' || c.is_whitespace()).next()?.parse().ok()
}

/// Polls `/healthz` until it answers `200`; returns when it did.
async fn wait_healthy(addr: SocketAddr, since: Instant) -> anyhow::Result<Instant> {
    loop {
        if let Ok((200, _)) = http::get(addr, "/healthz").await {
            return Ok(Instant::now());
        }
        if since.elapsed() > START_TIMEOUT {
            bail!("{addr}/healthz did not answer 200 within {START_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The socket address of a `ws://host:port/path` URL.
async fn resolve(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url.strip_prefix("ws://").ok_or_else(|| anyhow!("only ws:// URLs are supported, got {url}"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
    tokio::net::lookup_host(&authority)
        .await
        .with_context(|| format!("resolving {authority}"))?
        .next()
        .ok_or_else(|| anyhow!("{authority} has no address"))
}

/// A duration in milliseconds with fractions.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_gives_the_address() {
        let line = "2026-11-02T10:00:00.000Z  INFO catalk_relay: catalk relay listening on http://127.0.0.1:43210 bound=127.0.0.1:43210";
        assert_eq!(listening_address(line), Some("127.0.0.1:43210".parse().unwrap()));
        assert_eq!(listening_address("INFO relay run started"), None);
    }
}
