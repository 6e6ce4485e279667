//! Embeds the built web app (`web/dist`, made by `cargo xtask web`) into the relay binary, so
//! one binary serves everything: every file with its MIME type and ETag, beside the `.br` and
//! `.gz` copies `cargo xtask web` wrote (the relay never compresses at run time), and the build
//! id from `web/dist/build-id`. When `web/dist` is missing the relay serves a placeholder page.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Suffixes of the precompressed copies, which are embedded with their original.
const ENCODED: [&str; 2] = [".br", ".gz"];

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
        _ if path.file_name().is_some_and(|n| n == "build-id") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, for ETags.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// Rust code for the copy `path` + `suffix`: `Some(Encoded { … })` when that file exists, else
/// `None`. Its ETag is the original's with `-tag`: each representation has its own strong ETag.
fn encoded(path: &Path, suffix: &str, tag: &str, etag: u64) -> String {
    let mut copy = path.as_os_str().to_owned();
    copy.push(suffix);
    let copy = PathBuf::from(copy);
    if !copy.is_file() {
        return "None".to_owned();
    }
    let canonical = copy.canonicalize().expect("canonical path");
    format!("Some(Encoded {{ bytes: include_bytes!({canonical:?}), etag: \"\\\"{etag:016x}-{tag}\\\"\" }})")
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dist = manifest.join("../web/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!("cargo:rerun-if-changed=build.rs");
    let mut paths = Vec::new();
    files(&dist, &mut paths);
    let build_id = std::fs::read_to_string(dist.join("build-id")).map(|s| s.trim().to_owned()).unwrap_or_default();
    let mut code = format!(
        "/// The build id of the embedded web app (`web/dist/build-id`; empty without one): its files are\n\
         /// also served, immutable, under `/v/<build id>/`.\npub const BUILD_ID: &str = {build_id:?};\n\n\
         /// Files of the built web app.\npub static ASSETS: &[Asset] = &[\n"
    );
    for path in paths.iter().filter(|p| !ENCODED.iter().any(|s| p.to_string_lossy().ends_with(s))) {
        let bytes = std::fs::read(path).expect("read web asset");
        let etag = fnv(&bytes);
        let url = format!("/{}", path.strip_prefix(&dist).expect("under dist").to_string_lossy().replace('\\', "/"));
        let _ = writeln!(
            code,
            "    Asset {{ path: {url:?}, mime: {:?}, identity: Encoded {{ bytes: include_bytes!({:?}), etag: \"\\\"{etag:016x}\\\"\" }}, \
             gzip: {}, brotli: {} }},",
            mime(path),
            path.canonicalize().expect("canonical path"),
            encoded(path, ".gz", "gz", etag),
            encoded(path, ".br", "br", etag),
        );
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("web_assets.rs"), code).expect("write web_assets.rs");
}
