//! HTTP routes: the websocket endpoint, health, metrics, well-known document and the web app
//! (`/v/<build id>/…` immutable, everything else revalidated: see `assets`).

use crate::hub::Hub;
use crate::ip_limit::IpLimiter;
use crate::session::{self, SessionSettings};
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use catalk_proto::{ErrorCode, PROTOCOL_VERSION};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::watch;

/// Everything the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The relay state.
    pub hub: Arc<Hub>,
    /// Per-connection settings.
    pub settings: SessionSettings,
    /// Connections per IP.
    pub ip_limiter: IpLimiter,
    /// Header to read the client IP from, if behind a proxy.
    pub client_ip_header: Option<String>,
    /// Websocket buffer sizes.
    pub ws_read_buffer: usize,
    /// Websocket write buffer size.
    pub ws_write_buffer: usize,
    /// STUN/TURN servers for clients, published in `/.well-known/catalk.json`.
    pub ice_servers: Arc<Vec<catalk_proto::IceServer>>,
    /// Flips to `true` on shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// Held by every live session; its count tells shutdown when all are gone.
    pub sessions: Arc<()>,
}

/// The peer address of a connection, for any listener that yields socket addresses (plain TCP or TLS).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, crate::listener::NodelayListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::listener::NodelayListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, crate::tls::TlsListener>> for PeerAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// Builds the router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/ws", get(websocket))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/.well-known/catalk.json", get(well_known))
        .route("/v/{build}/{*path}", get(crate::assets::serve_versioned))
        .fallback(get(crate::assets::serve))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = state.hub.metrics.render().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}

async fn well_known(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "protocol": PROTOCOL_VERSION,
        "relay": state.hub.relay_key(),
        "trusted": state.hub.trusted(),
        "epoch": state.hub.epoch().id,
        "limits": state.hub.limits(),
        "ice_servers": *state.ice_servers,
        "software": concat!("catalk-relay ", env!("CARGO_PKG_VERSION")),
    }))
}

fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    state
        .client_ip_header
        .as_deref()
        .and_then(|name| headers.get(name))
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.split(',').next())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(peer.ip())
}

async fn websocket(
    State(state): State<AppState>,
    ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if *state.shutdown.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let ip = client_ip(&state, peer, &headers);
    let slot = state.ip_limiter.acquire(ip);
    let max_frame = state.hub.limits().max_frame_bytes;
    upgrade
        .read_buffer_size(state.ws_read_buffer)
        .write_buffer_size(state.ws_write_buffer)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| async move {
            let Some(slot) = slot else {
                state.hub.metrics.rejected(ErrorCode::TooManyConnections);
                tracing::warn!(%ip, "too many connections from this address");
                session::refuse(socket, ErrorCode::TooManyConnections, "too many connections from your address").await;
                return;
            };
            let _live = state.sessions.clone();
            session::run(socket, state.hub.clone(), state.settings, state.shutdown.clone()).await;
            drop(slot);
        })
}
