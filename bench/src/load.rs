//! What every run shares: logging a fleet of clients in, reading their frames,
//! publishing pre-signed posts, counting, and stopping.

use crate::conn::{self, Client, Kind, Socket};
use crate::histogram::Histogram;
use crate::relay::Relay;
use crate::sockets;
use catalk_proto::{ChannelName, ClientFrame, DraftId, PostFrame, PublicKey, sign_post};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt as _, StreamExt as _};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// What marks a benchmark message's text; the message number follows it.
pub const MARKER: &str = "catalk-bench ";

/// Counters all clients of a run add to, and the send times of its messages.
#[derive(Debug)]
pub struct Shared {
    /// Text frames received after login.
    pub frames: AtomicU64,
    /// Bytes of those frames.
    pub bytes: AtomicU64,
    /// `fact` frames received.
    pub facts: AtomicU64,
    /// `fact` frames received by clients that do not publish.
    pub subscriber_facts: AtomicU64,
    /// Posts acknowledged.
    pub acks: AtomicU64,
    /// Error frames received, by code.
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// Connections that ended before the run stopped, by reason.
    pub disconnects: Mutex<BTreeMap<String, u64>>,
    /// Set once the run is over, so that closing connections are not counted as lost.
    pub stopping: AtomicBool,
    /// Set when publishers must stop sending.
    pub halt: AtomicBool,
    /// Publishers that sent all their pre-signed posts before `halt`.
    pub exhausted: AtomicU64,
    /// Send time of message `i` as nanoseconds since `base` + 1 (0: not sent yet).
    sent_at: Vec<AtomicU64>,
    base: Instant,
    /// Messages sent in `[window_start, window_end)` (ns since `base`) count for latency.
    window_start: AtomicU64,
    window_end: AtomicU64,
}

