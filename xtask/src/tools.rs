//! Installing the tools the build and tests need, only when they are missing.

use crate::process::{output, project_root, run};
use anyhow::bail;

/// The wasm-bindgen CLI version; must equal the `wasm-bindgen` crate pin in client-wasm/Cargo.toml.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";

/// Adds the `wasm32-unknown-unknown` target if rustup does not list it as installed.
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        return Ok(());
    }
    run("rustup", &["target", "add", "wasm32-unknown-unknown"])
}

/// Installs the pinned wasm-bindgen CLI unless `wasm-bindgen --version` already prints it.
pub fn ensure_wasm_bindgen() -> anyhow::Result<()> {
    let version = output("wasm-bindgen", &["--version"]).unwrap_or_default();
    if version.split_whitespace().nth(1) == Some(WASM_BINDGEN_VERSION) {
        return Ok(());
    }
    // No --locked: its lockfile pins crates the registry mirror here lacks (TOOLCHAIN.md).
    run("cargo", &["install", "wasm-bindgen-cli", "--version", WASM_BINDGEN_VERSION])
}

/// Installs the npm packages of `e2e/` (binaryen's wasm-opt, playwright-core) when missing.
pub fn ensure_npm_packages() -> anyhow::Result<()> {
    let e2e = project_root().join("e2e");
    if e2e.join("node_modules/.bin/wasm-opt").exists() && e2e.join("node_modules/playwright-core").exists() {
        return Ok(());
    }
    if output("npm", &["--version"]).is_none() {
        bail!(
            "npm is needed (Node.js 18 or newer): install it with your package manager, e.g. `apt-get install nodejs npm`"
        );
    }
    let command = if e2e.join("package-lock.json").exists() { "ci" } else { "install" };
    run("npm", &["--prefix", "e2e", command, "--no-audit", "--no-fund"])
}

/// The Chromium binary for the browser tests, installing Debian's package when missing.
pub fn ensure_chromium() -> anyhow::Result<String> {
    let find = || {
        ["chromium", "chromium-browser"]
            .iter()
            .find_map(|c| output("which", &[c]).map(|path| path.trim().to_owned()).filter(|p| !p.is_empty()))
    };
    if let Some(path) = find() {
        return Ok(path);
    }
    let is_root = output("id", &["-u"]).is_some_and(|uid| uid.trim() == "0");
    if !is_root {
        bail!("Chromium is needed for the browser tests: run `sudo apt-get install -y chromium`");
    }
    run("apt-get", &["update", "-qq"])?;
    run("apt-get", &["install", "-y", "-qq", "chromium"])?;
    find().ok_or_else(|| anyhow::anyhow!("chromium is still not on PATH after apt-get install"))
}
