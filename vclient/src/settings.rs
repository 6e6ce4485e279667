//! What a virtual client runs with, from flags and `CATALK_*` environment
//! variables, checked up front so that bad configuration is one clear line.

use crate::store::StoreOptions;
use catalk_rtc::{IceServer, RtcConfig};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `catalk-vclient`: a headless peer that keeps recent history and serves it as last resort.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Args {
    /// The relay's websocket URL, e.g. `wss://chat.example.org/ws`.
    #[arg(long, env = "CATALK_RELAY_URL", default_value = "ws://127.0.0.1:8080/ws")]
    pub relay_url: String,
    /// This client's Ed25519 key (base64url seed); created on first run. Give its public key
    /// to the relay with `--virtual-client` so presence attests it.
    #[arg(long, env = "CATALK_VCLIENT_KEY_FILE", default_value = "catalk-vclient.key")]
    pub key_file: PathBuf,
    /// The history database file.
    #[arg(long, env = "CATALK_STORE", default_value = "catalk-vclient.redb")]
    pub store: PathBuf,
    /// How much recent history to keep, e.g. `24h`, `90m`, `7d`.
    #[arg(long, env = "CATALK_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub retention: Duration,
    /// Size cap of the stored facts in MiB; the oldest messages go first.
    #[arg(long, env = "CATALK_MAX_STORE_MIB", default_value_t = 256)]
    pub max_store_mib: u64,
    /// STUN/TURN servers: `stun:HOST[:PORT]` or `turn:USER:PASSWORD@HOST[:PORT]` (comma-separated).
    #[arg(long = "ice-server", env = "CATALK_ICE_SERVERS", value_delimiter = ',')]
    pub ice_servers: Vec<IceServer>,
    /// Local UDP address for WebRTC (e.g. `0.0.0.0:50000` on a machine with a public UDP port).
    #[arg(long, env = "CATALK_UDP_BIND", default_value = "0.0.0.0:0")]
    pub udp_bind: SocketAddr,
    /// Where to serve `/metrics` and `/healthz` (off when not given).
    #[arg(long, env = "CATALK_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// The display name presence shows.
    #[arg(long, env = "CATALK_NAME", default_value = "history keeper")]
    pub name: String,
    /// Print this client's public key and exit.
    #[arg(long)]
    pub print_key: bool,
}

/// Checked settings of one virtual client.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The relay's websocket URL.
    pub relay_url: String,
    /// The display name.
    pub name: String,
    /// The history database file.
    pub store_path: PathBuf,
    /// Retention and size cap.
    pub store_options: StoreOptions,
    /// WebRTC settings.
    pub rtc: RtcConfig,
    /// Where metrics are served, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// How often the store is pruned.
    pub prune_every: Duration,
    /// The peer kind this client says it is (`Virtual`; native test peers say `Browser`).
    pub kind: catalk_proto::PeerKind,
}

/// A setting that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The relay URL is not a websocket URL.
    #[error("relay URL {0:?} is not a ws:// or wss:// URL (e.g. wss://chat.example.org/ws)")]
    RelayUrl(String),
    /// The display name is not acceptable to the relay.
    #[error("name {0:?}: {1}")]
    Name(String, String),
    /// The retention window is zero.
    #[error("retention must be longer than zero")]
    Retention,
}

impl Args {
    /// Checks the arguments that need no IO.
    pub fn settings(&self) -> Result<Settings, SettingsError> {
        let url = self.relay_url.trim();
        let valid_url = (url.starts_with("ws://") || url.starts_with("wss://"))
            && url.split_once("://").is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
        if !valid_url {
            return Err(SettingsError::RelayUrl(self.relay_url.clone()));
        }
        catalk_proto::DisplayName::new(&self.name)
            .map_err(|e| SettingsError::Name(self.name.clone(), e.to_string()))?;
        if self.retention.is_zero() {
            return Err(SettingsError::Retention);
        }
        Ok(Settings {
            relay_url: url.to_owned(),
            name: self.name.clone(),
            store_path: self.store.clone(),
            store_options: StoreOptions { retention: self.retention, max_bytes: self.max_store_mib * 1024 * 1024 },
            rtc: RtcConfig {
                ice_servers: self.ice_servers.clone(),
                udp_bind: Some(self.udp_bind),
                ..RtcConfig::default()
            },
            metrics_addr: self.metrics_addr,
            prune_every: Duration::from_secs(60),
            kind: catalk_proto::PeerKind::Virtual,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        Args::parse_from(std::iter::once("catalk-vclient").chain(extra.iter().copied()))
    }

    #[test]
    fn defaults_are_usable() {
        let settings = args(&[]).settings().expect("defaults");
        assert_eq!(settings.store_options.retention, Duration::from_secs(24 * 3600));
        assert!(settings.rtc.ice_servers.is_empty());
    }

    #[test]
    fn bad_values_are_refused_with_a_clear_reason() {
        let err = args(&["--relay-url", "http://example.org"]).settings().expect_err("not ws");
        assert!(err.to_string().contains("not a ws:// or wss:// URL"), "{err}");
        assert!(args(&["--relay-url", "ws://"]).settings().is_err());
        assert!(args(&["--retention", "0s"]).settings().is_err());
        assert!(Args::try_parse_from(["catalk-vclient", "--retention", "soon"]).is_err());
        assert!(Args::try_parse_from(["catalk-vclient", "--ice-server", "turn:host"]).is_err());
    }

    #[test]
    fn ice_servers_and_retention_parse() {
        let settings = args(&["--ice-server", "stun:stun.example.org:3478", "--retention", "90m"]).settings().unwrap();
        assert_eq!(settings.rtc.ice_servers.len(), 1);
        assert_eq!(settings.store_options.retention, Duration::from_secs(90 * 60));
    }
}
