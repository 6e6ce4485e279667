// Test harness: starts real relays (the debug binary with the app embedded) on
// loopback ports and real Chromium (Debian's, through playwright-core).
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const RELAY_BIN = process.env.CATALK_RELAY_BIN ?? "target/debug/catalk-relay";
const CHROMIUM = process.env.CATALK_CHROMIUM ?? "/usr/bin/chromium";
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

export async function launchBrowser() {
  // playwright-core gives every launch a fresh temporary profile.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A new user: its own browser context (own IndexedDB), page open on the relay. */
export async function newUser(browser, relay, { viewport = { width: 1280, height: 800 }, hash = "" } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") console.log(`[browser ${msg.type()}] ${msg.text()}`);
  });
  page.on("pageerror", (err) => console.log(`[page error] ${err.message}`));
  await page.goto(`${relay.url}/${hash}`);
  return { context, page };
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
