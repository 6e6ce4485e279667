//! One WebRTC data channel to another browser (or a virtual client), with
//! non-trickle signaling (the full SDP, candidates included, in one message)
//! and flow control on `bufferedAmount`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelEvent, RtcDataChannelInit, RtcDataChannelState,
    RtcIceGatheringState, RtcPeerConnection, RtcSdpType, RtcSessionDescriptionInit,
};

/// Stop sending above this many buffered bytes; resume below the low mark.
const HIGH_WATER: u32 = 1024 * 1024;
const LOW_WATER: u32 = 256 * 1024;
/// Longest wait for ICE gathering before sending what was gathered.
const GATHER_TIMEOUT_MS: i32 = 3_000;

/// What a link reports.
pub struct LinkEvents {
    /// The data channel opened.
    pub on_open: Box<dyn FnMut()>,
    /// A text message arrived.
    pub on_text: Box<dyn FnMut(String)>,
    /// The data channel closed or the connection failed.
    pub on_close: Box<dyn FnMut()>,
}

struct Channel {
    dc: Option<RtcDataChannel>,
    queue: VecDeque<String>,
    events: Option<LinkEvents>,
    closures: Vec<Box<dyn std::any::Any>>,
}

/// A peer connection with at most one data channel.
pub struct PeerLink {
    pc: RtcPeerConnection,
    channel: Rc<RefCell<Channel>>,
    _ondatachannel: Option<Closure<dyn FnMut(RtcDataChannelEvent)>>,
}

fn err(value: JsValue) -> String {
    format!("{value:?}")
}

fn new_connection(ice_servers: &JsValue) -> Result<RtcPeerConnection, String> {
    let config = RtcConfiguration::new();
    if !ice_servers.is_undefined() && !ice_servers.is_null() {
        config.set_ice_servers(ice_servers);
    }
    RtcPeerConnection::new_with_configuration(&config).map_err(err)
}

/// Resolves once ICE gathering is complete (or after a timeout), so the SDP carries the candidates.
async fn gathered(pc: &RtcPeerConnection) {
    if pc.ice_gathering_state() == RtcIceGatheringState::Complete {
        return;
    }
    let pc_for_promise = pc.clone();
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let done = resolve.clone();
        let watcher = pc_for_promise.clone();
        let on_change = Closure::<dyn FnMut()>::new(move || {
            if watcher.ice_gathering_state() == RtcIceGatheringState::Complete {
                let _ = done.call0(&JsValue::NULL);
            }
        });
        pc_for_promise.set_onicegatheringstatechange(Some(on_change.as_ref().unchecked_ref()));
        on_change.forget();
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, GATHER_TIMEOUT_MS);
        }
    });
    let _ = JsFuture::from(promise).await;
    pc.set_onicegatheringstatechange(None);
}

fn local_sdp(pc: &RtcPeerConnection) -> Result<String, String> {
    pc.local_description().map(|d| d.sdp()).ok_or_else(|| "no local description".to_owned())
}

fn attach(channel: &Rc<RefCell<Channel>>, dc: RtcDataChannel) {
    let weak = Rc::downgrade(channel);
    let on_open = Closure::<dyn FnMut()>::new({
        let weak = weak.clone();
        move || {
            if let Some(ch) = weak.upgrade() {
                let events = ch.borrow_mut().events.take();
                if let Some(mut events) = events {
                    (events.on_open)();
                    ch.borrow_mut().events = Some(events);
                }
            }
        }
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
        let weak = weak.clone();
        move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else { return };
            if let Some(ch) = weak.upgrade() {
                let events = ch.borrow_mut().events.take();
                if let Some(mut events) = events {
                    (events.on_text)(text);
                    ch.borrow_mut().events = Some(events);
                }
            }
        }
    });
    let on_close = Closure::<dyn FnMut()>::new({
        let weak = weak.clone();
        move || {
            if let Some(ch) = weak.upgrade() {
                // Report once: the events are not put back.
                let events = ch.borrow_mut().events.take();
                if let Some(mut events) = events {
                    (events.on_close)();
                }
            }
        }
    });
    let on_low = Closure::<dyn FnMut()>::new(move || {
        if let Some(ch) = weak.upgrade() {
            flush(&mut ch.borrow_mut());
        }
    });
    dc.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    dc.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    dc.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    dc.set_buffered_amount_low_threshold(LOW_WATER);
    dc.set_onbufferedamountlow(Some(on_low.as_ref().unchecked_ref()));
    let mut ch = channel.borrow_mut();
    ch.closures.push(Box::new(on_open));
    ch.closures.push(Box::new(on_message));
    ch.closures.push(Box::new(on_close));
    ch.closures.push(Box::new(on_low));
    ch.dc = Some(dc);
}

