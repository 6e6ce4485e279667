// history.js — the channel header's history indicator ([data-testid=history-status], data-state
// complete | filling | missing | unknown), in words: complete, loading, unavailable, or nothing yet.
import { $ } from "./dom.js";

let client = null;
let current = null;
let reloadTimer = null;
let reload = () => {};

/** Wires the indicator; `onBackfilled(channel)` runs (debounced) when peers filled the shown channel. */
export function initHistory(c, { onBackfilled }) {
  client = c;
  reload = onBackfilled;
}

function connected() {
  try { return client?.status?.() === "connected"; } catch { return false; }
}

function describe(status) {
  switch (status?.state) {
    case "complete": return ["complete", "complete", "Every message since this channel was created is on this device"];
    case "filling": return (status.missing ?? []).length === 0
      ? ["filling", "checking for new messages…", "Finding out whether anything was said while this device was away"]
      : ["filling", "loading earlier messages…", "Fetching earlier messages from other members' devices"];
    case "missing": return ["missing", "earlier messages unavailable", "Earlier messages are kept on members' devices, and none of those devices is online right now"];
    default: return connected()
      ? ["unknown", "no messages yet", "Nobody has said anything here that this device knows of"]
      : ["unknown", "not checked yet", "This device looks for earlier and newer messages once it can reach the server"];
  }
}

function paint(status) {
  const el = $("#history-status");
  if (!el) return;
  const [state, text, title] = describe(status);
  el.dataset.state = state;
  el.textContent = text;
  el.title = title;
}

/** Shows the status of `channel` (the selected one). */
export function showHistory(channel) {
  current = channel;
  let status = null;
  try { status = client?.historyStatus?.(channel) ?? null; } catch { status = null; }
  paint(status);
}

/** A `history` event: repaint if it is about the shown channel. */
export function onHistory(ev) {
  if (ev.channel !== current) return;
  paint(ev.status);
  historyChanged(ev.status);
}

let historyChanged = () => {};
/** Also tells `listener(status)` when the shown channel's status changes (the message list's notice). */
export function onShownHistory(listener) { historyChanged = listener; }

/**
 * A `backfill` event: older messages of a channel were stored. Reloads at most
 * every 250 ms, so a long fill shows its progress instead of waiting for the end.
 */
export function onBackfill(ev) {
  if (ev.channel !== current || reloadTimer) return;
  reloadTimer = setTimeout(() => {
    reloadTimer = null;
    reload(current);
  }, 250);
}
