// Benchmark (not a test): one browser peer backfills N messages from another over WebRTC.
// Prints one JSON line. Run from the repo root after `cargo xtask web && cargo build -p catalk-relay`:
//   node e2e/bench/backfill.mjs [N]
// With PROFILE=dir, CPU profiles of both pages during the fill are written there
// (seed.cpuprofile, joiner.cpuprofile; open them in Chromium's DevTools). With JOURNAL=dir,
// when the joiner had a timeout both sides' sync journals are written there. With WORKERS=0 the
// joiner verifies on its page's thread instead of in its verifier workers.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Relay, launchBrowser, newUser, onboard } from "../tests/harness.mjs";

/** Starts the V8 CPU profiler of `page`; resolves to a function that stops it and saves the profile. */
async function profile(page, name) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
  await cdp.send("Profiler.start");
  return async () => {
    const { profile: data } = await cdp.send("Profiler.stop");
    writeFileSync(join(process.env.PROFILE, `${name}.cpuprofile`), JSON.stringify(data));
  };
}

const N = Number(process.argv[2] ?? 10_000);
const relay = await new Relay(["--no-claim", "--posts-per-second", "100000", "--frames-per-second", "100000"]).start();
const browser = await launchBrowser();
try {
  const seed = await newUser(browser, relay);
  await onboard(seed.page, "Seed");
  const postStart = Date.now();
  await seed.page.evaluate(async (n) => {
    const inFlight = [];
    for (let i = 0; i < n; i++) {
      inFlight.push(window.catalk.post("general", `backfill benchmark message number ${i} with some ordinary chat length text`));
      if (inFlight.length >= 50) await Promise.all(inFlight.splice(0));
    }
    await Promise.all(inFlight);
  }, N);
  const postMs = Date.now() - postStart;
  // Wait until the seed has stored every message it posted.
  await seed.page.waitForFunction(async (n) => {
    const db = await new Promise((resolve) => { const r = indexedDB.open("catalk"); r.onsuccess = () => resolve(r.result); });
    const count = await new Promise((resolve) => {
      const r = db.transaction("facts").objectStore("facts").index("by_kind").count("message");
      r.onsuccess = () => resolve(r.result);
    });
    db.close();
    return count >= n;
  }, N, { timeout: 300_000, polling: 500 });

  const joiner = await newUser(browser, relay);
  if (process.env.WORKERS === "0") {
    // Verify on the page's thread, as before the verifier workers (for comparison).
    await joiner.page.waitForFunction(() => window.catalk !== undefined);
    await joiner.page.evaluate(() => window.catalk.setVerifier(undefined));
  }
  const stops = process.env.PROFILE ? [await profile(seed.page, "seed"), await profile(joiner.page, "joiner")] : [];
  const start = Date.now();
  await onboard(joiner.page, "Joiner");
  await joiner.page.waitForFunction(
    () => document.querySelector("[data-testid=history-status]")?.textContent.trim().startsWith("complete"),
    null,
    { timeout: 600_000, polling: 50 },
  );
  const ms = Date.now() - start;
  for (const stop of stops) await stop();
  const stored = await joiner.page.evaluate(async () => {
    const db = await new Promise((resolve) => { const r = indexedDB.open("catalk"); r.onsuccess = () => resolve(r.result); });
    return new Promise((resolve) => {
      const r = db.transaction("facts").objectStore("facts").index("by_kind").count("message");
      r.onsuccess = () => resolve(r.result);
    });
  });
  const joinerStats = await joiner.page.evaluate(() => window.catalk.syncStats());
  const seedStats = await seed.page.evaluate(() => window.catalk.syncStats());
  console.log(JSON.stringify({
    messages: N,
    stored,
    backfill_ms: ms,
    facts_per_s: Math.round((stored / ms) * 1000),
    seed_post_ms: postMs,
    joiner: joinerStats,
    seed: seedStats,
  }));
  if (joinerStats.timeouts > 0 && process.env.JOURNAL) {
    // What each side's sync did, to find the request that stalled.
    for (const [name, user] of [["joiner", joiner], ["seed", seed]]) {
      const journal = await user.page.evaluate(() => window.catalk.syncJournal());
      writeFileSync(join(process.env.JOURNAL, `${name}.journal.txt`), journal.join("\n") + "\n");
    }
  }
} finally {
  await browser.close();
  await relay.stop();
}
