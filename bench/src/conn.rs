//! One lean benchmark client: connect (from a chosen source address), log in
//! by the real challenge, then read frames without decoding more than their tag.
//!
//! Unlike `catalk_testkit::TestClient`, it does not decode every frame into a
//! `ServerFrame`: with thousands of clients on the relay's own cores, the
//! client's per-frame cost must stay far below the relay's.

use anyhow::{Context as _, anyhow, bail};
use catalk_proto::{ClientFrame, LoginFrame, PublicKey, ServerFrame, sign_login};
use futures_util::{SinkExt as _, StreamExt as _};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How long connecting and logging in may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(120);

/// A websocket to the relay.
pub type Socket = WebSocketStream<TcpStream>;

/// A logged-in client.
#[derive(Debug)]
pub struct Client {
    /// The socket.
    pub ws: Socket,
    /// The client's key.
    pub key: ed25519_dalek::SigningKey,
    /// The relay key from the challenge.
    pub relay: PublicKey,
    /// Bytes of the welcome frame.
    pub welcome_bytes: usize,
}

/// The key of client number `index` in a run whose keys derive from `seed`.
pub fn client_key(seed: &[u8; 32], index: usize) -> ed25519_dalek::SigningKey {
    let mut bytes = *seed;
    for (b, i) in bytes.iter_mut().zip((index as u64).to_le_bytes()) {
        *b ^= i;
    }
    ed25519_dalek::SigningKey::from_bytes(&bytes)
}

/// Fresh random bytes (a run's key seed, draft ids).
pub fn random_seed() -> anyhow::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("no randomness: {e}"))?;
    Ok(seed)
}

/// Websocket settings for benchmark clients: small buffers, so that tens of
/// thousands of clients fit in the benchmark process.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(8 * 1024).write_buffer_size(0).max_message_size(None)
}

/// Opens a websocket to `url` at `addr`, binding the local end to `source` if given.
pub async fn connect(url: &str, addr: SocketAddr, source: Option<IpAddr>) -> anyhow::Result<Socket> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0)).with_context(|| format!("binding to {ip}"))?;
    }
    let stream = socket.connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))
        .await
        .context("websocket handshake")?;
    Ok(ws)
}

/// Connects and logs in as `name` with `key`; fails unless welcomed.
pub async fn login(
    url: &str,
    addr: SocketAddr,
    source: Option<IpAddr>,
    key: ed25519_dalek::SigningKey,
    name: &str,
) -> anyhow::Result<Client> {
    tokio::time::timeout(LOGIN_TIMEOUT, async {
        let mut ws = connect(url, addr, source).await?;
        let challenge = next_text(&mut ws).await?;
        let ServerFrame::Challenge { nonce, relay, .. } =
            serde_json::from_str(&challenge).with_context(|| format!("decoding the challenge {challenge}"))?
        else {
            bail!("expected a challenge, got {challenge}");
        };
        let (public, sig) = sign_login(&key, &nonce, &relay);
        let login = ClientFrame::Login(LoginFrame {
            rid: 1,
            nonce,
            key: public,
            sig,
            name: name.to_owned(),
            facts: Vec::new(),
        });
        ws.send(Message::text(serde_json::to_string(&login)?)).await?;
        let welcome = next_text(&mut ws).await?;
        match frame_kind(&welcome) {
            Kind::Welcome => Ok(Client { ws, key, relay, welcome_bytes: welcome.len() }),
            _ => bail!("login refused: {}", truncate(&welcome, 300)),
        }
    })
    .await
    .map_err(|_| anyhow!("login took longer than {LOGIN_TIMEOUT:?}"))?
}

/// The next text message.
async fn next_text(ws: &mut Socket) -> anyhow::Result<String> {
    loop {
        match ws.next().await.ok_or_else(|| anyhow!("connection closed"))?? {
            Message::Text(text) => return Ok(text.as_str().to_owned()),
            Message::Close(frame) => bail!("connection closed: {frame:?}"),
            _ => {}
        }
    }
}

/// The kinds of server frame the benchmark tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `fact`.
    Fact,
    /// `ack`.
    Ack,
    /// `error`.
    Error,
    /// `welcome`.
    Welcome,
    /// Anything else.
    Other,
}

/// The frame's `t`, read from the front of the text when the relay put it
/// first (it does), else by decoding the object's fields.
pub fn frame_kind(text: &str) -> Kind {
    if let Some((tag, _)) = text.strip_prefix(r#"{"t":""#).and_then(|rest| rest.split_once('"')) {
        return kind_of(tag);
    }
    #[derive(serde::Deserialize)]
    struct Head {
        t: String,
    }
    serde_json::from_str::<Head>(text).map_or(Kind::Other, |head| kind_of(&head.t))
}

fn kind_of(tag: &str) -> Kind {
    match tag {
        "fact" => Kind::Fact,
        "ack" => Kind::Ack,
        "error" => Kind::Error,
        "welcome" => Kind::Welcome,
        _ => Kind::Other,
    }
}

/// The `code` of an error frame.
pub fn error_code(text: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Error {
        code: String,
    }
    serde_json::from_str::<Error>(text).map(|e| e.code).unwrap_or_else(|_| "unreadable".into())
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_kinds_are_read_from_the_tag() {
        assert_eq!(frame_kind(r#"{"t":"fact","fact":{}}"#), Kind::Fact);
        assert_eq!(frame_kind(r#"{"t":"ack","rid":3}"#), Kind::Ack);
        assert_eq!(frame_kind(r#"{"rid":3,"t":"error","code":"x","message":""}"#), Kind::Error);
        assert_eq!(frame_kind("not json"), Kind::Other);
        assert_eq!(error_code(r#"{"t":"error","rid":null,"code":"slow_consumer","message":"m"}"#), "slow_consumer");
    }

    #[test]
    fn client_keys_differ_per_index() {
        let seed = [7; 32];
        assert_ne!(client_key(&seed, 1).to_bytes(), client_key(&seed, 2).to_bytes());
        assert_eq!(client_key(&seed, 5).to_bytes(), client_key(&seed, 5).to_bytes());
    }
}
