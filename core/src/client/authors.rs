//! Names for authors who are away: the newest presence fact of every key this device met
//! (live, from the welcome, from the store, or served by peers), sent along with the pages this
//! device serves, once per author and peer, and checked when peers send them.

use catalk_proto::{Fact, FactBody, MAX_AUTHOR_FACTS, PublicKey};
use std::collections::{BTreeMap, BTreeSet};

/// The newest presence fact per key, and which of them each peer was sent.
#[derive(Debug, Default)]
pub struct AuthorCards {
    cards: BTreeMap<PublicKey, Fact>,
    sent: BTreeMap<PublicKey, BTreeSet<PublicKey>>,
}

/// The key a presence fact is about.
fn subject(fact: &Fact) -> Option<PublicKey> {
    match &fact.body {
        FactBody::Presence { key, .. } => Some(*key),
        _ => None,
    }
}

/// The key and name a presence fact shows.
pub fn name_of(fact: &Fact) -> Option<(PublicKey, String)> {
    match &fact.body {
        FactBody::Presence { key, name, .. } => Some((*key, name.to_string())),
        _ => None,
    }
}

/// Why an `authors` message was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthorsError {
    /// More facts than one message may carry.
    #[error("more than {MAX_AUTHOR_FACTS} presence facts")]
    TooMany,
    /// A fact that is not presence, or two of one key.
    #[error("not one presence fact per key")]
    NotPresence,
}

/// Checks the shape of a peer's `authors` message (signatures are checked after).
pub fn check_authors(facts: &[Fact]) -> Result<(), AuthorsError> {
    if facts.len() > MAX_AUTHOR_FACTS {
        return Err(AuthorsError::TooMany);
    }
    let mut keys = BTreeSet::new();
    for fact in facts {
        if !subject(fact).is_some_and(|key| keys.insert(key)) {
            return Err(AuthorsError::NotPresence);
        }
    }
    Ok(())
}

impl AuthorCards {
    /// Keeps `fact` when it is a presence fact newer than its key's card; true when kept.
    pub fn learn(&mut self, fact: &Fact) -> bool {
        let Some(key) = subject(fact) else { return false };
        if self.cards.get(&key).is_some_and(|held| held.id >= fact.id) {
            return false;
        }
        self.cards.insert(key, fact.clone());
        // A newer card goes to peers again.
        for sent in self.sent.values_mut() {
            sent.remove(&key);
        }
        true
    }

    /// The cards of the authors of `facts` that `peer` was not sent yet, now marked sent.
    pub fn for_page(&mut self, peer: PublicKey, facts: &[Fact]) -> Vec<Fact> {
        let sent = self.sent.entry(peer).or_default();
        let mut cards = Vec::new();
        for fact in facts {
            let FactBody::Message { author, .. } = &fact.body else { continue };
            if let Some(card) = self.cards.get(author)
                && sent.insert(*author)
            {
                cards.push(card.clone());
            }
        }
        cards
    }

    /// `peer`'s link ended: a new link starts over.
    pub fn forget_peer(&mut self, peer: &PublicKey) {
        self.sent.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{message, presence_of as presence};

    fn author_of(fact: &Fact) -> PublicKey {
        match &fact.body {
            FactBody::Message { author, .. } => *author,
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn each_peer_gets_each_authors_newest_card_once() {
        let mut cards = AuthorCards::default();
        let page = vec![message("general", 10, 1), message("general", 11, 1)];
        let ada = author_of(&page[0]);
        let peer = PublicKey::from_bytes([9; 32]);
        assert!(cards.for_page(peer, &page).is_empty(), "no card known");
        assert!(cards.learn(&presence(ada, "Ada", 5)));
        assert!(!cards.learn(&presence(ada, "Old Ada", 4)), "older cards are ignored");
        assert_eq!(cards.for_page(peer, &page).len(), 1, "one per author");
        assert!(cards.for_page(peer, &page).is_empty(), "sent already");
        assert!(cards.learn(&presence(ada, "Ada L.", 6)));
        assert_eq!(
            cards.for_page(peer, &page).iter().filter_map(name_of).map(|(_, n)| n).collect::<Vec<_>>(),
            ["Ada L."]
        );
        cards.forget_peer(&peer);
        assert_eq!(cards.for_page(peer, &page).len(), 1, "a new link starts over");
    }

    #[test]
    fn an_authors_message_holds_one_presence_fact_per_key() {
        let (a, b) = (PublicKey::from_bytes([1; 32]), PublicKey::from_bytes([2; 32]));
        assert_eq!(check_authors(&[presence(a, "A", 1), presence(b, "B", 2)]), Ok(()));
        assert_eq!(check_authors(&[presence(a, "A", 1), presence(a, "A", 2)]), Err(AuthorsError::NotPresence));
        assert_eq!(check_authors(&[message("general", 1, 1)]), Err(AuthorsError::NotPresence));
        let many: Vec<Fact> =
            (0..=MAX_AUTHOR_FACTS as u8).map(|n| presence(PublicKey::from_bytes([n; 32]), "x", 1)).collect();
        assert_eq!(check_authors(&many), Err(AuthorsError::TooMany));
    }
}
