//! Rate limits, connection limits, slow consumers, shutdown and the HTTP endpoints.

use catalk_proto::{ClientFrame, ErrorCode, FactBody, ServerFrame};
use catalk_testkit::{TestClient, TestRelay, http_get, relay_config, user_key};
use std::time::Duration;

const BYTES_IN: &str = "catalk_bytes_total{direction=\"in\"}";
const BYTES_OUT: &str = "catalk_bytes_total{direction=\"out\"}";

/// The value of the metric line in `metrics` that starts with `name`.
fn metric(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
}

fn count_errors(frames: &[ServerFrame], wanted: ErrorCode) -> usize {
    frames.iter().filter(|f| matches!(f, ServerFrame::Error { code, .. } if *code == wanted)).count()
}

#[tokio::test]
async fn flooding_client_is_rate_limited_while_others_are_unaffected() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut flooder = TestClient::login(&relay.ws_url(), user_key(1), "flood").await?;
    let mut calm = TestClient::login(&relay.ws_url(), user_key(2), "calm").await?;
    let burst = relay_config().limits.frames_burst as usize;
    for rid in 0..(burst as u64 + 100) {
        flooder.send(&ClientFrame::Ping { rid: 1000 + rid }).await?;
    }
    // The calm client is served at once.
    assert!(matches!(calm.request(&ClientFrame::Ping { rid: 1 }).await?, ServerFrame::Ack { rid: 1, .. }));
    assert!(matches!(calm.post("general", "unaffected").await?, ServerFrame::Ack { .. }));
    let mut answered = Vec::new();
    while answered.len() < burst + 100 {
        let frame = flooder.recv().await?;
        if matches!(frame, ServerFrame::Ack { .. } | ServerFrame::Error { .. }) {
            answered.push(frame);
        }
    }
    let limited = count_errors(&answered, ErrorCode::RateLimited);
    assert!(limited >= 50, "only {limited} of {} frames were limited", answered.len());
    assert!(answered.len() - limited >= burst, "the burst is served");
    Ok(())
}

#[tokio::test]
async fn posts_are_limited_per_key_across_connections() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.limits.posts_burst_per_key = 5;
    config.limits.posts_per_second_per_key = 1;
    let relay = TestRelay::start(config).await?;
    let mut tab1 = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut tab2 = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let mut outcomes = Vec::new();
    for n in 0..8 {
        let tab = if n % 2 == 0 { &mut tab1 } else { &mut tab2 };
        outcomes.push(tab.post("general", &format!("m{n}")).await?);
    }
    assert_eq!(count_errors(&outcomes, ErrorCode::RateLimited), 3, "{outcomes:?}");
    assert!(matches!(bob.post("general", "fine").await?, ServerFrame::Ack { .. }));
    Ok(())
}

#[tokio::test]
async fn connections_per_ip_are_bounded() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.limits.max_connections_per_ip = 2;
    let relay = TestRelay::start(config).await?;
    let first = TestClient::connect(&relay.ws_url(), user_key(1)).await?;
    let _second = TestClient::connect(&relay.ws_url(), user_key(2)).await?;
    let third = TestClient::connect(&relay.ws_url(), user_key(3)).await;
    let err = third.err().map(|e| format!("{e:#}")).unwrap_or_default();
    assert!(err.contains("TooManyConnections"), "third connection: {err}");
    drop(first);
    // The slot is released when a connection ends.
    let mut retry = None;
    for _ in 0..50 {
        if let Ok(client) = TestClient::connect(&relay.ws_url(), user_key(3)).await {
            retry = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(retry.is_some(), "a freed slot is usable again");
    Ok(())
}

#[tokio::test]
async fn slow_consumer_is_disconnected_with_a_reason() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.limits.outbound_queue_frames = 16;
    config.limits.posts_burst_per_key = 100_000;
    config.limits.posts_per_second_per_key = 100_000;
    config.limits.frames_burst = 100_000;
    config.limits.frames_per_second = 100_000;
    config.write_timeout = Duration::from_millis(300);
    let relay = TestRelay::start(config).await?;
    let mut sleeper = TestClient::login(&relay.ws_url(), user_key(1), "sleeper").await?;
    let mut poster = TestClient::login(&relay.ws_url(), user_key(2), "poster").await?;
    let body = "z".repeat(4000);
    // Fill the sleeper's socket buffers: it never reads while this runs. The
    // poster reads its own answers between batches so that it keeps up.
    for _ in 0..60 {
        let mut last = 0;
        for _ in 0..50 {
            let frame = poster.post_frame("general", &body);
            last = frame.rid();
            poster.send(&frame).await?;
        }
        poster.answer_to(last).await?;
        poster.drain(Duration::from_millis(1)).await;
    }
    // The sleeper is closed. Its socket is full, so the error frame that says why reaches it
    // only if there was room; the relay counts the disconnection either way.
    let frames = sleeper.until_closed().await?;
    assert!(count_errors(&frames, ErrorCode::SlowConsumer) <= 1, "last frame: {:?}", frames.last());
    let (_, metrics) = http_get(relay.addr, "/metrics").await?;
    assert!(metrics.contains("catalk_frames_rejected_total{reason=\"slow_consumer\"} 1"), "{metrics}");
    // The poster was never affected.
    assert!(matches!(poster.request(&ClientFrame::Ping { rid: 1 }).await?, ServerFrame::Ack { .. }));
    Ok(())
}

