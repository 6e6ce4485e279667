//! Building the web app into `web/dist`: the wasm client (wasm-bindgen,
//! wasm-opt) and the static files, stamped with a build id for the service worker's offline
//! shell (`shell`) and precompressed (`compress`). The relay embeds `web/dist` at build time.
//!
//! Also the selftest wasm (the client with its test entry points, feature
//! `selftest`) into `target/selftest-pkg`, outside `web/dist`, for the browser
//! tests and benchmarks only.

mod compress;
mod shell;

use crate::process::{cargo, project_root, run};
use crate::tools;
use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};

/// The test entry points only the selftest wasm exports.
const SELFTEST_EXPORTS: [&str; 2] = ["storeSelfTest", "verifySpeed"];

fn copy_tree(from: &Path, to: &Path, skip: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        if path == skip {
            continue;
        }
        let target = to.join(path.file_name().context("file name")?);
        if path.is_dir() {
            copy_tree(&path, &target, skip)?;
        } else {
            std::fs::copy(&path, &target).with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(())
}

/// Builds `web/dist`: the shipped wasm (no test entry points) and the static files.
pub fn build() -> anyhow::Result<()> {
    let root = project_root();
    let dist = root.join("web/dist");
    if dist.exists() {
        std::fs::remove_dir_all(&dist)?;
    }
    let pkg = dist.join("pkg");
    tools::ensure_npm_packages()?;
    wasm(&[], &pkg)?;
    let glue = glue(&pkg)?;
    if let Some(name) = SELFTEST_EXPORTS.iter().find(|name| exports(&glue, name)) {
        bail!("the shipped wasm exports {name}: the selftest feature leaked into web/dist");
    }
    let bindgen_wasm = pkg.join("catalk_client_bg.wasm");
    let wasm_opt = root.join("e2e/node_modules/.bin/wasm-opt");
    run(
        &wasm_opt.to_string_lossy(),
        &[
            "-Oz",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-reference-types",
            "--enable-mutable-globals",
            "--enable-multivalue",
            &bindgen_wasm.to_string_lossy(),
            "-o",
            &bindgen_wasm.to_string_lossy(),
        ],
    )?;
    copy_tree(&root.join("web"), &dist, &dist)?;
    let id = shell::stamp(&dist)?;
    let sizes = compress::compress(&dist)?;
    println!(
        "xtask: web app built in {} (build {id}; {} B, {} B gzip, {} B brotli)",
        dist.display(),
        sizes.identity,
        sizes.gzip,
        sizes.brotli
    );
    Ok(())
}

/// Where [`build_selftest`] puts the selftest wasm.
pub fn selftest_pkg() -> PathBuf {
    project_root().join("target/selftest-pkg")
}

/// Builds the wasm client with its test entry points (`storeSelfTest`, `verifySpeed`; feature
/// `selftest`) into [`selftest_pkg`], never into `web/dist`. No wasm-opt: only tests load it.
/// The browser tests serve it to their pages under `/selftest-pkg/` (`e2e/tests/harness.mjs`).
pub fn build_selftest() -> anyhow::Result<()> {
    let pkg = selftest_pkg();
    if pkg.exists() {
        std::fs::remove_dir_all(&pkg)?;
    }
    wasm(&["--features", "selftest"], &pkg)?;
    let glue = glue(&pkg)?;
    if let Some(name) = SELFTEST_EXPORTS.iter().find(|name| !exports(&glue, name)) {
        bail!("the selftest wasm does not export {name}");
    }
    println!("xtask: selftest wasm built in {}", pkg.display());
    Ok(())
}

/// Builds the wasm client with `features` and runs wasm-bindgen into `pkg`. Both variants use
/// the `wasm` profile, so only catalk-core and catalk-client are compiled twice.
fn wasm(features: &[&str], pkg: &Path) -> anyhow::Result<()> {
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen()?;
    let mut args =
        vec!["build", "--package", "catalk-client", "--target", "wasm32-unknown-unknown", "--profile", "wasm"];
    args.extend_from_slice(features);
    cargo(&args)?;
    // Both variants land here; each is run through wasm-bindgen right after its build.
    let wasm = project_root().join("target/wasm32-unknown-unknown/wasm/catalk_client.wasm");
    run(
        "wasm-bindgen",
        &["--target", "web", "--no-typescript", "--out-dir", &pkg.to_string_lossy(), &wasm.to_string_lossy()],
    )
}

/// The JavaScript glue wasm-bindgen wrote into `pkg`.
fn glue(pkg: &Path) -> anyhow::Result<String> {
    let path = pkg.join("catalk_client.js");
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// Whether the glue exports the function `name`.
fn exports(glue: &str, name: &str) -> bool {
    glue.contains(&format!("export function {name}("))
}
