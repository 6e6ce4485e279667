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

/// A `page` request as a peer sends it (an arbitrary but valid sync message).
fn page(rid: u64) -> catalk_proto::PeerMessage {
    catalk_proto::PeerMessage::Page {
        rid,
        channel: catalk_proto::ChannelName::general(),
        before: None,
        after: None,
        limit: 100,
    }
}

/// A `hello` of about `bytes` bytes (its fingerprint strings pad it).
fn big_hello(bytes: usize) -> catalk_proto::PeerMessage {
    let text = serde_json::json!({"t": "hello", "v": 1, "kind": "browser", "channels": [{
        "channel": "general", "count": 1, "oldest": null, "newest": null, "fp": "f".repeat(bytes), "complete": false
    }]});
    serde_json::from_value(text).expect("a hello")
}

#[tokio::test]
async fn peer_frames_are_refused_unless_the_relay_enables_the_fallback() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let bob_conn = bob.welcome.as_ref().map(|w| w.conn).unwrap_or_default();
    let frame = ClientFrame::Peer { rid: 1, to: bob.public_key(), to_conn: bob_conn, msg: page(1) };
    let answer = ada.request(&frame).await?;
    assert!(matches!(answer, ServerFrame::Error { code: ErrorCode::FallbackDisabled, rid: Some(1), .. }), "{answer:?}");
    let frames = bob.drain(Duration::from_millis(200)).await;
    assert!(!frames.iter().any(|f| matches!(f, ServerFrame::Peer { .. })), "{frames:?}");
    Ok(())
}

#[tokio::test]
async fn the_fallback_carries_sync_messages_to_one_connection_within_its_byte_rate() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.limits.sync_fallback_bytes_per_second = 40_000;
    let relay = TestRelay::start(config).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    assert_eq!(bob.welcome.as_ref().map(|w| w.limits.sync_fallback_bytes_per_second), Some(40_000));
    let bob_conn = bob.welcome.as_ref().map(|w| w.conn).unwrap_or_default();
    let ada_conn = ada.welcome.as_ref().map(|w| w.conn).unwrap_or_default();

    let frame = ClientFrame::Peer { rid: 1, to: bob.public_key(), to_conn: bob_conn, msg: page(7) };
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Ack { rid: 1, .. }));
    let delivered = loop {
        match bob.recv().await? {
            ServerFrame::Peer { from, from_conn, msg } => break (from, from_conn, msg),
            _ => continue,
        }
    };
    assert_eq!(delivered, (ada.public_key(), ada_conn, page(7)));

    // Another connection number of bob's key is not there.
    let frame = ClientFrame::Peer { rid: 2, to: bob.public_key(), to_conn: 424_242, msg: page(8) };
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Error { code: ErrorCode::NotOnline, .. }));

    // The byte rate: the burst admits one largest frame (64 KiB), then 40 KB/s.
    let mut limited = None;
    for rid in 10..14 {
        let frame = ClientFrame::Peer { rid, to: bob.public_key(), to_conn: bob_conn, msg: big_hello(30_000) };
        if let ServerFrame::Error { code: ErrorCode::RateLimited, .. } = ada.request(&frame).await? {
            limited = Some(rid);
            break;
        }
    }
    assert_eq!(limited, Some(12), "the third 30 KB frame in a row exceeds the burst");

    // A body that is not a sync message is malformed.
    let text =
        format!(r#"{{"t":"peer","rid":20,"to":"{}","to_conn":{bob_conn},"msg":{{"t":"nonsense"}}}}"#, bob.public_key());
    ada.send_text(&text).await?;
    let answer = ada.answer_to(20).await?;
    assert!(matches!(answer, ServerFrame::Error { code: ErrorCode::Malformed, .. }), "{answer:?}");

    let (_, metrics) = catalk_testkit::http_get(relay.addr, "/metrics").await?;
    let carried: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("catalk_sync_fallback_bytes_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(carried > 60_000, "carried bytes are counted: {carried}");
    Ok(())
}
