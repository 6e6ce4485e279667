// Through NATs: a relay on a namespace "wan" and three homes behind NAT routers, browsers
// inside the homes (net.mjs). With the relay's defaults (only --listen and --public-url, plus
// the TURN or virtual-client flags a scenario is about, and test-speed post rates), a late
// joiner fills 1,000 messages: directly through cone NATs (the relay's own STUN), through the
// relay's fallback behind symmetric NATs, through TURN when the relay hands out TURN
// credentials, and from a virtual client behind a symmetric NAT. Each scenario prints and
// records (target/netns-results.json) its time to fill and the relay's bytes per message.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { Internet, cleanLeftovers, ensureTools, metricValue, skipReason } from "./net.mjs";
import { dumpSync, newUser, onboard, storedTexts, waitComplete, waitStoredAtLeast } from "../tests/harness.mjs";

const TOTAL = 1_000;
const SPEED = ["--posts-per-second", "2000", "--frames-per-second", "2000"];
const FALLBACK = "catalk_sync_fallback_bytes_total";
const STUN_ANSWERED = 'catalk_stun_datagrams_total{result="answered"}';
const REFUSED = 'catalk_frames_rejected_total{reason="rate_limited"}';
const SERVED = 'catalk_vclient_served_bytes_total{peer_kind="browser"}';
const RESULTS = "target/netns-results.json";
const SKIP = skipReason() ?? false;

before(() => {
  if (SKIP) return;
  ensureTools();
  cleanLeftovers();
});
after(() => {
  if (!SKIP) cleanLeftovers();
});

/**
 * Runs in every page before the app: keeps each RTCPeerConnection the client makes, and
 * `window.ctkPaths()` reads the candidate pair each one uses (candidate types "host", "srflx",
 * "prflx" are a direct path; "relay" on either side is TURN) and the bytes it received.
 */
function watchPeerConnections() {
  const Native = window.RTCPeerConnection;
  const made = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      made.push(this);
    }
  };
  window.ctkPaths = async () => {
    const out = [];
    for (const pc of made) {
      const entry = { state: pc.connectionState, pair: null };
      try {
        const stats = await pc.getStats();
        const byId = new Map([...stats.values()].map((s) => [s.id, s]));
        const transport = [...stats.values()].find((s) => s.type === "transport" && s.selectedCandidatePairId);
        const pair = transport ? byId.get(transport.selectedCandidatePairId) : [...stats.values()].find((s) => s.type === "candidate-pair" && s.nominated && s.state === "succeeded");
        if (pair) {
          const local = byId.get(pair.localCandidateId);
          const remote = byId.get(pair.remoteCandidateId);
          const turn = local?.candidateType === "relay" || remote?.candidateType === "relay";
          // The transport's count: ICE may have moved between pairs on the way.
          const received = transport?.bytesReceived ?? pair.bytesReceived ?? 0;
          entry.pair = {
            local: local?.candidateType, remote: remote?.candidateType,
            localAddr: `${local?.address}:${local?.port}`, remoteAddr: `${remote?.address}:${remote?.port}`,
            bytesReceived: received, turnBytesReceived: turn ? received : 0,
          };
        }
      } catch (err) {
        entry.error = String(err);
      }
      out.push(entry);
    }
    return out;
  };
}

/**
 * Posts `count` messages from `page`, keeping `inFlight` posts in flight (a post awaits the relay's
 * ack: one at a time, a debug relay and three browsers on two cores take ~24 ms each).
 */
async function postPipelined(page, count, label, inFlight = 16) {
  await page.evaluate(async ({ count, label, inFlight }) => {
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const n = next++;
        await window.catalk.post("general", `${label} ${n}`);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  }, { count, label, inFlight });
}

/** One look at the late joiner: messages stored, sync counters, links (when the API has them), paths. */
async function look(page) {
  const [count, probe] = await Promise.all([
    storedTexts(page).then((t) => t.length),
    page.evaluate(async () => ({
      stats: window.catalk?.syncStats() ?? null,
      links: typeof window.catalk?.links === "function" ? window.catalk.links() : null,
      paths: await window.ctkPaths(),
    })),
  ]);
  return { count, ...probe };
}

