//! Our page requests and the peers' answers: every fact checked (a verified
//! message of the channel inside the asked range) before any is kept; a bad
//! answer is dropped whole and its peer penalised and disconnected.

use crate::sync::config::REFUSED_BACKOFF_MS;
use crate::sync::engine::{PendingVerify, Request, SyncEngine};
use crate::sync::index::Link;
use crate::sync::intervals::Range;
use crate::sync::output::SyncOutput;
use catalk_proto::{ChannelName, Fact, FactBody, FactId, MAX_PAGE_FACTS, PeerMessage};

/// Why an answer was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AnswerError {
    /// More facts than asked for.
    #[error("{received} facts for a page of {limit}")]
    TooMany {
        /// Facts received for the request so far.
        received: u32,
        /// The page size asked.
        limit: u32,
    },
    /// A fact that is not a message of the asked channel.
    #[error("fact {0} is not a message of the asked channel")]
    WrongChannel(FactId),
    /// A fact outside the asked range.
    #[error("fact {0} is outside the asked range")]
    OutOfRange(FactId),
}

/// Checks that an answer's facts (or one part's) are messages of `channel`
/// inside `range`, no more than `limit` in all: everything but their
/// signatures, which are verified after.
fn check_shape(
    channel: &ChannelName,
    range: (Option<FactId>, Option<FactId>),
    limit: u32,
    received_before: u32,
    facts: &[Fact],
) -> Result<(), AnswerError> {
    let received = received_before.saturating_add(u32::try_from(facts.len()).unwrap_or(u32::MAX));
    if received > limit {
        return Err(AnswerError::TooMany { received, limit });
    }
    let range = Range::new(range.0, range.1);
    for fact in facts {
        match &fact.body {
            FactBody::Message { channel: c, .. } if c == channel => {}
            _ => return Err(AnswerError::WrongChannel(fact.id)),
        }
        if !range.contains(fact.id) {
            return Err(AnswerError::OutOfRange(fact.id));
        }
    }
    Ok(())
}

impl SyncEngine {
    /// Sends a page request for `range` of `channel` to `peer`.
    pub(super) fn send_page(&mut self, peer: &str, channel: &ChannelName, range: Range) {
        let rid = self.next_rid;
        self.next_rid += 1;
        let limit = self.config.page_limit.clamp(1, MAX_PAGE_FACTS);
        let now = self.now;
        let Some(p) = self.peers.get_mut(peer) else { return };
        p.outstanding.insert(rid);
        p.last_activity = now;
        self.requests.insert(
            rid,
            Request {
                peer: peer.to_owned(),
                channel: channel.clone(),
                range,
                limit,
                received: 0,
                oldest: None,
                deadline: now + self.config.request_timeout_ms,
                verifying: 0,
                finished: None,
            },
        );
        let message =
            PeerMessage::Page { rid, channel: channel.clone(), before: range.before, after: range.after, limit };
        self.send(peer, &message);
    }

    /// An answer (or part of one) to our request `rid`.
    pub(super) fn on_facts(&mut self, peer: &str, rid: u64, facts: Vec<Fact>, more: bool) {
        let Some(request) = self.requests.get(&rid).filter(|r| r.peer == peer) else { return };
        let (range, limit) = ((request.range.after, request.range.before), request.limit);
        let channel = request.channel.clone();
        if check_shape(&channel, range, limit, request.received, &facts).is_err() {
            self.reject(peer);
            return;
        }
        let now = self.now;
        let timeout = self.config.request_timeout_ms;
        let Some(request) = self.requests.get_mut(&rid) else { return };
        request.received += u32::try_from(facts.len()).unwrap_or(u32::MAX);
        request.deadline = now + timeout;
        if !more || request.received >= request.limit {
            request.finished = Some(more);
        }
        if self.config.verify_outside {
            request.verifying += 1;
            if request.finished.is_some()
                && let Some(p) = self.peers.get_mut(peer)
            {
                // The peer is done with it: its slot is free while we verify (the
                // request stays, so its range is not asked again meanwhile).
                p.outstanding.remove(&rid);
            }
            let ticket = self.next_ticket;
            self.next_ticket += 1;
            self.verifying.insert(ticket, PendingVerify { peer: peer.to_owned(), rid, channel });
            self.outputs.push_back(SyncOutput::Verify { ticket, facts, trusted: self.trusted.clone() });
            return;
        }
        let trusted = &self.trusted;
        if catalk_proto::verify_facts(&facts, |key| trusted.contains(key)).is_err() {
            self.reject(peer);
            return;
        }
        self.accept(peer, rid, &channel, facts);
    }

    /// The shell verified an answer's facts; `true` when the plan may change.
    pub(super) fn on_verified(&mut self, ticket: u64, facts: Vec<Fact>, valid: bool) -> bool {
        let Some(pending) = self.verifying.remove(&ticket) else { return false };
        if let Some(request) = self.requests.get_mut(&pending.rid).filter(|r| r.peer == pending.peer) {
            request.verifying = request.verifying.saturating_sub(1);
        }
        if valid {
            // Valid facts are kept even when their peer has gone meanwhile.
            self.accept(&pending.peer, pending.rid, &pending.channel, facts);
        } else {
            self.reject(&pending.peer);
        }
        true
    }

