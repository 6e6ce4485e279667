// Test harness: starts real relays (the debug binary with the app embedded) on
// loopback ports and real Chromium (Debian's, through playwright-core).
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const RELAY_BIN = process.env.CATALK_RELAY_BIN ?? "target/debug/catalk-relay";
const VCLIENT_BIN = process.env.CATALK_VCLIENT_BIN ?? "target/debug/catalk-vclient";
const CHROMIUM = process.env.CATALK_CHROMIUM ?? "/usr/bin/chromium";
// The wasm client with its test entry points (storeSelfTest, verifySpeed), which the app in
// web/dist does not have: built by `cargo xtask selftest-wasm` (and `cargo xtask test`).
const SELFTEST_PKG = process.env.CATALK_SELFTEST_PKG ?? "target/selftest-pkg";
export const SCREENSHOTS = "target/e2e-screenshots";
mkdirSync(SCREENSHOTS, { recursive: true });

const ANSI = /\x1b\[[0-9;]*m/g;

/** A relay child process. `start` resolves once it logs its listening address. */
export class Relay {
  constructor(extraArgs = []) {
    this.dir = mkdtempSync(join(tmpdir(), "catalk-e2e-"));
    this.extraArgs = extraArgs;
    this.port = 0;
    this.url = null;
    this.claimToken = null;
    this.log = "";
  }

  async start() {
    const args = ["--listen", `127.0.0.1:${this.port}`, "--key-file", join(this.dir, "relay.key"), ...this.extraArgs];
    this.child = spawn(RELAY_BIN, args, { env: { ...process.env, NO_COLOR: "1", RUST_LOG: "info" } });
    const ready = new Promise((resolve, reject) => {
      const onData = (chunk) => {
        this.log += chunk.toString().replace(ANSI, "");
        const listening = this.log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
        const claim = this.log.match(/#claim=([0-9a-f]+)/);
        if (claim) this.claimToken = claim[1];
        if (listening && (claim || this.extraArgs.includes("--no-claim") || this.log.includes("relay run started"))) {
          this.port = Number(listening[1]);
          this.url = `http://127.0.0.1:${this.port}`;
          resolve();
        }
      };
      this.child.stdout.on("data", onData);
      this.child.stderr.on("data", onData);
      this.child.on("exit", (code) => reject(new Error(`relay exited early (${code}):\n${this.log}`)));
    });
    await ready;
    return this;
  }

  /** Stops with SIGTERM (graceful: clients get `shutting_down`) and waits for the exit. */
  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    await exited;
  }

  /** Stops and starts again on the same port with the same key: a relay restart. */
  async restart() {
    await this.stop();
    this.log = "";
    await this.start();
  }
}

/** A virtual client child process (catalk-vclient) with its own key and store. */
export class VClient {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "catalk-vclient-"));
    this.keyFile = join(this.dir, "vclient.key");
    this.log = "";
    this.metricsUrl = null;
  }

  /** This client's public key (creates the key file): give it to the relay with --virtual-client. */
  publicKey() {
    return execFileSync(VCLIENT_BIN, ["--print-key", "--key-file", this.keyFile], { encoding: "utf8" }).trim();
  }

  /** Starts against `relay`; resolves once it is logged in. */
  async start(relay) {
    const args = [
      "--relay-url", `ws://127.0.0.1:${relay.port}/ws`, "--key-file", this.keyFile,
      "--store", join(this.dir, "history.redb"), "--udp-bind", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
    ];
    this.child = spawn(VCLIENT_BIN, args, { env: { ...process.env, NO_COLOR: "1", RUST_LOG: "info" } });
    await new Promise((resolve, reject) => {
      const onData = (chunk) => {
        this.log += chunk.toString().replace(ANSI, "");
        const metrics = this.log.match(/metrics listening addr=(127\.0\.0\.1:\d+)/);
        if (metrics) this.metricsUrl = `http://${metrics[1]}/metrics`;
        if (this.metricsUrl && this.log.includes("logged in")) resolve();
      };
      this.child.stdout.on("data", onData);
      this.child.stderr.on("data", onData);
      this.child.on("exit", (code) => reject(new Error(`vclient exited early (${code}):\n${this.log}`)));
    });
    return this;
  }

  /** One metric's value (the first line that starts with `name`). */
  async metric(name) {
    const text = await (await fetch(this.metricsUrl)).text();
    const line = text.split("\n").find((l) => l.startsWith(name));
    if (!line) throw new Error(`no metric ${name} in:\n${text}`);
    return Number(line.trim().split(/\s+/).pop());
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    await exited;
  }
}

