// main.js — boots the app: loads the wasm client, shows onboarding or the chat, selects channels,
// and routes the client's events to the modules that draw them.
import { $ } from "./dom.js";
import { errorText } from "./errors.js";
import { toast, banner } from "./toast.js";
import { showStatus } from "./status.js";
import { showOnboarding } from "./onboarding.js";
import { captureClaim, tryClaim } from "./claim.js";
import { initPanels, closePanels } from "./panels.js";
import { initSidebar, renderChannels, channelNames, setSelected, bumpUnread, totalUnread, setCanCreate, renderMe } from "./sidebar.js";
import { initMessages, setMyKey, showChannel, onLiveMessage, refreshNames, refreshChannel, onHistoryState } from "./messages.js";
import { initHistory, showHistory, onHistory, onBackfill, onShownHistory } from "./history.js";
import { initComposer, setComposerChannel, setCanPost, focusComposer } from "./composer.js";
import { renderPresence, setPresenceStale, showLinks } from "./presence.js";
import { initSettings } from "./settings.js";
import { useVerifierWorkers } from "./verifier.js";
import { showRelayKeyChanged, reopenRelayKeyChoice } from "./relaykey.js";
import { initOffline, showOffline } from "./offline.js";
import { registerShell } from "./shell.js";

const CHANNEL_KEY = "catalk.channel";
const phone = matchMedia("(max-width: 640px)");

let client = null;
let started = false;
let myKey = null;
let selected = null;
let justCreated = null; // a channel we selected before the relay's channel list mentions it
let unseenWhileHidden = 0;
let iceServersRead = null; // the one read of the relay's ICE servers (a promise), once started

boot();

async function boot() {
  captureClaim();
  addEventListener("hashchange", () => {
    if (captureClaim() && client && started && client.status() === "connected") tryClaim(client);
  });
  try {
    // Imported here (not statically) so a missing or broken client shows an error instead of a blank page.
    const pkg = await import("../pkg/catalk_client.js");
    await pkg.default();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    client = await pkg.CatalkClient.open(`${scheme}://${location.host}/ws`);
    // Handy in the console (and for the browser tests): the client API of docs/client-api.md.
    window.catalk = client;
    useVerifierWorkers(client);
  } catch (err) {
    fatal(err);
    return;
  }
  $("#boot").hidden = true;
  client.onEvent(onEvent);
  const identity = client.identity();
  if (identity) startApp(identity);
  else { showOnboarding(client, startApp); readIceServers(); }
  registerShell();
}

function fatal(err) {
  console.error("catalk: could not start", err);
  $("#boot").hidden = true;
  $("#fatal").hidden = false;
  $("#fatal-text").textContent = errorText(err);
  $("#fatal-hint").textContent = window.isSecureContext ? ""
    : "This page isn't a secure context, so the browser withholds the cryptography catalk needs. Open it over https:// or on localhost.";
  $("#fatal-reload").addEventListener("click", () => location.reload());
}

const safe = (fn, fallback) => { try { return fn() ?? fallback; } catch { return fallback; } };

function startApp(identity) {
  if (started) return;
  started = true;
  myKey = identity?.key ?? null;
  $("#onboarding").hidden = true;
  $("#app").hidden = false;
  initPanels();
  initSidebar(client, { select, unreadChanged: updateTitle });
  initMessages(client);
  setMyKey(myKey);
  initHistory(client, { onBackfilled: (channel) => { if (channel === selected) refreshChannel(channel); } });
  onShownHistory(onHistoryState);
  initComposer(client, { sent: onSent });
  initSettings(client, { identityChanged: renderMe });
  initOffline();
  renderMe(identity);
  renderChannels(safe(() => client.channels(), []));
  renderPresence(safe(() => client.online(), []), myKey);
  // Links open and close without an event of their own: look every few seconds.
  setInterval(() => showLinks(safe(() => client.links(), [])), 3000);
  const status = safe(() => client.status(), "connecting");
  // Before the first welcome the client reports no privileges; treat them as unknown, not as "none".
  applyPrivileges(status === "connected" ? safe(() => client.privileges(), null) : null);
  showStatus(status);
  showOffline(status);
  setPresenceStale(status !== "connected");
  const names = channelNames();
  const stored = safe(() => localStorage.getItem(CHANNEL_KEY), null);
  const shown = select(stored && (names.length <= 1 || names.includes(stored)) ? stored : "general", { focus: true });
  document.addEventListener("keydown", shortcuts);
  $("#connection").addEventListener("click", () => reopenRelayKeyChoice(client));
  document.addEventListener("visibilitychange", () => { if (!document.hidden) { unseenWhileHidden = 0; updateTitle(); } });
  // The stored channel first; then the ICE servers (a request) and the connection.
  shown.finally(readIceServers).finally(() => client.connect());
}

