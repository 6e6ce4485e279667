//! Hellos: what we hold, said when a data channel opens (and again when a
//! channel becomes complete), and what peers say they hold.

use crate::sync::engine::SyncEngine;
use crate::sync::peers::Link;
use catalk_proto::{ChannelHoldings, MAX_PEER_MESSAGE_BYTES, PeerMessage};

/// Hello version spoken here.
const HELLO_VERSION: u32 = 1;

/// Most channels taken from one peer hello (more are ignored).
const MAX_HELLO_CHANNELS: usize = 1_000;

/// Splits holdings into hellos that each stay under the message size limit.
pub(crate) fn hellos(kind: catalk_proto::PeerKind, holdings: Vec<ChannelHoldings>) -> Vec<PeerMessage> {
    // One holdings entry is at most ~250 bytes of JSON (a 32-byte name, two ids, 32 hex digits).
    const PER_ENTRY: usize = 256;
    let per_hello = (MAX_PEER_MESSAGE_BYTES / PER_ENTRY).saturating_sub(1).max(1);
    if holdings.is_empty() {
        return vec![PeerMessage::Hello { v: HELLO_VERSION, kind, channels: Vec::new() }];
    }
    holdings
        .chunks(per_hello)
        .map(|chunk| PeerMessage::Hello { v: HELLO_VERSION, kind, channels: chunk.to_vec() })
        .collect()
}

impl SyncEngine {
    /// Says hello to `peer` with our holdings.
    pub(super) fn send_hello(&mut self, peer: &str) {
        for message in hellos(self.own_kind, self.holdings()) {
            self.send(peer, &message);
        }
    }

    /// A peer said what it holds (a later hello updates the channels it lists).
    pub(super) fn on_hello(&mut self, id: &str, channels: Vec<ChannelHoldings>) {
        let Some(peer) = self.peers.get_mut(id) else { return };
        let Link::Open { hello, .. } = &mut peer.link else { return };
        let hello = hello.get_or_insert_with(Default::default);
        peer.judged = false;
        for holdings in channels.into_iter().take(MAX_HELLO_CHANNELS) {
            if let Some(state) = self.channels.get_mut(&holdings.channel) {
                state.note_hello(id, &holdings);
                hello.insert(holdings.channel.clone(), holdings);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use catalk_proto::{ChannelName, FactId, PeerKind};

    #[test]
    fn many_channels_split_into_hellos_under_the_size_limit() {
        let holdings: Vec<ChannelHoldings> = (0..700)
            .map(|n| ChannelHoldings {
                channel: ChannelName::new(&format!("channel-{n:025}")).unwrap_or_else(|_| ChannelName::general()),
                count: u64::MAX,
                oldest: Some(FactId::from_parts(1, 1)),
                newest: Some(FactId::from_parts(2, 2)),
                fp: catalk_proto::Fingerprint(u128::MAX),
                complete: false,
            })
            .collect();
        let messages = hellos(PeerKind::Browser, holdings);
        assert!(messages.len() > 1);
        let mut total = 0;
        for message in &messages {
            let text = serde_json::to_string(message).unwrap_or_default();
            assert!(text.len() < MAX_PEER_MESSAGE_BYTES, "{}", text.len());
            if let PeerMessage::Hello { channels, .. } = message {
                total += channels.len();
            }
        }
        assert_eq!(total, 700);
    }
}