#[tokio::test]
async fn shutdown_closes_connections_with_shutting_down() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    relay.stop().await?;
    let frames = ada.until_closed().await?;
    assert_eq!(count_errors(&frames, ErrorCode::ShuttingDown), 1, "{frames:?}");
    Ok(())
}

#[tokio::test]
async fn http_endpoints_report_health_metrics_and_identity() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.ice_servers = vec!["stun:stun.example.org:3478".parse()?, "turn:ada:pw@turn.example.org".parse()?];
    let relay = TestRelay::start(config).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    assert!(matches!(ada.post("general", "counted").await?, ServerFrame::Ack { .. }));
    ada.send_text("garbage").await?;
    ada.drain(Duration::from_millis(100)).await;

    let (status, body) = http_get(relay.addr, "/healthz").await?;
    assert_eq!((status, body.trim()), (200, "ok"));

    let (status, body) = http_get(relay.addr, "/.well-known/catalk.json").await?;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(doc["protocol"], 1);
    assert_eq!(doc["relay"], ada.relay.to_string());
    assert_eq!(doc["limits"]["max_body_bytes"], 4096);
    assert_eq!(
        doc["ice_servers"],
        serde_json::json!([
            {"urls": ["stun:stun.example.org:3478"]},
            {"urls": ["turn:turn.example.org"], "username": "ada", "credential": "pw"},
        ])
    );

    let (status, metrics) = http_get(relay.addr, "/metrics").await?;
    assert_eq!(status, 200);
    for line in [
        "catalk_connections 1",
        "catalk_logins_total{result=\"ok\"} 1",
        "catalk_logins_total{result=\"failed\"} 0",
        "catalk_facts_signed_total{kind=\"message\"} 1",
        "catalk_frames_rejected_total{reason=\"malformed\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }

    // One failed login: its connection ends with bad_signature.
    let mut mallory = TestClient::connect(&relay.ws_url(), user_key(9)).await?;
    let mut login = mallory.login_frame("mallory", vec![]);
    if let ClientFrame::Login(frame) = &mut login {
        frame.sig = catalk_proto::Signature::from_bytes([1; 64]);
    }
    mallory.send(&login).await?;
    mallory.until_closed().await?;
    let (_, metrics) = http_get(relay.addr, "/metrics").await?;
    for line in [
        "catalk_logins_total{result=\"ok\"} 1",
        "catalk_logins_total{result=\"failed\"} 1",
        "catalk_frames_rejected_total{reason=\"bad_signature\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    let (bytes_in, bytes_out) = (metric(&metrics, BYTES_IN), metric(&metrics, BYTES_OUT));
    assert!(bytes_in > 0 && bytes_out > 0, "in {bytes_in}, out {bytes_out}");
    // Both byte counters grow while ada's connection stays open: outgoing bytes are
    // counted as they are written, not when the connection ends.
    let text = "x".repeat(1000);
    assert!(matches!(ada.post("general", &text).await?, ServerFrame::Ack { .. }));
    ada.fact_where(|f| matches!(&f.body, FactBody::Message { text: t, .. } if *t == text)).await?;
    // The session writes in order, so once this ack arrives the fact's write has been counted.
    assert!(matches!(ada.request(&ClientFrame::Ping { rid: 77 }).await?, ServerFrame::Ack { rid: 77, .. }));
    let (_, metrics) = http_get(relay.addr, "/metrics").await?;
    assert!(metric(&metrics, BYTES_IN) >= bytes_in + 1000, "{metrics}");
    assert!(metric(&metrics, BYTES_OUT) >= bytes_out + 1000, "the echoed fact is counted: {metrics}");
    let (status, page) = http_get(relay.addr, "/").await?;
    assert_eq!(status, 200);
    assert!(page.contains("catalk"));
    Ok(())
}

/// Opens a websocket to `relay` (with `x-client-ip: ip` when given) and returns it with the
/// first frame the relay sends: a challenge, or the error that refuses the connection.
async fn first_frame(
    relay: &TestRelay,
    ip: Option<&'static str>,
) -> anyhow::Result<(tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>, ServerFrame)> {
    use tungstenite::client::IntoClientRequest as _;
    let mut request = relay.ws_url().into_client_request()?;
    if let Some(ip) = ip {
        request.headers_mut().insert("x-client-ip", ip.parse()?);
    }
    tokio::task::spawn_blocking(move || {
        let (mut ws, _) = tungstenite::connect(request)?;
        loop {
            if let tungstenite::Message::Text(text) = ws.read()? {
                let frame = serde_json::from_str(&text)?;
                return Ok((ws, frame));
            }
        }
    })
    .await?
}

fn is_challenge(frame: &ServerFrame) -> bool {
    matches!(frame, ServerFrame::Challenge { .. })
}

#[tokio::test]
async fn connections_per_ip_are_counted_by_the_client_ip_header() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.client_ip_header = Some("x-client-ip".into());
    config.limits.max_connections_per_ip = 1;
    let relay = TestRelay::start(config).await?;
    // All sockets come from 127.0.0.1; the header names the client.
    let (_first, frame) = first_frame(&relay, Some("203.0.113.1")).await?;
    assert!(is_challenge(&frame), "{frame:?}");
    let (_, frame) = first_frame(&relay, Some("203.0.113.1")).await?;
    assert!(
        matches!(frame, ServerFrame::Error { code: ErrorCode::TooManyConnections, rid: None, .. }),
        "a second connection from the same client IP: {frame:?}"
    );
    let (_other, frame) = first_frame(&relay, Some("203.0.113.2, 10.0.0.1")).await?;
    assert!(is_challenge(&frame), "another client IP (first of a list) has its own slot: {frame:?}");
    let (_, frame) = first_frame(&relay, Some("203.0.113.2")).await?;
    assert!(matches!(frame, ServerFrame::Error { code: ErrorCode::TooManyConnections, .. }), "{frame:?}");
    // Without the header (or with an unparsable one) the socket address counts.
    let (_direct, frame) = first_frame(&relay, None).await?;
    assert!(is_challenge(&frame), "{frame:?}");
    let (_, frame) = first_frame(&relay, Some("not-an-ip")).await?;
    assert!(matches!(frame, ServerFrame::Error { code: ErrorCode::TooManyConnections, .. }), "{frame:?}");
    let (_, metrics) = http_get(relay.addr, "/metrics").await?;
    assert!(metrics.contains("catalk_frames_rejected_total{reason=\"too_many_connections\"} 3"), "{metrics}");
    Ok(())
}

