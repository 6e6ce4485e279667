//! Installing the tools the build and tests need, only when they are missing.

use crate::process::{output, run};

/// Adds the `wasm32-unknown-unknown` target if rustup does not list it as installed.
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        return Ok(());
    }
    run("rustup", &["target", "add", "wasm32-unknown-unknown"])
}
