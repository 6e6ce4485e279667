//! The catalk relay: logs clients in by Ed25519 challenge, signs facts with
//! its own key, fans them out live and forwards WebRTC signaling. It keeps no
//! history and no database; what it must remember across restarts comes back
//! from clients as facts it signed earlier (see `docs/protocol.md`).
//!
//! Entry point: [`serve`] on a bound listener, as the binary and the tests do.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod assets;
pub mod clock;
pub mod config;
mod drafts;
pub mod http;
pub mod hub;
pub mod ids;
pub mod ip_limit;
pub mod link_paths;
pub use catalk_keyfile as keyfile;
pub mod listener;
pub mod metrics;
pub mod rejection;
pub mod session;
pub mod stun;
pub mod tls;
pub mod turn;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{NewcomerPolicy, RelayConfig};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long shutdown waits for sessions to say goodbye.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the relay on `listener` until `shutdown` resolves, then closes every
/// connection with a `shutting_down` error and returns.
pub async fn serve(
    listener: TcpListener,
    config: RelayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_on(listener::NodelayListener(listener), config, shutdown).await
}

/// Like [`serve`], terminating TLS with `tls` on every connection.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
    config: RelayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_on(tls::TlsListener::new(listener, tls)?, config, shutdown).await
}

async fn serve_on<L>(
    listener: L,
    config: RelayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
    http::PeerAddr: for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    let hub = hub::Hub::new(&config);
    tracing::info!(relay = %hub.relay_key(), epoch = %hub.epoch().id, "relay run started");
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = http::AppState {
        hub: hub.clone(),
        settings: session::SessionSettings { write_timeout: config.write_timeout },
        ip_limiter: ip_limit::IpLimiter::new(config.limits.max_connections_per_ip),
        client_ip_header: config.client_ip_header.clone(),
        ws_read_buffer: config.ws_read_buffer,
        ws_write_buffer: config.ws_write_buffer,
        ice_servers: Arc::new(config.ice_servers.clone()),
        shutdown: stop_rx,
        sessions: Arc::new(()),
    };
    let sessions = state.sessions.clone();
    let stun = match &config.stun_socket {
        Some(socket) => {
            let socket = socket.try_clone()?;
            socket.set_nonblocking(true)?;
            let socket = tokio::net::UdpSocket::from_std(socket)?;
            tracing::info!(addr = ?socket.local_addr().ok(), "answering STUN on UDP");
            Some(tokio::spawn(stun::serve(socket, hub.clone(), state.shutdown.clone())))
        }
        None => None,
    };
    let trimmer = tokio::spawn({
        let hub = hub.clone();
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                hub.trim_rate_limits();
            }
        }
    });
    let app = http::router(state).into_make_service_with_connect_info::<http::PeerAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
        })
        .await;
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while Arc::strong_count(&sessions) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    trimmer.abort();
    if let Some(stun) = stun {
        stun.abort();
    }
    result
}
