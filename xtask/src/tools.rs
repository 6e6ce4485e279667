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

/// Oldest Node.js major version the browser tests and npm packages run on.
const MIN_NODE_MAJOR: u32 = 18;

/// The major version `node --version` prints (`v20.11.1` gives 20), if node runs.
fn node_major() -> Option<u32> {
    let version = output("node", &["--version"])?;
    version.trim().trim_start_matches('v').split('.').next()?.parse().ok()
}

/// Whether this process runs as root (and so may run apt-get).
fn is_root() -> bool {
    output("id", &["-u"]).is_some_and(|uid| uid.trim() == "0")
}

/// Installs Debian packages with apt-get (as root only).
fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    run("apt-get", &["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq"];
    args.extend_from_slice(packages);
    run("apt-get", &args)
}

/// Makes sure Node.js (at least [`MIN_NODE_MAJOR`]) and npm are on PATH, installing Debian's
/// `nodejs` and `npm` packages when either is missing and this runs as root.
pub fn ensure_node() -> anyhow::Result<()> {
    let have_npm = || output("npm", &["--version"]).is_some();
    if node_major().is_none() || !have_npm() {
        if !is_root() {
            bail!(
                "Node.js {MIN_NODE_MAJOR} or newer and npm are needed for the web build and the browser tests: \
                 run `sudo apt-get install -y nodejs npm` (or install them another way)"
            );
        }
        apt_install(&["nodejs", "npm"])?;
    }
    match node_major() {
        None => bail!("node is still not on PATH after apt-get install nodejs"),
        Some(major) if major < MIN_NODE_MAJOR => {
            bail!("Node.js {major} is too old: {MIN_NODE_MAJOR} or newer is needed (`node --version`)")
        }
        Some(_) if !have_npm() => bail!("npm is still not on PATH after apt-get install npm"),
        Some(_) => Ok(()),
    }
}

/// Installs the npm packages of `e2e/` (binaryen's wasm-opt, playwright-core) when missing,
/// and Node.js with npm first when they are missing (the browser tests run on node too).
pub fn ensure_npm_packages() -> anyhow::Result<()> {
    ensure_node()?;
    let e2e = project_root().join("e2e");
    if e2e.join("node_modules/.bin/wasm-opt").exists() && e2e.join("node_modules/playwright-core").exists() {
        return Ok(());
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
    if !is_root() {
        bail!("Chromium is needed for the browser tests: run `sudo apt-get install -y chromium`");
    }
    apt_install(&["chromium"])?;
    find().ok_or_else(|| anyhow::anyhow!("chromium is still not on PATH after apt-get install"))
}
