// Benchmark (not a test): how the app loads, seen from the wire. A proxy (wire.mjs) between
// Chromium and the relay counts bytes and HTTP requests and can add a round-trip time.
// Prints one JSON object. Run from the repo root after `cargo xtask web && cargo build -p catalk-relay`:
//   node e2e/bench/load.mjs [RTT_MS] [MBPS] [MESSAGES] [RELOADS]
// (MBPS: the downlink's bandwidth in Mbit/s; 0, the default, leaves it unlimited.)
//
// - cold: a new browser context (empty HTTP cache, no service worker) opens the app; until the
//   onboarding form shows, and in all once the service worker is ready (it precaches the build).
// - warm: that person, with MESSAGES stored, reloads RELOADS times; until the stored messages are
//   on screen (and what went out before that moment), and in all once connected.
// - offline: the relay is stopped, one more reload; until the stored messages are on screen.
import { Relay, launchBrowser } from "../tests/harness.mjs";
import { Wire } from "./wire.mjs";

const RTT = Number(process.argv[2] ?? 0);
const MBPS = Number(process.argv[3] ?? 0);
const MESSAGES = Number(process.argv[4] ?? 50);
const RELOADS = Number(process.argv[5] ?? 5);
const OFFLINE_PATIENCE_MS = 10_000;

// In every page: when the onboarding form and the first message row appeared (ms since the
// navigation started, and wall-clock ms).
const MARKS = () => {
  const marks = (window.__marks = {});
  const mark = (name) => { marks[name] = performance.now(); marks[`${name}Wall`] = performance.timeOrigin + performance.now(); };
  new MutationObserver((_, observer) => {
    if (!marks.onboarding && document.querySelector("#onboarding:not([hidden])")) mark("onboarding");
    if (!marks.messages && document.querySelector("[data-testid=message]")) mark("messages");
    if (marks.messages) observer.disconnect();
  }).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ["hidden"] });
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
};
const round = (x) => (x == null ? null : Math.round(x));

async function waitMark(page, name, timeout) {
  return page.waitForFunction((n) => window.__marks?.[n] ?? false, name, { timeout }).then(() => true, () => false);
}

async function serviceWorkerReady(page) {
  return page.evaluate(() => Promise.race([
    navigator.serviceWorker.ready.then(() => true),
    new Promise((resolve) => setTimeout(() => resolve(false), 5000)),
  ]));
}

async function connected(page) {
  await page.waitForFunction(() => document.querySelector("[data-testid=connection]")?.textContent.trim() === "connected", null, { timeout: 30_000 });
}

const relay = await new Relay(["--no-claim", "--posts-per-second", "100000", "--frames-per-second", "100000"]).start();
const wire = await new Wire(() => relay.port, { oneWayDelayMs: RTT / 2, downMbps: MBPS }).start();
const browser = await launchBrowser();
const result = { rtt_ms: RTT, down_mbps: MBPS, messages: MESSAGES, reloads: RELOADS };
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(MARKS);
  const page = await context.newPage();

  wire.reset();
  await page.goto(wire.url);
  await waitMark(page, "onboarding", 30_000);
  const marks = await page.evaluate(() => window.__marks);
  const beforeForm = wire.requests.filter((r) => r.at <= marks.onboardingWall);
  const atForm = { bytes_down: wire.bytesDown, requests: beforeForm.length };
  const hasWorker = await serviceWorkerReady(page);
  result.accept_encoding = wire.requests[0]?.acceptEncoding;
  result.cold = {
    onboarding_ms: round(marks.onboarding),
    requests_until_onboarding: atForm.requests,
    service_worker: hasWorker,
    requests_total: wire.requests.length,
    bytes_down_total: wire.bytesDown,
    bytes_up_total: wire.bytesUp,
  };

  await page.fill("[data-testid=display-name]", "Ada");
  await page.click("[data-testid=start]");
  await connected(page);
  await page.evaluate(async (n) => {
    for (let i = 0; i < n; i++) await window.catalk.post("general", `load benchmark message ${i}, of an ordinary chat length`);
  }, MESSAGES);
  await page.waitForFunction((n) => document.querySelectorAll("[data-testid=message]").length >= Math.min(n, 50), MESSAGES);

  const warm = [];
  for (let i = 0; i < RELOADS; i++) {
    wire.reset();
    await page.reload();
    await waitMark(page, "messages", 30_000);
    const m = await page.evaluate(() => window.__marks);
    const early = wire.requests.filter((r) => r.at < m.messagesWall);
    const earlyBytes = wire.bytesDown;
    await connected(page);
    warm.push({ messages_ms: m.messages, early: early.map((r) => r.path), earlyBytes, requests: wire.requests.length, bytes: wire.bytesDown + wire.bytesUp });
  }
  result.warm = {
    messages_ms_median: round(median(warm.map((w) => w.messages_ms))),
    messages_ms_all: warm.map((w) => round(w.messages_ms)),
    requests_before_messages: median(warm.map((w) => w.early.length)),
    paths_before_messages: warm.at(-1).early,
    requests_total: median(warm.map((w) => w.requests)),
    bytes_on_wire_total: median(warm.map((w) => w.bytes)),
  };

  await relay.stop();
  wire.reset();
  await page.reload().catch(() => {});
  const shown = await waitMark(page, "messages", OFFLINE_PATIENCE_MS);
  const m = shown ? await page.evaluate(() => window.__marks) : null;
  result.offline = {
    messages_shown: shown,
    messages_ms: shown ? round(m.messages) : null,
    paths_before_messages: shown ? wire.requests.filter((r) => r.at < m.messagesWall).map((r) => r.path) : null,
  };
} finally {
  await browser.close();
  await wire.stop();
  await relay.stop();
}
console.log(JSON.stringify(result));