    /// A bad answer: counted, its peer penalised and disconnected.
    fn reject(&mut self, peer: &str) {
        self.stats.rejected_answers += 1;
        self.punish(peer);
    }

    /// Keeps the verified facts of an answer to `rid`, and closes the request
    /// once its last part arrived and every part is verified.
    fn accept(&mut self, peer: &str, rid: u64, channel: &ChannelName, facts: Vec<Fact>) {
        let now = self.now;
        let timeout = self.config.request_timeout_ms;
        if !facts.is_empty()
            && let Some(p) = self.peers.get_mut(peer)
        {
            p.proven = true;
            p.stalls = 0;
        }
        if let Some(request) = self.requests.get_mut(&rid).filter(|r| r.peer == peer) {
            request.oldest = facts.iter().map(|f| f.id).chain(request.oldest).min();
            request.deadline = now + timeout;
        }
        let fresh = self.index_facts(channel, facts);
        if !fresh.is_empty() {
            self.stats.fetched_facts += fresh.len() as u64;
            self.outputs.push_back(SyncOutput::Persist(fresh));
        }
        let Some(request) = self.requests.get(&rid).filter(|r| r.peer == peer && r.verifying == 0) else { return };
        let Some(more) = request.finished else { return };
        // Everything the peer has in the answered part is now held.
        let answered = match request.oldest {
            Some(oldest) if more => Range::new(Some(oldest), request.range.before),
            _ => request.range,
        };
        if let Some(state) = self.channels.get_mut(&request.channel) {
            state.note_answered(peer, answered);
        }
        self.requests.remove(&rid);
        if let Some(p) = self.peers.get_mut(peer) {
            p.outstanding.remove(&rid);
            p.last_activity = now;
        }
    }

    /// Adds verified facts to the index; returns the ones that were new.
    fn index_facts(&mut self, channel: &ChannelName, facts: Vec<Fact>) -> Vec<Fact> {
        let Some(state) = self.channels.get_mut(channel) else { return Vec::new() };
        let fresh: Vec<Fact> = facts
            .into_iter()
            .filter(|fact| match &fact.body {
                FactBody::Message { prev, epoch, .. } => {
                    state.index.insert(fact.id, Link { prev: *prev, epoch: *epoch })
                }
                _ => false,
            })
            .collect();
        state.prune();
        fresh
    }

    /// The peer refused our request `rid`.
    pub(super) fn on_refused(&mut self, peer: &str, rid: u64, code: catalk_proto::RefusalCode) {
        if self.probes.get(&rid).is_some_and(|p| p.peer == peer) {
            let probe = self.end_probe(rid);
            if code.is_temporary() {
                let now = self.now;
                if let Some(p) = self.peers.get_mut(peer) {
                    p.cooldown_until = now + REFUSED_BACKOFF_MS;
                }
                // Reconcile again from the start once it cools down.
                if let Some(state) = probe.and_then(|probe| self.channels.get_mut(&probe.channel)) {
                    state.unprobe(peer);
                }
            }
            return;
        }
        let Some(request) = self.requests.get(&rid).filter(|r| r.peer == peer).cloned() else { return };
        self.requests.remove(&rid);
        let now = self.now;
        if code.is_temporary() {
            if let Some(p) = self.peers.get_mut(peer) {
                p.cooldown_until = now + REFUSED_BACKOFF_MS;
            }
        } else {
            // It will not serve this range: do not ask it again.
            if let Some(state) = self.channels.get_mut(&request.channel) {
                state.note_answered(peer, request.range);
            }
        }
        if let Some(p) = self.peers.get_mut(peer) {
            p.outstanding.remove(&rid);
        }
    }

    /// The peer lied: not asked (nor connected) for `penalty_ms`,
    /// disconnected, and its claims of older history are void.
    pub(super) fn punish(&mut self, peer: &str) {
        self.punish_for(peer, self.config.penalty_ms);
    }

    /// The peer stalled (a request or hello timed out): like [`Self::punish`] but
    /// for the shorter `stall_penalty_ms`, since a slow peer may be the only one
    /// holding the range.
    pub(super) fn punish_stall(&mut self, peer: &str) {
        let until = self.now + self.config.stall_penalty_ms;
        let lied = self.peers.get(peer).is_some_and(|p| p.penalised_until > until);
        self.punish_for(peer, self.config.stall_penalty_ms);
        if let Some(p) = self.peers.get_mut(peer) {
            // A stall does not shorten a penalty for lying.
            p.penalised_until = p.penalised_until.max(until);
            if !lied {
                p.stalled_until = until;
                p.stalls += 1;
            }
        }
    }

    fn punish_for(&mut self, peer: &str, penalty_ms: u64) {
        let until = self.now + penalty_ms;
        for state in self.channels.values_mut() {
            state.forget_peer(peer, true);
        }
        if let Some(p) = self.peers.get_mut(peer) {
            p.penalised_until = until;
            p.proven = false;
            if p.link != crate::sync::peers::Link::Closed {
                self.outputs.push_back(SyncOutput::Disconnect { peer: peer.to_owned() });
            }
        }
        self.drop_link(peer);
    }
}