fn flush(ch: &mut Channel) {
    let Some(dc) = ch.dc.clone() else { return };
    if dc.ready_state() != RtcDataChannelState::Open {
        return;
    }
    while dc.buffered_amount() < HIGH_WATER {
        let Some(text) = ch.queue.pop_front() else { break };
        if dc.send_with_str(&text).is_err() {
            break;
        }
    }
}

impl PeerLink {
    fn with_connection(pc: RtcPeerConnection, events: LinkEvents) -> Self {
        let channel = Rc::new(RefCell::new(Channel {
            dc: None,
            queue: VecDeque::new(),
            events: Some(events),
            closures: Vec::new(),
        }));
        Self { pc, channel, _ondatachannel: None }
    }

    /// Starts a connection as the offering side; returns the link and the offer SDP to signal.
    pub async fn offer(ice_servers: &JsValue, events: LinkEvents) -> Result<(Self, String), String> {
        let pc = new_connection(ice_servers)?;
        let link = Self::with_connection(pc, events);
        let init = RtcDataChannelInit::new();
        init.set_ordered(true);
        let dc = link.pc.create_data_channel_with_data_channel_dict("catalk-sync", &init);
        attach(&link.channel, dc);
        let offer = JsFuture::from(link.pc.create_offer()).await.map_err(err)?;
        let sdp = js_sys::Reflect::get(&offer, &"sdp".into()).ok().and_then(|s| s.as_string()).unwrap_or_default();
        let description = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        description.set_sdp(&sdp);
        JsFuture::from(link.pc.set_local_description(&description)).await.map_err(err)?;
        gathered(&link.pc).await;
        let sdp = local_sdp(&link.pc)?;
        Ok((link, sdp))
    }

    /// Answers an offer; returns the link and the answer SDP to signal back.
    pub async fn answer(ice_servers: &JsValue, offer_sdp: &str, events: LinkEvents) -> Result<(Self, String), String> {
        let pc = new_connection(ice_servers)?;
        let mut link = Self::with_connection(pc, events);
        let weak = Rc::downgrade(&link.channel);
        let on_channel = Closure::<dyn FnMut(RtcDataChannelEvent)>::new(move |event: RtcDataChannelEvent| {
            if let Some(channel) = weak.upgrade() {
                attach(&channel, event.channel());
            }
        });
        link.pc.set_ondatachannel(Some(on_channel.as_ref().unchecked_ref()));
        link._ondatachannel = Some(on_channel);
        let remote = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        remote.set_sdp(offer_sdp);
        JsFuture::from(link.pc.set_remote_description(&remote)).await.map_err(err)?;
        let answer = JsFuture::from(link.pc.create_answer()).await.map_err(err)?;
        let sdp = js_sys::Reflect::get(&answer, &"sdp".into()).ok().and_then(|s| s.as_string()).unwrap_or_default();
        let description = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        description.set_sdp(&sdp);
        JsFuture::from(link.pc.set_local_description(&description)).await.map_err(err)?;
        gathered(&link.pc).await;
        let sdp = local_sdp(&link.pc)?;
        Ok((link, sdp))
    }

    /// Completes an offer with the peer's answer. The future owns what it needs,
    /// so no borrow of the link is held while it runs.
    pub fn accept_answer(&self, answer_sdp: &str) -> impl std::future::Future<Output = Result<(), String>> + 'static {
        let pc = self.pc.clone();
        let remote = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        remote.set_sdp(answer_sdp);
        async move { JsFuture::from(pc.set_remote_description(&remote)).await.map_err(err).map(|_| ()) }
    }

    /// Sends a text message, queueing while the channel's buffer is above the high-water mark.
    pub fn send(&self, text: String) {
        let mut ch = self.channel.borrow_mut();
        ch.queue.push_back(text);
        flush(&mut ch);
    }

    /// Whether the open connection goes through a TURN server (`None`: its stats do not say).
    pub fn uses_turn(&self) -> impl std::future::Future<Output = Option<bool>> + 'static {
        crate::ice_path::uses_turn(&self.pc)
    }

    /// Closes the connection.
    pub fn close(&self) {
        if let Some(dc) = self.channel.borrow().dc.as_ref() {
            dc.close();
        }
        self.pc.close();
    }
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        self.pc.set_ondatachannel(None);
        if let Some(dc) = self.channel.borrow().dc.as_ref() {
            dc.set_onopen(None);
            dc.set_onmessage(None);
            dc.set_onclose(None);
            dc.set_onbufferedamountlow(None);
            dc.close();
        }
        self.pc.close();
    }
}
