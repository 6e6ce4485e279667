// The offline shell: the service worker keeps the app on the device, so a reload while the
// server is down shows the stored history read-only with a notice, asks the network for the
// page only, and the app reconnects by itself once the server is back.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, launchBrowser, newUser, onboard, send, shot, waitConnected, waitForMessage, messageTexts, waitStoredAtLeast } from "./harness.mjs";

const NOTICE = "[data-testid=offline-notice]";
const COMPOSE = "[data-testid=compose]";

// In every page of the context: the wall-clock time at which the first message row appeared,
// to tell the requests made before the stored channel was on screen from those made after.
const MARK_FIRST_MESSAGE = () => {
  new MutationObserver((_, observer) => {
    if (!document.querySelector("[data-testid=message]")) return;
    window.__firstMessageAt = performance.timeOrigin + performance.now();
    observer.disconnect();
  }).observe(document, { childList: true, subtree: true });
};

/**
 * Records the context's requests. One `went to the network` unless the page's service worker
 * answered it (`fromServiceWorker`); every request a service worker makes itself does.
 */
function recordRequests(context) {
  const seen = [];
  context.on("request", (request) => seen.push({ request, heardAt: Date.now() }));
  return {
    /** `startTime`: the browser's, or (a failed request has none) when the event reached us, which is later. */
    async network() {
      const out = [];
      for (const { request, heardAt } of seen) {
        const response = await request.response().catch(() => null);
        if (!request.serviceWorker() && response?.fromServiceWorker()) continue;
        const started = request.timing().startTime;
        out.push({ url: request.url(), startTime: started > 0 ? started : heardAt, byWorker: !!request.serviceWorker(), failed: !response });
      }
      return out;
    },
  };
}

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test("a reload while the server is down shows the stored history read-only, then reconnects by itself", async () => {
  const relay = await new Relay(["--no-claim"]).start();
  try {
    const { page, context } = await newUser(browser, relay, { initScript: MARK_FIRST_MESSAGE });
    await onboard(page, "Ada");
    const said = ["first, while online", "second, while online", "third, while online"];
    for (const text of said) {
      await send(page, text);
      await waitForMessage(page, text);
    }
    await waitStoredAtLeast(page, said.length);
    // The service worker has precached this build (install done) before the server goes away.
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    assert.equal(await page.isVisible(NOTICE), false, "no notice while connected");

    await relay.stop();
    const requests = recordRequests(context);
    await page.reload();
    for (const text of said) await waitForMessage(page, text);
    const shownAt = await page.evaluate(() => window.__firstMessageAt);
    assert.ok(shownAt > 0, "the first message row was seen");
    assert.deepEqual((await messageTexts(page)).filter((t) => said.some((s) => t.includes(s))).length, said.length);

    await page.waitForSelector(NOTICE, { state: "visible", timeout: 20_000 });
    assert.match(await page.textContent(NOTICE), /can't reach the server/i);
    assert.doesNotMatch(await page.textContent(NOTICE), /relay|peer|epoch|fact/i, "words for people");
    assert.equal(await page.isDisabled(COMPOSE), true, "the composer is disabled while offline");
    assert.equal(await page.isDisabled("#send"), true, "so is the send button");
    // Nothing is known yet about what this device lacks: neither "no messages yet" nor "complete".
    assert.equal(await page.getAttribute("[data-testid=history-status]", "data-state"), "unknown");
    assert.doesNotMatch(await page.textContent("[data-testid=history-status]"), /no messages yet/i);
    assert.equal(await page.getAttribute("[data-testid=history-notice]", "data-state"), "unknown");
    await shot(page, "offline-01-reload-while-down");

    // The page itself is the only request that went out before the channel was on screen
    // (it failed; the service worker answered with its copy). Everything else came from the cache.
    const network = await requests.network();
    const early = network.filter((r) => r.startTime < shownAt);
    assert.ok(early.length <= 1, `network requests before the channel was shown: ${JSON.stringify(early, null, 1)}`);
    assert.ok(early.every((r) => new URL(r.url).pathname === "/"), `only the page: ${JSON.stringify(early)}`);

    // The server comes back on the same address: the app reconnects without a reload.
    relay.log = "";
    await relay.start();
    await waitConnected(page, 60_000);
    await page.waitForSelector(NOTICE, { state: "hidden" });
    assert.equal(await page.isDisabled(COMPOSE), false, "the composer is enabled again");
    await send(page, "fourth, after the server came back");
    await waitForMessage(page, "fourth, after the server came back");
    await shot(page, "offline-02-reconnected");
    await context.close();
  } finally {
    await relay.stop();
  }
});

test("an online reload takes the page from the network and the rest from the service worker", async () => {
  const relay = await new Relay(["--no-claim"]).start();
  try {
    const { page, context } = await newUser(browser, relay, { initScript: MARK_FIRST_MESSAGE });
    await onboard(page, "Bea");
    await send(page, "hello from before the reload");
    await waitForMessage(page, "hello from before the reload");
    await waitStoredAtLeast(page, 1);
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));

    const requests = recordRequests(context);
    await page.reload();
    await waitForMessage(page, "hello from before the reload");
    const shownAt = await page.evaluate(() => window.__firstMessageAt);
    await waitConnected(page);
    assert.equal(await page.isVisible(NOTICE), false, "no offline notice online");
    const network = await requests.network();
    const early = network.filter((r) => r.startTime < shownAt);
    assert.ok(early.length <= 1, `network requests before the channel was shown: ${JSON.stringify(early, null, 1)}`);
    assert.ok(
      network.some((r) => new URL(r.url).pathname === "/.well-known/catalk.json" && r.startTime >= shownAt),
      `the ICE servers are read after the channel is shown: ${JSON.stringify(network, null, 1)}`,
    );
    await context.close();
  } finally {
    await relay.stop();
  }
});
