// A pool of verifier workers (verify-worker.js) for the client's `setVerifier`:
// peers' answers are verified on the machine's other cores while the page stays
// responsive. Only with cores to spare: on 2 cores the workers compete with the
// page and the browser, and a 10,000-message fill was slower with them
// (docs/benchmarks.md). Falls back to the page's thread when workers fail.

/** Forces workers on or off (`"on"` / `"off"`), e.g. for tests; otherwise by core count. */
const OVERRIDE_KEY = "catalk.verifierWorkers";
const MIN_CORES = 4;

function cores() {
  return navigator.hardwareConcurrency || 2;
}

function wanted() {
  let forced = null;
  try { forced = localStorage.getItem(OVERRIDE_KEY); } catch { forced = null; }
  if (forced === "on" || forced === "off") return forced === "on";
  return cores() >= MIN_CORES;
}

/** How many workers: the cores beyond the page's and the browser's, one to four. */
function poolSize() {
  return Math.min(4, Math.max(1, cores() - 2));
}

/** What the pool did (also `window.catalkVerifier`, for the browser tests). */
export const verifierStats = { workers: 0, verified: 0, handedBack: 0 };

/**
 * Gives `client` a verifier backed by workers, started on first use.
 * Each job goes to the worker with the fewest jobs in flight.
 */
export function useVerifierWorkers(client) {
  window.catalkVerifier = verifierStats;
  if (typeof Worker !== "function" || !wanted()) return;
  let workers = null;
  const start = () => {
    workers = [];
    for (let i = 0; i < poolSize(); i++) {
      let worker;
      try {
        worker = new Worker(new URL("./verify-worker.js", import.meta.url), { type: "module", name: `catalk-verifier-${i}` });
      } catch (err) {
        console.warn("catalk: no verifier workers; verifying on the page", err);
        break;
      }
      const slot = { worker, jobs: new Set() };
      worker.onmessage = (event) => {
        const { ticket, valid } = event.data;
        slot.jobs.delete(ticket);
        if (valid === null) verifierStats.handedBack++;
        else verifierStats.verified++;
        client.verified(ticket, valid ?? undefined);
      };
      worker.onerror = (event) => {
        // A worker that fails hands its jobs back to the page and is not used again.
        console.warn("catalk: verifier worker failed", event.message);
        workers = workers.filter((w) => w !== slot);
        for (const ticket of slot.jobs) client.verified(ticket, undefined);
        verifierStats.handedBack += slot.jobs.size;
        verifierStats.workers = workers.length;
        slot.jobs.clear();
        worker.terminate();
      };
      workers.push(slot);
    }
    verifierStats.workers = workers.length;
  };
  client.setVerifier((ticket, facts, trusted) => {
    if (!workers) start();
    if (workers.length === 0) throw new Error("no verifier workers");
    const slot = workers.reduce((best, w) => (w.jobs.size < best.jobs.size ? w : best));
    slot.jobs.add(ticket);
    slot.worker.postMessage({ ticket, facts, trusted });
  });
}
