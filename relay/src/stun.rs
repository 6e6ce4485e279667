//! A STUN responder (RFC 8489 Binding only) on the relay's own UDP socket, so a
//! deployment gives browsers a server-reflexive address with nothing else to
//! run. Messages are decoded and encoded by `rtc-stun` (webrtc-rs); the relay
//! only decides what to answer: a Binding request gets a success response with
//! the sender's address in XOR-MAPPED-ADDRESS and a FINGERPRINT. Everything
//! else (responses, indications, other methods, non-STUN datagrams) is dropped
//! and counted. A response is 40 bytes (52 for IPv6): a spoofed request gets
//! at most 2.6 times its size reflected, one answer per request.

use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::message::{BINDING_REQUEST, BINDING_SUCCESS, Message, Setter};
use rtc_stun::xoraddr::XorMappedAddress;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// Longest datagram read; a Binding request is 20 bytes plus a few attributes.
const MAX_DATAGRAM: usize = 1_500;

/// What became of one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A Binding request: send these bytes back to the sender.
    Binding(Vec<u8>),
    /// Not a STUN message, or one the relay does not answer.
    Ignored,
}

/// Decides the answer to `packet` from `from`.
pub fn answer(packet: &[u8], from: SocketAddr) -> Answer {
    if !rtc_stun::message::is_stun_message(packet) {
        return Answer::Ignored;
    }
    let mut request = Message::new();
    if request.unmarshal_binary(packet).is_err() || request.typ != BINDING_REQUEST {
        return Answer::Ignored;
    }
    let mut response = Message::new();
    let mapped = XorMappedAddress { ip: from.ip(), port: from.port() };
    let setters: [Box<dyn Setter>; 4] =
        [Box::new(request), Box::new(BINDING_SUCCESS), Box::new(mapped), Box::new(FINGERPRINT)];
    if response.build(&setters).is_err() {
        return Answer::Ignored;
    }
    Answer::Binding(response.raw)
}

/// Answers STUN Binding requests on `socket` until `shutdown` turns true.
pub async fn serve(socket: UdpSocket, hub: Arc<crate::hub::Hub>, mut shutdown: watch::Receiver<bool>) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, from) = tokio::select! {
            received = socket.recv_from(&mut buffer) => match received {
                Ok(received) => received,
                Err(err) => {
                    tracing::debug!(%err, "STUN socket read failed");
                    continue;
                }
            },
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        match answer(&buffer[..len], from) {
            Answer::Binding(bytes) => {
                hub.metrics.stun_answered.fetch_add(1, Ordering::Relaxed);
                if let Err(err) = socket.send_to(&bytes, from).await {
                    tracing::debug!(%from, %err, "STUN answer not sent");
                }
            }
            Answer::Ignored => {
                hub.metrics.stun_ignored.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc_stun::message::Getter;

    fn binding_request() -> Message {
        let mut request = Message::new();
        request.new_transaction_id().unwrap();
        request.set_type(BINDING_REQUEST);
        request.encode();
        request
    }

    #[test]
    fn a_binding_request_gets_the_senders_address_back() {
        let request = binding_request();
        let from: SocketAddr = "203.0.113.7:54321".parse().unwrap();
        let Answer::Binding(bytes) = answer(&request.raw, from) else { panic!("answered") };
        let mut response = Message::new();
        response.unmarshal_binary(&bytes).unwrap();
        assert_eq!(response.typ, BINDING_SUCCESS);
        assert_eq!(response.transaction_id, request.transaction_id);
        let mut mapped = XorMappedAddress::default();
        mapped.get_from(&response).unwrap();
        assert_eq!((mapped.ip, mapped.port), (from.ip(), from.port()));
        assert_eq!(bytes.len(), 40, "header, XOR-MAPPED-ADDRESS and FINGERPRINT only");
        FINGERPRINT.check(&response).unwrap();
    }

    #[test]
    fn ipv6_senders_are_mapped_too() {
        let from: SocketAddr = "[2001:db8::1]:3478".parse().unwrap();
        let Answer::Binding(bytes) = answer(&binding_request().raw, from) else { panic!("answered") };
        let mut response = Message::new();
        response.unmarshal_binary(&bytes).unwrap();
        let mut mapped = XorMappedAddress::default();
        mapped.get_from(&response).unwrap();
        assert_eq!(mapped.ip, from.ip());
    }

    #[test]
    fn anything_but_a_binding_request_is_ignored() {
        let from: SocketAddr = "198.51.100.1:1".parse().unwrap();
        assert_eq!(answer(b"GET / HTTP/1.1\r\n\r\n", from), Answer::Ignored);
        assert_eq!(answer(&[], from), Answer::Ignored);
        let mut truncated = binding_request().raw;
        truncated.truncate(12);
        assert_eq!(answer(&truncated, from), Answer::Ignored);
        let mut success = Message::new();
        success.new_transaction_id().unwrap();
        success.set_type(BINDING_SUCCESS);
        success.encode();
        assert_eq!(answer(&success.raw, from), Answer::Ignored, "responses are not answered");
    }
}