/** The Chromium flags every test browser gets (../shared/TOOLCHAIN.md). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchBrowser(extraArgs = []) {
  // playwright-core gives every launch a fresh temporary profile.
  return chromium.launch({ executablePath: CHROMIUM, args: [...extraArgs, ...CHROMIUM_ARGS] });
}

/** A new user: its own browser context (own IndexedDB), page open on the relay. */
export async function newUser(browser, relay, { viewport = { width: 1280, height: 800 }, hash = "", initScript } = {}) {
  const context = await browser.newContext({ viewport });
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") console.log(`[browser ${msg.type()}] ${msg.text()}`);
  });
  page.on("pageerror", (err) => console.log(`[page error] ${err.message}`));
  await page.goto(`${relay.url}/${hash}`);
  return { context, page };
}

/**
 * Serves the selftest wasm client (from SELFTEST_PKG, through Playwright routing) to `page`
 * under `/selftest-pkg/`, on the app's origin so the page's CSP allows it, and returns the URL
 * of its module for the page to import:
 * `page.evaluate(async (url) => { const m = await import(url); await m.default(); return m.storeSelfTest(); }, url)`.
 * In the page it is a second instance of the client beside the app's, with its own wasm memory.
 */
export async function selftestModule(page) {
  const files = { "catalk_client.js": "text/javascript", "catalk_client_bg.wasm": "application/wasm" };
  for (const file of Object.keys(files)) {
    if (!existsSync(join(SELFTEST_PKG, file))) {
      throw new Error(`${join(SELFTEST_PKG, file)} is missing: build it with \`cargo xtask selftest-wasm\``);
    }
  }
  const app = "web/dist/pkg/catalk_client_bg.wasm";
  if (existsSync(app) && statSync(app).mtimeMs > statSync(join(SELFTEST_PKG, "catalk_client_bg.wasm")).mtimeMs) {
    console.log(`warning: ${SELFTEST_PKG} is older than web/dist; if the client changed since, run \`cargo xtask selftest-wasm\``);
  }
  await page.route("**/selftest-pkg/*", (route) => {
    const file = new URL(route.request().url()).pathname.split("/").pop();
    if (!files[file]) return route.fulfill({ status: 404 });
    return route.fulfill({ path: join(SELFTEST_PKG, file), contentType: files[file] });
  });
  return "/selftest-pkg/catalk_client.js";
}

/** Onboards with `name` and waits until connected. */
export async function onboard(page, name) {
  await page.fill("[data-testid=display-name]", name);
  await page.click("[data-testid=start]");
  await waitConnected(page);
}

export async function waitConnected(page, timeout = 20_000) {
  await page.waitForFunction(
    () => document.querySelector("[data-testid=connection]")?.textContent.trim() === "connected",
    null,
    { timeout },
  );
}

export async function send(page, text) {
  await page.fill("[data-testid=compose]", text);
  await page.press("[data-testid=compose]", "Enter");
}

/** Waits until a rendered message contains `text`; returns its element handle. */
export async function waitForMessage(page, text, timeout = 15_000) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll("[data-testid=message]")].some((m) => m.textContent.includes(t)),
    text,
    { timeout },
  );
}

export async function messageTexts(page) {
  return page.$$eval("[data-testid=message]", (ms) => ms.map((m) => m.textContent));
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** Posts `count` messages through the app's client, as fast as the relay acks them. */
export async function postMany(page, from, count, label) {
  await page.evaluate(async ({ from, count, label }) => {
    for (let n = from; n < from + count; n++) await window.catalk.post("general", `${label} ${n}`);
  }, { from, count, label });
}

/** Messages of `channel` in this page's IndexedDB, read directly. */
export async function storedTexts(page, channel = "general") {
  return page.evaluate(async (channel) => {
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open("catalk");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const rows = await new Promise((resolve, reject) => {
      const req = db.transaction("facts").objectStore("facts").index("by_kind").getAll("message");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    db.close();
    return rows.filter((r) => r.channel === channel).map((r) => JSON.parse(r.json).body.text);
  }, channel);
}

export async function historyStatus(page) {
  return (await page.textContent("[data-testid=history-status]"))?.trim() ?? "";
}

export async function waitComplete(page, timeout = 60_000) {
  await page.waitForFunction(
    () => document.querySelector("[data-testid=history-status]")?.textContent.trim().startsWith("complete"),
    null,
    { timeout },
  );
}

export async function waitStoredAtLeast(page, n, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const count = (await storedTexts(page)).length;
    if (count >= n) return count;
    if (Date.now() > deadline) throw new Error(`only ${count} of ${n} messages stored`);
    await page.waitForTimeout(200);
  }
}

/** Prints each open page's sync counters and journal (`syncJournal()`): for a failure's log. */
export async function dumpSync(users) {
  for (const [name, page] of Object.entries(users)) {
    if (!page || page.isClosed()) continue;
    try {
      const { stats, journal } = await page.evaluate(() => ({ stats: window.catalk?.syncStats(), journal: window.catalk?.syncJournal() ?? [] }));
      console.log(`${name}'s sync stats: ${JSON.stringify(stats)}`);
      console.log(`${name}'s sync journal:\n${journal.join("\n")}`);
    } catch (err) {
      console.log(`${name}: no sync journal (${err.message})`);
    }
  }
}
