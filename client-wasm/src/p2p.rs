//! Peer-to-peer history: drives `catalk_core::sync::SyncEngine` with WebRTC
//! data channels (signaled through the relay) and the IndexedDB store.
//!
//! Peers are identified by public key. The side that wants history makes the
//! offer; signaling payloads are JSON `{ "sync": 1, "type": "offer" | "answer", "sdp", "kind" }`
//! carrying the full SDP (non-trickle ICE).

use crate::client::{Shell, now_ms};
use crate::js;
use crate::rtc::{LinkEvents, PeerLink};
use crate::verify;
use catalk_core::HistoryStore;
use catalk_core::sync::{SyncInput, SyncOutput, load_page};
use catalk_proto::{Fact, FactBody, PeerKind, PeerMessage, PublicKey, SignalKind, SyncSignal};
use std::rc::Rc;

thread_local! {
    static NEXT_SERIAL: std::cell::Cell<u64> = const { std::cell::Cell::new(1) };
}

fn next_serial() -> u64 {
    NEXT_SERIAL.with(|n| {
        let serial = n.get();
        n.set(serial + 1);
        serial
    })
}

/// Replaces any link to `peer` without waiting for its close event, telling the engine it is gone.
fn replace_link(shell: &Rc<Shell>, peer: &str) {
    let old = shell.links.borrow_mut().remove(peer);
    if let Some(old) = old {
        drop(old); // Drop detaches the handlers, then closes.
        shell.sync_input(SyncInput::Disconnected { peer: peer.to_owned() });
    }
}

fn events(shell: &Rc<Shell>, peer: &str, kind: PeerKind, serial: u64) -> LinkEvents {
    let (open, text, close) = (Rc::downgrade(shell), Rc::downgrade(shell), Rc::downgrade(shell));
    let (p1, p2, p3) = (peer.to_owned(), peer.to_owned(), peer.to_owned());
    LinkEvents {
        on_open: Box::new(move || {
            if let Some(shell) = open.upgrade() {
                shell.sync_input(SyncInput::Connected { peer: p1.clone(), kind });
            }
        }),
        on_text: Box::new(move |message| {
            if let Some(shell) = text.upgrade() {
                shell.sync_input(SyncInput::Received { peer: p2.clone(), text: message });
            }
        }),
        on_close: Box::new(move || {
            if let Some(shell) = close.upgrade() {
                let peer = p3.clone();
                // Drop the link outside its own callback, and only if it is still this link.
                wasm_bindgen_futures::spawn_local(async move {
                    let current = shell.links.borrow().get(&peer).is_some_and(|l| l.serial == serial);
                    if current {
                        let link = shell.links.borrow_mut().remove(&peer);
                        drop(link);
                        shell.sync_input(SyncInput::Disconnected { peer });
                    }
                });
            }
        }),
    }
}

/// How long an answered offer may take to open its data channel before the peers
/// switch to the relay's fallback (when the relay offers one).
const FALLBACK_AFTER_MS: u32 = 4_000;

/// A peer key shortened for the journal.
fn short(peer: &str) -> &str {
    peer.get(..8).unwrap_or(peer)
}

/// Opens a data channel to `peer` (a public key) as the offering side.
pub fn connect(shell: &Rc<Shell>, peer: String) {
    let busy = shell.links.borrow().contains_key(&peer)
        || shell.relayed.borrow().contains_key(&peer)
        || shell.answering.borrow().contains(&peer)
        || !shell.offering.borrow_mut().insert(peer.clone());
    if busy {
        // A link exists or is being negotiated: its opening reports `Connected`.
        return;
    }
    let Ok(key) = peer.parse::<PublicKey>() else {
        shell.offering.borrow_mut().remove(&peer);
        return;
    };
    let shell = Rc::clone(shell);
    wasm_bindgen_futures::spawn_local(async move {
        let kind = shell.peer_kind(&peer);
        let serial = next_serial();
        let ice_servers = js::to_js(&*shell.ice_servers.borrow());
        let offer = PeerLink::offer(&ice_servers, events(&shell, &peer, kind, serial)).await;
        if !shell.offering.borrow_mut().remove(&peer) {
            // The peer's own offer won while ours was being made (glare): we answer it instead.
            shell.journal.note(now_ms(), format!("offer to {} dropped: theirs won", short(&peer)));
            return;
        }
        match offer {
            Ok((mut link, sdp)) => {
                link.serial = serial;
                if shell.links.borrow().contains_key(&peer) {
                    // The peer connected to us while the offer was being made: keep that one.
                    return;
                }
                shell.links.borrow_mut().insert(peer.clone(), link);
                shell.journal.note(now_ms(), format!("offer to {}", short(&peer)));
                let payload = SyncSignal::offer(sdp, PeerKind::Browser);
                if let Ok(text) = serde_json::to_string(&payload) {
                    let _ = shell.with_session(|s| s.signal(key, None, text));
                    shell.pump();
                }
            }
            Err(err) => {
                web_sys::console::warn_1(&format!("catalk: WebRTC offer to {peer} failed: {err}").into());
                shell.journal.note(now_ms(), format!("offer failed: {err}"));
                shell.sync_input(SyncInput::Disconnected { peer });
            }
        }
    });
}

