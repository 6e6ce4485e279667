//! Login by Ed25519 challenge against a real relay on an ephemeral port.

use catalk_proto::{ClientFrame, ErrorCode, LoginFrame, PublicKey, ServerFrame, Signature, sign_login};
use catalk_relay::ManualClock;
use catalk_testkit::{TestClient, TestRelay, http_get, relay_config, user_key};
use std::sync::Arc;

fn error_code(frames: &[ServerFrame]) -> Option<ErrorCode> {
    frames.iter().find_map(|f| match f {
        ServerFrame::Error { code, .. } => Some(*code),
        _ => None,
    })
}

/// Sends `frame` as the first frame and returns the error the relay answers before closing.
async fn refused_login(relay: &TestRelay, frame: impl FnOnce(&mut TestClient) -> String) -> Option<ErrorCode> {
    let mut client = TestClient::connect(&relay.ws_url(), user_key(1)).await.expect("connect");
    let text = frame(&mut client);
    client.send_text(&text).await.expect("send");
    let frames = client.until_closed().await.expect("relay closes the socket");
    error_code(&frames)
}

async fn online_count(relay: &TestRelay) -> usize {
    let observer = TestClient::login(&relay.ws_url(), user_key(200), "observer").await.expect("observer");
    observer.welcome.expect("welcome").online_count - 1
}

/// The value of the metric line that starts with `name` (e.g. `catalk_logins_total{result="ok"}`).
async fn metric(relay: &TestRelay, name: &str) -> u64 {
    let (_, text) = http_get(relay.addr, "/metrics").await.expect("metrics");
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

const LOGINS_OK: &str = "catalk_logins_total{result=\"ok\"}";

#[tokio::test]
async fn login_succeeds_and_welcome_describes_the_relay() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let client = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let welcome = client.welcome.clone().expect("welcome");
    assert_eq!(welcome.key, client.public_key());
    assert!(welcome.privileges.post, "newcomers may post by default");
    assert!(!welcome.privileges.create_channel);
    assert_eq!(welcome.trusted.first(), Some(&client.relay));
    assert!(
        welcome
            .channels
            .iter()
            .any(|c| matches!(&c.body, catalk_proto::FactBody::Channel { name, .. } if name.as_str() == "general"))
    );
    assert!(welcome.epoch.verify(|k| *k == client.relay).is_ok());
    assert!(welcome.online.iter().any(
        |p| matches!(&p.body, catalk_proto::FactBody::Presence { key, online: true, .. } if *key == client.public_key())
    ));
    Ok(())
}

#[tokio::test]
async fn login_rejects_wrong_signature() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let code = refused_login(&relay, |c| {
        let mut frame = c.login_frame("ada", vec![]);
        if let ClientFrame::Login(login) = &mut frame {
            login.sig = Signature::from_bytes([1; 64]);
        }
        serde_json::to_string(&frame).expect("json")
    })
    .await;
    assert_eq!(code, Some(ErrorCode::BadSignature));
    assert_eq!(online_count(&relay).await, 0, "nobody came online");
    // The closing error names the login's request id.
    let mut client = TestClient::connect(&relay.ws_url(), user_key(1)).await?;
    let mut frame = client.login_frame("ada", vec![]);
    if let ClientFrame::Login(login) = &mut frame {
        login.sig = Signature::from_bytes([1; 64]);
    }
    client.send(&frame).await?;
    let frames = client.until_closed().await?;
    assert!(
        frames.iter().any(|f| matches!(f, ServerFrame::Error { rid: Some(rid), .. } if *rid == frame.rid())),
        "{frames:?}"
    );
    Ok(())
}

#[tokio::test]
async fn login_rejects_signature_by_another_key() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let code = refused_login(&relay, |c| {
        let (_, sig) = sign_login(&user_key(9), &c.nonce, &c.relay);
        let frame = ClientFrame::Login(LoginFrame {
            rid: 1,
            nonce: c.nonce,
            key: c.public_key(),
            sig,
            name: "mallory".into(),
            facts: vec![],
        });
        serde_json::to_string(&frame).expect("json")
    })
    .await;
    assert_eq!(code, Some(ErrorCode::BadSignature));
    assert_eq!(online_count(&relay).await, 0, "nobody came online");
    Ok(())
}

#[tokio::test]
async fn login_rejects_replayed_nonce_from_another_connection() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    // A logs in; its exact login frame is replayed on a new connection.
    let mut first = TestClient::connect(&relay.ws_url(), user_key(1)).await?;
    let login = first.login_frame("ada", vec![]);
    assert!(matches!(first.request(&login).await?, ServerFrame::Welcome(_)));
    let logins_before = metric(&relay, LOGINS_OK).await;
    let replayed = serde_json::to_string(&login)?;
    let code = refused_login(&relay, |_| replayed).await;
    assert_eq!(code, Some(ErrorCode::NonceMismatch));
    assert_eq!(metric(&relay, LOGINS_OK).await, logins_before, "the replay logged nobody in");
    assert_eq!(online_count(&relay).await, 1, "only the original login is online");
    Ok(())
}

