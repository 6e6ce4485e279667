//! One websocket connection: challenge, login, then frames in and facts out.

use crate::hub::{ConnId, Hub};
use crate::link_paths::LinkShare;
use crate::rejection::Rejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use catalk_proto::{
    ClientFrame, DisplayName, ErrorCode, LoginError, LoginFrame, Nonce, PROTOCOL_VERSION, PublicKey, ServerFrame,
    decode_client_frame, verify_login,
};
use futures_util::SinkExt as _;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tracing::{Instrument as _, debug, info_span, warn};

/// Most frames written to the socket in one batch before a flush.
const WRITE_BATCH: usize = 64;
/// A session yields to the runtime after this many inbound frames in a row.
const YIELD_EVERY_FRAMES: u64 = 8;
/// Capacity of the per-connection queue for frames addressed to it (signals).
const DIRECT_QUEUE: usize = 64;

/// Per-connection settings taken from the relay configuration.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// How long one write may take.
    pub write_timeout: Duration,
}

/// Why the session ended.
enum End {
    /// The peer closed or the socket failed.
    Gone,
    /// The relay closes the connection after telling the client why.
    Close(ErrorCode, String),
    /// As `Close`, answering the request `rid`.
    Refuse(u64, ErrorCode, String),
}

struct Session {
    socket: WebSocket,
    hub: Arc<Hub>,
    settings: SessionSettings,
    conn: ConnId,
    /// What this connection's client reported about its sync links.
    links: LinkShare,
}

/// Runs a connection to completion. `shutdown` flips to `true` when the relay stops.
pub async fn run(socket: WebSocket, hub: Arc<Hub>, settings: SessionSettings, shutdown: watch::Receiver<bool>) {
    let conn = hub.next_conn_id();
    let span = info_span!("conn", id = conn, key = tracing::field::Empty);
    let session = Session { socket, hub, settings, conn, links: LinkShare::default() };
    session.drive(shutdown).instrument(span).await;
}

/// Sends one error frame and closes; used when a connection is refused before its session starts.
pub async fn refuse(mut socket: WebSocket, code: ErrorCode, message: &str) {
    let frame = ServerFrame::Error { rid: None, code, message: message.to_owned() };
    if let Ok(text) = serde_json::to_string(&frame) {
        let _ = socket.send(Message::Text(text.into())).await;
    }
    let _ = socket.send(Message::Close(Some(close_frame(code)))).await;
}

fn close_frame(code: ErrorCode) -> CloseFrame {
    // 1008 policy violation for refusals, 1001 going away for shutdown.
    let code_num = match code {
        ErrorCode::ShuttingDown => 1001,
        ErrorCode::Internal => 1011,
        _ => 1008,
    };
    CloseFrame { code: code_num, reason: Utf8Bytes::from(code.as_str()) }
}

impl Session {
    async fn drive(mut self, mut shutdown: watch::Receiver<bool>) {
        self.hub.metrics.connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let end = match self.login(&mut shutdown).await {
            Ok((key, direct_rx, feed)) => {
                tracing::Span::current().record("key", tracing::field::display(&key));
                let end = self.serve(&key, direct_rx, feed, &mut shutdown).await;
                self.hub.leave(&key, self.conn);
                self.links.clear(&self.hub.metrics.links);
                end
            }
            Err(end) => {
                self.hub.metrics.logins_failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                end
            }
        };
        if matches!(end, End::Close(ErrorCode::SlowConsumer, _)) {
            // Counted here once: the client is told only if its socket still has room.
            self.hub.metrics.rejected(ErrorCode::SlowConsumer);
        }
        let closing = match end {
            End::Gone => None,
            End::Close(code, message) => Some((None, code, message)),
            End::Refuse(rid, code, message) => Some((Some(rid), code, message)),
        };
        if let Some((rid, code, message)) = closing {
            debug!(%code, %message, "closing connection");
            let _ = self.send_error(rid, code, &message).await;
            let _ = tokio::time::timeout(
                self.settings.write_timeout,
                self.socket.send(Message::Close(Some(close_frame(code)))),
            )
            .await;
        }
        self.hub.metrics.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }

