// A verifier worker: checks the signatures of facts peers sent (relay and author
// signatures, batch verification) with the app's own wasm, off the page's thread.
// Message in: { ticket, facts, trusted } (JSON strings); out: { ticket, valid }.
import init, { verifyFactsJson } from "../pkg/catalk_client.js";

const ready = init();

onmessage = async (event) => {
  const { ticket, facts, trusted } = event.data;
  let valid = null; // null: could not verify here (the page then does)
  try {
    await ready;
    valid = verifyFactsJson(facts, trusted);
  } catch (err) {
    console.warn("catalk: verifier worker failed", err);
  }
  postMessage({ ticket, valid });
};
