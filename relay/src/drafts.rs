//! Bounded memory of recently posted (author, draft) pairs, to refuse duplicates.

use catalk_proto::{DraftId, PublicKey};
use std::collections::{HashSet, VecDeque};

/// Remembers the last `capacity` drafts; older ones are forgotten first.
#[derive(Debug)]
pub struct RecentDrafts {
    capacity: usize,
    order: VecDeque<(PublicKey, DraftId)>,
    seen: HashSet<(PublicKey, DraftId)>,
}

impl RecentDrafts {
    /// An empty memory holding at most `capacity` drafts.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, order: VecDeque::new(), seen: HashSet::new() }
    }

    /// Whether this draft was seen recently.
    pub fn contains(&self, author: &PublicKey, draft: &DraftId) -> bool {
        self.seen.contains(&(*author, *draft))
    }

    /// Records a draft, forgetting the oldest when full.
    pub fn insert(&mut self, author: PublicKey, draft: DraftId) {
        if self.seen.insert((author, draft)) {
            self.order.push_back((author, draft));
            if self.order.len() > self.capacity
                && let Some(old) = self.order.pop_front()
            {
                self.seen.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_oldest_beyond_capacity() {
        let key = PublicKey::from_bytes([1; 32]);
        let mut drafts = RecentDrafts::new(2);
        for n in 0..3 {
            drafts.insert(key, DraftId::from_parts(n, 0));
        }
        assert!(!drafts.contains(&key, &DraftId::from_parts(0, 0)));
        assert!(drafts.contains(&key, &DraftId::from_parts(2, 0)));
    }
}
