// Benchmark (not a test): how fast this Chromium verifies facts in the client's wasm
// (relay and author signatures, batch verification as for peers' answers), with `verifySpeed`
// of the selftest build: the app's code and wasm profile plus the test entry points, not run
// through wasm-opt. Prints one JSON line. Run from the repo root after
// `cargo xtask web && cargo xtask selftest-wasm && cargo build -p catalk-relay`:
//   node e2e/bench/verify.mjs [N]
import { Relay, launchBrowser, selftestModule } from "../tests/harness.mjs";

const N = Number(process.argv[2] ?? 2_000);
const relay = await new Relay(["--no-claim"]).start();
const browser = await launchBrowser();
try {
  const page = await (await browser.newContext()).newPage();
  const url = await selftestModule(page);
  await page.goto(relay.url);
  await page.waitForFunction(() => window.catalk !== undefined || document.querySelector("[data-testid=display-name]"));
  const results = await page.evaluate(async ({ n, url }) => {
    const wasm = await import(url);
    await wasm.default();
    const out = {};
    for (const batch of [1, 25, 50, 100, 500]) out[`batch_${batch}_us_per_signature`] = Number(wasm.verifySpeed(n, batch).toFixed(1));
    return out;
  }, { n: N, url });
  console.log(JSON.stringify({ facts: N, ...results }));
} finally {
  await browser.close();
  await relay.stop();
}
