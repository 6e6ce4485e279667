// status.js — the connection indicator ([data-testid=connection]): "connected", "connecting…",
// "reconnecting in Ns…" (counting down), "server key changed" (waiting for the person's choice) or "offline". The dot is drawn by CSS from data-state.
import { $ } from "./dom.js";

let timer = 0;

export function showStatus(status, retryInMs) {
  const el = $("#connection");
  clearInterval(timer);
  timer = 0;
  el.dataset.state = status;
  el.title = "";
  if (status === "connected") {
    el.textContent = "connected";
  } else if (status === "reconnecting") {
    const deadline = Date.now() + (Number(retryInMs) || 0);
    // The countdown digits are aria-hidden so the live region announces "reconnecting" once, not every second.
    el.textContent = "reconnecting";
    const secs = document.createElement("span");
    secs.setAttribute("aria-hidden", "true");
    el.append(secs);
    const tick = () => {
      const s = Math.ceil((deadline - Date.now()) / 1000);
      secs.textContent = s > 0 ? ` in ${s}s…` : "…";
      if (s <= 0) { clearInterval(timer); timer = 0; }
    };
    tick();
    if (retryInMs > 0) timer = setInterval(tick, 1000);
  } else if (status === "key_changed") {
    // Clicking it opens the choice again (main.js); the words say why nothing arrives.
    el.textContent = "server key changed";
    el.title = "The server proves who it is with a new key. Click to review.";
  } else if (status === "connecting") {
    el.textContent = "connecting…";
  } else {
    el.dataset.state = "offline";
    el.textContent = "offline";
  }
}
