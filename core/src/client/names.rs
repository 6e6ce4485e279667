//! The driver's side of people's cards ([`super::authors`]): kept from presence facts,
//! sent with the pages this device serves, taken from peers once verified.

use super::authors::{check_authors, name_of};
use super::journal::short;
use super::storage::Origin;
use super::{Client, Output};
use crate::session::Event;
use crate::view::NameView;
use catalk_proto::{Fact, PeerMessage, PublicKey};

impl Client {
    /// Verified presence facts from the relay: newer cards are kept, and stored.
    pub(super) fn keep_cards(&mut self, facts: Vec<Fact>) {
        let newer: Vec<Fact> = facts.into_iter().filter(|fact| self.authors.learn(fact)).collect();
        if !newer.is_empty() {
            self.puts.push(newer, Origin::Card);
        }
    }

    /// Sends `peer` the cards of the authors of a page about to be served, that it lacks.
    pub(super) fn send_authors(&mut self, peer: &str, facts: &[Fact]) {
        let Ok(key) = peer.parse::<PublicKey>() else { return };
        let cards = self.authors.for_page(key, facts);
        if cards.is_empty() {
            return;
        }
        if let Ok(text) = serde_json::to_string(&PeerMessage::Authors { facts: cards }) {
            self.send_to_peer(peer, text);
        }
    }

    /// A peer's cards: checked and verified (as any fact from a peer), then kept, stored and
    /// told to the UI. A bad message is dropped whole.
    pub(super) fn on_authors(&mut self, peer: &str, facts: Vec<Fact>) {
        if let Err(err) = check_authors(&facts) {
            self.journal.note(self.now, format!("authors from {} dropped: {err}", short(peer)));
            return;
        }
        let trusted = self.session.trusted();
        if catalk_proto::verify_facts(&facts, |key| trusted.contains(key)).is_err() {
            self.journal.note(self.now, format!("authors from {} dropped: a signature does not verify", short(peer)));
            return;
        }
        let newer: Vec<Fact> = facts.into_iter().filter(|fact| self.authors.learn(fact)).collect();
        if newer.is_empty() {
            return;
        }
        let people =
            newer.iter().filter_map(name_of).map(|(key, name)| NameView { key: key.to_string(), name }).collect();
        self.outputs.push_back(Output::Event(Event::Names { people }));
        self.puts.push(newer, Origin::Card);
    }
}
