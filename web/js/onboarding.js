// onboarding.js — the first visit: pick a display name, make the key pair on this device, then start the app.
import { $, byteLength } from "./dom.js";
import { errorText } from "./errors.js";

/** Checks a display name like the relay does (after trimming: 1–64 bytes, no control characters). */
export function nameProblem(name) {
  if (!name) return "Please enter a name.";
  if (byteLength(name) > 64) return "That name is too long (at most 64 bytes).";
  if (/\p{Cc}/u.test(name)) return "Names can't contain control characters.";
  return null;
}

export function showOnboarding(client, onDone) {
  const screen = $("#onboarding");
  const form = $("#onboarding-form");
  const input = $("#display-name");
  const err = $("#onboarding-error");
  const button = $("[data-testid=start]");
  screen.hidden = false;
  input.focus();

  input.addEventListener("input", () => { err.textContent = ""; input.removeAttribute("aria-invalid"); });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (button.disabled) return;
    const name = input.value.trim();
    const problem = nameProblem(name);
    if (problem) {
      err.textContent = problem;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = "Creating your key…";
    try {
      const identity = await client.createIdentity(name);
      screen.hidden = true;
      onDone(identity || client.identity());
    } catch (error) {
      err.textContent = errorText(error);
      button.disabled = false;
      button.textContent = "Start chatting";
      input.focus();
    }
  });
}