/// Handles a signaling payload from `from` (connection `from_conn`).
pub fn on_signal(shell: &Rc<Shell>, from: PublicKey, from_conn: u64, payload: &str) {
    let Ok(signal) = serde_json::from_str::<SyncSignal>(payload) else { return };
    let peer = from.to_string();
    let shell = Rc::clone(shell);
    shell.journal.note(now_ms(), format!("signal {:?} from {}", signal.signal, short(&peer)));
    wasm_bindgen_futures::spawn_local(async move {
        match signal.signal {
            SignalKind::Offer => {
                // Glare: both sides offered at once (ours may still be in the making).
                // The smaller key's offer wins on both sides, so exactly one connection
                // survives; the engine's pending connect is satisfied when it opens.
                let own = shell.identity().map(|i| i.public().to_string()).unwrap_or_default();
                let our_link_offering = shell.links.borrow().get(&peer).is_some_and(|l| l.offered && !l.is_open());
                let offering = our_link_offering || shell.offering.borrow().contains(&peer);
                if offering && own < peer {
                    shell.journal.note(now_ms(), format!("offer from {} ignored: ours wins", short(&peer)));
                    return;
                }
                if offering {
                    // Theirs wins: drop ours without telling the engine it closed.
                    shell.offering.borrow_mut().remove(&peer);
                    if our_link_offering {
                        let ours = shell.links.borrow_mut().remove(&peer);
                        drop(ours);
                    }
                } else {
                    // A newer offer from the same peer replaces an older link.
                    replace_link(&shell, &peer);
                }
                shell.answering.borrow_mut().insert(peer.clone());
                let serial = next_serial();
                let ice_servers = js::to_js(&*shell.ice_servers.borrow());
                let answer =
                    PeerLink::answer(&ice_servers, &signal.sdp, events(&shell, &peer, signal.kind, serial)).await;
                shell.answering.borrow_mut().remove(&peer);
                match answer {
                    Ok((mut link, sdp)) => {
                        link.serial = serial;
                        replace_link(&shell, &peer);
                        shell.links.borrow_mut().insert(peer.clone(), link);
                        let reply = SyncSignal::answer(sdp, PeerKind::Browser);
                        if let Ok(text) = serde_json::to_string(&reply) {
                            let _ = shell.with_session(|s| s.signal(from, Some(from_conn), text));
                            shell.pump();
                        }
                    }
                    Err(err) => {
                        web_sys::console::warn_1(&format!("catalk: WebRTC answer failed: {err}").into());
                        shell.journal.note(now_ms(), format!("answer failed: {err}"));
                    }
                }
            }
            SignalKind::Answer => {
                // Only our own offer takes an answer (after a glare the link may be one we answered).
                let link = shell
                    .links
                    .borrow()
                    .get(&peer)
                    .filter(|link| link.offered)
                    .map(|link| (link.accept_answer(&signal.sdp), link.serial));
                let Some((accept, serial)) = link else { return };
                if let Err(err) = accept.await {
                    web_sys::console::warn_1(&format!("catalk: WebRTC answer rejected: {err}").into());
                    return;
                }
                fall_back_if_stuck(&shell, from, from_conn, serial).await;
            }
            SignalKind::Relay if fallback_enabled(&shell) => {
                // The offering side could not open a data channel: go through the relay.
                replace_link(&shell, &peer);
                shell.relayed.borrow_mut().insert(peer.clone(), from_conn);
                shell.sync_input(SyncInput::Connected { peer, kind: signal.kind });
            }
            SignalKind::Close if shell.relayed.borrow().get(&peer) == Some(&from_conn) => {
                shell.relayed.borrow_mut().remove(&peer);
                shell.sync_input(SyncInput::Disconnected { peer });
            }
            _ => {}
        }
    });
}

fn fallback_enabled(shell: &Rc<Shell>) -> bool {
    shell.with_session(|s| s.sync_fallback_bytes_per_second() > 0).unwrap_or(false)
}

