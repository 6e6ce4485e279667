//! Serving peers' page requests from the local store, rate-limited per peer
//! (a token bucket in facts), answered in messages that each stay under
//! [`MAX_PEER_MESSAGE_BYTES`].

use crate::sync::engine::{PendingLoad, SyncEngine};
use crate::sync::intervals::Range;
use crate::sync::output::SyncOutput;
use catalk_proto::{ChannelName, Fact, FactBody, MAX_PAGE_FACTS, MAX_PEER_MESSAGE_BYTES, PeerMessage, RefusalCode};

/// Room left in a message for the envelope around the facts.
const ENVELOPE_BYTES: usize = 96;

/// The `facts` messages answering `rid`: as few as fit under the size limit,
/// all but the last with `more: true`, the last with `more`. A fact too large
/// to fit any message on its own is left out.
pub(crate) fn facts_messages(rid: u64, facts: &[Fact], more: bool) -> Vec<String> {
    let budget = MAX_PEER_MESSAGE_BYTES - ENVELOPE_BYTES;
    let mut chunks: Vec<Vec<String>> = vec![Vec::new()];
    let mut size = 0;
    for json in facts.iter().filter_map(|fact| serde_json::to_string(fact).ok()) {
        if json.len() > budget {
            continue;
        }
        if size + json.len() + 1 > budget {
            chunks.push(Vec::new());
            size = 0;
        }
        size += json.len() + 1;
        if let Some(chunk) = chunks.last_mut() {
            chunk.push(json);
        }
    }
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(n, chunk)| {
            // The same JSON serde writes for `PeerMessage::Facts`, without re-encoding each fact.
            format!(r#"{{"t":"facts","rid":{rid},"facts":[{}],"more":{}}}"#, chunk.join(","), n != last || more)
        })
        .collect()
}

impl SyncEngine {
    /// A peer asks for a page of `channel`.
    pub(super) fn on_page(&mut self, peer: &str, rid: u64, channel: ChannelName, range: Range, limit: u32) {
        let now = self.now;
        let known = self.channels.contains_key(&channel);
        let Some(p) = self.peers.get_mut(peer) else { return };
        p.last_activity = now;
        if limit == 0 || limit > MAX_PAGE_FACTS || !known {
            self.send(peer, &PeerMessage::Refused { rid, code: RefusalCode::BadRequest });
            return;
        }
        let key = (peer.to_owned(), rid);
        if self.loads.contains_key(&key) {
            return;
        }
        if !p.bucket.take(now, limit) {
            self.stats.refused_rate_limited += 1;
            self.send(peer, &PeerMessage::Refused { rid, code: RefusalCode::RateLimited });
            return;
        }
        self.loads.insert(key, PendingLoad { channel: channel.clone(), range, limit });
        self.outputs.push_back(SyncOutput::Load {
            peer: peer.to_owned(),
            rid,
            channel,
            before: range.before,
            after: range.after,
            limit,
        });
    }

    /// The store could not answer a load: the peer asks again later (or elsewhere).
    pub(super) fn load_failed(&mut self, peer: &str, rid: u64) {
        let Some(load) = self.loads.remove(&(peer.to_owned(), rid)) else { return };
        if let Some(p) = self.peers.get_mut(peer).filter(|p| p.is_open()) {
            p.bucket.refund(load.limit);
            self.send(peer, &PeerMessage::Refused { rid, code: RefusalCode::Unavailable });
        }
    }

    /// The store answered a load: send the facts.
    pub(super) fn loaded(&mut self, peer: &str, rid: u64, facts: Vec<Fact>, more: bool) {
        let Some(load) = self.loads.remove(&(peer.to_owned(), rid)) else { return };
        let Some(p) = self.peers.get_mut(peer).filter(|p| p.is_open()) else { return };
        let mut facts: Vec<Fact> = facts
            .into_iter()
            .filter(|f| {
                matches!(&f.body, FactBody::Message { channel, .. } if *channel == load.channel)
                    && load.range.contains(f.id)
            })
            .collect();
        facts.sort_by_key(|f| std::cmp::Reverse(f.id));
        facts.dedup_by_key(|f| f.id);
        let limit = load.limit as usize;
        let more = (more || facts.len() > limit) && facts.len() >= limit;
        facts.truncate(limit);
        p.bucket.refund(load.limit - facts.len() as u32);
        let to_virtual = p.kind == catalk_proto::PeerKind::Virtual;
        for text in facts_messages(rid, &facts, more) {
            self.stats.served_bytes += text.len() as u64;
            if to_virtual {
                self.stats.served_bytes_to_virtual += text.len() as u64;
            }
            self.outputs.push_back(SyncOutput::Send { peer: peer.to_owned(), text });
        }
        self.stats.served_facts += facts.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::message;

    #[test]
    fn facts_messages_parse_back_and_stay_under_the_limit() {
        let facts: Vec<Fact> = (0..100).map(|n| message("general", 5_000 + n, u128::from(n))).collect();
        let big: Vec<Fact> = facts
            .iter()
            .cloned()
            .map(|mut f| {
                if let FactBody::Message { text, .. } = &mut f.body {
                    *text = "x".repeat(2_000);
                }
                f
            })
            .collect();
        for (set, more) in [(&facts, false), (&big, true)] {
            let texts = facts_messages(7, set, more);
            let mut back = Vec::new();
            for (n, text) in texts.iter().enumerate() {
                assert!(text.len() < MAX_PEER_MESSAGE_BYTES);
                match serde_json::from_str::<PeerMessage>(text) {
                    Ok(PeerMessage::Facts { rid: 7, facts, more: m }) => {
                        assert_eq!(m, n + 1 < texts.len() || more);
                        back.extend(facts);
                    }
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(&back, set);
        }
        assert!(facts_messages(7, &big, false).len() > 1);
    }

    #[test]
    fn an_empty_answer_is_one_message() {
        let texts = facts_messages(1, &[], false);
        assert_eq!(texts.len(), 1);
        assert_eq!(
            serde_json::from_str::<PeerMessage>(&texts[0]).ok(),
            Some(PeerMessage::Facts { rid: 1, facts: vec![], more: false })
        );
    }
}
