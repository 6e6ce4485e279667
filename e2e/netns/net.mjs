// An internet on one machine, for the NAT tests: a "wan" namespace with a bridge, the relay and
// coturn on it, and homes behind NAT routers (a router namespace plus a host namespace behind
// it), with Chromium and virtual clients started inside the homes. Needs root (ip netns,
// iptables). Every name starts with `ctk-`, nothing routes to the host's own interfaces, and
// `Internet.close()` (or `cleanLeftovers()` at the start of a later run) removes it all.
//
//   ctk-wan   br0: 198.51.100.1 (relay), 198.51.100.2 (TURN)
//     └─ veth ─ ctk-rN  wan0: 198.51.100.1N   NAT   lan0: 10.N.0.1
//                 └─ veth ─ ctk-hN  eth0: 10.N.0.2 (browsers, virtual clients)
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "../tests/harness.mjs";

const PREFIX = "ctk-";
const WAN = `${PREFIX}wan`;
export const RELAY_ADDR = "198.51.100.1";
export const TURN_ADDR = "198.51.100.2";
const RELAY_PORT = 8080; // the wan namespace is ours and empty: no port can be taken
const ANSI = /\x1b\[[0-9;]*m/g;

const RELAY_BIN = process.env.CATALK_RELAY_BIN ?? "target/debug/catalk-relay";
const VCLIENT_BIN = process.env.CATALK_VCLIENT_BIN ?? "target/debug/catalk-vclient";
const CHROMIUM = process.env.CATALK_CHROMIUM ?? "/usr/bin/chromium";

/** Why these tests cannot run here, or null. */
export function skipReason() {
  if (process.platform !== "linux") return "the namespace internet needs Linux (ip netns)";
  if (process.getuid() !== 0) return "the namespace internet needs root (ip netns, iptables, coturn); run as root to include it";
  return null;
}

function run(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
  } catch (err) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${err.stderr || err.message}`);
  }
}

const has = (tool) => {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

/** Installs iptables and coturn with apt-get when they are missing (as root only). */
export function ensureTools() {
  const missing = [["iptables", "iptables"], ["turnserver", "coturn"]].filter(([tool]) => !has(tool)).map(([, pkg]) => pkg);
  if (!has("ip")) missing.push("iproute2");
  if (!missing.length) return;
  console.log(`installing ${missing.join(", ")} for the namespace internet`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => run("apt-get", ["install", "-y", "--no-install-recommends", ...missing], { env, stdio: "inherit" });
  try {
    install();
  } catch {
    run("apt-get", ["update"], { env, stdio: "inherit" });
    install();
  }
}

/** Removes namespaces (and the processes inside them) left by an earlier run that crashed. */
export function cleanLeftovers() {
  const names = run("ip", ["netns", "list"]).split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(PREFIX));
  for (const name of names) removeNamespace(name);
}

/** Kills the processes inside namespace `name`, then deletes it. */
function removeNamespace(name) {
  for (const pid of run("ip", ["netns", "pids", name]).split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {}
  }
  try {
    run("ip", ["netns", "del", name]);
  } catch (err) {
    console.log(`could not delete namespace ${name}: ${err.message}`);
  }
}

const ns = (name, ...args) => run("ip", ["netns", "exec", name, ...args]);
const ipIn = (name, ...args) => run("ip", ["-n", name, ...args]);

/** Waits until `proc.log` matches `pattern` (the process's output is appended to it). */
function waitLog(proc, pattern, what, timeout = 20_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start in ${timeout} ms:\n${proc.log}`)), timeout);
    const check = () => {
      if (pattern.test(proc.log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.child.stdout.on("data", (c) => { proc.log += c.toString().replace(ANSI, ""); check(); });
    proc.child.stderr.on("data", (c) => { proc.log += c.toString().replace(ANSI, ""); check(); });
    proc.child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`${what} exited early (${code}):\n${proc.log}`)); });
  });
}

async function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The wan and `homes` homes. `nat` is "cone" (MASQUERADE: ports kept, so a STUN mapping holds
 * for every peer) or "symmetric" (MASQUERADE --random-fully: a new port per destination).
 */
