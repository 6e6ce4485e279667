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

/// A `hello` of at least `bytes` bytes of JSON (one channel entry repeated pads it).
fn big_hello(bytes: usize) -> catalk_proto::PeerMessage {
    let entry = catalk_proto::ChannelHoldings {
        channel: catalk_proto::ChannelName::general(),
        count: 1,
        oldest: None,
        newest: None,
        fp: catalk_proto::Fingerprint(u128::MAX),
        complete: false,
    };
    let each = serde_json::to_string(&entry).expect("json").len() + 1;
    let channels = vec![entry; bytes.div_ceil(each)];
    catalk_proto::PeerMessage::Hello { v: 1, kind: catalk_proto::PeerKind::Browser, channels }
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

#[tokio::test]
async fn signals_are_rate_limited_per_connection_and_refused_signals_are_not_delivered() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.limits.signals_per_second = 1;
    let relay = TestRelay::start(config).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let mut carl = TestClient::login(&relay.ws_url(), user_key(3), "carl").await?;
    let to = bob.public_key();
    let mut acked = Vec::new();
    let mut limited = 0;
    for rid in 1..=6 {
        let payload = format!("ada-{rid}");
        match ada.request(&ClientFrame::Signal { rid, to, to_conn: None, payload: payload.clone() }).await? {
            ServerFrame::Ack { .. } => acked.push(payload),
            ServerFrame::Error { code: ErrorCode::RateLimited, rid: Some(r), .. } if r == rid => limited += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(acked.first().map(String::as_str), Some("ada-1"), "the burst admits the first signal");
    assert!(limited >= 1, "a burst of 1 per second lets six signals in a row through: {acked:?}");
    // Ada's other frames are not limited by her signal allowance.
    assert!(matches!(ada.request(&ClientFrame::Ping { rid: 50 }).await?, ServerFrame::Ack { rid: 50, .. }));
    // Another connection has its own allowance; its signal arrives after all of ada's.
    let marker = ClientFrame::Signal { rid: 1, to, to_conn: None, payload: "carl".into() };
    assert!(matches!(carl.request(&marker).await?, ServerFrame::Ack { rid: 1, .. }));
    let mut delivered = Vec::new();
    loop {
        let (from, _, payload) = bob.signal().await?;
        if from == carl.public_key() {
            break;
        }
        delivered.push(payload);
    }
    assert_eq!(delivered, acked, "exactly the acknowledged signals reach bob");
    let (_, metrics) = catalk_testkit::http_get(relay.addr, "/metrics").await?;
    let line = format!("catalk_frames_rejected_total{{reason=\"rate_limited\"}} {limited}");
    assert!(metrics.contains(&line), "missing {line:?} in\n{metrics}");
    Ok(())
}

#[tokio::test]
async fn signals_to_a_key_that_does_not_read_end_in_peer_busy() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.limits.signals_per_second = 1_000_000;
    config.limits.frames_per_second = 1_000_000;
    config.limits.frames_burst = 1_000_000;
    // Bob's session stays blocked writing to his full socket instead of being closed.
    config.write_timeout = Duration::from_secs(120);
    let relay = TestRelay::start(config).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    // Bob never reads: the socket buffers fill, then his 64-frame signal queue.
    let bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let mut carl = TestClient::login(&relay.ws_url(), user_key(3), "carl").await?;
    let payload = "s".repeat(16_000);
    let mut busy_at = None;
    // Loopback socket buffers hold a few MB: 4000 × 16 kB is far more than they and the queue take.
    for rid in 1..=4000 {
        let frame = ClientFrame::Signal { rid, to: bob.public_key(), to_conn: None, payload: payload.clone() };
        match ada.request(&frame).await? {
            ServerFrame::Ack { .. } => {}
            ServerFrame::Error { code: ErrorCode::PeerBusy, rid: Some(r), .. } if r == rid => {
                busy_at = Some(rid);
                break;
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(busy_at.is_some_and(|n| n > 64), "peer_busy after the queue filled: {busy_at:?}");
    // Ada's connection is fine and others still get her signals.
    let frame = ClientFrame::Signal { rid: 9000, to: carl.public_key(), to_conn: None, payload: "hi".into() };
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Ack { rid: 9000, .. }));
    assert_eq!(carl.signal().await?.2, "hi");
    Ok(())
}

#[tokio::test]
async fn the_fallback_has_a_relay_wide_byte_cap_over_all_connections() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.limits.sync_fallback_bytes_per_second = 1_000_000;
    config.sync_fallback_total_bytes_per_second = 70_000;
    let relay = TestRelay::start(config).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut cleo = TestClient::login(&relay.ws_url(), user_key(3), "cleo").await?;
    let bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let bob_conn = bob.welcome.as_ref().map(|w| w.conn).unwrap_or_default();
    // Each sender is far below its own rate; together they pass the relay's 70 KB burst.
    let mut answers = Vec::new();
    for rid in 1..=4 {
        let sender = if rid % 2 == 1 { &mut ada } else { &mut cleo };
        let frame = ClientFrame::Peer { rid, to: bob.public_key(), to_conn: bob_conn, msg: big_hello(30_000) };
        answers.push(matches!(sender.request(&frame).await?, ServerFrame::Ack { .. }));
    }
    assert_eq!(answers, vec![true, true, false, false], "the third 30 KB frame in all is over the cap");
    Ok(())
}
