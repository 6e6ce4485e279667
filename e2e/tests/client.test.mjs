// The browser app's own behaviour, in real Chromium against a real relay: no duplicate rows,
// key backup and restore, a full storage quota, hostile bodies, the composer's keys, long
// histories within the row cap, and toasts that leave the Send button free.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Relay, launchBrowser, newUser, onboard, waitConnected, send, waitForMessage, shot, postMany, waitStoredAtLeast,
} from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const COMPOSE = "[data-testid=compose]";

/** Sends through the composer and waits until it has been acked (the composer empties). */
async function sendAcked(page, text) {
  await send(page, text);
  await page.waitForFunction((sel) => document.querySelector(sel).value === "", COMPOSE);
}

/** The rendered body text of every message, in DOM order. */
const bodies = (page) => page.$$eval("[data-testid=message] .text", (ts) => ts.map((t) => t.textContent));

/** Waits until a message whose body is exactly `text` is rendered. */
async function waitForBody(page, text, timeout = 15_000) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll("[data-testid=message] .text")].some((el) => el.textContent === t),
    text,
    { timeout },
  );
}

/** Records in `window.__dupes` every id ever seen twice among the rendered rows, even briefly. */
async function watchDuplicates(page) {
  await page.evaluate(() => {
    window.__dupes = [];
    const check = () => {
      const seen = new Set();
      for (const m of document.querySelectorAll("[data-testid=message]")) {
        if (seen.has(m.dataset.id)) window.__dupes.push(m.dataset.id);
        seen.add(m.dataset.id);
      }
    };
    new MutationObserver(check).observe(document.querySelector("#message-items"), { childList: true });
  });
}

async function assertUniqueIds(page) {
  const ids = await page.$$eval("[data-testid=message]", (ms) => ms.map((m) => m.dataset.id));
  assert.equal(new Set(ids).size, ids.length, `repeated data-id among ${ids.length} rows`);
  assert.deepEqual(await page.evaluate(() => window.__dupes), [], "no row was ever drawn twice");
}

async function openSettings(page) {
  await page.click("#settings-open");
  await page.waitForSelector("#settings[open]");
}

test("own messages are drawn once, through a burst and a relay restart", async () => {
  const relay = await new Relay(["--no-claim"]).start();
  try {
    const { page } = await newUser(browser, relay);
    await onboard(page, "Ada");
    await watchDuplicates(page);
    for (let i = 0; i < 20; i++) await sendAcked(page, `burst ${i}`);
    await waitForBody(page, "burst 19");
    await assertUniqueIds(page);

    await relay.restart();
    await waitConnected(page, 40_000);
    for (let i = 20; i < 40; i++) await sendAcked(page, `burst ${i}`);
    await waitForBody(page, "burst 39");
    await assertUniqueIds(page);
    const shown = (await bodies(page)).filter((t) => t.startsWith("burst "));
    assert.deepEqual(shown, Array.from({ length: 40 }, (_, i) => `burst ${i}`), "each message once, in order");
    await shot(page, "20-burst-unique");
  } finally {
    await relay.stop();
  }
});

test("Shift+Enter adds a line, Enter sends", async () => {
  const relay = await new Relay(["--no-claim"]).start();
  try {
    const { page } = await newUser(browser, relay);
    await onboard(page, "Ada");
    await page.fill(COMPOSE, "line one");
    await page.press(COMPOSE, "Shift+Enter");
    await page.keyboard.type("line two");
    assert.equal(await page.inputValue(COMPOSE), "line one\nline two", "Shift+Enter kept the text and added a line");
    await page.press(COMPOSE, "Enter");
    await waitForBody(page, "line one\nline two");
    assert.equal(await page.inputValue(COMPOSE), "", "Enter sent and cleared the composer");
    // Had Shift+Enter sent "line one", the relay would have acked it before the second message.
    assert.deepEqual(await bodies(page), ["line one\nline two"]);
    await shot(page, "21-multiline");
  } finally {
    await relay.stop();
  }
});