/**
 * Reads the relay's /metrics every 250 ms into `seen` until the returned function is called:
 * the most links its `catalk_sync_links` gauges counted by path (where the relay has them;
 * clients report at most every 2 s) and its `rate_limited` refusals.
 */
function watchGauges(relay, seen) {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const text = await relay.metrics().catch(() => "");
      seen.refused = metricValue(text, REFUSED);
      for (const path of ["direct", "turn", "relay"]) {
        const line = `catalk_sync_links{path="${path}"}`;
        if (!text.includes(line)) continue;
        seen.gaugesNow[path] = metricValue(text, line);
        seen.gauges[path] = Math.max(seen.gauges[path] ?? 0, seen.gaugesNow[path]);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return () => {
    stopped = true;
    return loop;
  };
}

/**
 * Waits (at most `timeout` ms) until the relay's gauges, if it has them, have counted `path`
 * links and count no other now (clients report a change at most every 2 s).
 */
async function waitGauge(seen, path, timeout = 5_000) {
  const settled = () => seen.gauges[path] >= 1 && Object.entries(seen.gaugesNow).every(([p, n]) => p === path || n === 0);
  const deadline = Date.now() + timeout;
  while (Object.keys(seen.gauges).length && !settled() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits until the late joiner holds `total` messages, looking every 250 ms, and returns when;
 * what it saw on the way goes into `seen` (links close once the history is complete, so they
 * are watched while it fills).
 */
async function watchFill(page, seen, total, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const now = await look(page);
    seen.last = now;
    seen.maxDirect = Math.max(seen.maxDirect, now.stats?.links_direct ?? 0);
    seen.maxTurn = Math.max(seen.maxTurn, now.stats?.links_turn ?? 0);
    seen.maxRelayed = Math.max(seen.maxRelayed, now.stats?.links_relayed ?? 0);
    seen.linksApi ||= now.links !== null;
    seen.turnStat ||= now.stats !== null && "links_turn" in now.stats;
    for (const link of now.links ?? []) {
      seen.linkPaths.add(link.path);
      // Each peer's paths in the order seen (a path changes when the shell reads the selected pair).
      const history = (seen.byPeer[link.peer.slice(0, 8)] ??= []);
      if (history[history.length - 1] !== link.path) history.push(link.path);
    }
    now.paths.forEach((p, i) => { if (p.pair) seen.pairs.set(i, p.pair); });
    if (now.count >= total) {
      const at = Date.now();
      // Once more for the bytes the last answers added on each connection.
      (await look(page)).paths.forEach((p, i) => { if (p.pair) seen.pairs.set(i, p.pair); });
      return at;
    }
    if (Date.now() > deadline) {
      throw new Error(`only ${now.count} of ${total} messages stored in ${timeout} ms (the relay refused ${seen.refused} frames as rate_limited); last look: ${JSON.stringify(now)}`);
    }
    await page.waitForTimeout(250);
  }
}

const isTurn = (pair) => pair.local === "relay" || pair.remote === "relay";
const pairBytes = (pairs, field) => [...pairs.values()].reduce((sum, p) => sum + p[field], 0);

function record(name, result) {
  mkdirSync("target", { recursive: true });
  const all = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, "utf8")) : {};
  all[name] = { ...result, at: new Date().toISOString() };
  writeFileSync(RESULTS, `${JSON.stringify(all, null, 2)}\n`);
  console.log(`# netns ${name}: ${JSON.stringify(result)}`);
}

/**
 * The common shape: Ada (home 1) posts 1,000 messages, Bob (home 2) receives them live, then
 * Cleo (home 3) opens the app and fills. Returns the numbers and what Cleo's links looked like.
 * `path` is the one the links should take ("direct", "turn", "relay"); `beforeJoin` runs once
 * the members hold everything (the virtual-client scenario closes them there).
 */
