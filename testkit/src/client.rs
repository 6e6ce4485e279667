//! A websocket client that speaks the catalk protocol for tests and benchmarks.

use anyhow::{Context as _, anyhow, bail};
use catalk_proto::{
    ChannelName, ClientFrame, DraftId, Fact, LoginFrame, Nonce, PostFrame, PublicKey, ServerFrame, WelcomeFrame,
    sign_login, sign_post,
};
use futures_util::{SinkExt as _, StreamExt as _};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for one frame before failing.
const RECV_TIMEOUT: Duration = Duration::from_secs(10);

static DRAFT_COUNTER: AtomicU64 = AtomicU64::new(1);

/// One websocket connection to a relay.
#[derive(Debug)]
pub struct TestClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The client's signing key.
    pub key: ed25519_dalek::SigningKey,
    /// The relay key from the challenge.
    pub relay: PublicKey,
    /// The nonce from the challenge.
    pub nonce: Nonce,
    /// The older relay keys the challenge says the relay still accepts.
    pub older_keys: Vec<PublicKey>,
    /// The earlier keys' endorsements of the relay's key, from the challenge.
    pub endorsed_by: Vec<catalk_proto::Endorsement>,
    /// The welcome frame, once logged in.
    pub welcome: Option<WelcomeFrame>,
    next_rid: u64,
    backlog: VecDeque<ServerFrame>,
}

impl TestClient {
    /// Connects and reads the challenge.
    pub async fn connect(url: &str, key: ed25519_dalek::SigningKey) -> anyhow::Result<Self> {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.context("websocket connect")?;
        let mut client = Self {
            ws,
            key,
            relay: PublicKey::from_bytes([0; 32]),
            nonce: Nonce::from_bytes([0; 32]),
            older_keys: Vec::new(),
            endorsed_by: Vec::new(),
            welcome: None,
            next_rid: 1,
            backlog: VecDeque::new(),
        };
        match client.recv_raw().await? {
            ServerFrame::Challenge { nonce, relay, trusted, endorsed_by, .. } => {
                client.nonce = nonce;
                client.relay = relay;
                client.older_keys = trusted;
                client.endorsed_by = endorsed_by;
            }
            other => bail!("expected a challenge, got {other:?}"),
        }
        Ok(client)
    }

    /// Connects and logs in as `name`, presenting `facts`; fails unless welcomed.
    pub async fn login_with(
        url: &str,
        key: ed25519_dalek::SigningKey,
        name: &str,
        facts: Vec<Fact>,
    ) -> anyhow::Result<Self> {
        let mut client = Self::connect(url, key).await?;
        let frame = client.login_frame(name, facts);
        match client.request(&frame).await? {
            ServerFrame::Welcome(welcome) => client.welcome = Some(*welcome),
            other => bail!("login refused: {other:?}"),
        }
        Ok(client)
    }

    /// Connects and logs in as `name`.
    pub async fn login(url: &str, key: ed25519_dalek::SigningKey, name: &str) -> anyhow::Result<Self> {
        Self::login_with(url, key, name, Vec::new()).await
    }

    /// A correct login frame for this connection's challenge.
    pub fn login_frame(&mut self, name: &str, facts: Vec<Fact>) -> ClientFrame {
        let (key, sig) = sign_login(&self.key, &self.nonce, &self.relay);
        ClientFrame::Login(LoginFrame { rid: self.rid(), nonce: self.nonce, key, sig, name: name.to_owned(), facts })
    }

