// presence.js — who is online: one [data-testid=presence] entry per key (you first, then owners, then
// by name), with "owner" and "virtual client" badges and "(you)" on your own entry.
import { $, h, avatar, shortKey } from "./dom.js";

export function renderPresence(online, myKey) {
  const seen = new Map();
  for (const p of Array.isArray(online) ? online : []) if (p && p.key && !seen.has(p.key)) seen.set(p.key, p);
  const people = [...seen.values()].sort((a, b) => rank(a, myKey) - rank(b, myKey) ||
    label(a).localeCompare(label(b), undefined, { sensitivity: "base" }));
  $("#presence-list").replaceChildren(...people.map((p) => entry(p, p.key === myKey)));
  $("#people-count").textContent = `— ${people.length}`;
  $("#people-count-btn").textContent = String(people.length);
  $("#open-people").setAttribute("aria-label", `Show who is online: ${people.length}`);
}

const label = (p) => (p.name && String(p.name).trim() ? String(p.name) : shortKey(p.key));
const rank = (p, me) => (p.key === me ? 0 : p.privileges?.owner ? 1 : p.privileges?.virtual_client ? 3 : 2);

function entry(p, me) {
  const priv = p.privileges || {};
  const badges = [];
  if (priv.owner) badges.push(h("span", { class: "badge owner", title: "Relay owner: may grant privileges" }, "owner"));
  if (priv.virtual_client) badges.push(h("span", { class: "badge virtual", title: "Virtual client: a headless history keeper" }, "virtual client"));
  if (priv.post === false) badges.push(h("span", { class: "badge readonly", title: "May read but not post" }, "read-only"));
  return h("li", { class: me ? "person self" : "person", "data-testid": "presence", dataset: { key: p.key }, title: p.key },
    h("span", { class: "presence-avatar" }, avatar(p.key, label(p)), h("span", { class: "online-dot", "aria-hidden": "true" })),
    h("span", { class: "person-text" },
      h("span", { class: "person-line" },
        h("bdi", { class: "person-name", text: label(p) }),
        me ? h("span", { class: "you" }, "(you)") : null),
      badges.length ? h("span", { class: "badges" }, badges) : null));
}

/** While disconnected the list may be out of date: dim it and say so. */
export function setPresenceStale(stale) {
  const el = $("#people");
  el.classList.toggle("stale", stale);
  $("#people-count").title = stale ? "Not connected: this list may be out of date" : "";
}
