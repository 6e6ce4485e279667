// sw.js — the service worker: keeps this build of the app on the device, so a reload shows the
// stored history even while the server is down, and a warm reload asks the network for the page
// only. This file is a template: `cargo xtask web` (xtask/src/web/shell.rs) fills in the build
// id and the build's files, each at its immutable URL /v/<build id>/<path>.
//
// - install: precache the build's files, its index.html (checked to be this build's) and the
//   server's /.well-known/catalk.json.
// - fetch: /v/… from the cache (falling back to the network); the page (/ or /index.html)
//   from the network, falling back to the cached copy when the network fails, answers 5xx or
//   takes longer than NETWORK_TIMEOUT_MS; /.well-known/catalk.json likewise, its last good
//   copy kept in a cache of its own. Nothing else is touched (the websocket, /metrics, …).
// - activate: delete the caches of older builds; turn on navigation preload.
//
// No skipWaiting: a new build's worker waits until no tab runs the old one, so a page never
// loses the files it was started with. The page itself is always fetched from the network
// first, so an online reload runs the newest build even while the old worker is in charge.

const BUILD_ID = "%BUILD_ID%";
const ASSETS = [/* %ASSETS% */];

const BUILD_CACHE_PREFIX = "catalk-build-";
const BUILD_CACHE = BUILD_CACHE_PREFIX + BUILD_ID;
const CONFIG_CACHE = "catalk-config";
const PAGE = "/";
const WELL_KNOWN = "/.well-known/catalk.json";
const NETWORK_TIMEOUT_MS = 3000;

self.addEventListener("install", (event) => {
  event.waitUntil(precache());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(BUILD_CACHE_PREFIX) && name !== BUILD_CACHE) await caches.delete(name);
    }
    await self.registration.navigationPreload?.enable();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/v/")) {
    event.respondWith(fromCache(request));
  } else if (request.mode === "navigate" && (url.pathname === "/" || url.pathname === "/index.html")) {
    event.respondWith(networkFirst(event, () => caches.open(BUILD_CACHE).then((c) => c.match(PAGE))));
  } else if (url.pathname === WELL_KNOWN) {
    event.respondWith(networkFirst(event, () => caches.open(CONFIG_CACHE).then((c) => c.match(WELL_KNOWN)), keepConfig));
  }
});

/** Stores the build's files and its page; fails (and is retried on a later visit) when the server runs another build. */
async function precache() {
  const cache = await caches.open(BUILD_CACHE);
  await cache.addAll(ASSETS);
  const page = await fetch(PAGE, { cache: "no-cache" });
  if (!page.ok) throw new Error(`the page answered ${page.status}`);
  if (!(await page.clone().text()).includes(`/v/${BUILD_ID}/`)) throw new Error("the server runs another build");
  await cache.put(PAGE, page);
  // The ICE servers, so that a first reload while the server is down has them (best effort).
  await fetch(WELL_KNOWN, { cache: "no-store" }).then((r) => (r.ok ? keepConfig(r) : undefined)).catch(() => {});
}

/** A versioned file: never changes, so the cache wins; any build's cache will do. */
async function fromCache(request) {
  return (await caches.match(request, { ignoreVary: true })) ?? fetch(request);
}

/**
 * The network's answer, unless it fails, is a server error or is slower than NETWORK_TIMEOUT_MS:
 * then `cached()` (when there is a copy; otherwise the network's answer after all).
 * `onResponse` sees every good network answer, also one that came too late.
 */
async function networkFirst(event, cached, onResponse = () => {}) {
  const network = (async () => {
    const response = (event.request.mode === "navigate" ? await event.preloadResponse : undefined) ?? await fetch(event.request);
    if (response.ok) await onResponse(response.clone());
    return response;
  })();
  event.waitUntil(network.catch(() => {}));
  let timer = 0;
  const timeout = new Promise((resolve) => { timer = setTimeout(resolve, NETWORK_TIMEOUT_MS); });
  try {
    const response = await Promise.race([network, timeout]);
    if (response && response.status < 500) return response;
  } catch {
    // unreachable: the copy below, if there is one
  } finally {
    clearTimeout(timer);
  }
  return (await cached()) ?? network;
}

async function keepConfig(response) {
  const cache = await caches.open(CONFIG_CACHE);
  await cache.put(WELL_KNOWN, response);
}