#[tokio::test]
async fn a_client_that_never_answers_the_challenge_is_closed_with_login_timeout() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.limits.nonce_ttl_ms = 100;
    let relay = TestRelay::start(config).await?;
    let mut silent = TestClient::connect(&relay.ws_url(), user_key(1)).await?;
    let frames = silent.until_closed().await?;
    assert!(
        matches!(frames.as_slice(), [ServerFrame::Error { code: ErrorCode::LoginTimeout, rid: None, .. }]),
        "{frames:?}"
    );
    let (_, metrics) = http_get(relay.addr, "/metrics").await?;
    assert!(metrics.contains("catalk_logins_total{result=\"failed\"} 1"), "{metrics}");
    assert!(metrics.contains("catalk_logins_total{result=\"ok\"} 0"), "{metrics}");
    Ok(())
}

#[tokio::test]
async fn reported_link_paths_are_summed_at_metrics_until_the_connection_ends() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut ben = TestClient::login(&relay.ws_url(), user_key(2), "ben").await?;
    for (client, [direct, turn, relay]) in [(&mut ada, [2, 1, 0]), (&mut ben, [0, 0, u32::MAX])] {
        let rid = client.rid();
        assert!(matches!(
            client.request(&ClientFrame::Links { rid, direct, turn, relay }).await?,
            ServerFrame::Ack { .. }
        ));
    }
    let rid = ada.rid();
    let replaced = ada.request(&ClientFrame::Links { rid, direct: 1, turn: 1, relay: 0 }).await?;
    assert!(matches!(replaced, ServerFrame::Ack { .. }), "a report replaces the last one");
    let gauges = |metrics: &str| {
        ["direct", "turn", "relay"].map(|path| metric(metrics, &format!("catalk_sync_links{{path=\"{path}\"}}")))
    };
    let (_, metrics) = http_get(relay.addr, "/metrics").await?;
    assert_eq!(gauges(&metrics), [1, 1, u64::from(catalk_relay::link_paths::MAX_REPORTED)], "clamped");
    drop(ben);
    let mut cleared = false;
    for _ in 0..50 {
        let (_, metrics) = http_get(relay.addr, "/metrics").await?;
        if gauges(&metrics) == [1, 1, 0] {
            cleared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cleared, "a closed connection's links leave the sums");
    Ok(())
}
