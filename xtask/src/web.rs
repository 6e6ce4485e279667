//! Building the web app into `web/dist`: the wasm client (wasm-bindgen,
//! wasm-opt) and the static files. The relay embeds `web/dist` at build time.

use crate::process::{cargo, project_root, run};
use crate::tools;
use anyhow::Context as _;
use std::path::Path;

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

/// Builds `web/dist`.
pub fn build() -> anyhow::Result<()> {
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen()?;
    tools::ensure_npm_packages()?;
    let root = project_root();
    cargo(&["build", "--package", "catalk-client", "--target", "wasm32-unknown-unknown", "--profile", "wasm"])?;
    let dist = root.join("web/dist");
    if dist.exists() {
        std::fs::remove_dir_all(&dist)?;
    }
    let pkg = dist.join("pkg");
    let wasm = root.join("target/wasm32-unknown-unknown/wasm/catalk_client.wasm");
    run(
        "wasm-bindgen",
        &["--target", "web", "--no-typescript", "--out-dir", &pkg.to_string_lossy(), &wasm.to_string_lossy()],
    )?;
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
    println!("xtask: web app built in {}", dist.display());
    Ok(())
}