impl Shared {
    /// Counters for a run that sends up to `messages` messages.
    pub fn new(messages: usize) -> Arc<Self> {
        Arc::new(Self {
            frames: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            facts: AtomicU64::new(0),
            subscriber_facts: AtomicU64::new(0),
            acks: AtomicU64::new(0),
            errors: Mutex::default(),
            disconnects: Mutex::default(),
            stopping: AtomicBool::new(false),
            halt: AtomicBool::new(false),
            exhausted: AtomicU64::new(0),
            sent_at: (0..messages).map(|_| AtomicU64::new(0)).collect(),
            base: Instant::now(),
            window_start: AtomicU64::new(u64::MAX),
            window_end: AtomicU64::new(u64::MAX),
        })
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// From now on, messages sent count for latency.
    pub fn open_window(&self) {
        self.window_start.store(self.now_ns(), Ordering::Relaxed);
    }

    /// From now on, messages sent no longer count for latency.
    pub fn close_window(&self) {
        self.window_end.store(self.now_ns(), Ordering::Relaxed);
    }

    fn mark_sent(&self, message: usize) {
        if let Some(slot) = self.sent_at.get(message) {
            slot.store(self.now_ns() + 1, Ordering::Relaxed);
        }
    }

    /// The latency of a delivered message, if it was sent inside the window.
    fn latency(&self, message: usize) -> Option<Duration> {
        let sent = self.sent_at.get(message)?.load(Ordering::Relaxed).checked_sub(1)?;
        let in_window =
            sent >= self.window_start.load(Ordering::Relaxed) && sent < self.window_end.load(Ordering::Relaxed);
        in_window.then(|| Duration::from_nanos(self.now_ns().saturating_sub(sent)))
    }

    fn count(map: &Mutex<BTreeMap<String, u64>>, key: String) {
        *map.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default() += 1;
    }

    /// A copy of a by-reason map.
    pub fn snapshot(map: &Mutex<BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
        map.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// What one client task hands back.
#[derive(Debug, Default)]
pub struct ClientEnd {
    /// Latencies this client saw.
    pub histogram: Histogram,
}

/// How a run connects its clients.
#[derive(Debug, Clone, Copy)]
pub struct FleetOptions {
    /// Logins in flight at once.
    pub concurrency: usize,
    /// Connections per local source address before the next loopback address is used.
    pub connections_per_source: usize,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self { concurrency: 32, connections_per_source: sockets::CONNECTIONS_PER_SOURCE }
    }
}

/// The clients of a run, logged in and being driven by their tasks.
#[derive(Debug)]
pub struct Fleet {
    tasks: Vec<JoinHandle<ClientEnd>>,
    stop: watch::Sender<bool>,
    /// Run seed from which client keys derive.
    pub seed: [u8; 32],
    /// Shared counters.
    pub shared: Arc<Shared>,
    /// Logins that succeeded.
    pub logged_in: usize,
    /// Logins that failed, with the first error.
    pub failed: usize,
    /// The first login error, if any.
    pub first_error: Option<String>,
    /// Bytes of all welcome frames.
    pub welcome_bytes: u64,
    sources: Vec<Option<IpAddr>>,
    concurrency: usize,
}

impl Fleet {
    /// An empty fleet for a relay that will take up to `connections` clients.
    pub fn new(relay: &Relay, connections: usize, options: FleetOptions, shared: Arc<Shared>) -> anyhow::Result<Self> {
        Ok(Self {
            tasks: Vec::new(),
            stop: watch::channel(false).0,
            seed: conn::random_seed()?,
            shared,
            logged_in: 0,
            failed: 0,
            first_error: None,
            welcome_bytes: 0,
            sources: sockets::source_addresses(relay.addr, connections, options.connections_per_source),
            concurrency: options.concurrency.max(1),
        })
    }

    /// How many local source addresses the clients are spread over (1 = the kernel's choice).
    pub fn source_addresses(&self) -> usize {
        self.sources.len()
    }

    /// The signing key of client `index`.
    pub fn key(&self, index: usize) -> ed25519_dalek::SigningKey {
        conn::client_key(&self.seed, index)
    }

    /// Logs in clients `range` with at most `concurrency` logins in flight and
    /// hands each, once welcomed, to `drive` (its task runs until the fleet stops).
    /// Returns when every login has succeeded or failed.
    pub async fn login<F, Fut>(
        &mut self,
        relay: &Relay,
        range: Range<usize>,
        bar: &ProgressBar,
        drive: F,
    ) -> anyhow::Result<()>
    where
        F: Fn(usize, Client, watch::Receiver<bool>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ClientEnd> + Send + 'static,
    {
        let gate = Arc::new(Semaphore::new(self.concurrency));
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Result<usize, String>>();
        let target = self.logged_in + self.failed + range.len();
        for index in range {
            let permit = gate.clone().acquire_owned().await?;
            let (url, addr) = (relay.ws_url.clone(), relay.addr);
            let source = self.sources[index % self.sources.len()];
            let key = self.key(index);
            let (drive, done, stop) = (drive.clone(), done_tx.clone(), self.stop.subscribe());
            self.tasks.push(tokio::spawn(async move {
                let result = conn::login(&url, addr, source, key, &format!("bench-{index}")).await;
                drop(permit);
                match result {
                    Ok(client) => {
                        let _ = done.send(Ok(client.welcome_bytes));
                        drive(index, client, stop).await
                    }
                    Err(err) => {
                        let _ = done.send(Err(format!("{err:#}")));
                        ClientEnd::default()
                    }
                }
            }));
            while let Ok(done) = done_rx.try_recv() {
                self.record_login(done, bar);
            }
        }
        drop(done_tx);
        while self.logged_in + self.failed < target {
            match done_rx.recv().await {
                Some(done) => self.record_login(done, bar),
                None => break,
            }
        }
        Ok(())
    }

    fn record_login(&mut self, done: Result<usize, String>, bar: &ProgressBar) {
        match done {
            Ok(bytes) => {
                self.logged_in += 1;
                self.welcome_bytes += bytes as u64;
            }
            Err(err) => {
                self.failed += 1;
                self.first_error.get_or_insert(err);
            }
        }
        bar.inc(1);
    }

    /// Stops every client task and collects what they saw. Stops `relay` first
    /// (if this run spawned it), so closing thousands of connections does not
    /// make it publish thousands of offline presence facts.
    pub async fn stop(self, relay: &mut Relay) -> Histogram {
        self.shared.stopping.store(true, Ordering::Relaxed);
        relay.stop();
        let _ = self.stop.send(true);
        let mut histogram = Histogram::default();
        for task in self.tasks {
            if let Ok(end) = task.await {
                histogram.merge(&end.histogram);
            }
        }
        histogram
    }
}

/// Reads a client's frames until the fleet stops or the connection ends,
/// counting them; records latencies of benchmark messages if `record`.
/// Acks and errors call `on_answer`.
pub async fn read_frames<S>(
    mut stream: S,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    record: bool,
    subscriber: bool,
    mut on_answer: impl FnMut(),
) -> ClientEnd
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut end = ClientEnd::default();
    let mut last_error: Option<String> = None;
    loop {
        let next = tokio::select! {
            _ = stop.changed() => return end,
            next = stream.next() => next,
        };
        let text = match next {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                let reason = frame.map(|f| f.reason.as_str().to_owned()).filter(|r| !r.is_empty());
                lost(&shared, reason.or(last_error).unwrap_or_else(|| "closed".into()));
                return end;
            }
            Some(Ok(_)) => continue,
            Some(Err(err)) => {
                lost(&shared, last_error.unwrap_or_else(|| format!("error: {err}")));
                return end;
            }
            None => {
                lost(&shared, last_error.unwrap_or_else(|| "eof".into()));
                return end;
            }
        };
        shared.frames.fetch_add(1, Ordering::Relaxed);
        shared.bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
        match conn::frame_kind(&text) {
            Kind::Fact => {
                shared.facts.fetch_add(1, Ordering::Relaxed);
                if subscriber {
                    shared.subscriber_facts.fetch_add(1, Ordering::Relaxed);
                }
                if record
                    && let Some(message) = message_number(&text)
                    && let Some(latency) = shared.latency(message)
                {
                    end.histogram.record(latency);
                }
            }
            Kind::Ack => {
                shared.acks.fetch_add(1, Ordering::Relaxed);
                on_answer();
            }
            Kind::Error => {
                let code = conn::error_code(&text);
                Shared::count(&shared.errors, code.clone());
                last_error = Some(code);
                on_answer();
            }
            Kind::Welcome | Kind::Other => {}
        }
    }
}

fn lost(shared: &Shared, reason: String) {
    if !shared.stopping.load(Ordering::Relaxed) {
        Shared::count(&shared.disconnects, reason);
    }
}

/// The number after [`MARKER`] in a frame's text.
fn message_number(text: &str) -> Option<usize> {
    let at = text.find(MARKER)? + MARKER.len();
    let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
    text[at..at + digits].parse().ok()
}

/// Signed post frames, ready to send: `frames[p]` holds publisher `p`'s posts,
/// numbered from `p * per_publisher`. Signs on every core.
pub fn presign(
    keys: &[ed25519_dalek::SigningKey],
    relay: PublicKey,
    per_publisher: usize,
    body_bytes: usize,
) -> Vec<Vec<String>> {
    let channel = ChannelName::general();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs: Vec<(usize, &ed25519_dalek::SigningKey)> = keys.iter().enumerate().collect();
    let chunk = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = jobs
            .chunks(chunk)
            .map(|chunk| {
                let channel = &channel;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(p, key)| {
                            (0..per_publisher)
                                .map(|j| {
                                    let number = p * per_publisher + j;
                                    let mut text = format!("{MARKER}{number:010} ");
                                    while text.len() < body_bytes {
                                        text.push('x');
                                    }
                                    let draft = DraftId::from_parts(now_ms, number as u128);
                                    let sig = sign_post(key, &relay, channel, &draft, &text);
                                    let frame = ClientFrame::Post(PostFrame {
                                        rid: j as u64 + 1,
                                        channel: channel.as_str().to_owned(),
                                        draft,
                                        text,
                                        sig,
                                    });
                                    serde_json::to_string(&frame).unwrap_or_default()
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
    })
}

/// Sends `frames` (numbered from `first`) as fast as the relay answers, keeping
/// at most `window` posts unanswered, until they run out or the fleet stops.
pub async fn send_windowed(
    mut sink: SplitSink<Socket, Message>,
    frames: Vec<String>,
    first: usize,
    window: Arc<Semaphore>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    for (j, frame) in frames.into_iter().enumerate() {
        let permit = match window.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                if sink.flush().await.is_err() {
                    return;
                }
                tokio::select! {
                    _ = stop.changed() => return,
                    permit = window.acquire() => match permit { Ok(p) => p, Err(_) => return },
                }
            }
        };
        permit.forget();
        if *stop.borrow() || shared.halt.load(Ordering::Relaxed) {
            let _ = sink.flush().await;
            return;
        }
        shared.mark_sent(first + j);
        if sink.feed(Message::text(frame)).await.is_err() {
            return;
        }
    }
    shared.exhausted.fetch_add(1, Ordering::Relaxed);
    let _ = sink.flush().await;
}

/// Sends `frames` (numbered from `first`) on a fixed schedule: frame `j` at
/// `start + (j * stride + offset) * interval`.
pub async fn send_paced(
    mut sink: SplitSink<Socket, Message>,
    frames: Vec<String>,
    first: usize,
    schedule: Schedule,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    for (j, frame) in frames.into_iter().enumerate() {
        let due = schedule.start + schedule.interval.mul_f64((j * schedule.stride + schedule.offset) as f64);
        tokio::time::sleep_until(due.into()).await;
        if *stop.borrow() || shared.halt.load(Ordering::Relaxed) {
            return;
        }
        shared.mark_sent(first + j);
        if sink.send(Message::text(frame)).await.is_err() {
            return;
        }
    }
    shared.exhausted.fetch_add(1, Ordering::Relaxed);
}

/// How publishers send.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// As fast as the relay answers, with at most this many posts unanswered per publisher.
    Window(usize),
    /// On a fixed schedule: the whole run sends one post per `interval`, round-robin over the publishers.
    Rate {
        /// Time between two posts of the run.
        interval: Duration,
    },
}

/// Drives publisher clients: each reads like any client and, once `go` holds a
/// start time, sends its pre-signed posts.
#[derive(Debug, Clone)]
pub struct Publishers {
    /// Pre-signed posts by publisher (taken by the publisher's task).
    pub frames: Arc<Mutex<Vec<Vec<String>>>>,
    /// Fleet index of publisher 0.
    pub first_index: usize,
    /// Posts per publisher (publisher `p`'s are numbered from `p * per_publisher`).
    pub per_publisher: usize,
    /// How they send.
    pub pace: Pace,
    /// Start time, once the run begins.
    pub go: watch::Receiver<Option<Instant>>,
    /// Shared counters.
    pub shared: Arc<Shared>,
    /// Whether publishers record latencies of the posts they receive too.
    pub record: bool,
}

impl Publishers {
    /// Runs publisher client `index` until the fleet stops.
    pub async fn drive(self, index: usize, client: Client, stop: watch::Receiver<bool>) -> ClientEnd {
        let p = index - self.first_index;
        let count = self.frames.lock().map_or(1, |f| f.len()).max(1);
        let frames = self.frames.lock().map(|mut f| f.get_mut(p).map(std::mem::take).unwrap_or_default());
        let frames = frames.unwrap_or_default();
        let (sink, stream) = client.ws.split();
        let windowed = matches!(self.pace, Pace::Window(_));
        let window = Arc::new(Semaphore::new(match self.pace {
            Pace::Window(n) => n.max(1),
            Pace::Rate { .. } => 0,
        }));
        let first = p * self.per_publisher;
        let writer = tokio::spawn({
            let (shared, window, mut go, mut stop) = (self.shared.clone(), window.clone(), self.go, stop.clone());
            async move {
                let start = tokio::select! {
                    _ = stop.changed() => return,
                    start = go.wait_for(Option::is_some) => match start.ok().and_then(|s| *s) {
                        Some(start) => start,
                        None => return,
                    },
                };
                match self.pace {
                    Pace::Window(_) => send_windowed(sink, frames, first, window, shared, stop).await,
                    Pace::Rate { interval } => {
                        let schedule = Schedule { start, interval, stride: count, offset: p };
                        send_paced(sink, frames, first, schedule, shared, stop).await;
                    }
                }
            }
        });
        let end = read_frames(stream, self.shared, stop, self.record, false, move || {
            if windowed {
                window.add_permits(1);
            }
        })
        .await;
        writer.abort();
        end
    }
}

/// When a paced publisher sends.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Time of message 0 of publisher 0.
    pub start: Instant,
    /// Time between two messages of the whole run.
    pub interval: Duration,
    /// Number of publishers (a publisher sends every `stride`-th message).
    pub stride: usize,
    /// This publisher's place among them.
    pub offset: usize,
}

