//! Counters exported at `/metrics` in the Prometheus text format.

use crate::link_paths::{LinkGauges, LinkPath};
use catalk_proto::{ErrorCode, FactKind};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The relay's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open websocket connections.
    pub connections: AtomicI64,
    /// Successful logins.
    pub logins_ok: AtomicU64,
    /// Failed logins.
    pub logins_failed: AtomicU64,
    /// Bytes received in websocket text messages, added as each is read.
    pub bytes_in: AtomicU64,
    /// Bytes sent in websocket text messages, added as each batch of frames is written
    /// (not when the connection ends), so long-lived connections show up at once.
    pub bytes_out: AtomicU64,
    /// Bytes of peer sync frames carried for peers that WebRTC could not connect.
    pub fallback_bytes: AtomicU64,
    /// STUN Binding requests answered.
    pub stun_answered: AtomicU64,
    /// UDP datagrams on the STUN socket that were not Binding requests.
    pub stun_ignored: AtomicU64,
    /// Members' sync links by path, as their clients report them.
    pub links: LinkGauges,
    facts: [AtomicU64; 6],
    rejected: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Counts one signed fact.
    pub fn fact_signed(&self, kind: FactKind) {
        self.facts[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one rejected frame.
    pub fn rejected(&self, code: ErrorCode) {
        if let Ok(mut map) = self.rejected.lock() {
            *map.entry(code.as_str()).or_default() += 1;
        }
    }

    /// Renders all counters in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "# TYPE catalk_connections gauge");
        let _ = writeln!(out, "catalk_connections {}", self.connections.load(Ordering::Relaxed));
        let _ = writeln!(out, "# TYPE catalk_logins_total counter");
        let _ = writeln!(out, "catalk_logins_total{{result=\"ok\"}} {}", load(&self.logins_ok));
        let _ = writeln!(out, "catalk_logins_total{{result=\"failed\"}} {}", load(&self.logins_failed));
        let _ = writeln!(out, "# TYPE catalk_facts_signed_total counter");
        for (kind, name) in [
            (FactKind::Epoch, "epoch"),
            (FactKind::Channel, "channel"),
            (FactKind::Message, "message"),
            (FactKind::Presence, "presence"),
            (FactKind::Grant, "grant"),
        ] {
            let _ = writeln!(out, "catalk_facts_signed_total{{kind=\"{name}\"}} {}", load(&self.facts[kind as usize]));
        }
        let _ = writeln!(out, "# TYPE catalk_frames_rejected_total counter");
        if let Ok(map) = self.rejected.lock() {
            for (reason, count) in map.iter() {
                let _ = writeln!(out, "catalk_frames_rejected_total{{reason=\"{reason}\"}} {count}");
            }
        }
        let _ = writeln!(out, "# TYPE catalk_bytes_total counter");
        let _ = writeln!(out, "catalk_bytes_total{{direction=\"in\"}} {}", load(&self.bytes_in));
        let _ = writeln!(out, "catalk_bytes_total{{direction=\"out\"}} {}", load(&self.bytes_out));
        let _ = writeln!(out, "# TYPE catalk_sync_fallback_bytes_total counter");
        let _ = writeln!(out, "catalk_sync_fallback_bytes_total {}", load(&self.fallback_bytes));
        let _ = writeln!(out, "# TYPE catalk_sync_links gauge");
        for path in LinkPath::ALL {
            let _ = writeln!(out, "catalk_sync_links{{path=\"{}\"}} {}", path.label(), self.links.get(path));
        }
        let _ = writeln!(out, "# TYPE catalk_stun_datagrams_total counter");
        let _ = writeln!(out, "catalk_stun_datagrams_total{{result=\"answered\"}} {}", load(&self.stun_answered));
        let _ = writeln!(out, "catalk_stun_datagrams_total{{result=\"ignored\"}} {}", load(&self.stun_ignored));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_includes_counters_by_label() {
        let m = Metrics::default();
        m.fact_signed(FactKind::Message);
        m.rejected(ErrorCode::RateLimited);
        m.rejected(ErrorCode::RateLimited);
        let text = m.render();
        assert!(text.contains("catalk_facts_signed_total{kind=\"message\"} 1"), "{text}");
        assert!(text.contains("catalk_frames_rejected_total{reason=\"rate_limited\"} 2"), "{text}");
    }
}
