// render.js — builds one message row, and keeps grouping (same author within 5 minutes) and
// day separators correct after rows are added or removed. Message text is only ever a text node.
import { h, avatar, displayName, fmtTime, fmtFull, dayKey, dayLabel } from "./dom.js";

const GROUP_MS = 5 * 60 * 1000;
const LONG_CHARS = 1500;
const LONG_LINES = 25;

/** The row for a message: [data-testid=message] with data-id and data-author. */
export function messageRow(client, m, myKey) {
  const name = displayName(client, m.author);
  const iso = new Date(m.time).toISOString();
  const full = fmtFull(m.time);
  const text = h("div", { class: "text", dir: "auto" });
  text.textContent = String(m.text ?? "");
  const row = h("article", {
    class: m.author === myKey ? "msg mine" : "msg",
    "data-testid": "message",
    dataset: { id: m.id, author: m.author, time: String(m.time) },
  },
    h("div", { class: "gutter" },
      avatar(m.author, name),
      h("time", { class: "gutter-time", datetime: iso, title: full, "aria-hidden": "true" }, fmtTime(m.time))),
    h("div", { class: "body" },
      h("div", { class: "head" },
        h("bdi", { class: "author", dataset: { key: m.author }, title: m.author }, name),
        h("time", { class: "ts", datetime: iso, title: full }, fmtTime(m.time))),
      text));
  const str = String(m.text ?? "");
  if (str.length > LONG_CHARS || str.split("\n").length > LONG_LINES) clamp(row, text);
  return row;
}

/** Very long messages start collapsed with a "Show more" toggle. */
function clamp(row, text) {
  text.classList.add("clamped");
  const btn = h("button", { type: "button", class: "link-btn more", "aria-expanded": "false" }, "Show more");
  btn.addEventListener("click", () => {
    const open = text.classList.toggle("clamped");
    btn.textContent = open ? "Show more" : "Show less";
    btn.setAttribute("aria-expanded", String(!open));
  });
  row.querySelector(".body").append(btn);
}

const isRow = (el) => el && el.classList.contains("msg");
const isSep = (el) => el && el.classList.contains("day-sep");

function separator(key, time) {
  return h("div", { class: "day-sep", role: "separator", dataset: { day: key } },
    h("span", { text: dayLabel(time) }));
}

/**
 * Walks the rows in order and fixes what depends on neighbours: a day separator before the first
 * message of each day, and the "grouped" class on follow-ups by the same author. O(rows), few writes.
 */
export function relayout(container) {
  let prev = null;
  for (let el = container.firstElementChild; el; ) {
    const next = el.nextElementSibling;
    if (isSep(el)) {
      if (!isRow(next)) el.remove(); // orphan separator
      el = next;
      continue;
    }
    const t = Number(el.dataset.time);
    const key = dayKey(t);
    const newDay = !prev || dayKey(Number(prev.dataset.time)) !== key;
    const before = el.previousElementSibling;
    if (newDay) {
      if (isSep(before)) {
        if (before.dataset.day !== key) before.replaceWith(separator(key, t));
      } else {
        el.before(separator(key, t));
      }
    } else if (isSep(before)) {
      before.remove();
    }
    const grouped = !newDay && prev.dataset.author === el.dataset.author &&
      t - Number(prev.dataset.time) < GROUP_MS && t >= Number(prev.dataset.time);
    el.classList.toggle("grouped", grouped);
    prev = el;
    el = next;
  }
}

/** Refreshes "Today"/"Yesterday" labels (after midnight). */
export function refreshDayLabels(container) {
  for (const sep of container.querySelectorAll(".day-sep")) {
    const row = sep.nextElementSibling;
    if (isRow(row)) sep.firstElementChild.textContent = dayLabel(Number(row.dataset.time));
  }
}

/** Updates author names (and initials) after presence taught us new names. */
export function refreshNames(client, container) {
  for (const el of container.querySelectorAll(".author[data-key]")) {
    const name = displayName(client, el.dataset.key);
    if (el.textContent !== name) {
      el.textContent = name;
      el.closest(".msg")?.querySelector(".gutter .avatar")?.replaceWith(avatar(el.dataset.key, name));
    }
  }
}
