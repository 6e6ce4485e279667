//! One peer connection carrying the ordered "catalk-sync" data channel.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot, watch};
use tracing::{Instrument, debug, info_span, warn};
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceCandidate,
    RTCIceCandidateType, RTCIceConnectionState, RTCIceGatheringState, RTCIceServer, RTCPeerConnectionState,
    RTCSessionDescription, SettingEngineBuilder,
};

use crate::{CHANNEL_LABEL, MAX_MESSAGE_BYTES, RtcConfig, RtcError, SendError};

/// Events buffered for a slow reader of the event receiver; beyond it the link stops reading
/// the data channel, which in turn stops the peer through SCTP flow control.
const EVENT_CAPACITY: usize = 64;
/// How long a link that lost its connection keeps delivering messages already received.
const DRAIN_GRACE: Duration = Duration::from_millis(250);

/// What a link reports, in order: `Open`, any number of `Text`, then `Closed`, after which the
/// receiver yields `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The data channel opened; messages queued with [`PeerLink::send`] are now going out.
    Open,
    /// A text message from the peer.
    Text(String),
    /// The channel closed, the peer went away (ICE or DTLS failed or disconnected), or the link
    /// was closed locally. Sent once, last.
    Closed,
}

/// State shared by the link handle, its task and the peer connection's event handler.
struct Shared {
    /// Becomes true when ICE gathering completes.
    gathered: watch::Sender<bool>,
    /// Becomes true when the link is over, for whatever reason.
    dead: watch::Sender<bool>,
    /// Where the data channel goes once it exists (the offerer creates it, the answerer receives it).
    channel: Mutex<Option<oneshot::Sender<Arc<dyn DataChannel>>>>,
    /// The data channel, once the link task has it; used to close it first on [`PeerLink::close`].
    open_channel: Mutex<Option<Arc<dyn DataChannel>>>,
    /// Bytes in the send queue (including the message being handed to the channel).
    queued: AtomicUsize,
    queue_limit: usize,
    /// Signalled whenever the send queue shrinks or the link dies.
    drained: Notify,
}

impl Shared {
    fn kill(&self) {
        self.dead.send_replace(true);
        self.drained.notify_waiters();
    }
}

/// Feeds peer-connection callbacks into [`Shared`].
struct Handler {
    shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.shared.gathered.send_replace(true);
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        debug!(%state, "ICE connection state");
        if matches!(
            state,
            RTCIceConnectionState::Disconnected | RTCIceConnectionState::Failed | RTCIceConnectionState::Closed
        ) {
            self.shared.kill();
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        debug!(%state, "peer connection state");
        if matches!(
            state,
            RTCPeerConnectionState::Disconnected | RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
        ) {
            self.shared.kill();
        }
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let label = channel.label().await.unwrap_or_default();
        if label != CHANNEL_LABEL {
            warn!(label, "ignoring a data channel with an unexpected label");
            return;
        }
        let slot = self.shared.channel.lock().unwrap_or_else(PoisonError::into_inner).take();
        match slot {
            Some(slot) => drop(slot.send(channel)),
            None => warn!("ignoring a second catalk-sync data channel"),
        }
    }
}

/// Reads which candidates an open link's ICE agent selected (see [`PeerLink::path_probe`]).
#[derive(Clone)]
pub struct PathProbe {
    pc: Arc<dyn PeerConnection>,
}

impl PathProbe {
    /// Whether either candidate of the selected pair is a TURN relay candidate; `None` before
    /// ICE selected a pair (or once the connection is gone).
    pub async fn uses_turn(&self) -> Option<bool> {
        let sctp = self.pc.sctp().await?;
        let pair = sctp.transport().ice_transport().get_selected_candidate_pair().await.ok()??;
        let relayed = |candidate: &RTCIceCandidate| candidate.typ == RTCIceCandidateType::Relay;
        Some(relayed(pair.local()) || relayed(pair.remote()))
    }
}

