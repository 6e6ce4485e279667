// Peer-to-peer history: late joiners backfill from other browsers over WebRTC,
// verified and complete, with peers leaving and lying.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  Relay, dumpSync, launchBrowser, newUser, onboard, waitConnected, shot, postMany, storedTexts, historyStatus, waitComplete,
  waitStoredAtLeast,
} from "./harness.mjs";

const TOTAL = 500;
let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test("late joiners backfill 500 messages from peers, through departures and a lying peer", async () => {
  const relay = await new Relay(["--no-claim", "--posts-per-second", "2000", "--frames-per-second", "2000"]).start();
  const pages = {};
  try {
    const a = await newUser(browser, relay);
    pages.A = a.page;
    await onboard(a.page, "Ada");
    const adaKey = await a.page.evaluate(() => window.catalk.identity().key);
    const b = await newUser(browser, relay);
    pages.B = b.page;
    await onboard(b.page, "Bob");
    await Promise.all([postMany(a.page, 0, TOTAL / 2, "from Ada"), postMany(b.page, 0, TOTAL / 2, "from Bob")]);
    await waitStoredAtLeast(a.page, TOTAL);
    await waitStoredAtLeast(b.page, TOTAL);

    // The relay restarts: it holds nothing. A and B reconnect by themselves.
    await relay.restart();
    await waitConnected(a.page, 40_000);
    await waitConnected(b.page, 40_000);

    // C joins late and fills everything from A and B, verifying in worker threads
    // (forced on: by default only machines with 4 or more cores use them).
    const c = await newUser(browser, relay, { initScript: () => localStorage.setItem("catalk.verifierWorkers", "on") });
    pages.C = c.page;
    await onboard(c.page, "Cleo");
    await waitComplete(c.page);
    // The people list marks that history moves directly between C and the others.
    await c.page.waitForSelector("[data-testid=presence][data-link=direct]", { timeout: 10_000 });
    const cTexts = await storedTexts(c.page);
    assert.equal(cTexts.length, TOTAL, "C holds every message");
    assert.equal(new Set(cTexts).size, TOTAL, "no duplicates");
    // The answers were verified in worker threads, not on the page's.
    const pool = await c.page.evaluate(() => window.catalkVerifier);
    assert.ok(pool.workers >= 1 && pool.verified >= TOTAL / 100, `verifier workers used: ${JSON.stringify(pool)}`);
    assert.equal(pool.handedBack, 0);
    // Scrolling up shows the oldest messages, fetched from peers and stored.
    await c.page.waitForSelector("[data-testid=message]");
    for (let i = 0; i < 20; i++) {
      await c.page.evaluate(() => { const s = document.querySelector("[data-testid=message]")?.closest("[role=log]") ?? document.scrollingElement; s.scrollTop = 0; });
      await c.page.waitForTimeout(150);
    }
    await shot(c.page, "10-late-joiner-complete");

    // D joins; A leaves in the middle of D's backfill; D completes from B (and C).
    const d = await newUser(browser, relay);
    pages.D = d.page;
    await onboard(d.page, "Dan");
    await waitStoredAtLeast(d.page, 1);
    await a.context.close();
    await waitComplete(d.page);
    assert.equal((await storedTexts(d.page)).length, TOTAL, "D holds every message after A left");

    // A lying peer: B's store is altered on disk; with only B online, E must reject B's facts,
    // then complete from an honest peer once one comes online.
    await c.context.close();
    await d.page.goto("about:blank"); // D goes offline; its IndexedDB stays
    await b.page.evaluate(async () => {
      const db = await new Promise((resolve) => { const r = indexedDB.open("catalk"); r.onsuccess = () => resolve(r.result); });
      const tx = db.transaction("facts", "readwrite");
      const store = tx.objectStore("facts");
      const rows = await new Promise((resolve) => { const r = store.index("by_kind").getAll("message"); r.onsuccess = () => resolve(r.result); });
      for (const row of rows) {
        const fact = JSON.parse(row.json);
        fact.body.text = `FORGED ${fact.body.text}`;
        row.json = JSON.stringify(fact);
        store.put(row);
      }
      await new Promise((resolve) => { tx.oncomplete = resolve; });
      db.close();
    });
    const e = await newUser(browser, relay);
    pages.E = e.page;
    await onboard(e.page, "Eve");
    // E tries B, rejects every forged fact, and stores none.
    await e.page.waitForTimeout(4_000);
    assert.ok((await storedTexts(e.page)).every((t) => !t.startsWith("FORGED")), "no forged fact stored");
    assert.ok(!(await historyStatus(e.page)).startsWith("complete"), "not complete from a liar");
    // An honest peer (D's device again) comes online; E completes from it.
    await d.page.goto(relay.url);
    await waitConnected(d.page);
    await waitComplete(e.page, 90_000);
    const eTexts = await storedTexts(e.page);
    assert.equal(eTexts.length, TOTAL);
    assert.ok(eTexts.every((t) => !t.startsWith("FORGED")), "only genuine facts");
    // The backfilled history is on screen, newest last (IndexedDB lists by id), without a reload.
    const newest = eTexts[eTexts.length - 1];
    await e.page.waitForFunction((newest) => {
      const shown = [...document.querySelectorAll("[data-testid=message]")];
      return shown.length >= 20 && shown[shown.length - 1].textContent.includes(newest);
    }, newest, { timeout: 10_000 });
    // E never saw Ada online: her name came with the history, from another member's device.
    assert.equal(await e.page.evaluate((key) => window.catalk.nameOf(key), adaKey), "Ada");
    await e.page.waitForFunction((key) => {
      const names = [...document.querySelectorAll(`[data-testid=message][data-author="${key}"] .author`)];
      return names.length > 0 && names.every((el) => el.textContent === "Ada");
    }, adaKey, { timeout: 10_000 });
    await shot(e.page, "11-after-liar");
  } catch (err) {
    await dumpSync(pages);
    throw err;
  } finally {
    await relay.stop();
  }
});
