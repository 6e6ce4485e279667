// offline.js — while the server cannot be reached: a notice above the composer
// ([data-testid=offline-notice]) and the composer locked. The history stored on this device
// stays on screen and readable; the client reconnects by itself, and the notice goes once it has.
import { $ } from "./dom.js";

let unreachable = false; // a connection attempt failed since the last successful one
let status = "connecting";

/** Follows the browser's own view of the network as well. */
export function initOffline() {
  addEventListener("online", paint);
  addEventListener("offline", paint);
}

/** Takes each connection status of the client (`connected`, `reconnecting`, …; docs/client-api.md). */
export function showOffline(next) {
  status = next;
  if (next === "connected" || next === "key_changed") unreachable = false;
  else if (next === "reconnecting") unreachable = true;
  paint();
}

function paint() {
  const offline = status !== "connected" && status !== "key_changed" && (unreachable || navigator.onLine === false);
  $("#offline-notice").hidden = !offline;
  // A disabled fieldset disables the textarea and the send button inside it, whatever the
  // composer's own state (posting rights); enabling it again restores exactly that state.
  $("#composer-fields").disabled = offline;
}
