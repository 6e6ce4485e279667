//! Counters of one virtual client, served as Prometheus text on `/metrics`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a virtual client counts.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Bytes of `facts` answers served to browser peers.
    pub served_bytes_browser: AtomicU64,
    /// Bytes of `facts` answers served to other virtual clients.
    pub served_bytes_virtual: AtomicU64,
    /// Facts recorded live from the relay.
    pub live_facts: AtomicU64,
    /// Facts backfilled from peers.
    pub backfilled_facts: AtomicU64,
    /// Messages held in the store now.
    pub stored_messages: AtomicU64,
    /// Bytes of facts held in the store now.
    pub stored_bytes: AtomicU64,
    /// Messages removed by retention.
    pub pruned_messages: AtomicU64,
    /// Links to peers carrying history (data channels, or through the relay).
    pub peers_connected: AtomicU64,
    /// 1 while logged in to the relay.
    pub relay_connected: AtomicU64,
}

impl Metrics {
    /// Takes the driver's counters: served bytes by peer kind, stored facts, open links.
    pub fn record(&self, stats: &catalk_core::ClientStats) {
        let to_virtual = stats.sync.served_bytes_to_virtual;
        self.served_bytes_browser.store(stats.sync.served_bytes - to_virtual, Ordering::Relaxed);
        self.served_bytes_virtual.store(to_virtual, Ordering::Relaxed);
        self.live_facts.store(stats.live_stored, Ordering::Relaxed);
        self.backfilled_facts.store(stats.backfilled_stored, Ordering::Relaxed);
        self.peers_connected
            .store(u64::from(stats.links_direct + stats.links_turn + stats.links_relayed), Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, kind: &str, lines: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        counter(
            "catalk_vclient_served_bytes_total",
            "Bytes of history served, by the requesting peer's kind.",
            "counter",
            &[
                ("{peer_kind=\"browser\"}", get(&self.served_bytes_browser)),
                ("{peer_kind=\"virtual\"}", get(&self.served_bytes_virtual)),
            ],
        );
        counter("catalk_vclient_live_facts_total", "Facts recorded live.", "counter", &[("", get(&self.live_facts))]);
        counter(
            "catalk_vclient_backfilled_facts_total",
            "Facts backfilled from peers.",
            "counter",
            &[("", get(&self.backfilled_facts))],
        );
        counter(
            "catalk_vclient_pruned_messages_total",
            "Messages removed by retention.",
            "counter",
            &[("", get(&self.pruned_messages))],
        );
        counter("catalk_vclient_stored_messages", "Messages held.", "gauge", &[("", get(&self.stored_messages))]);
        counter("catalk_vclient_stored_bytes", "Bytes of facts held.", "gauge", &[("", get(&self.stored_bytes))]);
        counter(
            "catalk_vclient_peers_connected",
            "Links to peers carrying history.",
            "gauge",
            &[("", get(&self.peers_connected))],
        );
        counter("catalk_vclient_relay_connected", "1 while logged in.", "gauge", &[("", get(&self.relay_connected))]);
        out
    }
}

/// Serves `/metrics` and `/healthz` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) -> std::io::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/metrics", get(move || std::future::ready(metrics.render())))
        .route("/healthz", get(|| std::future::ready("ok\n")));
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_bytes_are_counted_by_peer_kind() {
        let metrics = Metrics::default();
        let mut stats = catalk_core::ClientStats::default();
        stats.sync.served_bytes = 107;
        stats.sync.served_bytes_to_virtual = 7;
        metrics.record(&stats);
        let text = metrics.render();
        assert!(text.contains("catalk_vclient_served_bytes_total{peer_kind=\"browser\"} 100"), "{text}");
        assert!(text.contains("catalk_vclient_served_bytes_total{peer_kind=\"virtual\"} 7"), "{text}");
    }
}
