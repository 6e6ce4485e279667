//! Two native links in one process over real loopback UDP: ICE, DTLS, SCTP, no mocks.

use std::time::{Duration, Instant};

use catalk_rtc::{LinkEvent, PeerLink, RtcConfig, RtcError, SendError};
use tokio::sync::mpsc::Receiver;

const WAIT: Duration = Duration::from_secs(15);

fn loopback() -> RtcConfig {
    RtcConfig { udp_bind: Some("127.0.0.1:0".parse().expect("address")), ..RtcConfig::default() }
}

struct Pair {
    offerer: PeerLink,
    offerer_events: Receiver<LinkEvent>,
    answerer: PeerLink,
    answerer_events: Receiver<LinkEvent>,
}

async fn connect(config: &RtcConfig) -> Pair {
    let (offerer, offer, offerer_events) = PeerLink::offer(config).await.expect("offer");
    assert!(offer.contains("a=candidate:"), "offer carries its candidates:\n{offer}");
    let (answerer, answer, answerer_events) = PeerLink::answer(config, &offer).await.expect("answer");
    assert!(answer.contains("a=candidate:"), "answer carries its candidates:\n{answer}");
    offerer.accept_answer(&answer).await.expect("accept answer");
    Pair { offerer, offerer_events, answerer, answerer_events }
}

