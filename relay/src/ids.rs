//! Strictly increasing ULID assignment for facts.

use catalk_proto::FactId;

/// Hands out fact ids that strictly increase, even within one millisecond and
/// even if the wall clock steps backwards.
#[derive(Debug, Default)]
pub struct IdAssigner {
    last: Option<FactId>,
}

impl IdAssigner {
    /// The next id for time `now_ms`; `random` supplies the 80 random bits used
    /// when the millisecond is new.
    pub fn next(&mut self, now_ms: u64, random: u128) -> FactId {
        let fresh = FactId::from_parts(now_ms, random);
        let id = match self.last {
            Some(last) if fresh <= last => last.increment().unwrap_or(FactId::from_parts(last.timestamp_ms() + 1, 0)),
            _ => fresh,
        };
        self.last = Some(id);
        id
    }
}

impl IdAssigner {
    /// Makes every later id sort after `seen` (an id from an earlier run that a client presented).
    pub fn observe(&mut self, seen: FactId) {
        if self.last.is_none_or(|last| last < seen) {
            self.last = Some(seen);
        }
    }
}

/// 80 bits of randomness for a new millisecond (the rest of the u128 is ignored by ULID).
pub fn random_bits() -> u128 {
    let mut bytes = [0u8; 16];
    // On failure (no entropy source) fall back to zero bits: monotonicity does
    // not depend on the random part.
    let _ = getrandom::fill(&mut bytes);
    u128::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_strictly_increase_within_a_millisecond() {
        let mut ids = IdAssigner::default();
        let a = ids.next(1000, 500);
        let b = ids.next(1000, 3);
        let c = ids.next(1000, 900);
        assert!(a < b && b < c);
    }

    #[test]
    fn ids_increase_when_the_clock_steps_back() {
        let mut ids = IdAssigner::default();
        let a = ids.next(2000, 1);
        let b = ids.next(1000, 1);
        assert!(b > a);
        assert_eq!(b.timestamp_ms(), 2000);
    }

    #[test]
    fn observed_ids_push_later_ids_past_them() {
        let mut ids = IdAssigner::default();
        ids.observe(FactId::from_parts(9_000, 5));
        let next = ids.next(1_000, 0);
        assert!(next > FactId::from_parts(9_000, 5));
    }

    #[test]
    fn exhausted_random_part_moves_to_next_millisecond() {
        let mut ids = IdAssigner::default();
        let a = ids.next(5, (1u128 << 80) - 1);
        let b = ids.next(5, 0);
        assert!(b > a);
        assert_eq!(b.timestamp_ms(), 6);
    }
}
