//! Embeds the built web app (`web/dist`, made by `cargo xtask`) into the relay
//! binary, gzipped beside the original, so one binary serves everything. When
//! `web/dist` is missing the relay serves a placeholder page.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, for ETags.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dist = manifest.join("../web/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!("cargo:rerun-if-changed=build.rs");
    let mut paths = Vec::new();
    files(&dist, &mut paths);
    let mut code = String::from("/// Files of the built web app.\npub static ASSETS: &[Asset] = &[\n");
    for (n, path) in paths.iter().enumerate() {
        let bytes = std::fs::read(path).expect("read web asset");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&bytes).expect("gzip");
        let gz = encoder.finish().expect("gzip");
        let gz_path = out_dir.join(format!("asset-{n}.gz"));
        std::fs::write(&gz_path, &gz).expect("write gz");
        let url = format!("/{}", path.strip_prefix(&dist).expect("under dist").to_string_lossy().replace('\\', "/"));
        let _ = writeln!(
            code,
            "    Asset {{ path: {url:?}, mime: {:?}, etag: \"\\\"{:016x}\\\"\", body: include_bytes!({:?}), gzip: include_bytes!({:?}) }},",
            mime(path),
            fnv(&bytes),
            path.canonicalize().expect("canonical path"),
            gz_path,
        );
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("web_assets.rs"), code).expect("write web_assets.rs");
}