async fn next(events: &mut Receiver<LinkEvent>) -> Option<LinkEvent> {
    tokio::time::timeout(WAIT, events.recv()).await.expect("link event in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_open_first_then_exchange_messages_both_ways() {
    let started = Instant::now();
    let mut pair = connect(&loopback()).await;
    // Queued before the channel opens: goes out on open.
    pair.offerer.send("ping 1".to_owned()).expect("queue");
    assert_eq!(next(&mut pair.offerer_events).await, Some(LinkEvent::Open));
    assert_eq!(next(&mut pair.answerer_events).await, Some(LinkEvent::Open));
    println!("link open after {:?}", started.elapsed());
    pair.offerer.send("ping 2".to_owned()).expect("send");
    assert_eq!(next(&mut pair.answerer_events).await, Some(LinkEvent::Text("ping 1".to_owned())));
    assert_eq!(next(&mut pair.answerer_events).await, Some(LinkEvent::Text("ping 2".to_owned())));
    let json = r#"{"kind":"facts","text":"héllo ✓"}"#.to_owned();
    pair.answerer.send(json.clone()).expect("send");
    assert_eq!(next(&mut pair.offerer_events).await, Some(LinkEvent::Text(json)));
    pair.offerer.close().await;
    pair.answerer.close().await;
}

/// Sends 2,000 messages of ~50 KiB through links with the given high-water mark; returns MB/s.
async fn large_batch_in_order(send_high_water: usize) {
    const COUNT: usize = 2_000;
    const PAD: usize = 50 * 1024;
    const QUEUE_LIMIT: usize = 1024 * 1024;
    let config = RtcConfig { send_queue_limit: QUEUE_LIMIT, send_high_water, ..loopback() };
    let mut pair = connect(&config).await;
    assert_eq!(next(&mut pair.answerer_events).await, Some(LinkEvent::Open));
    let pad = "x".repeat(PAD);
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        let mut most_queued = 0;
        for seq in 0..COUNT {
            pair.offerer.send_wait(format!(r#"{{"seq":{seq},"pad":"{pad}"}}"#)).await.expect("send");
            most_queued = most_queued.max(pair.offerer.queued_bytes());
        }
        (pair.offerer, most_queued)
    });
    let mut bytes = 0;
    for seq in 0..COUNT {
        let Some(LinkEvent::Text(text)) = next(&mut pair.answerer_events).await else { panic!("message {seq}") };
        assert!(text.starts_with(&format!(r#"{{"seq":{seq},"#)), "message {seq} in order");
        bytes += text.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    let (offerer, most_queued) = sender.await.expect("sender");
    assert!(most_queued <= QUEUE_LIMIT, "queue held {most_queued} bytes");
    println!(
        "throughput (high water {} KiB): {COUNT} messages, {:.1} MB in {seconds:.2} s = {:.1} MB/s, {:.0} msgs/s",
        send_high_water / 1024,
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / seconds,
        COUNT as f64 / seconds,
    );
    offerer.close().await;
    pair.answerer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_control_delivers_large_batch_in_order() {
    large_batch_in_order(RtcConfig::default().send_high_water).await;
    large_batch_in_order(128 * 1024).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_small_messages_arrive_in_order() {
    const COUNT: usize = 10_000;
    let mut pair = connect(&loopback()).await;
    assert_eq!(next(&mut pair.answerer_events).await, Some(LinkEvent::Open));
    let pad = "z".repeat(180);
    let started = Instant::now();
    for seq in 0..COUNT {
        pair.offerer.send_wait(format!(r#"{{"seq":{seq},"pad":"{pad}"}}"#)).await.expect("send");
    }
    for seq in 0..COUNT {
        let Some(LinkEvent::Text(text)) = next(&mut pair.answerer_events).await else { panic!("message {seq}") };
        assert!(text.starts_with(&format!(r#"{{"seq":{seq},"#)), "message {seq} in order");
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("small messages: {COUNT} x ~200 B in {seconds:.2} s = {:.0} msgs/s", COUNT as f64 / seconds);
    pair.offerer.close().await;
    pair.answerer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_reports_queue_full_when_peer_stops_reading_then_recovers() {
    const QUEUE_LIMIT: usize = 256 * 1024;
    let config = RtcConfig { send_queue_limit: QUEUE_LIMIT, ..loopback() };
    let mut pair = connect(&config).await;
    assert_eq!(next(&mut pair.answerer_events).await, Some(LinkEvent::Open));
    let message = |seq: usize| format!(r#"{{"seq":{seq},"pad":"{}"}}"#, "y".repeat(16 * 1024));
    // Nobody reads `answerer_events`: buffers fill up to the peer, then the queue.
    let mut sent = 0;
    while tokio::time::timeout(Duration::from_secs(2), pair.offerer.send_wait(message(sent))).await.is_ok() {
        sent += 1;
        assert!(sent < 100_000, "the queue never filled");
    }
    match pair.offerer.send(message(sent)) {
        Err(SendError::QueueFull { queued, limit }) => assert!(queued <= limit && limit == QUEUE_LIMIT),
        other => panic!("expected QueueFull, got {other:?}"),
    }
    println!("queue full after {sent} messages of 16 KiB");
    // The reader comes back: everything queued arrives, in order, and the queue drains.
    for seq in 0..sent {
        let Some(LinkEvent::Text(text)) = next(&mut pair.answerer_events).await else { panic!("message {seq}") };
        assert!(text.starts_with(&format!(r#"{{"seq":{seq},"#)), "message {seq} in order");
    }
    assert_eq!(pair.offerer.queued_bytes(), 0);
    pair.offerer.send(message(sent)).expect("room again");
    pair.offerer.close().await;
    pair.answerer.close().await;
}

async fn assert_closed_soon(events: &mut Receiver<LinkEvent>, what: &str) {
    let started = Instant::now();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await.expect("Closed within 5 s") {
            Some(LinkEvent::Closed) => break,
            Some(LinkEvent::Text(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    println!("{what}: Closed after {:?}", started.elapsed());
    assert_eq!(next(events).await, None, "the receiver ends after Closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_one_side_reports_closed_to_the_other() {
    let mut pair = connect(&loopback()).await;
    assert_eq!(next(&mut pair.offerer_events).await, Some(LinkEvent::Open));
    assert_eq!(next(&mut pair.answerer_events).await, Some(LinkEvent::Open));
    pair.offerer.close().await;
    assert_closed_soon(&mut pair.answerer_events, "answerer after offerer.close()").await;
    assert_eq!(pair.answerer.send("late".to_owned()), Err(SendError::Closed));
    assert_closed_soon(&mut pair.offerer_events, "offerer after its own close()").await;

    let mut pair = connect(&loopback()).await;
    assert_eq!(next(&mut pair.offerer_events).await, Some(LinkEvent::Open));
    assert_eq!(next(&mut pair.answerer_events).await, Some(LinkEvent::Open));
    drop(pair.answerer);
    assert_closed_soon(&mut pair.offerer_events, "offerer after the answerer was dropped").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_sdp_is_a_typed_error() {
    let config = loopback();
    for garbage in ["", "garbage", "v=0\r\nm=nonsense\r\n"] {
        let error = PeerLink::answer(&config, garbage).await.err().expect("garbage offer rejected");
        assert!(matches!(error, RtcError::InvalidSdp { kind: "offer", .. }), "{error:?}");
    }
    let (offerer, offer, _events) = PeerLink::offer(&config).await.expect("offer");
    let error = offerer.accept_answer("garbage").await.expect_err("garbage answer rejected");
    assert!(matches!(error, RtcError::InvalidSdp { kind: "answer", .. }), "{error:?}");
    // Cut short: SDP that parses as far as it goes but lacks the transport.
    let truncated: String = offer.lines().take(3).map(|line| format!("{line}\r\n")).collect();
    let error = offerer.accept_answer(&truncated).await.expect_err("truncated answer rejected");
    assert!(matches!(error, RtcError::InvalidSdp { kind: "answer", .. }), "{error:?}");
    offerer.close().await;
}
