//! The driver's WebRTC links: made, answered, completed, written to and closed
//! as it asks; every link event goes back to it with the link's [`LinkId`].

use super::Shell;
use crate::js;
use crate::rtc::{LinkEvents, PeerLink};
use catalk_core::client::{Input, LinkId};
use catalk_proto::IceServer;
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;

/// Reads of a just opened link's path before giving up (it then counts as direct).
const PATH_ATTEMPTS: u32 = 4;
/// Pause between those reads.
const PATH_RETRY_MS: u32 = 400;

impl Shell {
    /// Makes a connection and its offer (`LinkSdp`, or `LinkFailed`).
    pub(super) fn make_offer(self: &Rc<Self>, link: LinkId, ice_servers: &[IceServer]) {
        let (shell, epoch, ice_servers) = (Rc::clone(self), self.epoch.get(), js::to_js(&ice_servers));
        spawn_local(async move {
            let made = PeerLink::offer(&ice_servers, events(&shell, epoch, link)).await;
            shell.link_made(epoch, link, made);
        });
    }

    /// Makes a connection answering `sdp` (`LinkSdp`, or `LinkFailed`).
    pub(super) fn make_answer(self: &Rc<Self>, link: LinkId, sdp: String, ice_servers: &[IceServer]) {
        let (shell, epoch, ice_servers) = (Rc::clone(self), self.epoch.get(), js::to_js(&ice_servers));
        spawn_local(async move {
            let made = PeerLink::answer(&ice_servers, &sdp, events(&shell, epoch, link)).await;
            shell.link_made(epoch, link, made);
        });
    }

    fn link_made(self: &Rc<Self>, epoch: u64, link: LinkId, made: Result<(PeerLink, String), String>) {
        if self.epoch.get() != epoch {
            return; // Made for an earlier identity: dropping it closes it.
        }
        let input = match made {
            Ok((peer_link, sdp)) => {
                let replaced = self.links.borrow_mut().insert(link, peer_link);
                drop(replaced);
                Input::LinkSdp { link, sdp }
            }
            Err(reason) => {
                web_sys::console::warn_1(&format!("catalk: WebRTC {link} failed: {reason}").into());
                Input::LinkFailed { link, reason }
            }
        };
        self.answer(epoch, input);
    }

    /// Gives our offer's connection the peer's answer (`LinkFailed` if refused).
    pub(super) fn accept_answer(self: &Rc<Self>, link: LinkId, sdp: &str) {
        let accept = self.links.borrow().get(&link).map(|peer_link| peer_link.accept_answer(sdp));
        let Some(accept) = accept else {
            self.feed(Input::LinkFailed { link, reason: "no such connection".into() });
            return;
        };
        let (shell, epoch) = (Rc::clone(self), self.epoch.get());
        spawn_local(async move {
            if let Err(reason) = accept.await {
                web_sys::console::warn_1(&format!("catalk: WebRTC answer for {link} refused: {reason}").into());
                shell.answer(epoch, Input::LinkFailed { link, reason });
            }
        });
    }

    /// Closes a link; the driver needs none of its events afterwards.
    pub(super) fn close_link(&self, link: LinkId) {
        let removed = self.links.borrow_mut().remove(&link);
        if let Some(peer_link) = removed {
            peer_link.close();
            // Dropped in a later turn: this may run inside one of the link's own callbacks.
            spawn_local(async move { drop(peer_link) });
        }
    }

    /// Reads which path the open link takes and tells the driver (`LinkPath`).
    fn report_path(self: &Rc<Self>, epoch: u64, link: LinkId) {
        let shell = Rc::clone(self);
        spawn_local(async move {
            // The selected pair may not be in the stats at the very moment the channel opens.
            for attempt in 0..PATH_ATTEMPTS {
                if attempt > 0 {
                    gloo_timers::future::TimeoutFuture::new(PATH_RETRY_MS).await;
                }
                let Some(path) = shell.links.borrow().get(&link).map(PeerLink::uses_turn) else { return };
                if let Some(turn) = path.await {
                    shell.answer(epoch, Input::LinkPath { link, turn });
                    return;
                }
            }
        });
    }

    /// Sends on a link's data channel.
    pub(super) fn to_peer(&self, link: LinkId, text: String) {
        if let Some(peer_link) = self.links.borrow().get(&link) {
            peer_link.send(text);
        }
    }
}

/// A link's events, reported to the client of `epoch` with the link's id.
fn events(shell: &Rc<Shell>, epoch: u64, link: LinkId) -> LinkEvents {
    let weak = Rc::downgrade(shell);
    let report = move |input: Input| {
        if let Some(shell) = weak.upgrade() {
            shell.answer(epoch, input);
        }
    };
    let (open, text, close) = (report.clone(), report.clone(), report);
    let weak = Rc::downgrade(shell);
    LinkEvents {
        on_open: Box::new(move || {
            open(Input::LinkOpen { link });
            if let Some(shell) = weak.upgrade() {
                shell.report_path(epoch, link);
            }
        }),
        on_text: Box::new(move |message| text(Input::LinkText { link, text: message })),
        on_close: Box::new(move || close(Input::LinkClosed { link })),
    }
}
