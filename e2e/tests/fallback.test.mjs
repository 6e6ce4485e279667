// The relay fallback for peer sync: when WebRTC cannot connect, peers exchange the same sync
// messages through the relay, if its owner enabled it. Here every peer connection may only use
// TURN servers and there are none, as behind a firewall that blocks UDP: ICE finds no path.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Relay, VClient, launchBrowser, newUser, onboard, shot, postMany, storedTexts, waitComplete, waitStoredAtLeast,
} from "./harness.mjs";

const TOTAL = 200;

/** Runs in every page before the app: peer connections get no usable ICE candidates. */
function blockDirectConnections() {
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(config = {}) {
      super({ ...config, iceServers: [], iceTransportPolicy: "relay" });
    }
  };
}

async function fallbackBytes(relay) {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("catalk_sync_fallback_bytes_total "));
  return Number(line?.split(" ")[1] ?? 0);
}

test("with UDP blocked, a late joiner fills its history through the relay's fallback", async () => {
  const browser = await launchBrowser();
  const relay = await new Relay([
    "--no-claim", "--posts-per-second", "2000", "--frames-per-second", "2000",
    "--sync-fallback-bytes-per-second", "1000000",
  ]).start();
  try {
    const a = await newUser(browser, relay, { initScript: blockDirectConnections });
    await onboard(a.page, "Ada");
    await postMany(a.page, 0, TOTAL, "from Ada");
    await waitStoredAtLeast(a.page, TOTAL);
    assert.equal(await fallbackBytes(relay), 0);

    const c = await newUser(browser, relay, { initScript: blockDirectConnections });
    await onboard(c.page, "Cleo");
    await waitComplete(c.page, 60_000);
    const texts = await storedTexts(c.page);
    assert.equal(texts.length, TOTAL, "C holds every message");
    assert.equal(new Set(texts).size, TOTAL, "no duplicates");
    assert.ok((await fallbackBytes(relay)) > 0, "the history went through the relay");
    // The people list marks that history moves through the server for this person.
    await c.page.waitForSelector("[data-testid=presence][data-link=relay]", { timeout: 10_000 });
    await c.page.waitForFunction((last) => [...document.querySelectorAll("[data-testid=message]")].some((m) => m.textContent.includes(last)), `from Ada ${TOTAL - 1}`);
    await shot(c.page, "13-filled-through-relay-fallback");
  } finally {
    await relay.stop();
    await browser.close();
  }
});

test("with UDP blocked, a late joiner fills from the virtual client through the relay's fallback", async () => {
  const browser = await launchBrowser();
  const vclient = new VClient();
  const relay = await new Relay([
    "--no-claim", "--posts-per-second", "2000", "--frames-per-second", "2000",
    "--sync-fallback-bytes-per-second", "1000000", `--virtual-client=${vclient.publicKey()}`,
  ]).start();
  try {
    await vclient.start(relay);
    const a = await newUser(browser, relay, { initScript: blockDirectConnections });
    await onboard(a.page, "Ada");
    await postMany(a.page, 0, 120, "kept");
    await waitStoredAtLeast(a.page, 120);
    const deadline = Date.now() + 30_000;
    while ((await vclient.metric("catalk_vclient_stored_messages")) !== 120) {
      assert.ok(Date.now() < deadline, "the virtual client recorded every message");
      await new Promise((r) => setTimeout(r, 100));
    }
    await a.context.close();

    // Only the virtual client holds the history, and no data channel can open to it.
    const c = await newUser(browser, relay, { initScript: blockDirectConnections });
    await onboard(c.page, "Cleo");
    await waitComplete(c.page, 60_000);
    const texts = await storedTexts(c.page);
    assert.equal(texts.length, 120, "C holds every message");
    assert.ok((await fallbackBytes(relay)) > 0, "the history went through the relay");
    const served = await vclient.metric('catalk_vclient_served_bytes_total{peer_kind="browser"}');
    assert.ok(served > 0, "the virtual client served it");
  } catch (err) {
    console.log("virtual client log tail:", vclient.log.slice(-4000));
    throw err;
  } finally {
    await vclient.stop();
    await relay.stop();
    await browser.close();
  }
});