    /// This client's public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::of(&self.key)
    }

    /// A fresh request id.
    pub fn rid(&mut self) -> u64 {
        let rid = self.next_rid;
        self.next_rid += 1;
        rid
    }

    /// Sends a text message as is.
    pub async fn send_text(&mut self, text: &str) -> anyhow::Result<()> {
        self.ws.send(Message::Text(text.into())).await.context("send")
    }

    /// Sends a binary message as is.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.ws.send(Message::Binary(bytes.into())).await.context("send")
    }

    /// Sends a frame.
    pub async fn send(&mut self, frame: &ClientFrame) -> anyhow::Result<()> {
        let text = serde_json::to_string(frame)?;
        self.send_text(&text).await
    }

    async fn recv_raw(&mut self) -> anyhow::Result<ServerFrame> {
        loop {
            let message = tokio::time::timeout(RECV_TIMEOUT, self.ws.next())
                .await
                .map_err(|_| anyhow!("no frame within {RECV_TIMEOUT:?}"))?
                .ok_or_else(|| anyhow!("connection closed"))??;
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(&text).with_context(|| format!("decoding {text}"));
                }
                Message::Close(frame) => bail!("connection closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// The next frame (from the backlog first).
    pub async fn recv(&mut self) -> anyhow::Result<ServerFrame> {
        match self.backlog.pop_front() {
            Some(frame) => Ok(frame),
            None => self.recv_raw().await,
        }
    }

    /// Waits for the frame that answers `rid` (ack, welcome or error), keeping others for later.
    pub async fn answer_to(&mut self, rid: u64) -> anyhow::Result<ServerFrame> {
        if let Some(pos) = self.backlog.iter().position(|f| answers(f, rid)) {
            return self.backlog.remove(pos).ok_or_else(|| anyhow!("backlog"));
        }
        loop {
            let frame = self.recv_raw().await?;
            if answers(&frame, rid) {
                return Ok(frame);
            }
            self.backlog.push_back(frame);
        }
    }

    /// Sends `frame` and waits for its answer.
    pub async fn request(&mut self, frame: &ClientFrame) -> anyhow::Result<ServerFrame> {
        self.send(frame).await?;
        self.answer_to(frame.rid()).await
    }

    /// A signed post frame for `channel` and `text`.
    pub fn post_frame(&mut self, channel: &str, text: &str) -> ClientFrame {
        let draft = DraftId::from_parts(1, u128::from(DRAFT_COUNTER.fetch_add(1, Ordering::Relaxed)));
        let name = ChannelName::new(channel).unwrap_or_else(|_| ChannelName::general());
        let sig = sign_post(&self.key, &self.relay, &name, &draft, text);
        ClientFrame::Post(PostFrame { rid: self.rid(), channel: channel.to_owned(), draft, text: text.to_owned(), sig })
    }

    /// Posts and waits for the answer.
    pub async fn post(&mut self, channel: &str, text: &str) -> anyhow::Result<ServerFrame> {
        let frame = self.post_frame(channel, text);
        self.request(&frame).await
    }

    /// The next live fact that satisfies `accept`, skipping other frames.
    pub async fn fact_where(&mut self, accept: impl Fn(&Fact) -> bool) -> anyhow::Result<Fact> {
        if let Some(pos) = self.backlog.iter().position(|f| matches!(f, ServerFrame::Fact { fact } if accept(fact)))
            && let Some(ServerFrame::Fact { fact }) = self.backlog.remove(pos)
        {
            return Ok(fact);
        }
        loop {
            match self.recv_raw().await? {
                ServerFrame::Fact { fact } if accept(&fact) => return Ok(fact),
                other => self.backlog.push_back(other),
            }
        }
    }

    /// The next signal frame, skipping others.
    pub async fn signal(&mut self) -> anyhow::Result<(PublicKey, u64, String)> {
        loop {
            match self.recv().await? {
                ServerFrame::Signal { from, from_conn, payload } => return Ok((from, from_conn, payload)),
                _ => continue,
            }
        }
    }

    /// Frames received but not yet consumed, plus any that arrive within `wait`.
    pub async fn drain(&mut self, wait: Duration) -> Vec<ServerFrame> {
        let mut frames: Vec<ServerFrame> = self.backlog.drain(..).collect();
        while let Ok(Some(Ok(message))) = tokio::time::timeout(wait, self.ws.next()).await {
            if let Message::Text(text) = message
                && let Ok(frame) = serde_json::from_str(&text)
            {
                frames.push(frame);
            }
        }
        frames
    }

    /// Waits until the relay closes the connection; returns the frames sent before the close.
    pub async fn until_closed(&mut self) -> anyhow::Result<Vec<ServerFrame>> {
        let mut frames: Vec<ServerFrame> = self.backlog.drain(..).collect();
        loop {
            let next = tokio::time::timeout(RECV_TIMEOUT, self.ws.next())
                .await
                .map_err(|_| anyhow!("connection still open after {RECV_TIMEOUT:?}"))?;
            match next {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(frames),
                Some(Ok(Message::Text(text))) => frames.push(serde_json::from_str(&text)?),
                Some(Ok(_)) => {}
            }
        }
    }
}

fn answers(frame: &ServerFrame, rid: u64) -> bool {
    match frame {
        ServerFrame::Ack { rid: r, .. } => *r == rid,
        ServerFrame::Error { rid: r, .. } => *r == Some(rid) || r.is_none(),
        ServerFrame::Welcome(w) => w.rid == rid,
        _ => false,
    }
}
