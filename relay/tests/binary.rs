//! The real `catalk-relay` binary: key selection at start (CATALK_RELAY_KEY, --key-file, a
//! generated default file) and graceful shutdown on SIGTERM.

use catalk_proto::{ErrorCode, PublicKey, ServerFrame};
use catalk_relay::keyfile;
use catalk_testkit::{TestClient, http_get, user_key};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the binary may take to start listening or to exit.
const PATIENCE: Duration = Duration::from_secs(20);

/// A `catalk-relay` process listening on an ephemeral loopback port.
struct RelayProcess {
    child: Child,
    addr: SocketAddr,
    /// Log lines (stdout and stderr) seen so far.
    log: Vec<String>,
    lines: mpsc::Receiver<String>,
}

impl RelayProcess {
    /// Starts the binary in `dir` with `args` and `env` (every other `CATALK_*` variable
    /// removed) and waits for its "listening on" line.
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_catalk-relay"));
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CATALK_")) {
            command.env_remove(name);
        }
        command
            .args(["--listen", "127.0.0.1:0", "--no-claim"])
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start catalk-relay");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        forward_lines(stdout, tx.clone());
        forward_lines(stderr, tx);
        let mut relay = Self { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), log: Vec::new(), lines };
        let line = relay.wait_for_line("listening on ");
        let url = line.split("listening on ").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap_or("");
        relay.addr = url.trim_start_matches("http://").parse().unwrap_or_else(|_| panic!("no address in {line:?}"));
        relay
    }

    /// Waits for a log line containing `needle` and returns it.
    fn wait_for_line(&mut self, needle: &str) -> String {
        if let Some(line) = self.log.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no log line with {needle:?}; log so far:\n{}", self.log.join("\n")),
            }
        }
    }

    /// The whole log once the process has exited.
    fn rest_of_log(&mut self) -> String {
        self.log.extend(self.lines.try_iter());
        self.log.join("\n")
    }

    /// The relay key the process publishes in `/.well-known/catalk.json`.
    async fn served_key(&self) -> PublicKey {
        let (status, body) = http_get(self.addr, "/.well-known/catalk.json").await.expect("GET well-known");
        assert_eq!(status, 200, "{body}");
        let doc: serde_json::Value = serde_json::from_str(&body).expect("well-known is JSON");
        doc["relay"].as_str().and_then(|k| k.parse().ok()).unwrap_or_else(|| panic!("no relay key in {body}"))
    }

    /// Sends SIGTERM (with the `kill` command: no signal crate is a dependency).
    fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit.
    async fn exit_status(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the relay did not exit; log:\n{}", self.rest_of_log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then asserts a clean exit; returns the whole log.
    async fn stop(mut self) -> String {
        self.terminate();
        let status = self.exit_status().await;
        let log = self.rest_of_log();
        assert!(status.success(), "exit {status}; log:\n{log}");
        log
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        // Only our own child, and only if a failed assertion left it running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn forward_lines(stream: impl std::io::Read + Send + 'static, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
}

/// A fresh, empty directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("relay-binary-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn seed_text(byte: u8) -> String {
    keyfile::format_signing_key(&ed25519_dalek::SigningKey::from_bytes(&[byte; 32]))
}

fn public_of(byte: u8) -> PublicKey {
    PublicKey::of(&ed25519_dalek::SigningKey::from_bytes(&[byte; 32]))
}

