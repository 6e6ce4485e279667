// dom.js — small DOM helpers and the formatting (names, times, days, avatars) shared by the modules.
// Everything that shows user-provided text goes through textContent / text nodes, never innerHTML.

export const $ = (sel, root = document) => root.querySelector(sel);

/** Creates an element. props: class, text, dataset, on<event>, or plain attributes. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An inline icon from the <symbol>s in index.html. */
export function icon(name, cls = "") {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("aria-hidden", "true");
  if (cls) svg.setAttribute("class", cls);
  const use = document.createElementNS(ns, "use");
  use.setAttribute("href", `#i-${name}`);
  svg.append(use);
  return svg;
}

const encoder = new TextEncoder();
export const byteLength = (s) => encoder.encode(s).length;

/** A short, recognisable form of a public key for people whose name we don't know. */
export const shortKey = (key) => (key ? `${String(key).slice(0, 8)}…` : "unknown");

/** The display name for a key: the last name the client saw, else the short key. */
export function displayName(client, key) {
  let name = null;
  try { name = client.nameOf(key); } catch { /* unknown key */ }
  return name && String(name).trim() ? String(name) : shortKey(key);
}

const pad = (n) => String(n).padStart(2, "0");
export const fmtTime = (t) => { const d = new Date(t); return `${pad(d.getHours())}:${pad(d.getMinutes())}`; };
export const fmtFull = (t) => new Date(t).toLocaleString([], { dateStyle: "full", timeStyle: "medium" });
export const dayKey = (t) => { const d = new Date(t); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; };

/** "Today", "Yesterday" or a date like "Monday, March 4" (with the year when it isn't this year). */
export function dayLabel(t, now = Date.now()) {
  const key = dayKey(t);
  if (key === dayKey(now)) return "Today";
  const y = new Date(now);
  y.setDate(y.getDate() - 1);
  if (key === dayKey(y)) return "Yesterday";
  const d = new Date(t);
  const opts = { weekday: "long", month: "long", day: "numeric" };
  if (d.getFullYear() !== new Date(now).getFullYear()) opts.year = "numeric";
  return d.toLocaleDateString([], opts);
}

function hueOf(key) {
  let x = 0;
  for (const ch of String(key)) x = (x * 31 + ch.charCodeAt(0)) >>> 0;
  return x % 360;
}

/** First visible letter of a name (skipping bidi controls, zero-width and other invisible characters). */
function initial(name) {
  const clean = String(name || "").replace(/[\p{Cc}\p{Cf}\p{Z}\p{M}\s]/gu, "");
  const first = Array.from(clean)[0];
  return first ? first.toLocaleUpperCase() : "?";
}

/** A coloured circle with the person's initial; the colour is stable per key. */
export function avatar(key, name, cls = "") {
  const el = h("span", { class: `avatar ${cls}`.trim(), "aria-hidden": "true" });
  el.style.setProperty("--hue", String(hueOf(key)));
  el.textContent = initial(name);
  return el;
}
