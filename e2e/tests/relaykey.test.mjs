// The relay's signing key: a planned rotation (--previous-relay-key: the old key signs the new
// one) keeps members connected; an unexpected new key — also one whose server only names the old
// public key (--trusted-key) — stops the app with a clear choice instead of a reconnect loop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Relay, launchBrowser, newUser, onboard, send, shot, waitConnected, waitForMessage } from "./harness.mjs";

/** The relay's public key, from its well-known file. */
async function relayKeyOf(relay) {
  const doc = await (await fetch(`${relay.url}/.well-known/catalk.json`)).json();
  assert.match(doc.relay, /^[A-Za-z0-9_-]{43}$/, JSON.stringify(doc));
  return doc.relay;
}

async function bytesOut(relay) {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  return Number(text.match(/^catalk_bytes_total\{direction="out"\} (\d+)/m)?.[1] ?? NaN);
}

/** Restarts `relay` on its port with a newly made key (and the args `extraArgs(oldSecret)`). */
async function restartWithNewKey(relay, extraArgs = () => []) {
  await relay.stop();
  const file = join(relay.dir, "relay.key");
  const oldSecret = readFileSync(file, "utf8").trim();
  rmSync(file);
  relay.extraArgs.push(...extraArgs(oldSecret));
  relay.log = "";
  await relay.start();
}

test("an unexpected relay key shows a clear choice; accepting keeps the history and reconnects", async () => {
  const browser = await launchBrowser();
  const relay = await new Relay(["--no-claim"]).start();
  try {
    const a = await newUser(browser, relay, { viewport: { width: 390, height: 844 } });
    await onboard(a.page, "Ada");
    await send(a.page, "said under the old key");
    await waitForMessage(a.page, "said under the old key");
    const oldKey = await relayKeyOf(relay);

    await restartWithNewKey(relay);
    const newKey = await relayKeyOf(relay);
    assert.notEqual(newKey, oldKey);
    const dialog = "[data-testid=relay-key-changed]";
    await a.page.waitForSelector(dialog, { state: "visible", timeout: 30_000 });
    const text = await a.page.textContent(dialog);
    assert.match(text, /identity changed/);
    assert.doesNotMatch(text, /relay|peer|epoch/i, "words for people");
    assert.equal(await a.page.getAttribute("[data-testid=connection]", "data-state"), "key_changed");
    await shot(a.page, "21-relay-key-changed-phone");
    // No reconnect loop: the relay sends nothing more (no new challenges) while the choice waits.
    const sent = await bytesOut(relay);
    await a.page.waitForTimeout(3_000);
    assert.equal(await bytesOut(relay), sent);

    // A reload asks again (the choice is not made for the person).
    await a.page.reload();
    await a.page.waitForSelector(dialog, { state: "visible", timeout: 30_000 });
    await a.page.click("[data-testid=accept-relay-key]");
    await waitConnected(a.page);
    await waitForMessage(a.page, "said under the old key"); // still readable and verified
    await send(a.page, "said under the new key");
    await waitForMessage(a.page, "said under the new key");
    await a.page.reload();
    await waitConnected(a.page);
    assert.equal(await a.page.isVisible(dialog), false, "accepted once, trusted after a reload");
    await waitForMessage(a.page, "said under the old key");
  } finally {
    await relay.stop();
    await browser.close();
  }
});

test("a planned key rotation with --previous-relay-key keeps members connected without asking", async () => {
  const browser = await launchBrowser();
  const relay = await new Relay(["--no-claim"]).start();
  try {
    const a = await newUser(browser, relay);
    await onboard(a.page, "Ada");
    await send(a.page, "before the rotation");
    await waitForMessage(a.page, "before the rotation");
    await restartWithNewKey(relay, (oldSecret) => [`--previous-relay-key=${oldSecret}`]);
    await waitConnected(a.page, 30_000);
    assert.equal(await a.page.isVisible("[data-testid=relay-key-changed]"), false);
    await send(a.page, "after the rotation");
    await waitForMessage(a.page, "after the rotation");

    // A server that names the now-old key without holding it proves nothing: the app asks.
    const rotatedKey = await relayKeyOf(relay);
    relay.extraArgs = relay.extraArgs.filter((arg) => !arg.startsWith("--previous-relay-key"));
    await restartWithNewKey(relay, () => [`--trusted-key=${rotatedKey}`]);
    await a.page.waitForSelector("[data-testid=relay-key-changed]", { state: "visible", timeout: 30_000 });
  } finally {
    await relay.stop();
    await browser.close();
  }
});
