// messages.js — the selected channel's message list: loads the newest page, pages older history in
// as the user scrolls up (keeping the scroll position), keeps at most MAX_ROWS rows in the DOM
// (dropping far-off pages and bringing them back on the way down), appends live messages, and
// sticks to the bottom only when the user is already there (else shows a "new messages" pill).
import { $, h } from "./dom.js";
import { errorText } from "./errors.js";
import { messageRow, relayout, refreshDayLabels, refreshNames as refreshRowNames } from "./render.js";

const PAGE = 50;
const MAX_ROWS = 300;
const EDGE_PX = 800; // start loading when this close to either end
const BOTTOM_PX = 48; // "at the bottom" tolerance

let client, scroller, items, top, pill, pillText;
let myKey = null;
let view = null; // state of the channel on screen, replaced on every switch
let stick = true; // was the list scrolled to the bottom at the last scroll event?
const rowMsg = new WeakMap(); // row element -> message object (to stash dropped rows)

export function initMessages(c) {
  client = c;
  scroller = $("#messages");
  items = $("#message-items");
  top = $("#history-top");
  pill = $("#new-pill");
  pillText = $("#new-pill-text");
  items.dataset.maxRows = String(MAX_ROWS); // the DOM never holds more rows than this (tests read it)
  let raf = 0;
  scroller.addEventListener("scroll", () => {
    if (!raf) raf = requestAnimationFrame(() => { raf = 0; check(); });
  }, { passive: true });
  pill.addEventListener("click", jumpToLatest);
  // Keep the bottom in view when the list resizes (composer grows, keyboard opens, window resizes).
  new ResizeObserver(() => { if (stick) toBottom(); }).observe(scroller);
  setInterval(() => refreshDayLabels(items), 60_000);
}

export function setMyKey(key) { myKey = key; }
export const currentChannel = () => view?.channel ?? null;

/** Shows a channel: its newest page, scrolled to the bottom. */
export async function showChannel(channel) {
  // Reloading the same channel: keep what was on screen or queued. The client announces a message
  // before IndexedDB has committed it, so the page read below may not hold it yet.
  const old = view && view.channel === channel ? view : null;
  const carried = old ? [...old.pending, ...old.stash, ...Array.from(rows(), (row) => rowMsg.get(row))] : [];
  const v = {
    channel, hasOlder: true, hasNewer: false, stash: [], ids: new Set(),
    busy: false, loading: true, pending: carried, unseen: 0, error: null, refreshAgain: false,
  };
  view = v;
  items.replaceChildren();
  scroller.setAttribute("aria-label", `Messages in #${channel}`);
  scroller.setAttribute("aria-busy", "true");
  hidePill();
  paintTop();
  let page = [];
  try {
    page = await client.latest(channel, PAGE);
  } catch (err) {
    if (view !== v) return;
    v.error = `Couldn't load the history on this device: ${errorText(err)}`;
  }
  if (view !== v) return;
  v.hasOlder = page.length >= PAGE;
  v.loading = false;
  addRows(page);
  addRows(v.pending); // after the page, so that rows older than it (a gap) are skipped
  v.pending = [];
  scroller.removeAttribute("aria-busy");
  paintTop();
  toBottom();
  stick = true;
  check();
  // Messages backfilled while this page was read: read again, so none stays unseen.
  if (v.refreshAgain) refreshChannel(channel);
}

/** A live message from the client. Returns true when it is for the channel on screen. */
export function onLiveMessage(m) {
  const v = view;
  if (!v || m.channel !== v.channel) return false;
  // The same message can arrive twice (the relay's copy and our own onSent copy): keep the first.
  if (v.ids.has(m.id)) return true;
  if (v.loading) { if (!v.pending.some((p) => p.id === m.id)) v.pending.push(m); return true; }
  if (liveQueue.some((q) => q.id === m.id)) return true;
  // Batch: a burst of messages costs one layout, not one per message.
  liveQueue.push(m);
  if (!liveTimer) liveTimer = setTimeout(flushLive, 16);
  return true;
}

let liveQueue = [];
let liveTimer = 0;

function flushLive() {
  liveTimer = 0;
  const v = view;
  const batch = unique(liveQueue.splice(0)).filter((m) => v && m.channel === v.channel && !v.ids.has(m.id));
  if (!v || batch.length === 0) return;
  // The channel was switched or reloaded since these were queued: showChannel adds them with its page.
  if (v.loading) { for (const m of batch) if (!v.pending.some((p) => p.id === m.id)) v.pending.push(m); return; }
  const mine = batch.some((m) => m.author === myKey);
  if (v.hasNewer) {
    // The newest rows aren't in the DOM; don't open a gap. Mine: jump there. Others: count them.
    if (mine) { jumpToLatest(); return; }
    const fresh = typeof client.after === "function" ? batch : batch.filter((m) => stashInsert(v, m));
    v.unseen += fresh.length;
    showPill();
    return;
  }
  const wasAtBottom = atBottom();
  const wasEmpty = rows().length === 0;
  addRows(batch);
  if (wasEmpty) paintTop(); // "No messages yet" no longer holds
  if (wasAtBottom || mine) {
    toBottom();
    trimTop();
  } else {
    v.unseen += batch.length;
    showPill();
  }
}