#[tokio::test]
async fn login_rejects_nonce_issued_to_another_connection() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut other = TestClient::connect(&relay.ws_url(), user_key(2)).await?;
    let foreign_nonce = other.nonce;
    let code = refused_login(&relay, |c| {
        let (key, sig) = sign_login(&c.key, &foreign_nonce, &c.relay);
        serde_json::to_string(&ClientFrame::Login(LoginFrame {
            rid: 1,
            nonce: foreign_nonce,
            key,
            sig,
            name: "ada".into(),
            facts: vec![],
        }))
        .expect("json")
    })
    .await;
    assert_eq!(code, Some(ErrorCode::NonceMismatch));
    assert_eq!(online_count(&relay).await, 0, "nobody came online");
    // The nonce's owner can still use it: the refusal did not consume it.
    let login = other.login_frame("bob", vec![]);
    assert!(matches!(other.request(&login).await?, ServerFrame::Welcome(_)));
    Ok(())
}

#[tokio::test]
async fn login_rejects_expired_nonce() -> anyhow::Result<()> {
    let clock = ManualClock::new();
    let mut config = relay_config();
    config.clock = Arc::new(clock.clone());
    let ttl = config.limits.nonce_ttl_ms;
    let relay = TestRelay::start(config).await?;
    let mut client = TestClient::connect(&relay.ws_url(), user_key(1)).await?;
    clock.advance_ms(ttl + 1);
    let frame = client.login_frame("ada", vec![]);
    client.send(&frame).await?;
    assert_eq!(error_code(&client.until_closed().await?), Some(ErrorCode::NonceExpired));
    assert_eq!(online_count(&relay).await, 0, "nobody came online");
    Ok(())
}

#[tokio::test]
async fn login_rejects_weak_key() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    // The identity point: small order; any signature "verifies" non-strictly for some messages.
    let mut weak = [0u8; 32];
    weak[0] = 1;
    let code = refused_login(&relay, |c| {
        let mut sig = [0u8; 64];
        sig[0] = 1;
        serde_json::to_string(&ClientFrame::Login(LoginFrame {
            rid: 1,
            nonce: c.nonce,
            key: PublicKey::from_bytes(weak),
            sig: Signature::from_bytes(sig),
            name: "weak".into(),
            facts: vec![],
        }))
        .expect("json")
    })
    .await;
    assert_eq!(code, Some(ErrorCode::WeakKey));
    assert_eq!(online_count(&relay).await, 0, "nobody came online");
    Ok(())
}

#[tokio::test]
async fn login_rejects_bad_display_name() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let code = refused_login(&relay, |c| serde_json::to_string(&c.login_frame("  ", vec![])).expect("json")).await;
    assert_eq!(code, Some(ErrorCode::InvalidName));
    Ok(())
}

#[tokio::test]
async fn frames_before_login_are_refused() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let code = refused_login(&relay, |_| r#"{"t":"ping","rid":1}"#.into()).await;
    assert_eq!(code, Some(ErrorCode::NotLoggedIn));
    let code = refused_login(&relay, |_| "{not json".into()).await;
    assert_eq!(code, Some(ErrorCode::Malformed));
    let code = refused_login(&relay, |_| r#"{"t":"teleport","rid":3}"#.into()).await;
    assert_eq!(code, Some(ErrorCode::UnknownFrame));
    assert_eq!(online_count(&relay).await, 0);
    Ok(())
}

#[tokio::test]
async fn malformed_and_unknown_frames_after_login_get_errors_and_change_nothing() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut client = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    client.send_text(r#"{"t":"post","rid":7,"channel":"general"}"#).await?;
    assert!(matches!(client.answer_to(7).await?, ServerFrame::Error { code: ErrorCode::Malformed, rid: Some(7), .. }));
    client.send_text(r#"{"t":"fly","rid":8}"#).await?;
    assert!(matches!(
        client.answer_to(8).await?,
        ServerFrame::Error { code: ErrorCode::UnknownFrame, rid: Some(8), .. }
    ));
    let login = client.login_frame("again", vec![]);
    let rid = login.rid();
    assert!(
        matches!(client.request(&login).await?, ServerFrame::Error { code: ErrorCode::AlreadyLoggedIn, .. }),
        "rid {rid}"
    );
    // Still logged in and working.
    assert!(matches!(client.request(&ClientFrame::Ping { rid: 9 }).await?, ServerFrame::Ack { rid: 9, .. }));
    Ok(())
}

#[tokio::test]
async fn oversized_and_binary_frames_close_with_an_error() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut client = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    // A correctly signed post that is over the frame limit: never decoded, never applied.
    let huge = client.post_frame("general", &"x".repeat(70 * 1024));
    client.send(&huge).await?;
    assert_eq!(error_code(&client.until_closed().await?), Some(ErrorCode::FrameTooLarge));
    // The session ended before anything was signed, and its key left.
    assert_eq!(online_count(&relay).await, 0, "the closed connection left");

    let mut client = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let post = client.post_frame("general", "as binary");
    client.send_binary(serde_json::to_vec(&post)?).await?;
    assert_eq!(error_code(&client.until_closed().await?), Some(ErrorCode::Malformed));
    assert_eq!(online_count(&relay).await, 0, "the closed connection left");
    assert_eq!(metric(&relay, "catalk_facts_signed_total{kind=\"message\"}").await, 0, "no message was signed");
    Ok(())
}

#[tokio::test]
async fn one_key_may_log_in_from_several_connections() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let tab1 = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut tab2 = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    assert_ne!(tab1.welcome.as_ref().map(|w| w.conn), tab2.welcome.as_ref().map(|w| w.conn));
    assert_eq!(tab2.welcome.as_ref().map(|w| w.online_count), Some(1), "one key, one presence");
    drop(tab1);
    // The key stays online while one connection remains: tab2 still posts.
    assert!(matches!(tab2.post("general", "still here").await?, ServerFrame::Ack { .. }));
    Ok(())
}
