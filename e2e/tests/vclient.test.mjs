// Virtual clients: a headless catalk-vclient keeps history and serves it to browsers over
// real WebRTC, only as the last resort.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  Relay, VClient, dumpSync, launchBrowser, newUser, onboard, shot, postMany, storedTexts, waitComplete, waitStoredAtLeast,
} from "./harness.mjs";

const TOTAL = 300;
const SERVED = 'catalk_vclient_served_bytes_total{peer_kind="browser"}';
let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function waitMetric(vclient, name, predicate, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await vclient.metric(name);
    if (predicate(value)) return value;
    if (Date.now() > deadline) throw new Error(`${name} is ${value}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("a late joiner fills from the virtual client when no browser holds the history, and from a browser when one does", async () => {
  const vclient = new VClient();
  const relay = await new Relay([
    "--no-claim", "--posts-per-second", "2000", "--frames-per-second", "2000", `--virtual-client=${vclient.publicKey()}`,
  ]).start();
  try {
    await vclient.start(relay);
    // A posts 300 messages, which the virtual client records live, and leaves.
    const a = await newUser(browser, relay);
    await onboard(a.page, "Ada");
    await postMany(a.page, 0, TOTAL, "from Ada");
    await waitStoredAtLeast(a.page, TOTAL);
    await waitMetric(vclient, "catalk_vclient_stored_messages", (n) => n === TOTAL);
    await a.context.close();

    // No browser peer is online: C fills all 300 from the virtual client.
    const c = await newUser(browser, relay);
    await onboard(c.page, "Cleo");
    await c.page.waitForSelector(`[data-testid=presence][data-key="${vclient.publicKey()}"]`);
    await waitComplete(c.page, 60_000);
    const cTexts = await storedTexts(c.page);
    if (cTexts.length !== TOTAL) {
      await dumpSync({ C: c.page });
      console.log("virtual client log tail:", vclient.log.slice(-4000));
    }
    assert.equal(cTexts.length, TOTAL, "C holds every message");
    assert.equal(new Set(cTexts).size, TOTAL, "no duplicates");
    const served = await waitMetric(vclient, SERVED, (n) => n > 0);
    // The backfilled messages are shown, newest last.
    await c.page.waitForFunction((last) => [...document.querySelectorAll("[data-testid=message]")].some((m) => m.textContent.includes(last)), `from Ada ${TOTAL - 1}`);
    await shot(c.page, "12-filled-from-virtual-client");

    // C (a browser) now holds the range: E fills from C, and the virtual client serves nothing more.
    const e = await newUser(browser, relay);
    await onboard(e.page, "Eve");
    await waitComplete(e.page, 60_000);
    assert.equal((await storedTexts(e.page)).length, TOTAL, "E holds every message");
    const servedAfter = await vclient.metric(SERVED);
    if (servedAfter !== served) {
      // Say who asked it, for a rare failure seen under load.
      await dumpSync({ E: e.page, C: c.page });
      console.log("virtual client log tail:", vclient.log.slice(-4000));
    }
    assert.equal(servedAfter, served, "the virtual client's served bytes stayed flat");
  } finally {
    await vclient.stop();
    await relay.stop();
  }
});
