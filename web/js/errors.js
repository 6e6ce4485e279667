// errors.js — turns the client's `{ code, message }` errors (relay and local codes) into sentences for people.

const TEXT = {
  offline: "You're offline. catalk reconnects by itself; try again in a moment.",
  rate_limited: "You're sending too fast. Wait a moment and try again.",
  forbidden: "You don't have permission to do that here.",
  invalid_body: "The message is empty or too long.",
  unknown_channel: "The server doesn't know this channel right now.",
  channel_exists: "A channel with that name already exists.",
  invalid_channel_name: "Use 1–32 lowercase letters, digits, - or _, starting with a letter or digit.",
  invalid_claim: "This claim link is invalid or has already been used.",
  invalid_name: "That name isn't allowed: use 1–64 bytes without control characters.",
  bad_passphrase: "Wrong passphrase for this backup file.",
  bad_backup: "This file isn't a valid catalk key backup.",
  quota_exceeded: "Storage is full: new messages cannot be saved on this device.",
  storage: "This device's storage failed, so messages may not be saved.",
  duplicate_draft: "That message was already sent.",
  internal: "The server had an internal problem. Try again.",
  shutting_down: "The server is restarting.",
  weak_passphrase: "Use a passphrase of at least 8 characters.",
  no_identity: "Create an identity first.",
  crypto: "This browser's cryptography failed. catalk needs https:// or localhost.",
};

/** The error's code string, or null. */
export function errorCode(err) {
  return err && typeof err === "object" && err.code ? String(err.code) : null;
}

/** A sentence describing the error. */
export function errorText(err) {
  const code = errorCode(err);
  if (code && TEXT[code]) return TEXT[code];
  const msg = err && typeof err === "object" ? err.message : err;
  if (msg) return String(msg);
  return code ? `Something went wrong (${code}).` : "Something went wrong.";
}