async function lateJoinerFills(net, relay, path, { homes = [1, 2, 3], beforeJoin } = {}) {
  const pages = {};
  try {
    const [homeA, homeB, homeC] = homes;
    const started = Date.now();
    const [browserA, browserB, browserC] = await Promise.all([homeA, homeB, homeC].map((n) => net.launchBrowser(n, relay)));
    const a = await newUser(browserA, relay, { initScript: watchPeerConnections });
    pages.Ada = a.page;
    await onboard(a.page, "Ada");
    const b = await newUser(browserB, relay, { initScript: watchPeerConnections });
    pages.Bob = b.page;
    await onboard(b.page, "Bob");
    const setupMs = Date.now() - started;
    const posting = Date.now();
    await postPipelined(a.page, TOTAL, "from Ada");
    await waitStoredAtLeast(a.page, TOTAL);
    await waitStoredAtLeast(b.page, TOTAL, 60_000);
    const postMs = Date.now() - posting;
    if (beforeJoin) await beforeJoin({ a, b });

    const before = await relay.metrics();
    const opened = Date.now();
    const c = await newUser(browserC, relay, { initScript: watchPeerConnections });
    pages.Cleo = c.page;
    await onboard(c.page, "Cleo");
    const seen = { linkPaths: new Set(), pairs: new Map(), maxDirect: 0, maxTurn: 0, maxRelayed: 0, gauges: {}, gaugesNow: {}, byPeer: {}, refused: 0, last: null };
    const stopGauges = watchGauges(relay, seen);
    let filledAt;
    let completeAt;
    try {
      filledAt = await watchFill(c.page, seen, TOTAL);
      await waitComplete(c.page, 30_000);
      completeAt = Date.now();
      await waitGauge(seen, path);
    } finally {
      await stopGauges();
    }
    const afterFill = await relay.metrics();
    if (process.env.CATALK_NETNS_DEBUG) {
      await dumpSync(pages);
      console.log("relay log tail:", relay.log.slice(-20000));
    }
    const texts = await storedTexts(c.page);
    assert.equal(texts.length, TOTAL, "Cleo holds every message");
    assert.equal(new Set(texts).size, TOTAL, "no duplicates");
    const delta = (name) => metricValue(afterFill, name) - metricValue(before, name);
    const numbers = {
      browsers_and_onboarding_ms: setupMs,
      post_ms: postMs,
      fill_ms: filledAt - opened,
      complete_ms: completeAt - opened,
      fallback_bytes_per_message: Math.round(delta(FALLBACK) / TOTAL),
      relay_ws_bytes_per_message: Math.round((delta('catalk_bytes_total{direction="in"}') + delta('catalk_bytes_total{direction="out"}')) / TOTAL),
      peer_bytes_per_message: Math.round(pairBytes(seen.pairs, "bytesReceived") / TOTAL),
      turn_bytes_per_message: Math.round(pairBytes(seen.pairs, "turnBytesReceived") / TOTAL),
      stun_answered: metricValue(afterFill, STUN_ANSWERED),
      relay_refused_rate_limited: delta(REFUSED),
      link_gauges_max: seen.gauges,
      link_gauges_end: seen.gaugesNow,
      link_paths: [...seen.linkPaths],
      link_paths_by_peer: seen.byPeer,
    };
    return { numbers, seen, fallbackBytes: delta(FALLBACK), pages };
  } catch (err) {
    await dumpSync(pages);
    console.log("relay log tail:", relay.log.slice(-6000));
    throw err;
  }
}

/**
 * With `catalk.links()` (once the client has it): every link of the late joiner settled on
 * `path`. A TURN link is listed as "direct" between its opening and the shell's reading of its
 * selected candidate pair (some 70 ms seen here): `transient` allows that first entry and logs it.
 */
