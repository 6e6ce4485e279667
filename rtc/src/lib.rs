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
//! Measured by `tests/link.rs` (`flow_control_delivers_large_batch_in_order`) between two links
//! in one process on loopback, debug test build with optimised dependencies, 2-core machine:
//! THROUGHPUT_PLACEHOLDER
//!
//! # Browsers and mDNS candidates
//! Chromium hides its host addresses behind random `*.local` mDNS names unless the page has
//! camera/microphone permission. Links keep the `webrtc` crate's default `QueryOnly` mDNS mode:
//! remote `.local` candidates are resolved by multicast query, and local candidates are plain
//! IP addresses. Even when the query gets no answer the link connects, because the browser
//! checks this side's plain candidates and the reply path becomes a peer-reflexive candidate.
//!
//! This crate does no signalling and no IO besides the peer connection's UDP sockets (plus the
//! mDNS socket on port 5353).

mod config;
mod error;
mod link;

pub use config::{IceServer, IceServerParseError, RtcConfig};
pub use error::{RtcError, SendError, WebrtcError};
pub use link::{LinkEvent, PeerLink};

/// Label of the one data channel a catalk link carries.
pub const CHANNEL_LABEL: &str = "catalk-sync";

/// Longest text message [`PeerLink::send`] accepts, in bytes: the SCTP `max-message-size` the
/// `webrtc` crate advertises (64 KiB), which browsers honour when sending to us.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