#[tokio::test]
async fn sigterm_closes_clients_with_shutting_down_and_exits_zero() -> anyhow::Result<()> {
    let dir = scratch_dir("sigterm");
    let seed = seed_text(0x0a);
    let mut relay = RelayProcess::start(&dir, &[], &[("CATALK_RELAY_KEY", &seed)]);
    let mut ada = TestClient::login(&format!("ws://{}/ws", relay.addr), user_key(1), "ada").await?;
    assert_eq!(ada.relay, public_of(0x0a));

    relay.terminate();
    let frames = ada.until_closed().await?;
    assert!(frames.iter().any(|f| matches!(f, ServerFrame::Error { code: ErrorCode::ShuttingDown, .. })), "{frames:?}");
    let status = relay.exit_status().await;
    let log = relay.rest_of_log();
    assert_eq!(status.code(), Some(0), "log:\n{log}");
    assert!(log.contains("shutting down"), "log:\n{log}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn relay_key_env_wins_over_the_key_file() -> anyhow::Result<()> {
    let dir = scratch_dir("env-wins");
    let file = dir.join("given.key");
    let file_text = format!("{}\n", seed_text(0x0b));
    std::fs::write(&file, &file_text)?;
    let file_arg = file.to_string_lossy().into_owned();

    // The file alone is used...
    let relay = RelayProcess::start(&dir, &["--key-file", &file_arg], &[]);
    assert_eq!(relay.served_key().await, public_of(0x0b));
    relay.stop().await;

    // ...but CATALK_RELAY_KEY wins over it, and the file is left alone.
    let env_seed = seed_text(0x0a);
    let mut relay = RelayProcess::start(&dir, &["--key-file", &file_arg], &[("CATALK_RELAY_KEY", &env_seed)]);
    assert_eq!(relay.served_key().await, public_of(0x0a));
    let line = relay.wait_for_line("listening on ");
    assert!(line.contains(&public_of(0x0a).to_string()), "the start line names the key in use: {line}");
    relay.stop().await;
    assert_eq!(std::fs::read_to_string(&file)?, file_text);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn without_a_key_the_relay_generates_saves_and_logs_one() -> anyhow::Result<()> {
    let dir = scratch_dir("generate");
    let default_file = dir.join("catalk-relay.key");
    assert!(!default_file.exists());

    let mut relay = RelayProcess::start(&dir, &[], &[]);
    let line = relay.wait_for_line("generated a new relay key");
    let served = relay.served_key().await;
    relay.stop().await;

    let saved = keyfile::load(&default_file)?;
    assert_eq!(PublicKey::of(&saved), served, "the saved key is the one in use");
    assert!(line.contains(&served.to_string()), "the log names the public key: {line}");
    assert!(line.contains("catalk-relay.key"), "the log names the file: {line}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&default_file)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key file is private");
    }

    // The next start reuses the saved key and generates nothing.
    let relay = RelayProcess::start(&dir, &[], &[]);
    assert_eq!(relay.served_key().await, served);
    let log = relay.stop().await;
    assert!(!log.contains("generated"), "log:\n{log}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn by_default_the_relay_publishes_and_answers_stun_on_its_listen_port() -> anyhow::Result<()> {
    let dir = scratch_dir("stun");
    let seed = seed_text(0x0c);
    let relay = RelayProcess::start(&dir, &[], &[("CATALK_RELAY_KEY", &seed)]);
    let (_, body) = http_get(relay.addr, "/.well-known/catalk.json").await?;
    let doc: serde_json::Value = serde_json::from_str(&body)?;
    let expected = format!("stun:127.0.0.1:{}", relay.addr.port());
    assert_eq!(doc["ice_servers"], serde_json::json!([{ "urls": [expected] }]), "{body}");

    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let mut request = rtc_stun::message::Message::new();
    request.new_transaction_id()?;
    request.set_type(rtc_stun::message::BINDING_REQUEST);
    request.encode();
    client.send_to(&request.raw, relay.addr).await?;
    let mut buffer = [0u8; 1500];
    let (len, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buffer)).await??;
    let mut response = rtc_stun::message::Message::new();
    response.unmarshal_binary(&buffer[..len])?;
    assert_eq!(response.typ, rtc_stun::message::BINDING_SUCCESS);
    relay.stop().await;

    // With --no-stun nothing is published (the operator gives --ice-server instead).
    let relay = RelayProcess::start(&dir, &["--no-stun"], &[("CATALK_RELAY_KEY", &seed)]);
    let (_, body) = http_get(relay.addr, "/.well-known/catalk.json").await?;
    let doc: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(doc["ice_servers"], serde_json::json!([]), "{body}");
    relay.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
