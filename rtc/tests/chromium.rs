//! A native link against headless Chromium on this machine, both ways round, with and without
//! Chromium's mDNS hiding of host candidates. Needs `chromium` on PATH (Debian's package), so
//! ignored by default: `cargo test -p catalk-rtc --test chromium -- --ignored --nocapture`.
//!
//! The page and the SDP exchange go over a minimal HTTP server on 127.0.0.1; the page reports
//! back through it. Whatever the page sends on the channel is echoed by the native side and back.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use catalk_rtc::{LinkEvent, PeerLink, RtcConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const PAGE: &str = r#"<!doctype html><script>
const post = (path, body) => fetch(path, { method: 'POST', body });
async function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise(done => {
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && done());
    setTimeout(done, 3000);
  });
}
function wire(dc) {
  dc.onopen = () => dc.send('hello from chromium');
  dc.onmessage = e => dc.send('echo:' + e.data);
}
(async () => {
  try {
    const pc = new RTCPeerConnection();
    if (location.search.includes('browser-offers')) {
      wire(pc.createDataChannel('catalk-sync', { ordered: true }));
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const answer = await (await post('/offer', pc.localDescription.sdp)).text();
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    } else {
      pc.ondatachannel = e => wire(e.channel);
      const offer = await (await fetch('/native-offer')).text();
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      await post('/answer', pc.localDescription.sdp);
    }
  } catch (e) { post('/log', 'page error: ' + e); }
})();
</script>"#;

/// What the HTTP handler tells the test.
enum Signal {
    Link(PeerLink, mpsc::Receiver<LinkEvent>),
    BrowserSdp(String),
    Log(String),
}

async fn read_request(stream: &mut BufReader<TcpStream>) -> Option<(String, String)> {
    let mut line = String::new();
    stream.read_line(&mut line).await.ok()?;
    let target = line.split_whitespace().nth(1)?.to_owned();
    let mut length = 0;
    loop {
        let mut header = String::new();
        stream.read_line(&mut header).await.ok()?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    Some((target, String::from_utf8(body).ok()?))
}

async fn serve(listener: TcpListener, config: RtcConfig, signals: mpsc::UnboundedSender<Signal>) {
    let mut offerer: Option<(PeerLink, mpsc::Receiver<LinkEvent>)> = None;
    while let Ok((stream, _)) = listener.accept().await {
        let mut stream = BufReader::new(stream);
        let Some((target, body)) = read_request(&mut stream).await else { continue };
        let (kind, reply) = match target.split('?').next().unwrap_or_default() {
            "/" => ("text/html", PAGE.to_owned()),
            "/offer" => {
                drop(signals.send(Signal::BrowserSdp(body.clone())));
                let (link, answer, events) = PeerLink::answer(&config, &body).await.expect("answer");
                drop(signals.send(Signal::Link(link, events)));
                ("text/plain", answer)
            }
            "/native-offer" => {
                let (link, offer, events) = PeerLink::offer(&config).await.expect("offer");
                offerer = Some((link, events));
                ("text/plain", offer)
            }
            "/answer" => {
                drop(signals.send(Signal::BrowserSdp(body.clone())));
                let (link, events) = offerer.take().expect("an offer came first");
                link.accept_answer(&body).await.expect("accept answer");
                drop(signals.send(Signal::Link(link, events)));
                ("text/plain", String::new())
            }
            _ => {
                drop(signals.send(Signal::Log(body)));
                ("text/plain", String::new())
            }
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            reply.len()
        );
        let stream = stream.get_mut();
        drop(stream.write_all(head.as_bytes()).await);
        drop(stream.write_all(reply.as_bytes()).await);
    }
}

async fn run(browser_offers: bool, hide_ips_with_mdns: bool, udp_bind: Option<SocketAddr>) {
    let config = RtcConfig { udp_bind, ..RtcConfig::default() };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/?{}",
        listener.local_addr().expect("addr"),
        if browser_offers { "browser-offers" } else { "native-offers" }
    );
    let (signals_tx, mut signals) = mpsc::unbounded_channel();
    let server = tokio::spawn(serve(listener, config, signals_tx));
    let profile = std::env::temp_dir().join(format!("catalk-rtc-chromium-{}", std::process::id()));
    let mut command = std::process::Command::new("chromium");
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    if !hide_ips_with_mdns {
        command.arg("--disable-features=WebRtcHideLocalIpsWithMdns");
    }
    let mut browser = command.arg(&url).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("chromium");
    let started = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(30), async {
        let (link, mut events, signalled) = loop {
            match signals.recv().await.expect("server") {
                Signal::Link(link, events) => break (link, events, Instant::now()),
                Signal::BrowserSdp(sdp) => {
                    for candidate in sdp.lines().filter(|line| line.starts_with("a=candidate:")) {
                        println!("  browser {candidate}");
                    }
                }
                Signal::Log(text) if text.is_empty() => {}
                Signal::Log(text) => println!("  {text}"),
            }
        };
        assert_eq!(events.recv().await, Some(LinkEvent::Open));
        let opened = (started.elapsed(), signalled.elapsed());
        assert_eq!(events.recv().await, Some(LinkEvent::Text("hello from chromium".to_owned())));
        link.send("ping".to_owned()).expect("send");
        assert_eq!(events.recv().await, Some(LinkEvent::Text("echo:ping".to_owned())));
        link.close().await;
        opened
    })
    .await;
    drop(browser.kill());
    drop(browser.wait());
    server.abort();
    drop(std::fs::remove_dir_all(&profile));
    let opened = outcome.expect("link with Chromium within 30 s");
    println!(
        "browser offers: {browser_offers}, mDNS hiding: {hide_ips_with_mdns}, native bind: {udp_bind:?}: \
         open {:?} after launching Chromium, {:?} after the SDP exchange",
        opened.0, opened.1,
    );
}

/// Every combination for one offering side: mDNS hiding on and off, native sockets on every
/// interface (the default) and on loopback only.
async fn run_all(browser_offers: bool) {
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("address");
    for udp_bind in [None, Some(loopback)] {
        for hide_ips_with_mdns in [true, false] {
            run(browser_offers, hide_ips_with_mdns, udp_bind).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium on PATH"]
async fn chromium_offers_native_answers() {
    run_all(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium on PATH"]
async fn native_offers_chromium_answers() {
    run_all(false).await;
}
