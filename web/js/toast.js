// toast.js — short-lived toasts (confirmations, failures) and sticky banners for problems that persist.
import { $, h, icon } from "./dom.js";

/** Shows a toast. kind: "info" | "success" | "error". Errors stay longer and are announced assertively. */
export function toast(text, { kind = "info", timeout } = {}) {
  const box = $("#toasts");
  const el = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", { class: "toast-text", text }),
    h("button", { type: "button", class: "icon-btn", "aria-label": "Dismiss", onclick: () => close() }, icon("close")));
  const close = () => {
    el.classList.add("leaving");
    setTimeout(() => el.remove(), 200);
  };
  box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(close, timeout ?? (kind === "error" ? 9000 : 4500));
}

/** Shows (or refreshes) a banner above the message list until the user dismisses it. */
export function banner(id, text, { kind = "error" } = {}) {
  const box = $("#banners");
  let el = box.querySelector(`[data-banner="${CSS.escape(id)}"]`);
  if (!el) {
    el = h("div", { class: `banner ${kind}`, role: "alert", "data-testid": "banner", dataset: { banner: id } },
      h("span", { class: "banner-text" }),
      h("button", { type: "button", class: "icon-btn", "aria-label": "Dismiss", onclick: () => el.remove() }, icon("close")));
    box.append(el);
  }
  el.querySelector(".banner-text").textContent = text;
}

export function clearBanner(id) {
  $("#banners").querySelector(`[data-banner="${CSS.escape(id)}"]`)?.remove();
}
