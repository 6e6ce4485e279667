// What a member reads about a channel's history: nothing said yet, earlier messages on devices
// that are offline now, and a return after being away (never "complete" while messages are missing).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Relay, launchBrowser, newUser, onboard, send, shot, waitConnected, waitForMessage, storedTexts, postMany,
} from "./harness.mjs";

const PHONE = { width: 390, height: 844 };

async function notice(page) {
  await page.waitForSelector("[data-testid=history-notice]", { state: "visible" });
  return page.$eval("[data-testid=history-notice]", (el) => ({ state: el.dataset.state, text: el.textContent }));
}

test("a channel nobody spoke in says so; one whose history is on offline devices says that, on a phone too", async () => {
  const browser = await launchBrowser();
  const relay = await new Relay(["--no-claim"]).start();
  try {
    const a = await newUser(browser, relay);
    await onboard(a.page, "Ada");
    const empty = await notice(a.page);
    assert.equal(empty.state, "empty");
    assert.match(empty.text, /No messages yet/);
    for (const text of ["first", "second", "third"]) {
      await send(a.page, text);
      await waitForMessage(a.page, text);
    }
    await a.context.close(); // the only device holding the history goes away

    const b = await newUser(browser, relay, { viewport: PHONE });
    await onboard(b.page, "Ben");
    await waitForMessage(b.page, "third"); // the newest message comes with the login
    await b.page.waitForFunction(() => document.querySelector("[data-testid=history-notice]")?.dataset.state === "unavailable", null, { timeout: 20_000 });
    const unavailable = await notice(b.page);
    assert.match(unavailable.text, /members' devices/);
    assert.doesNotMatch(unavailable.text, /relay|peer|epoch|Say hello/i);
    assert.ok(await b.page.isVisible("[data-testid=history-status]"), "the header says it on a phone as well");
    assert.doesNotMatch(await b.page.textContent("[data-testid=history-status]"), /relay|peer|epoch/i);
    await shot(b.page, "20-history-unavailable-phone");
  } finally {
    await relay.stop();
    await browser.close();
  }
});

test("a returning member holds what was said while away within 5 s, and never sees complete before", async () => {
  const browser = await launchBrowser();
  const relay = await new Relay(["--no-claim"]).start();
  try {
    const a = await newUser(browser, relay);
    await onboard(a.page, "Ada");
    await send(a.page, "before");
    const b = await newUser(browser, relay);
    await onboard(b.page, "Ben");
    await waitForMessage(b.page, "before");
    await b.page.close(); // Ben is away; his device keeps its history

    await postMany(a.page, 0, 5, "while away");
    // Ben comes back: record every header state from the first paint on.
    const page = await b.context.newPage();
    await page.addInitScript(() => {
      window.__states = [];
      new MutationObserver(() => {
        const el = document.querySelector("[data-testid=history-status]");
        if (el) window.__states.push({ text: el.textContent.trim(), at: performance.now() });
      }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    const back = Date.now();
    await page.goto(relay.url);
    // Until all 5 are in the store, "complete" must never have been shown: each poll notes the
    // page time before it reads the store; a "complete" before the last poll that found fewer is a lie.
    let lastShort = 0;
    for (;;) {
      const at = await page.evaluate(() => performance.now());
      const stored = (await storedTexts(page)).filter((t) => t.startsWith("while away"));
      if (stored.length === 5) break;
      lastShort = at;
      assert.ok(Date.now() - back < 5_000, `only ${stored.length} of 5 after 5 s`);
      await page.waitForTimeout(50);
    }
    const states = await page.evaluate(() => window.__states);
    const lies = states.filter((s) => s.text.startsWith("complete") && s.at <= lastShort);
    assert.deepEqual(lies, [], `complete shown while messages were missing: ${JSON.stringify(states)}`);
    await page.waitForFunction(() => document.querySelector("[data-testid=history-status]")?.textContent.trim().startsWith("complete"));
  } finally {
    await relay.stop();
    await browser.close();
  }
});
