//! The machine's raw Ed25519 limit for relaying a message: the relay's own
//! per-message crypto (strictly verify the author signature, sign the fact),
//! on every core at once.

use catalk_proto::{ChannelName, DraftId, Fact, FactBody, FactId, PublicKey, sign_post, verify_author};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The measured crypto limit.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CryptoLimit {
    /// Messages per second the machine can verify (`verify_strict`) and sign, all cores together.
    pub crypto_limit_per_s: f64,
    /// Threads used (one per core).
    pub crypto_threads: usize,
}

/// Measures for `duration`, one thread per available core.
pub fn measure(duration: Duration) -> CryptoLimit {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let stop = AtomicBool::new(false);
    let per_thread: Vec<f64> = std::thread::scope(|scope| {
        let stop = &stop;
        let workers: Vec<_> = (0..threads).map(|t| scope.spawn(move || relay_crypto_loop(t, stop))).collect();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        workers.into_iter().map(|w| w.join().unwrap_or(0.0)).collect()
    });
    CryptoLimit { crypto_limit_per_s: per_thread.iter().sum(), crypto_threads: threads }
}

/// Verifies and countersigns one message over and over until `stop`; returns messages per second.
fn relay_crypto_loop(thread: usize, stop: &AtomicBool) -> f64 {
    let relay_key = ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]);
    let author_key = ed25519_dalek::SigningKey::from_bytes(&[thread as u8; 32]);
    let relay = PublicKey::of(&relay_key);
    let author = PublicKey::of(&author_key);
    let channel = ChannelName::general();
    let draft = DraftId::from_parts(1_700_000_000_000, thread as u128);
    let text = "catalk-bench 0000000001 a typical short chat message of about sixty-four bytes";
    let author_sig = sign_post(&author_key, &relay, &channel, &draft, text);
    let started = Instant::now();
    let mut done = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let verified = verify_author(&author, &relay, &channel, &draft, text, &author_sig).is_ok();
        let body = FactBody::Message {
            channel: channel.clone(),
            author,
            draft,
            text: text.to_owned(),
            prev: None,
            epoch: FactId::from_parts(1, 0),
            author_sig,
        };
        let fact = Fact::sign(&relay_key, FactId::from_parts(1_700_000_000_000, u128::from(done)), body);
        std::hint::black_box((verified, fact));
        done += 1;
    }
    done as f64 / started.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_positive() {
        let limit = measure(Duration::from_millis(50));
        assert!(limit.crypto_limit_per_s > 0.0);
        assert!(limit.crypto_threads >= 1);
    }
}