/// A WebRTC peer connection with one ordered data channel labelled `"catalk-sync"`, negotiated
/// without trickle ICE: the SDP returned by [`offer`](Self::offer) and [`answer`](Self::answer)
/// already carries every candidate.
///
/// Dropping the link closes it, as [`close`](Self::close) does but without waiting.
pub struct PeerLink {
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<String>,
}

impl PeerLink {
    /// Starts a link as the offering side: creates the data channel and returns the offer SDP
    /// to signal, once ICE gathering is complete (or after `config.gather_timeout`). Complete
    /// the link with [`accept_answer`](Self::accept_answer).
    pub async fn offer(config: &RtcConfig) -> Result<(PeerLink, String, mpsc::Receiver<LinkEvent>), RtcError> {
        let (pc, shared, channel) = connect(config).await?;
        let negotiated = async {
            let init = RTCDataChannelInit { ordered: true, ..Default::default() };
            let dc = pc.create_data_channel(CHANNEL_LABEL, Some(init)).await.map_err(RtcError::negotiate)?;
            let offer = pc.create_offer(None).await.map_err(RtcError::negotiate)?;
            pc.set_local_description(offer).await.map_err(RtcError::negotiate)?;
            let sdp = gathered_sdp(pc.as_ref(), &shared, config.gather_timeout).await?;
            Ok((dc, sdp))
        }
        .await;
        match negotiated {
            Ok((dc, sdp)) => {
                let slot = shared.channel.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(slot) = slot {
                    drop(slot.send(dc));
                }
                let (link, events) = Self::start(pc, shared, channel, "offerer");
                Ok((link, sdp, events))
            }
            Err(error) => {
                drop(pc.close().await);
                Err(error)
            }
        }
    }

    /// Answers an offer: returns the link and the answer SDP to signal back, once ICE gathering
    /// is complete (or after `config.gather_timeout`).
    pub async fn answer(
        config: &RtcConfig,
        offer_sdp: &str,
    ) -> Result<(PeerLink, String, mpsc::Receiver<LinkEvent>), RtcError> {
        let offer =
            RTCSessionDescription::offer(offer_sdp.to_owned()).map_err(|e| RtcError::invalid_sdp("offer", e))?;
        let (pc, shared, channel) = connect(config).await?;
        let negotiated = async {
            pc.set_remote_description(offer).await.map_err(|e| RtcError::invalid_sdp("offer", e))?;
            let answer = pc.create_answer(None).await.map_err(RtcError::negotiate)?;
            pc.set_local_description(answer).await.map_err(RtcError::negotiate)?;
            gathered_sdp(pc.as_ref(), &shared, config.gather_timeout).await
        }
        .await;
        match negotiated {
            Ok(sdp) => {
                let (link, events) = Self::start(pc, shared, channel, "answerer");
                Ok((link, sdp, events))
            }
            Err(error) => {
                drop(pc.close().await);
                Err(error)
            }
        }
    }

    /// Completes a link made with [`offer`](Self::offer) with the peer's answer SDP.
    pub async fn accept_answer(&self, answer_sdp: &str) -> Result<(), RtcError> {
        let answer =
            RTCSessionDescription::answer(answer_sdp.to_owned()).map_err(|e| RtcError::invalid_sdp("answer", e))?;
        self.pc.set_remote_description(answer).await.map_err(|e| RtcError::invalid_sdp("answer", e))
    }

    /// A handle that tells, once the link is open, whether it goes through a TURN server.
    pub fn path_probe(&self) -> PathProbe {
        PathProbe { pc: Arc::clone(&self.pc) }
    }

    /// Queues a text message (at most [`MAX_MESSAGE_BYTES`]) and returns at once. Messages queued
    /// before [`LinkEvent::Open`] go out when the channel opens. A task hands the queue to the
    /// data channel while less than [`RtcConfig::send_high_water`] is unacknowledged by the peer,
    /// and resumes as the peer acknowledges; when the peer stops reading, the queue grows to
    /// [`RtcConfig::send_queue_limit`] and this returns [`SendError::QueueFull`].
    pub fn send(&self, text: String) -> Result<(), SendError> {
        self.reserve(text.len())?;
        self.queue.send(text).map_err(|_| SendError::Closed)
    }

