//! Exponential reconnect backoff with jitter (randomness is an argument).

/// Reconnect delays: `base * 2^attempt`, capped, scaled by a random factor in [0.5, 1.0].
#[derive(Debug, Clone)]
pub struct Backoff {
    base_ms: u64,
    max_ms: u64,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(500, 30_000)
    }
}

impl Backoff {
    /// Delays start at `base_ms` and never exceed `max_ms`.
    pub fn new(base_ms: u64, max_ms: u64) -> Self {
        Self { base_ms, max_ms, attempt: 0 }
    }

    /// The delay before the next attempt; `random` is uniform in [0, 1).
    pub fn next_delay(&mut self, random: f64) -> u64 {
        let exp = self.base_ms.saturating_mul(1u64 << self.attempt.min(20));
        let capped = exp.min(self.max_ms);
        self.attempt = self.attempt.saturating_add(1);
        let factor = 0.5 + 0.5 * random.clamp(0.0, 1.0);
        // Float to integer: the value is within [0, max_ms].
        (capped as f64 * factor) as u64
    }

    /// Call after a successful login: the next failure starts from the base again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap_and_reset() {
        let mut backoff = Backoff::new(100, 1_000);
        let delays: Vec<u64> = (0..6).map(|_| backoff.next_delay(0.999_999)).collect();
        assert_eq!(delays, vec![99, 199, 399, 799, 999, 999]);
        backoff.reset();
        assert_eq!(backoff.next_delay(0.0), 50, "jitter halves at most");
    }
}
