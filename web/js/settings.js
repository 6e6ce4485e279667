// settings.js — the settings dialog: change display name, show fingerprint and public key (copy),
// download a passphrase-encrypted key backup, and restore one.
import { $ } from "./dom.js";
import { errorCode, errorText } from "./errors.js";
import { nameProblem } from "./onboarding.js";
import { toast } from "./toast.js";

const MIN_PASS = 8;
let client;
let onIdentity = () => {};

export function initSettings(c, { identityChanged }) {
  client = c;
  onIdentity = identityChanged;
  const dialog = $("#settings");
  $("#settings-open").addEventListener("click", open);
  $("#settings-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); }); // backdrop
  dialog.addEventListener("close", () => $("#settings-open").focus());
  $("#name-form").addEventListener("submit", saveName);
  $("#copy-key").addEventListener("click", copyKey);
  $("#backup-form").addEventListener("submit", backup);
  $("#restore-form").addEventListener("submit", restore);
}

function msg(id, text, kind = "") {
  const el = $(id);
  el.textContent = text;
  el.dataset.kind = kind;
}

function open() {
  const id = client.identity();
  if (!id) return;
  $("#settings-name").value = id.name;
  $("#settings-fingerprint").textContent = id.fingerprint;
  $("#settings-key").value = id.key;
  for (const m of ["#name-msg", "#copy-msg", "#backup-msg", "#restore-msg"]) msg(m, "");
  for (const f of ["#backup-pass", "#backup-pass2", "#restore-pass", "#restore-file"]) $(f).value = "";
  $("#settings").showModal();
}

async function saveName(e) {
  e.preventDefault();
  const name = $("#settings-name").value.trim();
  const problem = nameProblem(name);
  if (problem) { msg("#name-msg", problem, "error"); return; }
  try {
    const id = await client.setName(name);
    msg("#name-msg", "Saved. Others see the new name when you reconnect.", "ok");
    onIdentity(id || client.identity());
  } catch (err) {
    msg("#name-msg", errorText(err), "error");
  }
}

async function copyKey() {
  const input = $("#settings-key");
  try {
    if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(input.value);
    else { input.select(); if (!document.execCommand("copy")) throw new Error("copy refused"); }
    msg("#copy-msg", "Public key copied.", "ok");
  } catch {
    input.select();
    msg("#copy-msg", "Couldn't copy automatically: the key is selected, press Ctrl+C.", "error");
  }
}

async function backup(e) {
  e.preventDefault();
  const p1 = $("#backup-pass").value;
  const p2 = $("#backup-pass2").value;
  if (p1.length < MIN_PASS) { msg("#backup-msg", `Use a passphrase of at least ${MIN_PASS} characters.`, "error"); return; }
  if (p1 !== p2) { msg("#backup-msg", "The two passphrases don't match.", "error"); return; }
  const btn = $("#backup-btn");
  btn.disabled = true;
  msg("#backup-msg", "Encrypting… (this takes a moment on purpose)");
  try {
    const text = await client.exportBackup(p1);
    const fp = client.identity()?.fingerprint || "backup";
    download(`catalk-key-${fp}.json`, text);
    msg("#backup-msg", "Backup downloaded. Keep the file and the passphrase somewhere safe.", "ok");
    $("#backup-pass").value = $("#backup-pass2").value = "";
  } catch (err) {
    msg("#backup-msg", errorText(err), "error");
  } finally {
    btn.disabled = false;
  }
}

function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function restore(e) {
  e.preventDefault();
  const file = $("#restore-file").files?.[0];
  const pass = $("#restore-pass").value;
  if (!file) { msg("#restore-msg", "Choose a backup file first.", "error"); return; }
  if (!pass) { msg("#restore-msg", "Enter the backup's passphrase.", "error"); return; }
  const btn = $("#restore-btn");
  btn.disabled = true;
  msg("#restore-msg", "Decrypting…");
  try {
    const text = await file.text();
    await client.importBackup(text, pass);
    msg("#restore-msg", "Key restored. Reloading…", "ok");
    toast("Key restored. Reloading with the restored identity…", { kind: "success" });
    setTimeout(() => location.reload(), 900);
  } catch (err) {
    const code = errorCode(err);
    msg("#restore-msg", errorText(err), "error");
    if (code === "bad_passphrase") $("#restore-pass").focus();
    btn.disabled = false;
  }
}
