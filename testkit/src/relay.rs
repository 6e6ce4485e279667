//! Starting and stopping a real relay on `127.0.0.1:0`.

use catalk_relay::RelayConfig;
use std::net::SocketAddr;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The claim token of [`relay_config`].
pub const TEST_CLAIM_TOKEN: &str = "claim-token-for-tests";

/// A deterministic relay key so restarts in one test keep trusting earlier facts.
pub fn relay_config() -> RelayConfig {
    let mut config = RelayConfig::new(ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]));
    config.claim_token = Some(TEST_CLAIM_TOKEN.to_owned());
    config
}

/// A deterministic user key number `n`.
pub fn user_key(n: u8) -> ed25519_dalek::SigningKey {
    let mut seed = [0x10; 32];
    seed[0] = n;
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

/// A relay running in this process on an ephemeral loopback port.
#[derive(Debug)]
pub struct TestRelay {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestRelay {
    /// Binds `127.0.0.1:0` and serves `config` on it.
    pub async fn start(config: RelayConfig) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::start_on(listener, config)
    }

    /// Serves `config` on an already bound listener (e.g. the port of a stopped relay).
    pub fn start_on(listener: tokio::net::TcpListener, config: RelayConfig) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(catalk_relay::serve(listener, config, async {
            let _ = stopped.await;
        }));
        Ok(Self { addr, stop: Some(stop), task: Some(task) })
    }

    /// The websocket URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The HTTP base URL.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the relay and waits until it has closed every connection.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
