//! A token bucket in facts, on the caller's clock (the core reads none).

/// Refills `per_second` tokens a second up to `burst`. Integer arithmetic in
/// thousandths of a token, so it is exact and deterministic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bucket {
    milli_tokens: u64,
    per_second: u64,
    burst_milli: u64,
    at: u64,
}

impl Bucket {
    /// A full bucket at time `now`.
    pub fn new(per_second: u32, burst: u32, now: u64) -> Self {
        let burst_milli = u64::from(burst) * 1_000;
        Self { milli_tokens: burst_milli, per_second: u64::from(per_second), burst_milli, at: now }
    }

    fn refill(&mut self, now: u64) {
        if now > self.at {
            // `per_second` tokens a second = `per_second` thousandths a millisecond.
            let gained = (now - self.at).saturating_mul(self.per_second);
            self.milli_tokens = self.milli_tokens.saturating_add(gained).min(self.burst_milli);
            self.at = now;
        }
    }

    /// Takes `n` tokens if there are that many; `false` (taking none) otherwise.
    pub fn take(&mut self, now: u64, n: u32) -> bool {
        self.refill(now);
        let cost = u64::from(n) * 1_000;
        if cost > self.milli_tokens {
            return false;
        }
        self.milli_tokens -= cost;
        true
    }

    /// Gives back `n` tokens that were taken but not used.
    pub fn refund(&mut self, n: u32) {
        self.milli_tokens = self.milli_tokens.saturating_add(u64::from(n) * 1_000).min(self.burst_milli);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_the_rate() {
        let mut bucket = Bucket::new(100, 300, 0);
        assert!(bucket.take(0, 100) && bucket.take(0, 100) && bucket.take(0, 100));
        assert!(!bucket.take(0, 1));
        assert!(!bucket.take(500, 100), "half a second refills 50");
        assert!(bucket.take(1_000, 100));
        bucket.refund(40);
        assert!(bucket.take(1_000, 40));
    }

    #[test]
    fn refills_stop_at_the_burst() {
        let mut bucket = Bucket::new(1_000, 10, 0);
        assert!(!bucket.take(1_000_000, 11));
        assert!(bucket.take(1_000_000, 10));
    }
}
