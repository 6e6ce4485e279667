// panels.js — narrow screens: the channel list (≤ 640 px) and the online list (≤ 960 px) become
// slide-over panels opened from header buttons; Escape, the scrim or a close button shuts them.
// Closed off-screen panels are made inert so keyboard focus never lands in them.
import { $ } from "./dom.js";

const phone = matchMedia("(max-width: 640px)");
const narrow = matchMedia("(max-width: 960px)");
const PANELS = {
  sidebar: { el: () => $("#sidebar"), button: () => $("#open-sidebar"), media: phone },
  people: { el: () => $("#people"), button: () => $("#open-people"), media: narrow },
};
let openName = null;

export function initPanels() {
  $("#open-sidebar").addEventListener("click", () => toggle("sidebar"));
  $("#open-people").addEventListener("click", () => toggle("people"));
  $("#scrim").addEventListener("click", () => closePanels());
  for (const b of document.querySelectorAll("[data-close-panel]")) b.addEventListener("click", () => closePanels());
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && openName && !document.querySelector("dialog[open]")) {
      e.preventDefault();
      closePanels();
    }
  });
  phone.addEventListener("change", paint);
  narrow.addEventListener("change", paint);
  paint();
}

function toggle(name) {
  if (openName === name) closePanels();
  else open(name);
}

function open(name) {
  openName = name;
  paint();
  const el = PANELS[name].el();
  (el.querySelector("[aria-current]") || el.querySelector("button"))?.focus();
}

/** Closes the open panel (if any) and returns focus to its button. */
export function closePanels() {
  if (!openName) return;
  const button = PANELS[openName].button();
  openName = null;
  paint();
  if (button.offsetParent !== null) button.focus();
}

function paint() {
  const app = $("#app");
  app.dataset.panel = openName || "";
  for (const [name, p] of Object.entries(PANELS)) {
    const slideOver = p.media.matches;
    const isOpen = openName === name && slideOver;
    p.el().inert = slideOver && !isOpen;
    p.el().classList.toggle("open", isOpen);
    p.button().setAttribute("aria-expanded", String(isOpen));
  }
  if (openName && !PANELS[openName].media.matches) openName = null;
  $("#scrim").hidden = !openName;
  app.dataset.panel = openName || "";
}