    async fn login(
        &mut self,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(PublicKey, mpsc::Receiver<Utf8Bytes>, broadcast::Receiver<Utf8Bytes>), End> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| End::Close(ErrorCode::Internal, "no randomness".into()))?;
        let nonce = Nonce::from_bytes(bytes);
        let issued_at = self.hub.now_ms();
        let ttl = self.hub.limits().nonce_ttl_ms;
        let challenge = ServerFrame::Challenge {
            nonce,
            relay: self.hub.relay_key(),
            protocol: PROTOCOL_VERSION,
            expires_in_ms: ttl,
            trusted: self.hub.older_keys(),
            endorsed_by: self.hub.endorsements().to_vec(),
        };
        self.send_frame(&challenge).await?;
        // Real-time bound on waiting for the login; the nonce's own expiry uses the relay clock.
        let deadline = tokio::time::sleep(Duration::from_millis(ttl));
        tokio::pin!(deadline);
        let text = tokio::select! {
            read = self.read_text() => read?,
            () = &mut deadline => return Err(End::Close(ErrorCode::LoginTimeout, "no login before the nonce expired".into())),
            _ = shutdown.changed() => return Err(End::Close(ErrorCode::ShuttingDown, "relay is shutting down".into())),
        };
        let login = match decode_client_frame(&text) {
            Ok(ClientFrame::Login(login)) => login,
            Ok(other) => {
                return Err(self.refuse(Some(other.rid()), ErrorCode::NotLoggedIn, "the first frame must be login"));
            }
            Err(err) => return Err(self.refuse(err.rid(), err.code(), &err.to_string())),
        };
        let (key, name) = self.check_login(&login, &nonce, issued_at)?;
        if !login.facts.is_empty() {
            self.hub.verify_presented(&login.facts).map_err(|r| self.refuse(Some(login.rid), r.code, &r.detail))?;
            self.hub.adopt(&login.facts);
        }
        let (direct_tx, direct_rx) = mpsc::channel(DIRECT_QUEUE);
        // Subscribe before joining so this connection sees its own presence fact.
        let feed = self.hub.subscribe();
        let (welcome, others) = self.hub.join(login.rid, key, name, self.conn, direct_tx);
        self.hub.metrics.logins_ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.send_frame(&ServerFrame::Welcome(Box::new(welcome))).await?;
        for chunk in others.chunks(WRITE_BATCH) {
            self.write_batch(chunk.iter().cloned()).await?;
        }
        Ok((key, direct_rx, feed))
    }

    fn check_login(&self, login: &LoginFrame, nonce: &Nonce, issued_at: u64) -> Result<(PublicKey, DisplayName), End> {
        let rid = Some(login.rid);
        if login.nonce != *nonce {
            return Err(self.refuse(rid, ErrorCode::NonceMismatch, "this nonce was not issued to this connection"));
        }
        let age = self.hub.now_ms().saturating_sub(issued_at);
        if age > self.hub.limits().nonce_ttl_ms {
            return Err(self.refuse(rid, ErrorCode::NonceExpired, &format!("nonce is {age} ms old")));
        }
        if let Err(err) = verify_login(&login.key, nonce, &self.hub.relay_key(), &login.sig) {
            let code = match err {
                LoginError::WeakKey => ErrorCode::WeakKey,
                LoginError::InvalidKey => ErrorCode::InvalidKey,
                _ => ErrorCode::BadSignature,
            };
            return Err(self.refuse(rid, code, &err.to_string()));
        }
        let name =
            DisplayName::new(&login.name).map_err(|err| self.refuse(rid, ErrorCode::InvalidName, &err.to_string()))?;
        Ok((login.key, name))
    }

    /// Records a refusal that ends the connection.
    fn refuse(&self, rid: Option<u64>, code: ErrorCode, message: &str) -> End {
        self.hub.metrics.rejected(code);
        warn!(?rid, %code, message, "connection refused");
        match rid {
            Some(rid) => End::Refuse(rid, code, message.to_owned()),
            None => End::Close(code, message.to_owned()),
        }
    }

    async fn serve(
        &mut self,
        key: &PublicKey,
        mut direct: mpsc::Receiver<Utf8Bytes>,
        mut feed: broadcast::Receiver<Utf8Bytes>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> End {
        let limits = self.hub.limits().clone();
        let frames: DefaultDirectRateLimiter = RateLimiter::direct(
            Quota::per_second(nonzero(limits.frames_per_second)).allow_burst(nonzero(limits.frames_burst)),
        );
        let signals: DefaultDirectRateLimiter = RateLimiter::direct(
            Quota::per_second(nonzero(limits.signals_per_second)).allow_burst(nonzero(limits.signals_per_second)),
        );
        // Peer frames are limited in bytes; the burst admits one largest frame.
        let fallback_rate = limits.sync_fallback_bytes_per_second;
        let fallback_burst = fallback_rate.max(u32::try_from(limits.max_frame_bytes).unwrap_or(u32::MAX));
        let fallback: DefaultDirectRateLimiter =
            RateLimiter::direct(Quota::per_second(nonzero(fallback_rate)).allow_burst(nonzero(fallback_burst)));
        let limiters = Limiters { signals, fallback };
        let mut inbound: u64 = 0;
        loop {
            let result = tokio::select! {
                biased;
                _ = shutdown.changed() => return End::Close(ErrorCode::ShuttingDown, "relay is shutting down".into()),
                item = feed.recv() => self.forward_feed(item, &mut feed).await,
                Some(text) = direct.recv() => self.write_batch(std::iter::once(text)).await,
                read = self.read_text() => match read {
                    Ok(text) => {
                        // Frames already buffered in the socket are read without yielding,
                        // so a client posting back to back could keep this task running
                        // while other sessions fall behind the feed (measured: 7 of 16
                        // posting clients closed as slow consumers; charging the cooperative
                        // budget per frame did not help). Yield every few frames.
                        inbound += 1;
                        if inbound.is_multiple_of(YIELD_EVERY_FRAMES) {
                            tokio::task::yield_now().await;
                        }
                        self.handle_text(key, &text, &frames, &limiters).await
                    }
                    Err(end) => Err(end),
                },
            };
            if let Err(end) = result {
                return end;
            }
        }
    }

    async fn forward_feed(
        &mut self,
        first: Result<Utf8Bytes, broadcast::error::RecvError>,
        feed: &mut broadcast::Receiver<Utf8Bytes>,
    ) -> Result<(), End> {
        let first = match first {
            Ok(text) => text,
            Err(broadcast::error::RecvError::Lagged(missed)) => return Err(lagged(missed)),
            Err(broadcast::error::RecvError::Closed) => {
                return Err(End::Close(ErrorCode::ShuttingDown, "relay is shutting down".into()));
            }
        };
        let mut batch = Vec::with_capacity(8);
        batch.push(first);
        while batch.len() < WRITE_BATCH {
            match feed.try_recv() {
                Ok(text) => batch.push(text),
                Err(broadcast::error::TryRecvError::Lagged(missed)) => return Err(lagged(missed)),
                Err(_) => break,
            }
        }
        self.write_batch(batch).await
    }

    /// Writes and flushes `frames`; their bytes count towards `catalk_bytes_total{direction="out"}`
    /// as soon as the socket has taken them (one atomic add per batch).
    async fn write_batch(&mut self, frames: impl IntoIterator<Item = Utf8Bytes>) -> Result<(), End> {
        let timeout = self.settings.write_timeout;
        let mut bytes = 0u64;
        let write = async {
            for text in frames {
                let len = text.len() as u64;
                self.socket.feed(Message::Text(text)).await?;
                bytes += len;
            }
            self.socket.flush().await
        };
        let result = tokio::time::timeout(timeout, write).await;
        self.hub.metrics.bytes_out.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(End::Close(ErrorCode::SlowConsumer, "a write did not complete in time".into())),
        }
    }

    async fn send_frame(&mut self, frame: &ServerFrame) -> Result<(), End> {
        let text = serde_json::to_string(frame).map_err(|e| End::Close(ErrorCode::Internal, e.to_string()))?;
        self.write_batch(std::iter::once(Utf8Bytes::from(text))).await
    }

    async fn send_error(&mut self, rid: Option<u64>, code: ErrorCode, message: &str) -> Result<(), End> {
        self.send_frame(&ServerFrame::Error { rid, code, message: message.to_owned() }).await
    }

    /// Reads the next text message; oversized, binary or broken input ends the session.
    async fn read_text(&mut self) -> Result<Utf8Bytes, End> {
        loop {
            match self.socket.recv().await {
                None => return Err(End::Gone),
                Some(Ok(Message::Text(text))) => {
                    self.hub.metrics.bytes_in.fetch_add(text.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    return Ok(text);
                }
                Some(Ok(Message::Binary(_))) => {
                    self.hub.metrics.rejected(ErrorCode::Malformed);
                    return Err(End::Close(ErrorCode::Malformed, "frames are JSON text messages".into()));
                }
                Some(Ok(Message::Close(_))) => return Err(End::Gone),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Err(err)) => {
                    if is_capacity_error(err.into_inner().as_ref()) {
                        self.hub.metrics.rejected(ErrorCode::FrameTooLarge);
                        let max = self.hub.limits().max_frame_bytes;
                        return Err(End::Close(ErrorCode::FrameTooLarge, format!("frames are limited to {max} bytes")));
                    }
                    debug!("websocket read failed");
                    return Err(End::Gone);
                }
            }
        }
    }

    async fn handle_text(
        &mut self,
        key: &PublicKey,
        text: &str,
        frames: &DefaultDirectRateLimiter,
        limiters: &Limiters,
    ) -> Result<(), End> {
        // Limit before decoding, so that garbage costs the sender its allowance too.
        if frames.check().is_err() {
            self.hub.metrics.rejected(ErrorCode::RateLimited);
            let rid = catalk_proto::request_id_of(text);
            return self.send_error(rid, ErrorCode::RateLimited, "too many frames; slow down").await;
        }
        let frame = match decode_client_frame(text) {
            Ok(frame) => frame,
            Err(err) => {
                self.hub.metrics.rejected(err.code());
                return self.send_error(err.rid(), err.code(), &err.to_string()).await;
            }
        };
        let rid = frame.rid();
        let outcome = self.apply(key, frame, text.len(), limiters);
        match outcome {
            Ok(ack) => self.send_frame(&ack).await,
            Err(rejection) => {
                self.hub.metrics.rejected(rejection.code);
                debug!(rid, code = %rejection.code, detail = %rejection.detail, "request refused");
                self.send_error(Some(rid), rejection.code, &rejection.detail).await
            }
        }
    }

    fn apply(
        &mut self,
        key: &PublicKey,
        frame: ClientFrame,
        frame_bytes: usize,
        limiters: &Limiters,
    ) -> Result<ServerFrame, Rejection> {
        let ack = |rid, id| ServerFrame::Ack { rid, id, adopted: None };
        match frame {
            ClientFrame::Login(login) => {
                Err(Rejection::new(ErrorCode::AlreadyLoggedIn, format!("request {} : already logged in", login.rid)))
            }
            ClientFrame::Ping { rid } => Ok(ack(rid, None)),
            ClientFrame::Links { rid, direct, turn, relay } => {
                self.links.report(&self.hub.metrics.links, direct, turn, relay);
                Ok(ack(rid, None))
            }
            ClientFrame::Post(post) => self.hub.post(key, &post).map(|id| ack(post.rid, Some(id))),
            ClientFrame::CreateChannel { rid, name } => {
                self.hub.create_channel(key, &name).map(|id| ack(rid, Some(id)))
            }
            ClientFrame::Grant { rid, key: grantee, privileges } => {
                self.hub.grant(key, grantee, privileges).map(|id| ack(rid, Some(id)))
            }
            ClientFrame::Claim { rid, token } => self.hub.claim(key, &token).map(|id| ack(rid, Some(id))),
            ClientFrame::Present { rid, facts } => {
                self.hub.verify_presented(&facts)?;
                let adopted = self.hub.adopt(&facts);
                Ok(ServerFrame::Ack { rid, id: None, adopted: Some(adopted) })
            }
            ClientFrame::Signal { rid, to, to_conn, payload } => {
                if limiters.signals.check().is_err() {
                    return Err(Rejection::new(ErrorCode::RateLimited, "too many signals; slow down"));
                }
                self.hub.signal(key, self.conn, &to, to_conn, &payload).map(|()| ack(rid, None))
            }
            ClientFrame::Peer { rid, to, to_conn, msg } => {
                if self.hub.limits().sync_fallback_bytes_per_second == 0 {
                    return Err(Rejection::new(
                        ErrorCode::FallbackDisabled,
                        "this relay does not carry peer sync messages",
                    ));
                }
                let cells = NonZeroU32::new(u32::try_from(frame_bytes).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
                if !matches!(limiters.fallback.check_n(cells), Ok(Ok(()))) {
                    return Err(Rejection::new(
                        ErrorCode::RateLimited,
                        "peer sync through the relay is over its byte rate",
                    ));
                }
                self.hub.forward_peer(key, self.conn, &to, to_conn, msg, frame_bytes).map(|()| ack(rid, None))
            }
            _ => Err(Rejection::new(ErrorCode::UnknownFrame, "frame kind not handled")),
        }
    }
}

/// Whether a websocket read failed because the message exceeded the size limits.
fn is_capacity_error(err: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    matches!(err.downcast_ref::<tungstenite::Error>(), Some(tungstenite::Error::Capacity(_)))
}

/// Per-connection limits on frames addressed to other peers.
struct Limiters {
    /// `signal` frames per second.
    signals: DefaultDirectRateLimiter,
    /// Bytes of `peer` frames per second.
    fallback: DefaultDirectRateLimiter,
}

/// Ends a session that fell behind the live feed.
fn lagged(missed: u64) -> End {
    End::Close(ErrorCode::SlowConsumer, format!("fell {missed} facts behind the live feed; reconnect and backfill"))
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}