/** Messages with repeated ids dropped (the first copy kept). */
function unique(msgs) {
  const seen = new Set();
  return msgs.filter((m) => m && !seen.has(m.id) && seen.add(m.id));
}

/** Inserts messages in id order (ULID text order = time order), skipping ones already shown or repeated. */
function addRows(msgs) {
  const v = view;
  const fresh = unique(msgs).filter((m) => m.channel === v.channel && !v.ids.has(m.id))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const m of fresh) {
    const first = items.querySelector(".msg");
    if (first && m.id < first.dataset.id && v.hasOlder) continue; // belongs to a page not loaded yet
    v.ids.add(m.id);
    const row = messageRow(client, m, myKey);
    rowMsg.set(row, m);
    let after = items.lastElementChild;
    while (after && (!after.classList.contains("msg") || after.dataset.id > m.id)) after = after.previousElementSibling;
    if (after) after.after(row);
    else items.prepend(row);
  }
  relayout(items);
}

function rows() { return items.getElementsByClassName("msg"); }

function removeRow(row) {
  view.ids.delete(row.dataset.id);
  row.remove();
}

async function loadOlder() {
  const v = view;
  if (!v || v.loading || v.busy || !v.hasOlder) return;
  const first = rows()[0];
  if (!first) { v.hasOlder = false; paintTop(); return; }
  v.busy = true;
  paintTop();
  let page = [];
  try {
    page = await client.before(v.channel, first.dataset.id, PAGE);
  } catch (err) {
    console.warn("catalk: loading older messages failed", err);
  }
  if (view !== v) return;
  v.hasOlder = page.length >= PAGE;
  const height = scroller.scrollHeight;
  const y = scroller.scrollTop;
  const frag = document.createDocumentFragment();
  for (const m of page) {
    if (v.ids.has(m.id)) continue;
    v.ids.add(m.id);
    const row = messageRow(client, m, myKey);
    rowMsg.set(row, m);
    frag.append(row);
  }
  items.prepend(frag);
  relayout(items);
  v.busy = false;
  paintTop();
  scroller.scrollTop = y + (scroller.scrollHeight - height); // keep what the user looks at in place
  trimBottom();
  requestAnimationFrame(check);
}

async function loadNewer() {
  const v = view;
  if (!v || v.loading || v.busy || !v.hasNewer) return;
  const list = rows();
  const last = list[list.length - 1];
  v.busy = true;
  let page;
  if (typeof client.after === "function") {
    try { page = await client.after(v.channel, last.dataset.id, PAGE); } catch { page = []; }
    if (view !== v) return;
    v.hasNewer = page.length >= PAGE;
  } else {
    page = v.stash.splice(0, PAGE);
    v.hasNewer = v.stash.length > 0;
  }
  addRows(page);
  v.busy = false;
  trimTop();
  if (!v.hasNewer && atBottom()) hidePill();
  requestAnimationFrame(check);
}

/** Too many rows after paging up: drop the newest ones (kept in the stash unless the client has after()). */
function trimBottom() {
  const list = rows();
  const excess = list.length - MAX_ROWS;
  if (excess <= 0) return;
  const dropped = [];
  for (let i = 0; i < excess; i++) {
    const row = list[list.length - 1];
    dropped.unshift(rowMsg.get(row));
    removeRow(row);
  }
  relayout(items);
  if (typeof client.after !== "function") view.stash = dropped.concat(view.stash);
  view.hasNewer = true;
}

/** Too many rows after paging down or live messages: drop the oldest ones, keeping the view still. */
function trimTop() {
  const list = rows();
  const excess = list.length - MAX_ROWS;
  if (excess <= 0) return;
  const height = scroller.scrollHeight;
  const y = scroller.scrollTop;
  for (let i = 0; i < excess; i++) removeRow(list[0]);
  relayout(items);
  view.hasOlder = true;
  paintTop();
  scroller.scrollTop = y - (height - scroller.scrollHeight);
}

/** Adds a message to the stash in id order; false when it was there already. */
function stashInsert(v, m) {
  if (v.stash.some((x) => x.id === m.id)) return false;
  let i = v.stash.length;
  while (i > 0 && v.stash[i - 1].id > m.id) i--;
  v.stash.splice(i, 0, m);
  return true;
}

/** Runs after scrolling: loads pages near the edges, tracks "at bottom", hides the pill. */
function check() {
  if (!view || view.loading) return;
  const { scrollTop, scrollHeight, clientHeight } = scroller;
  const fromBottom = scrollHeight - scrollTop - clientHeight;
  stick = fromBottom < BOTTOM_PX && !view.hasNewer;
  if (stick) {
    view.unseen = 0;
    hidePill();
    if (rows().length > MAX_ROWS) trimTop();
  }
  if (scrollTop < EDGE_PX) loadOlder();
  else if (fromBottom < EDGE_PX) loadNewer();
}

function atBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < BOTTOM_PX;
}

function toBottom() {
  scroller.scrollTop = scroller.scrollHeight;
}

/** Goes to the newest message, reloading the newest page when it isn't in the DOM. */
function jumpToLatest() {
  if (!view) return;
  if (view.hasNewer) { showChannel(view.channel); return; }
  view.unseen = 0;
  hidePill();
  scroller.scrollTo({ top: scroller.scrollHeight, behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
}

function showPill() {
  const n = view.unseen;
  pillText.textContent = n > 1 ? `${n} new messages` : n === 1 ? "1 new message" : "Jump to latest";
  pill.hidden = false;
}

function hidePill() { pill.hidden = true; }

/** The area above the first row: a spinner while paging, or the start-of-channel intro. */
function paintTop() {
  const v = view;
  if (!v) return;
  if (v.error) {
    top.replaceChildren(h("p", { class: "error-text history-error", text: v.error }));
  } else if (v.loading || (v.busy && v.hasOlder)) {
    top.replaceChildren(h("div", { class: "loading-older" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Loading messages…"));
  } else if (!v.hasOlder) {
    top.replaceChildren(historyNotice(v.channel, rows().length === 0));
  } else {
    top.replaceChildren(h("div", { class: "older-spacer" }));
  }
}

/**
 * What the top of the list says once the oldest stored message is shown, in words: nothing was
 * said yet, this is the beginning, earlier messages are loading, or they are on members' devices
 * that are offline now, or (not connected yet) not known ([data-testid=history-notice] with data-state
 * empty | beginning | filling | unavailable | unknown).
 */
function historyNotice(channel, empty) {
  let status = null;
  try { status = client.historyStatus(channel); } catch { status = null; }
  const state = status?.state;
  if (state === "filling" && (status.missing ?? []).length > 0) {
    return h("div", { class: "history-notice", "data-testid": "history-notice", dataset: { state: "filling" }, role: "status" },
      h("span", { class: "spinner", "aria-hidden": "true" }), "Loading earlier messages from other members' devices…");
  }
  if (state === "missing") {
    let owner = false;
    try { owner = !!client.privileges()?.owner; } catch { owner = false; }
    return h("div", { class: "history-notice unavailable", "data-testid": "history-notice", dataset: { state: "unavailable" }, role: "status" },
      h("p", { class: "notice-title", text: "Earlier messages aren't available right now" }),
      h("p", { class: "muted", text: "They are kept on members' devices, and none of those devices is online at the moment. They will appear here by themselves when someone who has them comes back." }),
      owner ? h("p", { class: "muted owner-hint", "data-testid": "owner-history-hint",
        text: "As an owner you can keep a history keeper running next to the server, so earlier messages are always available (README: \"Virtual clients\")." }) : null);
  }
  let connected = true;
  try { connected = client.status() === "connected"; } catch { connected = true; }
  if (!connected && state !== "complete" && state !== "filling") {
    // Before this device could ask (an offline start), it cannot say whether anything is missing.
    return h("div", { class: "history-notice", "data-testid": "history-notice", dataset: { state: "unknown" }, role: "status" },
      h("p", { class: "muted", text: empty
        ? `Nothing from #${channel} is saved on this device yet. It will look for messages as soon as it can reach the server.`
        : "These are the messages saved on this device. It will look for earlier and newer ones as soon as it can reach the server." }));
  }
  const beginning = (state === "complete" || state === "filling") && !empty;
  return h("div", { class: "channel-intro", "data-testid": "history-notice", dataset: { state: beginning ? "beginning" : "empty" } },
    h("div", { class: "intro-hash", "aria-hidden": "true" }, "#"),
    h("h2", { text: `Welcome to #${channel}` }),
    h("p", { class: "muted", text: beginning ? `This is the very beginning of #${channel}.` : "No messages yet. Say hello!" }));
}

/** The shown channel's history status changed: the notice at the top follows it. */
export function onHistoryState() {
  if (view && !view.loading && !view.hasOlder) paintTop();
}

/** Names may arrive after rows were drawn (presence); refresh them in place. */
export function refreshNames() { refreshRowNames(client, items); }

/** Scrolls the list to the bottom, e.g. after the user sends a message. */
export function scrollToLatest() { jumpToLatest(); }

/**
 * Older messages of `channel` were just backfilled from peers into the store.
 * An empty or bottom-anchored view reloads its newest page; a view scrolled up
 * learns that older pages may exist again and keeps its place.
 */
export function refreshChannel(channel) {
  const v = view;
  if (!v || v.channel !== channel) return;
  if (v.loading) {
    v.refreshAgain = true;
    return;
  }
  if (rows().length < PAGE || (atBottom() && !v.hasNewer)) {
    showChannel(channel);
    return;
  }
  v.hasOlder = true;
  paintTop();
  check();
}