function checkLinks(seen, path, { transient = false } = {}) {
  assert.ok(seen.linksApi, "the client has links()");
  const peers = Object.entries(seen.byPeer);
  assert.ok(peers.length >= 1, "links() listed the late joiner's links");
  for (const [peer, paths] of peers) {
    const ok = paths.length === 1 ? paths[0] === path : transient && paths.length === 2 && paths[0] === "direct" && paths[1] === path;
    assert.ok(ok, `links() says ${path} for ${peer}, not ${paths.join(" then ")}`);
    if (paths.length > 1) console.log(`# links() listed ${peer} as ${paths.join(" then ")}`);
  }
}

/**
 * With the relay's `catalk_sync_links` gauges (once it has them): they counted `path` links,
 * count no other at the end, and counted no other on the way (`transient`: but "direct", for the window
 * checkLinks describes, which the relay shows until the client's next report, 2 s later).
 */
function checkGauges(seen, path, { transient = false } = {}) {
  assert.ok(Object.keys(seen.gauges).length, "the relay has the catalk_sync_links gauges");
  const shown = `most ${JSON.stringify(seen.gauges)}, at the end ${JSON.stringify(seen.gaugesNow)}`;
  assert.ok(seen.gauges[path] >= 1, `the relay counted ${path} links: ${shown}`);
  for (const other of ["direct", "turn", "relay"].filter((p) => p !== path)) {
    assert.equal(seen.gaugesNow[other] ?? 0, 0, `the relay counts no ${other} link at the end: ${shown}`);
    if (!(transient && other === "direct")) assert.equal(seen.gauges[other] ?? 0, 0, `the relay never counted a ${other} link: ${shown}`);
  }
  if (transient && seen.gauges.direct) console.log(`# the relay counted TURN links as direct for a while: ${shown}`);
}

function describePairs(seen) {
  return JSON.stringify([...seen.pairs.values()]);
}

test("(a) behind cone NATs a late joiner fills 1,000 messages over direct links found with the relay's own STUN", { skip: SKIP, timeout: 180_000 }, async () => {
  const net = Internet.create({ nat: "cone" });
  try {
    const relay = await net.startRelay(SPEED);
    const { numbers, seen, fallbackBytes } = await lateJoinerFills(net, relay, "direct");
    assert.equal(fallbackBytes, 0, "nothing went through the relay's fallback");
    assert.ok(numbers.stun_answered > 0, "the relay answered STUN");
    assert.ok(seen.maxDirect >= 1, `a direct link carried the sync: ${JSON.stringify(seen.last.stats)}`);
    assert.equal(seen.maxRelayed, 0, "no relayed link");
    assert.ok(seen.pairs.size >= 1, "a peer connection connected");
    assert.ok([...seen.pairs.values()].every((p) => !isTurn(p)), `no TURN candidate: ${describePairs(seen)}`);
    // Across two NATs only the addresses STUN found (or learned from them) connect.
    assert.ok([...seen.pairs.values()].some((p) => p.remote === "srflx" || p.remote === "prflx"), `a server-reflexive path: ${describePairs(seen)}`);
    checkLinks(seen, "direct");
    checkGauges(seen, "direct");
    record("a_cone_direct", { ...numbers, pairs: [...seen.pairs.values()] });
  } finally {
    await net.close();
  }
});

test("(b) behind symmetric NATs a late joiner fills 1,000 messages through the relay's fallback", { skip: SKIP, timeout: 180_000 }, async () => {
  const net = Internet.create({ nat: "symmetric" });
  try {
    const relay = await net.startRelay(SPEED);
    const { numbers, seen, fallbackBytes } = await lateJoinerFills(net, relay, "relay");
    assert.ok(fallbackBytes > 0, "the history went through the relay's fallback");
    assert.ok(seen.maxRelayed >= 1, `a relayed link carried the sync: ${JSON.stringify(seen.last.stats)}`);
    assert.equal(seen.pairs.size, 0, `no peer connection connected: ${describePairs(seen)}`);
    checkLinks(seen, "relay");
    checkGauges(seen, "relay");
    record("b_symmetric_fallback", numbers);
    // The peers keep to the byte rate the relay publishes in its welcome: none of their sync
    // messages is refused (a refused one is lost, and its request times out).
    assert.equal(numbers.relay_refused_rate_limited, 0, "no peer message refused as over the fallback's byte rate");
  } finally {
    await net.close();
  }
});