    /// Like [`send`](Self::send), but waits for room in the queue instead of reporting
    /// [`SendError::QueueFull`].
    pub async fn send_wait(&self, text: String) -> Result<(), SendError> {
        loop {
            let drained = self.shared.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            match self.reserve(text.len()) {
                Ok(()) => return self.queue.send(text).map_err(|_| SendError::Closed),
                Err(SendError::QueueFull { .. }) => drained.await,
                Err(error) => return Err(error),
            }
        }
    }

    /// Bytes queued by [`send`](Self::send) and not yet handed to the data channel.
    pub fn queued_bytes(&self) -> usize {
        self.shared.queued.load(Ordering::Acquire)
    }

    /// Whether the link is over (the event receiver has or will soon get [`LinkEvent::Closed`]).
    pub fn is_closed(&self) -> bool {
        *self.shared.dead.borrow()
    }

    /// Closes the data channel and the peer connection; the peer sees the channel close.
    /// Messages still queued are dropped.
    pub async fn close(self) {
        let channel = self.shared.open_channel.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(channel) = channel {
            drop(channel.close().await);
        }
        self.shared.kill();
        drop(self.pc.close().await);
    }

    fn start(
        pc: Arc<dyn PeerConnection>,
        shared: Arc<Shared>,
        channel: oneshot::Receiver<Arc<dyn DataChannel>>,
        role: &'static str,
    ) -> (PeerLink, mpsc::Receiver<LinkEvent>) {
        let (queue, queue_rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::channel(EVENT_CAPACITY);
        let task = run(Arc::clone(&pc), Arc::clone(&shared), channel, queue_rx, events_tx);
        tokio::spawn(task.instrument(info_span!("rtc_link", role)));
        (PeerLink { pc, shared, queue }, events)
    }

    fn reserve(&self, len: usize) -> Result<(), SendError> {
        if len > MAX_MESSAGE_BYTES {
            return Err(SendError::TooLarge { len, max: MAX_MESSAGE_BYTES });
        }
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        let limit = self.shared.queue_limit;
        self.shared
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                // An empty queue takes any message, so a limit below one message cannot wedge it.
                (queued == 0 || queued + len <= limit).then_some(queued + len)
            })
            .map(drop)
            .map_err(|queued| SendError::QueueFull { queued, limit })
    }
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        // The link task sees this, closes the peer connection and reports `Closed`.
        self.shared.kill();
    }
}

/// Builds the peer connection; the returned receiver gets the data channel once it exists.
async fn connect(
    config: &RtcConfig,
) -> Result<(Arc<dyn PeerConnection>, Arc<Shared>, oneshot::Receiver<Arc<dyn DataChannel>>), RtcError> {
    let (channel_tx, channel_rx) = oneshot::channel();
    let shared = Arc::new(Shared {
        gathered: watch::Sender::new(false),
        dead: watch::Sender::new(false),
        channel: Mutex::new(Some(channel_tx)),
        open_channel: Mutex::new(None),
        queued: AtomicUsize::new(0),
        queue_limit: config.send_queue_limit,
        drained: Notify::new(),
    });
    let ice_servers = config
        .ice_servers
        .iter()
        .map(|server| RTCIceServer {
            urls: server.urls.clone(),
            username: server.username.clone().unwrap_or_default(),
            credential: server.credential.clone().unwrap_or_default(),
        })
        .collect();
    let bind = config.udp_bind.unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().with_ice_servers(ice_servers).build())
        .with_setting_engine(SettingEngineBuilder::new().build())
        .with_handler(Arc::new(Handler { shared: Arc::clone(&shared) }))
        .with_udp_addrs(vec![bind])
        .with_data_channel_send_buffer_limit(config.send_high_water)
        .build()
        .await
        .map_err(RtcError::create)?;
    Ok((Arc::new(pc), shared, channel_rx))
}