/// Counts over the measurement window of a run.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Its length.
    pub elapsed: Duration,
    /// Posts acknowledged in it.
    pub acks: u64,
    /// `fact` frames received in it, by every client.
    pub facts: u64,
    /// `fact` frames received in it by clients that do not publish.
    pub subscriber_facts: u64,
    /// Relay CPU seconds in it.
    pub relay_cpu_s: Option<f64>,
    /// This tool's CPU seconds in it.
    pub bench_cpu_s: Option<f64>,
    /// CPU seconds of every other process in it (a noisy machine shows here).
    pub other_cpu_s: Option<f64>,
}

/// Lets the publishers run for `warmup`, then counts for `duration`; at the
/// end halts the publishers and waits (at most `drain`) for the last deliveries.
pub async fn measure(
    shared: &Shared,
    relay: Option<crate::procfs::Proc>,
    warmup: Duration,
    duration: Duration,
    drain: Duration,
    progress: bool,
) -> Window {
    use crate::procfs::{CpuSample, Proc};
    tokio::time::sleep(warmup).await;
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (acks, facts, subscriber_facts) = (load(&shared.acks), load(&shared.facts), load(&shared.subscriber_facts));
    let (relay_cpu, bench_cpu, machine) =
        (CpuSample::take(relay), CpuSample::take(Some(Proc::This)), CpuSample::machine());
    let started = Instant::now();
    shared.open_window();
    let bar = bar(progress, duration.as_secs().max(1), "measuring");
    let until = started + duration;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250).min(until - Instant::now())).await;
        bar.set_position(started.elapsed().as_secs());
    }
    shared.close_window();
    let relay_cpu_s = CpuSample::take(relay).since(relay_cpu);
    let bench_cpu_s = CpuSample::take(Some(Proc::This)).since(bench_cpu);
    let window = Window {
        elapsed: started.elapsed(),
        acks: load(&shared.acks) - acks,
        facts: load(&shared.facts) - facts,
        subscriber_facts: load(&shared.subscriber_facts) - subscriber_facts,
        relay_cpu_s,
        bench_cpu_s,
        other_cpu_s: other_cpu(CpuSample::machine().since(machine), relay_cpu_s, bench_cpu_s),
    };
    bar.finish_and_clear();
    shared.halt.store(true, Ordering::Relaxed);
    settle(shared, Duration::from_millis(500), drain, &ProgressBar::hidden()).await;
    window
}

