//! WebRTC signaling forwarding: addressed delivery with a relay-set `from`.

use catalk_proto::{ClientFrame, ErrorCode, PublicKey, ServerFrame};
use catalk_testkit::{TestClient, TestRelay, relay_config, user_key};
use std::time::Duration;

#[tokio::test]
async fn signal_reaches_only_the_addressed_key_with_the_true_sender() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let mut eve = TestClient::login(&relay.ws_url(), user_key(3), "eve").await?;
    // The payload claims to be from eve; the relay sets `from` from ada's login.
    let payload = format!(r#"{{"from":"{}","sdp":"v=0"}}"#, eve.public_key());
    let frame = ClientFrame::Signal { rid: 1, to: bob.public_key(), to_conn: None, payload: payload.clone() };
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Ack { rid: 1, .. }));
    let (from, from_conn, got) = bob.signal().await?;
    assert_eq!(from, ada.public_key());
    assert_eq!(Some(from_conn), ada.welcome.as_ref().map(|w| w.conn));
    assert_eq!(got, payload);
    let eve_frames = eve.drain(Duration::from_millis(200)).await;
    assert!(!eve_frames.iter().any(|f| matches!(f, ServerFrame::Signal { .. })), "eve saw {eve_frames:?}");

    // Bob answers the one connection that asked.
    let reply = ClientFrame::Signal { rid: 2, to: from, to_conn: Some(from_conn), payload: "answer".into() };
    assert!(matches!(bob.request(&reply).await?, ServerFrame::Ack { .. }));
    let (from, _, got) = ada.signal().await?;
    assert_eq!((from, got.as_str()), (bob.public_key(), "answer"));
    Ok(())
}

#[tokio::test]
async fn signals_to_absent_keys_or_too_large_are_refused() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let nobody = PublicKey::of(&user_key(99));
    let frame = ClientFrame::Signal { rid: 1, to: nobody, to_conn: None, payload: "x".into() };
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Error { code: ErrorCode::NotOnline, rid: Some(1), .. }));
    let frame = ClientFrame::Signal { rid: 2, to: bob.public_key(), to_conn: Some(424_242), payload: "x".into() };
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Error { code: ErrorCode::NotOnline, .. }));
    let big = "x".repeat(17 * 1024);
    let frame = ClientFrame::Signal { rid: 3, to: bob.public_key(), to_conn: None, payload: big };
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Error { code: ErrorCode::SignalTooLarge, .. }));
    Ok(())
}