/// The local SDP once ICE gathering is complete, or what was gathered when `timeout` ran out.
async fn gathered_sdp(pc: &dyn PeerConnection, shared: &Shared, timeout: Duration) -> Result<String, RtcError> {
    let mut gathered = shared.gathered.subscribe();
    if tokio::time::timeout(timeout, until_true(&mut gathered)).await.is_err() {
        warn!(?timeout, "ICE gathering incomplete; signalling the candidates gathered so far");
    }
    pc.local_description().await.map(|description| description.sdp).ok_or(RtcError::NoLocalDescription)
}

/// The link task: waits for the data channel, then reads and writes it until the link is over.
async fn run(
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    channel: oneshot::Receiver<Arc<dyn DataChannel>>,
    mut queue: mpsc::UnboundedReceiver<String>,
    events: mpsc::Sender<LinkEvent>,
) {
    let mut dead = shared.dead.subscribe();
    let channel = tokio::select! {
        channel = channel => channel.ok(),
        () = until_true(&mut dead) => None,
    };
    if let Some(dc) = channel {
        *shared.open_channel.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&dc));
        let open = watch::Sender::new(false);
        let read = read(dc.as_ref(), &events, &open);
        let write = write(dc.as_ref(), &shared, &mut queue, open.subscribe());
        tokio::pin!(read, write);
        tokio::select! {
            () = &mut read => debug!("data channel closed"),
            () = &mut write => debug!("data channel refused a message"),
            () = until_true(&mut dead) => {
                debug!("peer connection gone or link closed");
                // Closing ends the channel's event stream after what already arrived, which is
                // still delivered (unless the receiver is not being drained).
                drop(pc.close().await);
                drop(tokio::time::timeout(DRAIN_GRACE, &mut read).await);
            }
        }
    }
    // The channel handle refers back to the connection, whose handler holds `shared`.
    shared.open_channel.lock().unwrap_or_else(PoisonError::into_inner).take();
    shared.kill();
    drop(pc.close().await);
    drop(events.send(LinkEvent::Closed).await);
}

/// Forwards data-channel events to the link's receiver until the channel closes.
async fn read(dc: &dyn DataChannel, events: &mpsc::Sender<LinkEvent>, open: &watch::Sender<bool>) {
    while let Some(event) = dc.poll().await {
        let event = match event {
            DataChannelEvent::OnOpen => {
                open.send_replace(true);
                LinkEvent::Open
            }
            DataChannelEvent::OnMessage(message) if message.is_string => {
                match String::from_utf8(Vec::from(message.data)) {
                    Ok(text) => LinkEvent::Text(text),
                    Err(_) => {
                        warn!("dropped a text message that is not UTF-8");
                        continue;
                    }
                }
            }
            DataChannelEvent::OnMessage(message) => {
                warn!(len = message.data.len(), "dropped a binary message");
                continue;
            }
            DataChannelEvent::OnClose => return,
            _ => continue,
        };
        // A dropped receiver only means nobody listens; keep draining the channel.
        drop(events.send(event).await);
    }
}

/// Hands queued messages to the data channel once it is open. `send_text` waits while
/// [`RtcConfig::send_high_water`] bytes are unacknowledged (the driver wakes it as the peer
/// acknowledges).
async fn write(
    dc: &dyn DataChannel,
    shared: &Shared,
    queue: &mut mpsc::UnboundedReceiver<String>,
    mut open: watch::Receiver<bool>,
) {
    until_true(&mut open).await;
    while let Some(text) = queue.recv().await {
        let sent = dc.send_text(&text).await;
        shared.queued.fetch_sub(text.len(), Ordering::AcqRel);
        shared.drained.notify_waiters();
        if let Err(error) = sent {
            warn!(%error, "data channel send failed");
            return;
        }
    }
}

/// Resolves once the flag is true, or never if its sender is gone while it is false.
async fn until_true(flag: &mut watch::Receiver<bool>) {
    if flag.wait_for(|value| *value).await.is_err() {
        std::future::pending::<()>().await;
    }
}
