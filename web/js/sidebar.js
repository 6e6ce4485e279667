// sidebar.js — the channel list (selection, unread counts), the create-channel form and the "me" footer.
import { $, h, avatar } from "./dom.js";
import { errorText } from "./errors.js";

let client;
let onSelect = () => {};
let onUnread = () => {};
let channels = [];
let selected = null;
const unread = new Map(); // channel name -> count of messages not seen yet

export function initSidebar(c, { select, unreadChanged }) {
  client = c;
  onSelect = select;
  onUnread = unreadChanged;
  const list = $("#channel-list");
  list.addEventListener("click", (e) => {
    const btn = e.target.closest("[data-testid=channel]");
    if (btn) onSelect(btn.dataset.name);
  });
  initCreateForm();
}

/** Re-renders the list; keeps the selection and unread counts. */
export function renderChannels(list) {
  channels = Array.isArray(list) && list.length ? list : [{ name: "general" }]; // general always exists
  const ul = $("#channel-list");
  ul.replaceChildren(...channels.map((ch) => h("li", {},
    h("button", { type: "button", class: "channel", "data-testid": "channel", dataset: { name: ch.name } },
      h("span", { class: "hash", "aria-hidden": "true" }, "#"),
      h("span", { class: "channel-name", text: ch.name }),
      h("span", { class: "unread-badge" })))));
  paint();
}

export const channelNames = () => channels.map((c) => c.name);

export function setSelected(name) {
  selected = name;
  unread.delete(name);
  paint();
}

/** Counts an unseen message in a channel that isn't on screen. */
export function bumpUnread(name) {
  unread.set(name, (unread.get(name) || 0) + 1);
  paint();
}

export const totalUnread = () => [...unread.values()].reduce((a, b) => a + b, 0);

function paint() {
  for (const btn of document.querySelectorAll("#channel-list [data-testid=channel]")) {
    const name = btn.dataset.name;
    const n = unread.get(name) || 0;
    if (name === selected) btn.setAttribute("aria-current", "page");
    else btn.removeAttribute("aria-current");
    btn.classList.toggle("unread", n > 0);
    const badge = btn.querySelector(".unread-badge");
    badge.textContent = n > 0 ? (n > 99 ? "99+" : String(n)) : "";
    badge.setAttribute("aria-label", n > 0 ? `${n} unread` : "");
  }
  $("#unread-dot").hidden = totalUnread() === 0;
  onUnread();
}

/** Shows the "+" control only to keys that may create channels. */
export function setCanCreate(can) {
  $("#new-channel-toggle").hidden = !can;
  if (!can) closeForm();
}

function closeForm() {
  const form = $("#new-channel-form");
  if (form.hidden) return;
  form.hidden = true;
  $("#new-channel-toggle").setAttribute("aria-expanded", "false");
  $("#new-channel-error").textContent = "";
}

function initCreateForm() {
  const toggle = $("#new-channel-toggle");
  const form = $("#new-channel-form");
  const input = $("#new-channel-name");
  const err = $("#new-channel-error");
  toggle.addEventListener("click", () => {
    if (!form.hidden) { closeForm(); return; }
    form.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    input.value = "";
    input.focus();
  });
  // Channel names are lowercase with dashes: help people type them.
  input.addEventListener("input", () => {
    const v = input.value.toLowerCase().replace(/\s/g, "-");
    if (v !== input.value) input.value = v;
    err.textContent = "";
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); closeForm(); toggle.focus(); }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(name)) {
      err.textContent = errorText({ code: "invalid_channel_name" });
      return;
    }
    input.disabled = true;
    try {
      await client.createChannel(name);
      closeForm();
      onSelect(name);
    } catch (error) {
      err.textContent = errorText(error);
    } finally {
      input.disabled = false;
      if (!form.hidden) input.focus();
    }
  });
}

/** The footer with the user's avatar, name and fingerprint. */
export function renderMe(identity) {
  if (!identity) return;
  $("#me-avatar").replaceChildren(avatar(identity.key, identity.name));
  $("#me-name").textContent = identity.name;
  $("#me-name").title = identity.name;
  $("#me-fingerprint").textContent = identity.fingerprint;
}