/// After our offer was answered: if the data channel has not opened in time (blocked
/// UDP, symmetric NATs) and the relay carries peer messages, switch this peer to the relay.
async fn fall_back_if_stuck(shell: &Rc<Shell>, to: PublicKey, to_conn: u64, serial: u64) {
    gloo_timers::future::TimeoutFuture::new(FALLBACK_AFTER_MS).await;
    let peer = to.to_string();
    let stuck = shell.links.borrow().get(&peer).is_some_and(|link| link.serial == serial && !link.is_open());
    if !stuck || !fallback_enabled(shell) {
        return;
    }
    web_sys::console::info_1(&format!("catalk: no data channel to {peer}; syncing through the relay").into());
    replace_link(shell, &peer);
    shell.relayed.borrow_mut().insert(peer.clone(), to_conn);
    let payload = SyncSignal::bare(SignalKind::Relay, PeerKind::Browser);
    if let Ok(text) = serde_json::to_string(&payload) {
        let _ = shell.with_session(|s| s.signal(to, Some(to_conn), text));
    }
    let kind = shell.peer_kind(&peer);
    shell.sync_input(SyncInput::Connected { peer, kind });
}

/// A peer message the relay carried from `from` (connection `from_conn`).
pub fn on_relayed(shell: &Rc<Shell>, from: &PublicKey, from_conn: u64, message: PeerMessage) {
    let peer = from.to_string();
    if shell.relayed.borrow().get(&peer) == Some(&from_conn) {
        shell.sync_input(SyncInput::Message { peer, message });
    }
}

/// Carries out one output of the sync engine.
pub fn apply(shell: &Rc<Shell>, output: SyncOutput) {
    match output {
        SyncOutput::Connect { peer } => connect(shell, peer),
        SyncOutput::Disconnect { peer } => {
            let relayed = shell.relayed.borrow_mut().remove(&peer);
            if let (Some(conn), Ok(key)) = (relayed, peer.parse::<PublicKey>()) {
                let close = SyncSignal::bare(SignalKind::Close, PeerKind::Browser);
                if let Ok(text) = serde_json::to_string(&close) {
                    let _ = shell.with_session(|s| s.signal(key, Some(conn), text));
                }
            }
            let link = shell.links.borrow_mut().remove(&peer);
            if let Some(link) = link {
                link.close();
                wasm_bindgen_futures::spawn_local(async move { drop(link) });
            }
        }
        SyncOutput::Send { peer, text } => {
            let relayed = shell.relayed.borrow().get(&peer).copied();
            match (relayed, peer.parse::<PublicKey>()) {
                (Some(conn), Ok(key)) => {
                    if let Ok(message) = serde_json::from_str::<PeerMessage>(&text) {
                        let _ = shell.with_session(|s| s.send_peer(key, conn, message));
                    }
                }
                _ => {
                    if let Some(link) = shell.links.borrow().get(&peer) {
                        link.send(text);
                    }
                }
            }
        }
        SyncOutput::Persist(facts) => {
            let shell = Rc::clone(shell);
            wasm_bindgen_futures::spawn_local(async move {
                match shell.store.put_facts(&facts).await {
                    Ok(_) => {
                        let channels = backfilled_channels(&facts);
                        shell.sync_input(SyncInput::Stored(facts));
                        for (channel, count) in channels {
                            shell.emit_backfill(&channel, count);
                        }
                    }
                    Err(err) => shell.storage_error(&err),
                }
            });
        }
        SyncOutput::Load { peer, rid, channel, before, after, limit } => {
            let shell = Rc::clone(shell);
            wasm_bindgen_futures::spawn_local(async move {
                let (facts, more) = load_page(&shell.store, &channel, before, after, limit).await.unwrap_or_default();
                shell.sync_input(SyncInput::Loaded { peer, rid, facts, more });
            });
        }
        SyncOutput::Status { channel, status } => shell.emit_history(&channel, &status),
        SyncOutput::Verify { ticket, facts, trusted } => verify::verify(shell, ticket, facts, trusted),
    }
}

fn backfilled_channels(facts: &[Fact]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for fact in facts {
        if let FactBody::Message { channel, .. } = &fact.body {
            match counts.iter_mut().find(|(c, _)| c == channel.as_str()) {
                Some((_, n)) => *n += 1,
                None => counts.push((channel.to_string(), 1)),
            }
        }
    }
    counts
}

/// Feeds the engine everything the store holds (at start).
pub async fn load_holdings(shell: &Rc<Shell>) {
    let channels = shell.store.channels().await.unwrap_or_default();
    let mut facts = channels.clone();
    for channel in &channels {
        if let FactBody::Channel { name, .. } = &channel.body
            && let Ok(mut messages) = shell.store.messages_before(name, None, usize::MAX).await
        {
            facts.append(&mut messages);
        }
    }
    shell.sync_input(SyncInput::Stored(facts));
    let _ = now_ms();
}