export class Internet {
  static create({ homes = 3, nat = "cone" } = {}) {
    const net = new Internet();
    try {
      net.#build(homes, nat);
    } catch (err) {
      net.#removeNamespaces();
      throw err;
    }
    return net;
  }

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), `${PREFIX}net-`));
    this.namespaces = [];
    this.homes = [];
    this.children = [];
    this.browsers = [];
  }

  #build(homes, nat) {
    cleanLeftovers();
    this.#namespace(WAN);
    ipIn(WAN, "link", "add", "br0", "type", "bridge");
    ipIn(WAN, "addr", "add", `${RELAY_ADDR}/24`, "dev", "br0");
    ipIn(WAN, "addr", "add", `${TURN_ADDR}/24`, "dev", "br0");
    ipIn(WAN, "link", "set", "br0", "up");
    for (let n = 1; n <= homes; n++) {
      const router = `${PREFIX}r${n}`;
      const host = `${PREFIX}h${n}`;
      this.#namespace(router);
      this.#namespace(host);
      ipIn(WAN, "link", "add", `home${n}`, "type", "veth", "peer", "name", "wan0", "netns", router);
      ipIn(WAN, "link", "set", `home${n}`, "master", "br0", "up");
      ipIn(router, "addr", "add", `198.51.100.${10 + n}/24`, "dev", "wan0");
      ipIn(router, "link", "set", "wan0", "up");
      ipIn(router, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", host);
      ipIn(router, "addr", "add", `10.${n}.0.1/24`, "dev", "lan0");
      ipIn(router, "link", "set", "lan0", "up");
      ipIn(host, "addr", "add", `10.${n}.0.2/24`, "dev", "eth0");
      ipIn(host, "link", "set", "eth0", "up");
      ipIn(host, "route", "add", "default", "via", `10.${n}.0.1`);
      ns(router, "sysctl", "-qw", "net.ipv4.ip_forward=1");
      const ipt = (...args) => ns(router, "iptables", ...args);
      ipt("-t", "nat", "-A", "POSTROUTING", "-o", "wan0", "-j", "MASQUERADE", ...(nat === "symmetric" ? ["--random-fully"] : []));
      ipt("-P", "FORWARD", "DROP");
      ipt("-A", "FORWARD", "-i", "lan0", "-o", "wan0", "-j", "ACCEPT");
      ipt("-A", "FORWARD", "-i", "wan0", "-o", "lan0", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT");
      ipt("-A", "INPUT", "-i", "wan0", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT");
      ipt("-A", "INPUT", "-i", "wan0", "-j", "DROP");
      this.homes.push({ n, router, host, addr: `10.${n}.0.2`, public: `198.51.100.${10 + n}`, nat });
    }
  }

  #namespace(name) {
    run("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    ipIn(name, "link", "set", "lo", "up");
    // IPv4 only: no link-local IPv6 paths beside the NATs.
    ns(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
    ns(name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
  }

  /** Host namespace of home `n` (1-based). */
  host(n) {
    return this.homes[n - 1].host;
  }

  /** Starts a process inside namespace `name`; `ready` matches its output once it is up. */
  async spawnIn(name, what, cmd, args, ready, env = {}) {
    const proc = { log: "", child: spawn("ip", ["netns", "exec", name, cmd, ...args], { env: { ...process.env, NO_COLOR: "1", ...env } }) };
    this.children.push(proc.child);
    await waitLog(proc, ready, what);
    return proc;
  }

  /**
   * The relay on the wan with its defaults: only where it listens and its public URL (plus
   * `extraArgs`, and CATALK_NETNS_RELAY_ARGS, space-separated, for a diagnosis by hand).
   */
  async startRelay(extraArgs = []) {
    const url = `http://${RELAY_ADDR}:${RELAY_PORT}`;
    const byHand = (process.env.CATALK_NETNS_RELAY_ARGS ?? "").split(" ").filter(Boolean);
    const args = ["--listen", `${RELAY_ADDR}:${RELAY_PORT}`, "--public-url", url, "--key-file", join(this.dir, "relay.key"), ...extraArgs, ...byHand];
    const proc = await this.spawnIn(WAN, "relay", RELAY_BIN, args, /catalk relay listening on/, { RUST_LOG: process.env.CATALK_NETNS_RUST_LOG ?? "info" });
    const net = this;
    return {
      url,
      port: RELAY_PORT,
      get log() { return proc.log; },
      wsUrl: `ws://${RELAY_ADDR}:${RELAY_PORT}/ws`,
      metrics: () => net.fetchIn(WAN, `${url}/metrics`),
      stop: () => stopChild(proc.child),
    };
  }

  /** coturn on the wan, sharing `secret` with the relay (`--turn-url`/`--turn-secret`). */
  async startTurn(secret) {
    const args = [
      "-n", `--listening-ip=${TURN_ADDR}`, `--relay-ip=${TURN_ADDR}`, "--listening-port=3478", "--no-tls", "--no-dtls",
      "--use-auth-secret", `--static-auth-secret=${secret}`, "--realm=catalk.test", "--no-cli", "--log-file=stdout",
      "--simple-log", "--verbose", "--min-port=49152", "--max-port=49999", `--pidfile=${join(this.dir, "turnserver.pid")}`,
      `--userdb=${join(this.dir, "turndb")}`,
    ];
    const proc = await this.spawnIn(WAN, "coturn", "turnserver", args, /UDP listener opened on/);
    return {
      url: `turn:${TURN_ADDR}:3478`,
      get log() { return proc.log; },
      stop: () => stopChild(proc.child),
    };
  }

  /**
   * A virtual client (catalk-vclient) for home `n`: its key now (for --virtual-client),
   * `start(relay)` later, with `extraArgs` (e.g. `--ice-server`).
   */
  virtualClient(n, extraArgs = []) {
    const dir = mkdtempSync(join(this.dir, "vclient-"));
    const keyFile = join(dir, "vclient.key");
    const publicKey = run(VCLIENT_BIN, ["--print-key", "--key-file", keyFile]).trim();
    const host = this.host(n);
    const net = this;
    return {
      publicKey,
      async start(relay) {
        const args = ["--relay-url", relay.wsUrl, "--key-file", keyFile, "--store", join(dir, "history.redb"), "--metrics-addr", "127.0.0.1:0", ...extraArgs];
        const proc = await net.spawnIn(host, "virtual client", VCLIENT_BIN, args, /logged in/, { RUST_LOG: "info" });
        const addr = proc.log.match(/metrics listening addr=(127\.0\.0\.1:\d+)/)?.[1];
        this.proc = proc;
        this.metricsUrl = `http://${addr}/metrics`;
        return this;
      },
      get log() { return this.proc?.log ?? ""; },
      async metric(name) {
        const text = await net.fetchIn(host, this.metricsUrl);
        const line = text.split("\n").find((l) => l.startsWith(name));
        if (!line) throw new Error(`no metric ${name} in:\n${text}`);
        return Number(line.trim().split(/\s+/).pop());
      },
      stop() { return stopChild(this.proc?.child); },
    };
  }

  /** GET `url` from inside namespace `name` (the test process has no route into the wan). */
  fetchIn(name, url) {
    const script = "fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t), e => { console.error(e); process.exit(1); })";
    return new Promise((resolve, reject) => {
      const child = spawn("ip", ["netns", "exec", name, process.execPath, "-e", script, url]);
      let out = "";
      let err = "";
      child.stdout.on("data", (c) => { out += c; });
      child.stderr.on("data", (c) => { err += c; });
      child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`GET ${url} in ${name}: ${err}`))));
    });
  }

  /** Chromium inside home `n`'s host namespace, treating the relay's plain-http origin as secure. */
  async launchBrowser(n, relay) {
    const wrapper = join(this.dir, `chromium-home${n}`);
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${this.host(n)} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
    const browser = await chromium.launch({
      executablePath: wrapper,
      args: [`--unsafely-treat-insecure-origin-as-secure=${relay.url}`, ...CHROMIUM_ARGS],
    });
    this.browsers.push(browser);
    return browser;
  }

  /** Stops every browser and process started here and deletes the namespaces. */
  async close() {
    for (const browser of this.browsers) await browser.close().catch(() => {});
    for (const child of this.children) await stopChild(child);
    this.#removeNamespaces();
    rmSync(this.dir, { recursive: true, force: true });
  }

  #removeNamespaces() {
    for (const name of this.namespaces.reverse()) removeNamespace(name);
    this.namespaces = [];
  }
}

/** The value of the metric line that starts with `name ` (0 when absent). */
export function metricValue(text, name) {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.trim().split(/\s+/).pop() ?? 0);
}