/// Machine CPU time not spent by the relay or this tool.
pub fn other_cpu(machine: Option<f64>, relay: Option<f64>, bench: Option<f64>) -> Option<f64> {
    Some((machine? - relay.unwrap_or(0.0) - bench?).max(0.0))
}

/// A progress bar on stderr, or a hidden one.
pub fn bar(show: bool, len: u64, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{msg:>12} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec})")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// Waits until no frame has arrived for `quiet` (the relay's fan-out is done),
/// at most `limit`; returns how long it waited.
pub async fn settle(shared: &Shared, quiet: Duration, limit: Duration, bar: &ProgressBar) -> Duration {
    let started = Instant::now();
    let step = Duration::from_millis(100);
    let mut last = shared.frames.load(Ordering::Relaxed);
    let mut still_since = Instant::now();
    while started.elapsed() < limit {
        tokio::time::sleep(step).await;
        let now = shared.frames.load(Ordering::Relaxed);
        bar.set_position(now);
        if now != last {
            last = now;
            still_since = Instant::now();
        } else if still_since.elapsed() >= quiet {
            return still_since - started;
        }
    }
    started.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_numbers_are_found_in_fact_frames() {
        let frame = r#"{"t":"fact","fact":{"body":{"kind":"message","text":"catalk-bench 0000001234 xxxx"}}}"#;
        assert_eq!(message_number(frame), Some(1234));
        assert_eq!(message_number(r#"{"t":"fact"}"#), None);
    }

    #[test]
    fn presigned_posts_verify() {
        let keys = vec![conn::client_key(&[1; 32], 0), conn::client_key(&[1; 32], 1)];
        let relay = PublicKey::from_bytes([9; 32]);
        let frames = presign(&keys, relay, 3, 64);
        assert_eq!(frames.len(), 2);
        let Ok(ClientFrame::Post(post)) = catalk_proto::decode_client_frame(&frames[1][2]) else {
            panic!("not a post: {}", frames[1][2]);
        };
        assert!(post.text.starts_with("catalk-bench 0000000005 "));
        assert_eq!(post.text.len(), 64);
        let author = PublicKey::of(&keys[1]);
        let channel = ChannelName::general();
        assert!(catalk_proto::verify_author(&author, &relay, &channel, &post.draft, &post.text, &post.sig).is_ok());
    }

    #[test]
    fn only_messages_sent_in_the_window_have_a_latency() {
        let shared = Shared::new(3);
        shared.mark_sent(0);
        shared.open_window();
        shared.mark_sent(1);
        shared.close_window();
        shared.mark_sent(2);
        assert!(shared.latency(0).is_none());
        assert!(shared.latency(1).is_some());
        assert!(shared.latency(2).is_none());
    }
}
