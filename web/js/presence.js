// presence.js — who is online: one [data-testid=presence] entry per key (you first, then owners, then
// by name), with "owner" and "virtual client" badges and "(you)" on your own entry, and how this
// device shares history with each ([data-link] = "direct", "turn" or "relay", from client.links()).
import { $, h, avatar, shortKey } from "./dom.js";

/** How history moves between this device and another, in words for people. */
const LINK_WORDS = {
  direct: "Sharing history directly with this device",
  turn: "Sharing history through a forwarding server (the direct way is blocked)",
  relay: "Sharing history through this chat server (the direct way is blocked)",
};
let lastLinks = new Map();

export function renderPresence(online, myKey) {
  const seen = new Map();
  for (const p of Array.isArray(online) ? online : []) if (p && p.key && !seen.has(p.key)) seen.set(p.key, p);
  const people = [...seen.values()].sort((a, b) => rank(a, myKey) - rank(b, myKey) ||
    label(a).localeCompare(label(b), undefined, { sensitivity: "base" }));
  $("#presence-list").replaceChildren(...people.map((p) => entry(p, p.key === myKey)));
  markLinks();
  $("#people-count").textContent = `— ${people.length}`;
  $("#people-count-btn").textContent = String(people.length);
  $("#open-people").setAttribute("aria-label", `Show who is online: ${people.length}`);
}

const label = (p) => (p.name && String(p.name).trim() ? String(p.name) : shortKey(p.key));
const rank = (p, me) => (p.key === me ? 0 : p.privileges?.owner ? 1 : p.privileges?.virtual_client ? 3 : 2);

function entry(p, me) {
  const priv = p.privileges || {};
  const badges = [];
  if (priv.owner) badges.push(h("span", { class: "badge owner", title: "Owner of this chat: may grant privileges" }, "owner"));
  if (priv.virtual_client) badges.push(h("span", { class: "badge virtual", title: "Keeps the chat's recent history for members who join later" }, "virtual client"));
  if (priv.post === false) badges.push(h("span", { class: "badge readonly", title: "May read but not post" }, "read-only"));
  return h("li", { class: me ? "person self" : "person", "data-testid": "presence", dataset: { key: p.key }, title: p.key },
    h("span", { class: "presence-avatar" }, avatar(p.key, label(p)), h("span", { class: "online-dot", "aria-hidden": "true" })),
    h("span", { class: "person-text" },
      h("span", { class: "person-line" },
        h("bdi", { class: "person-name", text: label(p) }),
        me ? h("span", { class: "you" }, "(you)") : null),
      badges.length ? h("span", { class: "badges" }, badges) : null));
}

/** Marks each person's entry with how history moves to and from them (`links`: client.links()). */
export function showLinks(links) {
  lastLinks = new Map((Array.isArray(links) ? links : []).map((l) => [l.peer, l.path]));
  markLinks();
}

function markLinks() {
  for (const el of document.querySelectorAll("#presence-list [data-testid=presence]")) {
    const path = lastLinks.get(el.dataset.key);
    if (el.dataset.link === path) continue;
    el.querySelector(".link-path")?.remove();
    if (!path || !LINK_WORDS[path]) { delete el.dataset.link; continue; }
    el.dataset.link = path;
    el.querySelector(".person-line")?.append(
      h("span", { class: `link-path ${path}`, title: LINK_WORDS[path], role: "img", "aria-label": LINK_WORDS[path] }));
  }
}

/** While disconnected the list may be out of date: dim it and say so. */
export function setPresenceStale(stale) {
  const el = $("#people");
  el.classList.toggle("stale", stale);
  $("#people-count").title = stale ? "Not connected: this list may be out of date" : "";
}
