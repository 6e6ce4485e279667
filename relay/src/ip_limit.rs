//! Counting simultaneous connections per client IP address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Simultaneous connections per IP, bounded by a maximum.
#[derive(Debug, Clone)]
pub struct IpLimiter {
    max: u32,
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// Holds one connection slot of an IP; releases it when dropped.
#[derive(Debug)]
pub struct IpSlot {
    ip: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl IpLimiter {
    /// A limiter allowing `max` connections per IP.
    pub fn new(max: u32) -> Self {
        Self { max, counts: Arc::default() }
    }

    /// Takes a slot for `ip`, or `None` when it already holds `max`.
    pub fn acquire(&self, ip: IpAddr) -> Option<IpSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(IpSlot { ip, counts: self.counts.clone() })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_and_released() {
        let limiter = IpLimiter::new(2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let a = limiter.acquire(ip);
        let b = limiter.acquire(ip);
        assert!(a.is_some() && b.is_some());
        assert!(limiter.acquire(ip).is_none());
        assert!(limiter.acquire([10, 0, 0, 2].into()).is_some());
        drop(a);
        assert!(limiter.acquire(ip).is_some());
    }
}