test("(c) behind symmetric NATs with TURN configured a late joiner fills 1,000 messages through TURN", { skip: SKIP, timeout: 180_000 }, async () => {
  const net = Internet.create({ nat: "symmetric" });
  let turn;
  try {
    const secret = "netns-turn-secret";
    turn = await net.startTurn(secret);
    const relay = await net.startRelay([...SPEED, "--turn-url", turn.url, "--turn-secret", secret]);
    const { numbers, seen, fallbackBytes } = await lateJoinerFills(net, relay, "turn");
    assert.equal(fallbackBytes, 0, "nothing went through the relay's fallback");
    assert.equal(seen.maxRelayed, 0, "no relayed link");
    assert.ok(seen.pairs.size >= 1, "a peer connection connected");
    assert.ok([...seen.pairs.values()].every(isTurn), `every connected pair uses a TURN relay candidate: ${describePairs(seen)}`);
    assert.ok(numbers.turn_bytes_per_message > 0, "the history came through TURN");
    assert.match(turn.log, /ALLOCATE/i, "coturn made an allocation");
    checkLinks(seen, "turn", { transient: true });
    assert.ok(seen.maxTurn >= 1, `syncStats counts TURN links: ${JSON.stringify(seen.last.stats)}`);
    // The client reports a link only once its path is known: the relay never counts it as direct.
    checkGauges(seen, "turn");
    record("c_symmetric_turn", { ...numbers, pairs: [...seen.pairs.values()] });
  } catch (err) {
    console.log("coturn log tail:", turn?.log.slice(-4000));
    throw err;
  } finally {
    await net.close();
  }
});

test("(d) a virtual client behind a symmetric NAT serves a late joiner once the posters have left", { skip: SKIP, timeout: 180_000 }, async () => {
  const net = Internet.create({ homes: 4, nat: "symmetric" });
  let vclient;
  try {
    // The relay needs the virtual client's key before it starts; the client runs in home 4.
    vclient = net.virtualClient(4);
    const relay = await net.startRelay([...SPEED, `--virtual-client=${vclient.publicKey}`]);
    await vclient.start(relay);
    let servedBefore = 0;
    const { numbers, seen, fallbackBytes, pages } = await lateJoinerFills(net, relay, "relay", {
      beforeJoin: async ({ a, b }) => {
        const deadline = Date.now() + 60_000;
        while ((await vclient.metric("catalk_vclient_stored_messages")) < TOTAL) {
          assert.ok(Date.now() < deadline, "the virtual client recorded every message");
          await new Promise((r) => setTimeout(r, 250));
        }
        await a.context.close();
        await b.context.close();
        servedBefore = await vclient.metric(SERVED);
      },
    });
    const others = await pages.Cleo.evaluate(() => window.catalk.online().map((p) => p.key).filter((k) => k !== window.catalk.identity().key));
    assert.deepEqual(others, [vclient.publicKey], "only the virtual client was there to serve");
    const served = (await vclient.metric(SERVED)) - servedBefore;
    assert.ok(served > 0, "the virtual client served the history");
    assert.ok(fallbackBytes > 0, "between two symmetric NATs, through the relay's fallback");
    assert.ok(seen.maxRelayed >= 1, "a relayed link carried the sync");
    checkLinks(seen, "relay");
    checkGauges(seen, "relay");
    record("d_vclient_symmetric", { ...numbers, vclient_served_bytes_per_message: Math.round(served / TOTAL) });
    assert.equal(numbers.relay_refused_rate_limited, 0, "no peer message refused as over the fallback's byte rate");
  } catch (err) {
    console.log("virtual client log tail:", vclient?.log.slice(-4000));
    throw err;
  } finally {
    await net.close();
  }
});
