// relaykey.js — the server's signing key changed: explain it and let the person choose
// ([data-testid=relay-key-changed], [data-testid=accept-relay-key], [data-testid=keep-relay-key]).
// Until they accept, the client stays stopped (no reconnect loop) and the history stays readable.
import { $ } from "./dom.js";

let client = null;
let wired = false;

const grouped = (key) => String(key ?? "").replace(/(.{4})/g, "$1 ").trim();

/** Shows the choice for `change` = `{ previous: [key], current: key }`. */
export function showRelayKeyChanged(c, change) {
  client = c;
  if (!change) return;
  const dialog = $("#relay-key-changed");
  if (!wired) {
    wired = true;
    $("#accept-relay-key").addEventListener("click", () => {
      dialog.close();
      client.acceptRelayKey();
    });
    $("#keep-relay-key").addEventListener("click", () => dialog.close());
    // Esc closes it like "Not now": the person can still read, and the status says why nothing arrives.
  }
  $("#key-changed-host").textContent = location.host;
  $("#key-changed-previous").textContent = (change.previous ?? []).map(grouped).join(", ");
  $("#key-changed-current").textContent = grouped(change.current);
  if (!dialog.open) dialog.showModal();
}

/** Opens the choice again, if the client still waits for one (the status line's button). */
export function reopenRelayKeyChoice(c) {
  const change = c?.relayKeyChange?.();
  if (change) showRelayKeyChanged(c, change);
}
