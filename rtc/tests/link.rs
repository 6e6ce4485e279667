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

/// Points every candidate in `sdp` at `port` on 127.0.0.1.
fn redirect_candidates(sdp: &str, port: u16) -> String {
    sdp.lines()
        .map(|line| match line.strip_prefix("a=candidate:") {
            Some(candidate) => {
                let mut fields: Vec<String> = candidate.split(' ').map(str::to_owned).collect();
                fields[4] = "127.0.0.1".to_owned();
                fields[5] = port.to_string();
                format!("a=candidate:{}\r\n", fields.join(" "))
            }
            None => format!("{line}\r\n"),
        })
        .collect()
}

/// Relays UDP between two sockets until `cut` is set, then drops everything: a peer vanishing
/// without a word, as when its machine sleeps or its network goes.
async fn relay(a: tokio::net::UdpSocket, b: tokio::net::UdpSocket, cut: tokio::sync::watch::Receiver<bool>) {
    let (mut a_peer, mut b_peer) = (None, None);
    let (mut a_buf, mut b_buf) = (vec![0; 2048], vec![0; 2048]);
    loop {
        tokio::select! {
            Ok((len, from)) = a.recv_from(&mut a_buf) => {
                a_peer = Some(from);
                let cut = *cut.borrow();
                if let (false, Some(to)) = (cut, b_peer) {
                    drop(b.send_to(&a_buf[..len], to).await);
                }
            }
            Ok((len, from)) = b.recv_from(&mut b_buf) => {
                b_peer = Some(from);
                let cut = *cut.borrow();
                if let (false, Some(to)) = (cut, a_peer) {
                    drop(a.send_to(&b_buf[..len], to).await);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_vanishing_without_close_is_detected() {
    let config = loopback();
    let to_answerer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let to_offerer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let (to_answerer_port, to_offerer_port) =
        (to_answerer.local_addr().expect("addr").port(), to_offerer.local_addr().expect("addr").port());
    // Each side only knows the relay's address for the other, so every packet goes through it.
    let (offerer, offer, mut offerer_events) = PeerLink::offer(&config).await.expect("offer");
    let (answerer, answer, mut answerer_events) =
        PeerLink::answer(&config, &redirect_candidates(&offer, to_offerer_port)).await.expect("answer");
    let (cut, cut_rx) = tokio::sync::watch::channel(false);
    let relay = tokio::spawn(relay(to_answerer, to_offerer, cut_rx));
    offerer.accept_answer(&redirect_candidates(&answer, to_answerer_port)).await.expect("accept");
    assert_eq!(next(&mut offerer_events).await, Some(LinkEvent::Open));
    assert_eq!(next(&mut answerer_events).await, Some(LinkEvent::Open));
    offerer.send("through the relay".to_owned()).expect("send");
    assert_eq!(next(&mut answerer_events).await, Some(LinkEvent::Text("through the relay".to_owned())));

    cut.send_replace(true);
    let started = Instant::now();
    for (events, side) in [(&mut offerer_events, "offerer"), (&mut answerer_events, "answerer")] {
        assert_eq!(next(events).await, Some(LinkEvent::Closed), "{side} notices");
        println!("{side}: Closed {:?} after the peer vanished", started.elapsed());
        assert_eq!(next(events).await, None);
    }
    assert!(offerer.is_closed() && answerer.is_closed());
    relay.abort();
}
