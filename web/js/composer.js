// composer.js — the message input: Enter sends, Shift+Enter adds a line, grows with its text, counts
// bytes near the limit, keeps a draft per channel, and on failure keeps the text and says why.
import { $, byteLength } from "./dom.js";
import { errorText } from "./errors.js";

const DEFAULT_MAX_BYTES = 4096;
const WARN_WITHIN = 512;

let client;
let channel = null;
let onSent = () => {};
let sending = false;
let canPost = true;
const drafts = new Map();

const ta = () => $("#compose");

function maxBytes() {
  try {
    const n = client.limits?.()?.max_body_bytes; // optional API; see the report
    if (Number(n) > 0) return Number(n);
  } catch { /* not available */ }
  return DEFAULT_MAX_BYTES;
}

export function initComposer(c, { sent }) {
  client = c;
  onSent = sent;
  const input = ta();
  $("#composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  input.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    send();
  });
  input.addEventListener("input", () => {
    setError("");
    autosize();
    count();
  });
  // Toasts sit just above the composer (app.css reads --composer-h).
  const form = $("#composer");
  new ResizeObserver(() => {
    document.documentElement.style.setProperty("--composer-h", `${Math.ceil(form.getBoundingClientRect().height)}px`);
  }).observe(form);
}

/** Switches the composer to another channel, saving and restoring drafts. */
export function setComposerChannel(name) {
  const input = ta();
  if (channel) drafts.set(channel, input.value);
  channel = name;
  input.value = drafts.get(name) || "";
  $("#compose-label").textContent = `Message #${name}`;
  paintPermission();
  setError("");
  autosize();
  count();
}

/** Posting privilege; null (unknown yet) counts as allowed, the relay has the last word. */
export function setCanPost(allowed) {
  canPost = allowed !== false;
  paintPermission();
}

function paintPermission() {
  const input = ta();
  input.disabled = !canPost;
  $("#send").disabled = !canPost;
  input.placeholder = canPost ? `Message #${channel ?? ""}` : "You can read this channel, but not post";
  $("#compose-hint").hidden = !canPost;
  if (!canPost) setError("Read-only: an owner has to allow your key to post.", "hint");
  else if ($("#compose-error").dataset.kind === "hint") setError("");
}

export function focusComposer() {
  if (!ta().disabled) ta().focus();
}

function setError(text, kind = "error") {
  const el = $("#compose-error");
  el.textContent = text;
  el.dataset.kind = text ? kind : "";
  el.classList.toggle("hint-text", kind === "hint");
}

function autosize() {
  const input = ta();
  input.style.height = "auto";
  const max = Math.max(120, Math.round(window.innerHeight * 0.4));
  input.style.height = `${Math.min(input.scrollHeight, max)}px`;
  input.style.overflowY = input.scrollHeight > max ? "auto" : "hidden";
}

function count() {
  const bytes = byteLength(ta().value);
  const max = maxBytes();
  const el = $("#compose-counter");
  el.hidden = bytes < max - WARN_WITHIN;
  el.textContent = bytes > max ? `${bytes - max} bytes too long` : `${max - bytes} bytes left`;
  el.classList.toggle("over", bytes > max);
  return bytes <= max;
}

async function send() {
  const input = ta();
  if (sending || !canPost || !channel) return;
  const text = input.value;
  if (!text.trim()) return;
  if (!count()) { setError(`Messages can be at most ${maxBytes()} bytes.`); return; }
  const target = channel;
  sending = true;
  input.setAttribute("aria-busy", "true");
  $("#composer").classList.add("sending");
  try {
    const id = await client.post(target, text);
    if (channel === target && input.value === text) {
      input.value = "";
      autosize();
      count();
    } else if (channel !== target) {
      drafts.delete(target);
    }
    setError("");
    onSent({ id, channel: target, text });
  } catch (err) {
    setError(errorText(err)); // the text stays in the box
  } finally {
    sending = false;
    input.removeAttribute("aria-busy");
    $("#composer").classList.remove("sending");
  }
}
