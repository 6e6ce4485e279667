//! Native WebRTC data-channel links for catalk peers (the virtual client and native test peers),
//! on the `webrtc` crate.
//!
//! A [`PeerLink`] is one peer connection with one ordered data channel labelled
//! [`CHANNEL_LABEL`], created by the offerer, as the browser side (`client-wasm/src/rtc.rs`)
//! does. Signalling is not trickle ICE: [`PeerLink::offer`] and [`PeerLink::answer`] wait for ICE
//! gathering to complete (bounded by [`RtcConfig::gather_timeout`]) and return the full SDP with
//! its candidates, to be carried to the peer in one message by the caller. Messages are UTF-8
//! text (JSON in catalk), at most [`MAX_MESSAGE_BYTES`] each; what arrives is reported on the
//! event receiver as [`LinkEvent`]s: `Open`, `Text`…, then `Closed` once the channel closes, the
//! connection fails or disconnects, or the link is closed, after which the receiver ends.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use catalk_rtc::{LinkEvent, PeerLink, RtcConfig};
//! let config = RtcConfig { udp_bind: Some("127.0.0.1:0".parse()?), ..RtcConfig::default() };
//! let (offerer, offer, _offerer_events) = PeerLink::offer(&config).await?;
//! // ... signal `offer` to the peer, receive its answer ...
//! let (answerer, answer, mut events) = PeerLink::answer(&config, &offer).await?;
//! offerer.accept_answer(&answer).await?;
//! offerer.send(r#"{"hello":1}"#.to_owned())?;
//! assert_eq!(events.recv().await, Some(LinkEvent::Open));
//! # drop(answerer);
//! # Ok(())
//! # }
//! ```
//!
//! # Flow control
//! [`PeerLink::send`] only queues. A per-link task hands queued messages to the data channel
//! while less than 1 MiB (the browser's high-water mark) is unacknowledged by the peer, and is
//! woken as acknowledgements release buffer space (the `webrtc` crate's send-buffer limit, the
//! native counterpart of pacing on `bufferedAmount` / `bufferedamountlow`). The queue itself is
//! bounded by [`RtcConfig::send_queue_limit`] bytes: a peer that stops reading makes `send` fail
//! with [`SendError::QueueFull`] ([`PeerLink::send_wait`] waits instead). Receiving is bounded
//! too: a caller that stops draining the event receiver stops the link reading the channel, and
//! SCTP flow control then stops the peer.
//!
//! # Throughput
//! Measured by `tests/link.rs` (`flow_control_delivers_large_batch_in_order`, which prints it)
//! between two links in one process on loopback, debug test build with optimised
//! dependencies, 2-core machine, 2,000 messages of ~50 KiB (102 MB):
//!
//! | [`RtcConfig::send_high_water`] | MB/s | messages/s |
//! |---|---|---|
//! | 1 MiB (default) | 18–42 | 350–800 |
//! | 128 KiB | 80–133 | 1,550–2,600 |
//!
//! With 1 MiB in flight the sender bursts past the kernel's default 208 KiB UDP receive buffer
//! and SCTP recovers from the drops (`RcvbufErrors` in `/proc/net/snmp` grows); at 128 KiB
//! nothing is dropped. The default stays at 1 MiB because on a real path the limit caps
//! throughput at `send_high_water` per round trip (128 KiB over 50 ms is 2.6 MB/s). Small
//! messages: 10,000 of ~200 B in 0.1–0.2 s (50–100k messages/s).
//!
//! # Peer disappearance
//! `Closed` arrives within a millisecond of the peer closing or dropping its link (the data
//! channel's SCTP stream reset), and about 5 s after a peer vanishes silently (ICE reports
//! `disconnected` after 5 s without packets; `tests/link.rs` cuts a UDP relay to check it).
//! A disconnection is final for a link; reconnecting means a new offer and answer.
//!
//! # Browsers and mDNS candidates
//! Chromium hides its host addresses behind random `*.local` names unless the page has
//! camera/microphone permission. Links keep the `webrtc` crate's default mDNS mode,
//! `QueryOnly`: remote `.local` candidates are resolved by multicast query (port 5353), and
//! local candidates are plain addresses. `tests/chromium.rs` (ignored; needs `chromium`) opens a
//! link with headless Chromium on this machine in every combination: either side offering,
//! mDNS hiding on or off, native sockets on every interface or on `127.0.0.1`. All connect,
//! 0.2–0.4 s after the SDP exchange, except native offers to a `127.0.0.1`-bound link, which
//! take ~1.6 s (prefer the wildcard bind, the default, for a peer serving browsers). With
//! mDNS resolution disabled, links still connect (the browser checks our plain candidates and
//! the reply path becomes a peer-reflexive candidate), but a native offer to a hiding Chromium
//! then takes ~1.6 s. No browser flag is needed; `--disable-features=WebRtcHideLocalIpsWithMdns`
//! makes Chromium put plain addresses in its SDP, which helps only when reading SDP by eye.
//!
//! This crate does no signalling and no IO besides the peer connection's UDP sockets (plus the
//! mDNS socket on port 5353).

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod config;
mod error;
mod link;

pub use config::{IceServer, IceServerParseError, RtcConfig};
pub use error::{RtcError, SendError, WebrtcError};
pub use link::{LinkEvent, PathProbe, PeerLink};

/// Label of the one data channel a catalk link carries.
pub const CHANNEL_LABEL: &str = "catalk-sync";

/// Longest text message [`PeerLink::send`] accepts, in bytes: the SCTP `max-message-size` the
/// `webrtc` crate advertises (64 KiB), which browsers honour when sending to us.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
