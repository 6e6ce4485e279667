//! The WebRTC links the driver asked for, by [`LinkId`]: made on other tasks
//! (offers and answers take ICE gathering), their events forwarded to the
//! shell's queue tagged with the link.

use crate::shell::Internal;
use catalk_core::client::LinkId;
use catalk_rtc::{LinkEvent, PathProbe, PeerLink, RtcConfig, SendError};
use std::collections::HashMap;
use tokio::sync::mpsc;

/// Reads of a just opened link's path before giving up (it then counts as direct).
const PATH_ATTEMPTS: u32 = 4;
/// Pause between those reads.
const PATH_RETRY: std::time::Duration = std::time::Duration::from_millis(400);

/// Reads which path a just opened link takes and reports [`Internal::LinkPath`]; the selected
/// pair may not be known at the very moment the channel opens.
async fn report_path(probe: PathProbe, link: LinkId, events: mpsc::UnboundedSender<Internal>) {
    for attempt in 0..PATH_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(PATH_RETRY).await;
        }
        if let Some(turn) = probe.uses_turn().await {
            let _ = events.send(Internal::LinkPath { link, turn });
            return;
        }
    }
}

/// The open or opening links of one shell.
#[derive(Default)]
pub struct Links {
    by_id: HashMap<LinkId, PeerLink>,
}

impl Links {
    /// Starts making our offer on another task; reports [`Internal::LinkMade`].
    pub fn offer(rtc: &RtcConfig, link: LinkId, events: &mpsc::UnboundedSender<Internal>) {
        let (rtc, events) = (rtc.clone(), events.clone());
        tokio::spawn(async move {
            let result = PeerLink::offer(&rtc).await;
            let _ = events.send(Internal::LinkMade { link, result });
        });
    }

    /// Starts making our answer to `sdp` on another task; reports [`Internal::LinkMade`].
    pub fn answer(rtc: &RtcConfig, link: LinkId, sdp: String, events: &mpsc::UnboundedSender<Internal>) {
        let (rtc, events) = (rtc.clone(), events.clone());
        tokio::spawn(async move {
            let result = PeerLink::answer(&rtc, &sdp).await;
            let _ = events.send(Internal::LinkMade { link, result });
        });
    }

    /// Keeps a made link and forwards its events to the shell.
    pub fn keep(
        &mut self,
        link: LinkId,
        peer_link: PeerLink,
        mut rx: mpsc::Receiver<LinkEvent>,
        events: &mpsc::UnboundedSender<Internal>,
    ) {
        let probe = peer_link.path_probe();
        self.by_id.insert(link, peer_link);
        let events = events.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let opened = event == LinkEvent::Open;
                if events.send(Internal::Link { link, event }).is_err() {
                    return;
                }
                if opened {
                    tokio::spawn(report_path(probe.clone(), link, events.clone()));
                }
            }
        });
    }

    /// The link `link`, if kept.
    pub fn get(&self, link: LinkId) -> Option<&PeerLink> {
        self.by_id.get(&link)
    }

    /// Queues a message on `link`.
    pub fn send(&self, link: LinkId, text: String) -> Result<(), SendError> {
        self.by_id.get(&link).map_or(Err(SendError::Closed), |l| l.send(text))
    }

    /// Closes `link` (on another task).
    pub fn close(&mut self, link: LinkId) {
        if let Some(peer_link) = self.by_id.remove(&link) {
            tokio::spawn(peer_link.close());
        }
    }

    /// Closes every link.
    pub fn close_all(&mut self) {
        for (_, peer_link) in self.by_id.drain() {
            tokio::spawn(peer_link.close());
        }
    }
}