test("a key backup restores the same identity in a fresh browser; a wrong passphrase changes nothing", async () => {
  const relay = await new Relay(["--no-claim"]).start();
  const dir = mkdtempSync(join(tmpdir(), "catalk-backup-"));
  const PASS = "correct horse battery staple";
  try {
    const ada = await newUser(browser, relay);
    await onboard(ada.page, "Ada");
    const original = await ada.page.evaluate(() => window.catalk.identity());
    await openSettings(ada.page);
    assert.equal(await ada.page.inputValue("#settings-key"), original.key, "settings show the public key");
    assert.equal((await ada.page.textContent("#settings-fingerprint")).trim(), original.fingerprint);
    await ada.page.fill("#backup-pass", PASS);
    await ada.page.fill("#backup-pass2", PASS);
    const [download] = await Promise.all([ada.page.waitForEvent("download"), ada.page.click("#backup-btn")]);
    const file = join(dir, download.suggestedFilename());
    await download.saveAs(file);
    assert.match(download.suggestedFilename(), /^catalk-key-.+\.json$/);
    JSON.parse(readFileSync(file, "utf8")); // a JSON document
    await ada.page.waitForSelector("#backup-msg[data-kind=ok]");
    await shot(ada.page, "22-backup-downloaded");
    await ada.context.close();

    // A fresh browser context with its own new identity.
    const fresh = await newUser(browser, relay);
    await onboard(fresh.page, "Newcomer");
    const other = await fresh.page.evaluate(() => window.catalk.identity());
    assert.notEqual(other.key, original.key);

    // Wrong passphrase: a clear error, nothing changes, no reload.
    await openSettings(fresh.page);
    await fresh.page.setInputFiles("#restore-file", file);
    await fresh.page.fill("#restore-pass", "not the passphrase");
    await fresh.page.click("#restore-btn");
    await fresh.page.waitForSelector("#restore-msg[data-kind=error]");
    assert.equal((await fresh.page.textContent("#restore-msg")).trim(), "Wrong passphrase for this backup file.");
    assert.deepEqual(await fresh.page.evaluate(() => window.catalk.identity()), other, "identity unchanged");
    assert.equal(await fresh.page.inputValue("#settings-key"), other.key);
    assert.equal((await fresh.page.textContent("#me-fingerprint")).trim(), other.fingerprint);
    await shot(fresh.page, "23-restore-wrong-passphrase");

    // The right passphrase: the page reloads with the backed-up identity.
    await fresh.page.fill("#restore-pass", PASS);
    await Promise.all([fresh.page.waitForEvent("load", { timeout: 30_000 }), fresh.page.click("#restore-btn")]);
    await waitConnected(fresh.page);
    const restored = await fresh.page.evaluate(() => window.catalk.identity());
    assert.equal(restored.key, original.key, "same public key");
    assert.equal(restored.fingerprint, original.fingerprint);
    assert.equal((await fresh.page.textContent("#me-fingerprint")).trim(), original.fingerprint);
    await fresh.page.waitForSelector(`[data-testid=presence].self[data-key="${original.key}"]`);
    await shot(fresh.page, "24-restored");
  } finally {
    await relay.stop();
  }
});

test("a full storage quota is shown to the user", async () => {
  const relay = await new Relay(["--no-claim"]).start();
  try {
    const { page } = await newUser(browser, relay);
    await onboard(page, "Ada");
    await sendAcked(page, "stored fine");
    await waitForBody(page, "stored fine");
    // From now on, writing history fails the way a full disk makes IndexedDB fail.
    await page.evaluate(() => {
      const put = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function (...args) {
        if (this.name === "facts") throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
        return put.apply(this, args);
      };
    });
    await sendAcked(page, "no room for this one");
    const banner = await page.waitForSelector("[data-testid=banner][data-banner=quota_exceeded]", { timeout: 15_000 });
    assert.match(await banner.textContent(), /Storage is full/);
    assert.equal(await banner.getAttribute("role"), "alert");
    await shot(page, "25-quota-full");
  } finally {
    await relay.stop();
  }
});

