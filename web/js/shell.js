// shell.js — registers the service worker (/sw.js), which keeps this build of the app on the
// device: reloads then need the network for the page only, and work while the server is down.
// Called once the first screen is drawn, so a first visit's precaching never delays it.

/** Registers /sw.js for the whole origin; where service workers are unavailable, does nothing. */
export function registerShell() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((err) => {
    console.warn("catalk: the offline copy of the app is unavailable:", err);
  });
}
