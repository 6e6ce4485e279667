// claim.js — the owner claim link (#claim=TOKEN): remembered at boot, claimed once logged in, then
// removed from the address bar so it isn't bookmarked or shared by accident.
import { errorCode, errorText } from "./errors.js";
import { toast } from "./toast.js";

let token = null;
let busy = false;

/** Reads a claim token from the URL fragment, if there is one. */
export function captureClaim() {
  const m = /^#claim=(.+)$/.exec(location.hash);
  if (m) {
    try { token = decodeURIComponent(m[1]); } catch { token = m[1]; }
  }
  return token;
}

function clearHash() {
  history.replaceState(history.state, "", location.pathname + location.search);
}

/** Called on every "ready" event; does nothing unless a claim is pending. */
export async function tryClaim(client) {
  if (!token || busy) return;
  busy = true;
  try {
    await client.claim(token);
    toast("You are now an owner of this chat.", { kind: "success" });
    token = null;
    clearHash();
  } catch (err) {
    if (errorCode(err) === "offline") return; // retried on the next "ready"
    toast(`Claim failed: ${errorText(err)}`, { kind: "error" });
    token = null;
    clearHash();
  } finally {
    busy = false;
  }
}