test("hostile bodies render as exactly the text sent, contained and isolated", async () => {
  const relay = await new Relay(["--no-claim"]).start();
  try {
    const ada = await newUser(browser, relay, { viewport: { width: 900, height: 700 } });
    await onboard(ada.page, "Ada");
    const bob = await newUser(browser, relay);
    await onboard(bob.page, "Bob");
    const hostile = [
      `<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script><b>bold</b> &amp; <a href="javascript:alert(1)">x</a>`,
      "W".repeat(4096), // one unbroken word, as long as a body may be (4,096 bytes)
      "\u202Eevil override with no closing PDF",
      "zero\u200Bwidth\u200Djoiner\uFEFF",
    ];
    for (const text of hostile) await sendAcked(bob.page, text);
    // Ada answers right after the override: her name must still read "Ada", left to right.
    await sendAcked(ada.page, "after the override");
    await waitForBody(ada.page, "after the override");
    for (const text of hostile) await waitForBody(ada.page, text);

    const shown = await bodies(ada.page);
    for (const text of hostile) assert.ok(shown.includes(text), `shown exactly: ${JSON.stringify(text.slice(0, 40))}`);
    const page = ada.page;
    const injected = await page.evaluate(() => ({
      pwned: window.__pwned === 1,
      elements: [...document.querySelectorAll("[data-testid=message] .text")].filter((t) => t.children.length > 0).length,
      foreign: document.querySelectorAll("#message-items img, #message-items script, #message-items b, #message-items a").length,
    }));
    assert.deepEqual(injected, { pwned: false, elements: 0, foreign: 0 }, "no element was injected");
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth <= window.innerWidth,
      list: document.querySelector("#messages").scrollWidth <= document.querySelector("#messages").clientWidth,
    }));
    assert.deepEqual(widths, { page: true, list: true }, "no horizontal scrolling");

    const layout = await page.evaluate(() => {
      const rows = [...document.querySelectorAll("[data-testid=message]")];
      const evil = rows.find((r) => r.querySelector(".text").textContent.startsWith("\u202E"));
      const next = rows.find((r) => r.querySelector(".text").textContent === "after the override");
      const text = evil.querySelector(".text");
      const author = next.querySelector(".author");
      // Left edge of each character of the author's name, in logical order.
      const node = author.firstChild;
      const xs = [...node.textContent].map((_, i) => {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        return range.getBoundingClientRect().left;
      });
      return {
        dir: text.getAttribute("dir"),
        bidi: getComputedStyle(text).unicodeBidi,
        name: author.textContent,
        visible: author.getBoundingClientRect().width > 0,
        leftToRight: xs.every((x, i) => i === 0 || x > xs[i - 1]),
      };
    });
    assert.deepEqual(layout, { dir: "auto", bidi: "isolate", name: "Ada", visible: true, leftToRight: true });
    await page.evaluate(() => document.querySelector("#messages").scrollTo(0, 1e9));
    await shot(page, "26-hostile-bodies");
  } finally {
    await relay.stop();
  }
});

test("a long history keeps at most the row cap in the DOM and scrolls back to the first message", async () => {
  const relay = await new Relay(["--no-claim", "--posts-per-second", "2000", "--frames-per-second", "2000"]).start();
  const TOTAL = 400;
  try {
    const { page } = await newUser(browser, relay);
    await onboard(page, "Ada");
    const cap = Number(await page.getAttribute("#message-items", "data-max-rows"));
    assert.ok(cap > 0 && cap < TOTAL, `row cap ${cap}`);
    const count = () => page.$$eval("[data-testid=message]", (ms) => ms.length);

    // Live: 400 messages arrive while the list sticks to the bottom.
    await postMany(page, 0, TOTAL, "long");
    await waitStoredAtLeast(page, TOTAL);
    await waitForBody(page, `long ${TOTAL - 1}`);
    assert.ok((await count()) <= cap, `live: ${await count()} rows > cap ${cap}`);

    // From the device after a reload: page up to the very first message.
    await page.reload();
    await waitForBody(page, `long ${TOTAL - 1}`);
    const scrollUntil = (edge, body) => page.waitForFunction(({ edge, body }) => {
      const list = document.querySelector("#messages");
      list.scrollTop = edge === "top" ? 0 : list.scrollHeight;
      const n = document.querySelectorAll("[data-testid=message]").length;
      window.__maxRows = Math.max(window.__maxRows ?? 0, n);
      return [...document.querySelectorAll("[data-testid=message] .text")].some((t) => t.textContent === body);
    }, { edge, body }, { polling: 100, timeout: 30_000 });
    await scrollUntil("top", "long 0");
    await page.waitForSelector(".channel-intro");
    assert.ok((await count()) <= cap, `at the top: ${await count()} rows > cap ${cap}`);
    assert.ok(!(await bodies(page)).includes(`long ${TOTAL - 1}`), "the newest rows were dropped on the way up");
    await shot(page, "27-long-history-top");
    await scrollUntil("bottom", `long ${TOTAL - 1}`);
    const max = await page.evaluate(() => window.__maxRows);
    assert.ok(max <= cap, `at most ${cap} rows while scrolling, saw ${max}`);
    assert.ok((await count()) <= cap);
    await shot(page, "28-long-history-bottom");
  } finally {
    await relay.stop();
  }
});

test("a toast does not cover the composer's Send button", async () => {
  const relay = await new Relay(["--no-claim"]).start();
  try {
    for (const viewport of [{ width: 900, height: 700 }, { width: 1280, height: 800 }]) {
      const { page, context } = await newUser(browser, relay, { viewport });
      await onboard(page, "Ada");
      await page.evaluate(async () => {
        const { toast } = await import("/js/toast.js");
        toast("Key restored. Reloading with the restored identity…", { kind: "success", timeout: 60_000 });
      });
      const toastBox = await (await page.waitForSelector(".toast.success")).boundingBox();
      const composer = await (await page.$("#composer")).boundingBox();
      assert.ok(toastBox.y + toastBox.height <= composer.y, `toast ${JSON.stringify(toastBox)} over composer ${JSON.stringify(composer)}`);
      await shot(page, `29-toast-${viewport.width}`);
      await context.close();
    }
  } finally {
    await relay.stop();
  }
});
