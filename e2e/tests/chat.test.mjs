// The browser client end to end: real relay, real Chromium, real IndexedDB.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  Relay, launchBrowser, newUser, onboard, waitConnected, send, waitForMessage, messageTexts, shot, selftestModule,
} from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test("the history store passes the conformance suite in IndexedDB", async () => {
  const relay = await new Relay().start();
  try {
    const { page } = await newUser(browser, relay);
    // The app's wasm has no test entry points: this is the selftest build of the same client.
    const url = await selftestModule(page);
    const report = await page.evaluate(async (url) => {
      const module = await import(url);
      await module.default();
      return module.storeSelfTest();
    }, url);
    assert.deepEqual(report.failures, []);
    assert.ok(report.passed >= 11, `passed ${report.passed}`);
  } finally {
    await relay.stop();
  }
});

test("two people chat, create a channel, survive reloads and relay restarts", async () => {
  const relay = await new Relay().start();
  try {
    // Ada opens the claim link and becomes owner; Bob is a newcomer.
    const ada = await newUser(browser, relay, { hash: `#claim=${relay.claimToken}` });
    await onboard(ada.page, "Ada");
    const bob = await newUser(browser, relay);
    await onboard(bob.page, "Bob");

    for (const { page } of [ada, bob]) {
      await page.waitForFunction(() => document.querySelectorAll("[data-testid=presence]").length === 2);
    }
    await shot(ada.page, "01-both-online");
    const adaKey = await ada.page.evaluate(() => window.catalk.identity().key);
    const bobKey = await bob.page.evaluate(() => window.catalk.identity().key);

    // Each sidebar shows the user's fingerprint, and settings show the same one with the public key.
    for (const { page } of [ada, bob]) {
      const { fingerprint } = await page.evaluate(() => window.catalk.identity());
      assert.ok(fingerprint.length >= 8, `fingerprint ${fingerprint}`);
      assert.equal((await page.textContent("#me-fingerprint")).trim(), fingerprint);
    }
    await ada.page.click("#settings-open");
    await ada.page.waitForSelector("#settings[open]");
    assert.equal((await ada.page.textContent("#settings-fingerprint")).trim(),
      (await ada.page.textContent("#me-fingerprint")).trim());
    assert.equal(await ada.page.inputValue("#settings-key"), adaKey);
    await ada.page.click("#settings-close");

    // The owner wears an owner badge in both online lists; Bob does not.
    for (const { page } of [ada, bob]) {
      await page.waitForSelector(`[data-testid=presence][data-key="${adaKey}"] .badge.owner`);
      assert.equal(await page.$(`[data-testid=presence][data-key="${bobKey}"] .badge.owner`), null);
    }

    // Both ways in general.
    await send(ada.page, "hello Bob");
    await waitForMessage(bob.page, "hello Bob");
    await send(bob.page, "hi Ada, how are you?");
    await waitForMessage(ada.page, "hi Ada, how are you?");
    // Bob's own message arrives back through the relay on its own schedule.
    await waitForMessage(bob.page, "hi Ada, how are you?");
    const authors = await bob.page.$$eval("[data-testid=message]", (ms) => ms.map((m) => m.dataset.author));
    assert.equal(new Set(authors).size, 2, "two distinct authors");
    // A message's data-author is its sender's presence data-key.
    const authorOf = (page, text) => page.$$eval("[data-testid=message]",
      (ms, t) => ms.find((m) => m.querySelector(".text").textContent === t)?.dataset.author, text);
    const presenceKeys = await bob.page.$$eval("[data-testid=presence]", (ps) => ps.map((p) => p.dataset.key));
    assert.equal(await authorOf(bob.page, "hello Bob"), adaKey);
    assert.equal(await authorOf(bob.page, "hi Ada, how are you?"), bobKey);
    assert.ok(presenceKeys.includes(adaKey) && presenceKeys.includes(bobKey), `presence keys ${presenceKeys}`);
    // Messages sit under a day separator.
    const separators = await bob.page.$$eval("#message-items .day-sep[role=separator]", (ss) => ss.map((s) => s.textContent.trim()));
    assert.ok(separators.length >= 1 && separators.every(Boolean), `day separators: ${separators}`);
    assert.equal(await bob.page.$eval("#message-items", (el) => el.firstElementChild.classList.contains("day-sep")), true);
    const ids = await bob.page.$$eval("[data-testid=message]", (ms) => ms.map((m) => m.dataset.id));
    assert.ok(ids.every((id) => /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(id)), `ULID ids: ${ids}`);
    await shot(bob.page, "02-chat-general");

    // The owner creates a channel; Bob sees it and they talk there.
    await ada.page.waitForSelector("[data-testid=new-channel]", { timeout: 10_000 });
    await ada.page.click("[data-testid=new-channel]");
    await ada.page.fill("[data-testid=new-channel-name]", "design");
    await ada.page.press("[data-testid=new-channel-name]", "Enter");
    await bob.page.waitForSelector("[data-testid=channel][data-name=design]");
    await bob.page.click("[data-testid=channel][data-name=design]");
    await send(bob.page, "first in #design");
    await ada.page.click("[data-testid=channel][data-name=design]");
    await waitForMessage(ada.page, "first in #design");
    await shot(ada.page, "03-design-channel");

    // Hostile bodies render as text.
    await ada.page.click("[data-testid=channel][data-name=general]");
    await bob.page.click("[data-testid=channel][data-name=general]");
    const hostile = `<img src=x onerror="window.__pwned=1"><b>bold</b> \u202Eevil\u202C zero\u200Bwidth ${"W".repeat(3000)}`;
    await send(bob.page, hostile);
    await waitForMessage(ada.page, "<img src=x");
    const pwned = await ada.page.evaluate(() => window.__pwned === 1 || document.querySelector("[data-testid=message] img, [data-testid=message] b") !== null);
    assert.equal(pwned, false, "markup was not interpreted");
    const overflow = await ada.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    assert.ok(overflow, "a huge unbroken string does not widen the page");
    await shot(ada.page, "04-hostile-body");

    // Reload with the relay restarted in between: history now comes only from IndexedDB.
    await relay.restart();
    await bob.page.reload();
    await waitForMessage(bob.page, "hello Bob");
    await waitForMessage(bob.page, "hi Ada, how are you?");
    await waitConnected(bob.page);
    const fetched = await bob.page.evaluate(() => window.catalk.syncStats().fetched_facts);
    assert.equal(fetched, 0, "after the reload the history came from IndexedDB, not from a peer");
    await shot(bob.page, "05-after-reload-and-restart");

    // Ada did not reload: she reconnects by herself and the two chat on.
    await waitConnected(ada.page, 40_000);
    await send(ada.page, "still here after the restart");
    await waitForMessage(bob.page, "still here after the restart");
    await relay.restart();
    await waitConnected(ada.page, 40_000);
    await waitConnected(bob.page, 40_000);
    await send(bob.page, "and after another one");
    await waitForMessage(ada.page, "and after another one");

    // The channel created before the restarts is still there (re-presented by the clients).
    await bob.page.waitForSelector("[data-testid=channel][data-name=design]");
    const texts = await messageTexts(ada.page);
    assert.ok(texts.some((t) => t.includes("hello Bob")), "old history still shown");
    await shot(ada.page, "06-chat-after-restarts");

    // Ada, who never reloaded, is still the owner after the restarts: badge (in her list and in Bob's,
    // which the restarted relay filled) and create-channel button.
    for (const { page } of [ada, bob]) {
      await page.waitForSelector(`[data-testid=presence][data-key="${adaKey}"] .badge.owner`, { timeout: 15_000 });
    }
    await ada.page.waitForSelector("[data-testid=new-channel]", { state: "visible", timeout: 15_000 });
  } finally {
    await relay.stop();
  }
});

test("the app is usable on a phone-sized screen", async () => {
  const relay = await new Relay(["--no-claim", "--ice-server", "turn:ada:pw@127.0.0.1:3478"]).start();
  try {
    const { page } = await newUser(browser, relay, { viewport: { width: 390, height: 844 } });
    // The relay's STUN/TURN servers reach the client for its data channels.
    await page.waitForFunction(() => window.catalk?.iceServers?.().length === 1);
    assert.deepEqual(await page.evaluate(() => window.catalk.iceServers()), [
      { urls: ["turn:127.0.0.1:3478"], username: "ada", credential: "pw" },
    ]);
    // A malformed list is refused with a clear error and changes nothing.
    const refused = await page.evaluate(() => {
      try { window.catalk.setIceServers([{ urls: 5 }]); return null; } catch (err) { return err.code; }
    });
    assert.equal(refused, "invalid");
    assert.equal((await page.evaluate(() => window.catalk.iceServers())).length, 1);
    await onboard(page, "Phone");
    await send(page, "typed on a phone");
    await waitForMessage(page, "typed on a phone");
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    assert.ok(fits, "no horizontal scrolling");
    await shot(page, "07-phone");
  } finally {
    await relay.stop();
  }
});
