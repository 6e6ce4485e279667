//! `catalk-relay`: parses flags and environment, loads the relay key, serves.

use anyhow::Context as _;
use catalk_proto::{Limits, PublicKey};
use catalk_relay::{NewcomerPolicy, RelayConfig, keyfile};
use clap::{Parser, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

/// catalk relay: Ed25519 login, relay-signed facts, live fan-out and WebRTC signaling. No database.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "CATALK_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// File holding the relay's signing key (base64url seed). Created if missing.
    #[arg(long, env = "CATALK_KEY_FILE", default_value = "catalk-relay.key")]
    key_file: PathBuf,
    /// The relay's signing key itself (base64url seed); takes precedence over --key-file. Use for secrets.
    #[arg(long = "relay-key", env = "CATALK_RELAY_KEY", hide_env_values = true)]
    relay_key: Option<String>,
    /// Earlier relay public keys whose facts clients may still present (comma-separated).
    #[arg(long = "trusted-key", env = "CATALK_TRUSTED_KEYS", value_delimiter = ',')]
    trusted_keys: Vec<PublicKey>,
    /// Earlier relay signing keys (base64url seeds, comma-separated) after a planned key change:
    /// each signs the current key, so members' devices keep trusting the relay without a question.
    #[arg(
        long = "previous-relay-key",
        env = "CATALK_PREVIOUS_RELAY_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    previous_relay_keys: Vec<String>,
    /// Owner public keys (comma-separated).
    #[arg(long = "owner", env = "CATALK_OWNERS", value_delimiter = ',')]
    owners: Vec<PublicKey>,
    /// Public keys of virtual clients (headless history keepers) run by the owner (comma-separated).
    #[arg(long = "virtual-client", env = "CATALK_VIRTUAL_CLIENTS", value_delimiter = ',')]
    virtual_clients: Vec<PublicKey>,
    /// STUN/TURN servers for browsers' WebRTC, published in /.well-known/catalk.json:
    /// `stun:HOST[:PORT]` or `turn:USER:PASSWORD@HOST[:PORT]` (comma-separated). None: LAN only.
    #[arg(long = "ice-server", env = "CATALK_ICE_SERVERS", value_delimiter = ',')]
    ice_servers: Vec<catalk_proto::IceServer>,
    /// TURN servers that share --turn-secret with the relay (coturn `use-auth-secret`), as
    /// `turn:HOST[:PORT]` or `turns:…` without credentials (comma-separated). Each client gets
    /// its own short-lived credentials at login; they are never published.
    #[arg(long = "turn-url", env = "CATALK_TURN_URLS", value_delimiter = ',', requires = "turn_secret")]
    turn_urls: Vec<String>,
    /// The secret shared with the TURN servers (coturn `static-auth-secret`). Use for secrets.
    #[arg(long, env = "CATALK_TURN_SECRET", hide_env_values = true, requires = "turn_urls")]
    turn_secret: Option<String>,
    /// How long TURN credentials stay valid, in seconds.
    #[arg(long, env = "CATALK_TURN_TTL_SECONDS", default_value_t = 43_200)]
    turn_ttl_seconds: u64,
    /// UDP address for the relay's own STUN responder (RFC 8489 Binding), e.g.
    /// `fly-global-services:8080` on fly.io. Default: the --listen address, on UDP.
    #[arg(long, env = "CATALK_STUN_LISTEN")]
    stun_listen: Option<String>,
    /// Do not answer STUN (then publish an --ice-server, or browsers behind NATs cannot connect).
    #[arg(long, env = "CATALK_NO_STUN", conflicts_with = "stun_listen")]
    no_stun: bool,
    /// What keys without a grant may do.
    #[arg(long, env = "CATALK_NEWCOMERS", value_enum, default_value = "post")]
    newcomers: Newcomers,
    /// Do not print a one-time owner claim link even when no owner is configured.
    #[arg(long, env = "CATALK_NO_CLAIM")]
    no_claim: bool,
    /// Public URL of this relay, used in the printed claim link.
    #[arg(long, env = "CATALK_PUBLIC_URL")]
    public_url: Option<String>,
    /// PEM certificate chain: serve HTTPS/WSS directly (needs --tls-key).
    #[arg(long, env = "CATALK_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "CATALK_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Header carrying the client IP when behind a proxy (e.g. `fly-client-ip`).
    #[arg(long, env = "CATALK_CLIENT_IP_HEADER")]
    client_ip_header: Option<String>,
    /// Largest message body in bytes.
    #[arg(long, env = "CATALK_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Largest websocket frame in bytes.
    #[arg(long, env = "CATALK_MAX_FRAME_BYTES", default_value_t = Limits::default().max_frame_bytes)]
    max_frame_bytes: usize,
    /// Simultaneous connections per client IP.
    #[arg(long, env = "CATALK_MAX_CONNECTIONS_PER_IP", default_value_t = Limits::default().max_connections_per_ip)]
    max_connections_per_ip: u32,
    /// Sustained frames per second per connection.
    #[arg(long, env = "CATALK_FRAMES_PER_SECOND", default_value_t = Limits::default().frames_per_second)]
    frames_per_second: u32,
    /// Sustained posts per second per key.
    #[arg(long, env = "CATALK_POSTS_PER_SECOND", default_value_t = Limits::default().posts_per_second_per_key)]
    posts_per_second: u32,
    /// Carry peer sync messages through the relay for peers that WebRTC cannot connect, at
    /// most this many bytes per second per connection (0: off). Costs the relay's bandwidth.
    #[arg(long, env = "CATALK_SYNC_FALLBACK_BYTES_PER_SECOND", default_value_t = 64_000)]
    sync_fallback_bytes_per_second: u32,
    /// At most this many bytes per second of peer sync through the relay over all connections
    /// together (0: no relay-wide cap). The default keeps a shared-CPU 256 MB machine responsive.
    #[arg(long, env = "CATALK_SYNC_FALLBACK_TOTAL_BYTES_PER_SECOND", default_value_t = 1_000_000)]
    sync_fallback_total_bytes_per_second: u32,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Newcomers {
    /// May post in existing channels.
    Post,
    /// May only read.
    ReadOnly,
}

fn load_key(args: &Args) -> anyhow::Result<ed25519_dalek::SigningKey> {
    if let Some(text) = &args.relay_key {
        return keyfile::parse_signing_key(text).context("CATALK_RELAY_KEY / --relay-key");
    }
    let (key, created) = keyfile::load_or_create(&args.key_file)?;
    if created {
        tracing::warn!(
            file = %args.key_file.display(),
            public_key = %PublicKey::of(&key),
            "generated a new relay key and saved it; keep this file (or set CATALK_RELAY_KEY) so clients keep trusting this relay"
        );
    }
    Ok(key)
}

fn build_config(args: &Args) -> anyhow::Result<RelayConfig> {
    let mut config = RelayConfig::new(load_key(args)?);
    config.trusted_keys = args.trusted_keys.clone();
    config.previous_keys = args
        .previous_relay_keys
        .iter()
        .map(|text| keyfile::parse_signing_key(text))
        .collect::<Result<_, _>>()
        .context("CATALK_PREVIOUS_RELAY_KEYS / --previous-relay-key")?;
    config.owners = args.owners.clone();
    config.virtual_clients = args.virtual_clients.clone();
    config.ice_servers = args.ice_servers.clone();
    config.newcomers = match args.newcomers {
        Newcomers::Post => NewcomerPolicy::Post,
        Newcomers::ReadOnly => NewcomerPolicy::ReadOnly,
    };
    config.client_ip_header = args.client_ip_header.clone();
    config.limits.max_body_bytes = args.max_body_bytes;
    config.limits.max_frame_bytes = args.max_frame_bytes;
    config.limits.max_connections_per_ip = args.max_connections_per_ip;
    config.limits.frames_per_second = args.frames_per_second;
    config.limits.posts_per_second_per_key = args.posts_per_second;
    config.limits.sync_fallback_bytes_per_second = args.sync_fallback_bytes_per_second;
    config.sync_fallback_total_bytes_per_second = args.sync_fallback_total_bytes_per_second;
    if let Some(secret) = &args.turn_secret {
        for url in &args.turn_urls {
            anyhow::ensure!(
                (url.starts_with("turn:") || url.starts_with("turns:")) && !url.contains('@'),
                "--turn-url {url:?}: expected turn:HOST[:PORT] or turns:HOST[:PORT], without credentials"
            );
        }
        config.turn = Some(catalk_relay::turn::TurnConfig {
            urls: args.turn_urls.clone(),
            secret: secret.clone(),
            ttl: std::time::Duration::from_secs(args.turn_ttl_seconds),
        });
    }
    if config.owners.is_empty() && !args.no_claim {
        let mut bytes = [0u8; 18];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for the claim token: {e}"))?;
        config.claim_token = Some(bytes.iter().map(|b| format!("{b:02x}")).collect());
    }
    Ok(config)
}

fn public_url(args: &Args, bound: SocketAddr) -> String {
    if let Some(url) = &args.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = if bound.ip().is_unspecified() { "127.0.0.1".to_owned() } else { bound.ip().to_string() };
    let scheme = if args.tls_cert.is_some() { "https" } else { "http" };
    format!("{scheme}://{host}:{}", bound.port())
}

/// The UDP socket for STUN: --stun-listen (an error if it cannot be bound), else the
/// --listen address on UDP (a warning if it cannot be), none with --no-stun.
fn bind_stun(args: &Args, bound: SocketAddr) -> anyhow::Result<Option<std::net::UdpSocket>> {
    if args.no_stun {
        return Ok(None);
    }
    match &args.stun_listen {
        Some(addr) => std::net::UdpSocket::bind(addr.as_str())
            .map(Some)
            .with_context(|| format!("cannot listen for STUN on UDP {addr}")),
        None => match std::net::UdpSocket::bind(bound) {
            Ok(socket) => Ok(Some(socket)),
            Err(err) => {
                tracing::warn!(%bound, %err, "cannot answer STUN on the listen port; set --stun-listen or --ice-server");
                Ok(None)
            }
        },
    }
}

/// The host of the relay's public URL (for the STUN server it publishes).
fn public_host(public_url: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(public_url).with_context(|| format!("the public URL {public_url}"))?;
    parsed.host_str().map(str::to_owned).with_context(|| format!("the public URL {public_url} has no host"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let config = build_config(&args)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(catalk_relay::tls::load_server_config(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let bound = listener.local_addr()?;
    let url = public_url(&args, bound);
    let mut config = config;
    if let Some(socket) = bind_stun(&args, bound)? {
        let port = socket.local_addr()?.port();
        if config.ice_servers.is_empty() {
            let own = format!("stun:{}:{port}", public_host(&url)?);
            config.ice_servers = vec![own.parse().with_context(|| format!("publishing {own}"))?];
        }
        config.stun_socket = Some(std::sync::Arc::new(socket));
    }
    tracing::info!(%bound, relay = %config.public_key(), "catalk relay listening on {url}");
    if let Some(token) = &config.claim_token {
        tracing::warn!("no owner configured: to become owner, open {url}/#claim={token} (one use, this run only)");
    }
    match tls {
        Some(tls) => catalk_relay::serve_tls(listener, tls, config, shutdown_signal()).await?,
        None => catalk_relay::serve(listener, config, shutdown_signal()).await?,
    }
    Ok(())
}
