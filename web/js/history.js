// history.js — the channel header's history indicator: complete, filling from peers, or missing ranges.
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

function describe(status) {
  const gaps = (status?.missing ?? []).length;
  switch (status?.state) {
    case "complete": return ["complete", "complete", "History is complete back to the channel's creation"];
    case "filling": return ["filling", `filling history… ${gaps} ${gaps === 1 ? "gap" : "gaps"}`, "Fetching older messages from peers"];
    case "missing": return ["missing", `missing ${gaps} ${gaps === 1 ? "range" : "ranges"}`, "No online peer holds these messages right now"];
    default: return ["unknown", "history: waiting for peers", "No peer has told us what it holds yet"];
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
  if (ev.channel === current) paint(ev.status);
}

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