/**
 * Shows a channel. Works for names the channel list doesn't know yet (just created).
 * Resolves once its stored messages are drawn.
 */
function select(name, { focus = true } = {}) {
  if (!name) return Promise.resolve();
  let shown = Promise.resolve();
  closePanels();
  if (name !== selected) {
    selected = name;
    if (!channelNames().includes(name)) justCreated = name;
    try { localStorage.setItem(CHANNEL_KEY, name); } catch { /* private mode */ }
    setSelected(name);
    $("#channel-name").textContent = name;
    setComposerChannel(name);
    shown = showChannel(name);
    showHistory(name);
  }
  if (focus && !phone.matches) focusComposer();
  return shown;
}

function onEvent(ev) {
  if (!started || !ev || typeof ev !== "object") return;
  switch (ev.type) {
    case "status":
      showStatus(ev.status, ev.retryInMs); showOffline(ev.status); setPresenceStale(ev.status !== "connected");
      // "not checked yet" holds only while not connected.
      showHistory(selected); onHistoryState();
      break;
    case "ready":
      if (ev.key) { myKey = ev.key; setMyKey(myKey); }
      showStatus("connected");
      showOffline("connected");
      setPresenceStale(false);
      applyPrivileges(ev.privileges ?? safe(() => client.privileges(), null));
      onChannels(safe(() => client.channels(), []));
      renderPresence(safe(() => client.online(), []), myKey);
      tryClaim(client);
      break;
    case "channels": onChannels(ev.channels); break;
    case "presence": renderPresence(ev.online, myKey); refreshNames(); break;
    case "names": refreshNames(); break;
    case "privileges": applyPrivileges(ev.privileges); break;
    case "message": onMessage(ev.message); break;
    case "history": onHistory(ev); break;
    case "backfill": onBackfill(ev); break;
    case "relay_key_changed": showRelayKeyChanged(client, ev); break;
    case "dropped": console.warn("catalk: dropped a fact from the relay:", ev.reason); break;
    case "error": reportError(ev); break;
    default: console.debug("catalk: unhandled event", ev);
  }
}

function onChannels(list) {
  renderChannels(list);
  const names = channelNames();
  if (names.includes(justCreated)) justCreated = null;
  const known = Array.isArray(list) && list.length > 0; // an empty list says nothing yet
  if (known && selected && !names.includes(selected) && selected !== justCreated) select("general", { focus: false });
}

function onMessage(m) {
  if (!m) return;
  const shown = onLiveMessage(m);
  if (m.author === myKey) return;
  if (!shown) bumpUnread(m.channel);
  else if (document.hidden) { unseenWhileHidden += 1; updateTitle(); }
}

/** After our own post is acked: show it even if the client doesn't echo it as an event (deduplicated by id). */
function onSent({ id, channel, text }) {
  if (typeof id !== "string" || !myKey) return;
  onLiveMessage({ id, channel, author: myKey, text, time: ulidTime(id) });
}

const B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
function ulidTime(id) {
  let t = 0;
  for (const c of id.slice(0, 10)) {
    const v = B32.indexOf(c);
    if (v < 0) return Date.now();
    t = t * 32 + v;
  }
  return t;
}

function applyPrivileges(p) {
  setCanCreate(!!p?.create_channel);
  setCanPost(p ? p.post : null);
}

function reportError(ev) {
  console.error("catalk:", ev.code, ev.message);
  const text = errorText(ev);
  if (ev.code === "quota_exceeded" || ev.code === "storage") banner(ev.code, text);
  else toast(text, { kind: "error" });
}

function updateTitle() {
  const n = totalUnread() + unseenWhileHidden;
  document.title = n > 0 ? `(${n}) catalk` : "catalk";
}

/** Alt+↑ / Alt+↓ move between channels. */
function shortcuts(e) {
  if (!e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
  const names = channelNames();
  if (!names.length) return;
  e.preventDefault();
  const i = names.indexOf(selected);
  const next = names[(i + (e.key === "ArrowDown" ? 1 : names.length - 1)) % names.length];
  select(next);
}

/**
 * STUN/TURN servers the relay publishes (`--ice-server`), for peer-to-peer history over the
 * internet. Without them (or when the document cannot be read) data channels use host
 * candidates only, which is enough on a LAN. While the server is down the service worker
 * answers with the last copy it saw.
 */
function readIceServers() {
  iceServersRead ??= useRelayIceServers(client);
  return iceServersRead;
}

async function useRelayIceServers(client) {
  try {
    const response = await fetch("/.well-known/catalk.json", { cache: "no-store" });
    if (!response.ok) return;
    const doc = await response.json();
    if (Array.isArray(doc.ice_servers)) client.setIceServers(doc.ice_servers);
  } catch (err) {
    console.warn("catalk: relay ICE servers not read:", err);
  }
}
