//! Precompressing `web/dist`: beside every text file and the wasm, `<file>.br` (brotli,
//! quality 11) and `<file>.gz` (gzip, level 9), each kept only when it is smaller than the
//! file. The relay embeds them and answers by `Accept-Encoding`, so it never compresses at run
//! time and needs no compression crate.

use super::shell::relative_files;
use anyhow::Context as _;
use std::io::Write as _;
use std::path::Path;

/// Extensions worth compressing (images and fonts are compressed already).
const COMPRESSIBLE: [&str; 8] = ["html", "js", "mjs", "css", "wasm", "json", "svg", "txt"];

/// Brotli's densest setting, with a 4 MiB window (browsers accept up to 16 MiB).
const BROTLI_QUALITY: i32 = 11;
const BROTLI_WINDOW_BITS: i32 = 22;

/// What [`compress`] wrote: bytes of the originals, and of what a browser downloads with each
/// encoding (the compressed copy where there is one, else the original).
#[derive(Debug, Default, Clone, Copy)]
pub struct Sizes {
    /// The files as they are.
    pub identity: u64,
    /// With gzip.
    pub gzip: u64,
    /// With brotli.
    pub brotli: u64,
}

/// Writes the `.br` and `.gz` copies of the files in `dist`.
pub fn compress(dist: &Path) -> anyhow::Result<Sizes> {
    let mut sizes = Sizes::default();
    for file in relative_files(dist)? {
        let path = dist.join(&file);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let size = bytes.len() as u64;
        sizes.identity += size;
        let compressible =
            Path::new(&file).extension().and_then(|e| e.to_str()).is_some_and(|e| COMPRESSIBLE.contains(&e));
        if !compressible {
            sizes.gzip += size;
            sizes.brotli += size;
            continue;
        }
        sizes.gzip += keep_if_smaller(&path, "gz", &gzip(&bytes)?, size)?;
        sizes.brotli += keep_if_smaller(&path, "br", &brotli(&bytes)?, size)?;
    }
    Ok(sizes)
}

/// Writes `compressed` to `<path>.<ext>` when it saves bytes; returns the size served.
fn keep_if_smaller(path: &Path, ext: &str, compressed: &[u8], size: u64) -> anyhow::Result<u64> {
    let len = compressed.len() as u64;
    if len >= size {
        return Ok(size);
    }
    let mut target = path.as_os_str().to_owned();
    target.push(format!(".{ext}"));
    std::fs::write(&target, compressed).with_context(|| format!("writing {}", Path::new(&target).display()))?;
    Ok(len)
}

fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

fn brotli(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        lgwin: BROTLI_WINDOW_BITS,
        size_hint: bytes.len(),
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn both_encodings_decode_to_the_original() {
        let text = "catalk ".repeat(1000).into_bytes();
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gzip(&text).expect("gzip")[..]).read_to_end(&mut unzipped).expect("gunzip");
        assert_eq!(unzipped, text);
        let mut unbrotli = Vec::new();
        brotli::Decompressor::new(&brotli(&text).expect("brotli")[..], 4096)
            .read_to_end(&mut unbrotli)
            .expect("unbrotli");
        assert_eq!(unbrotli, text);
    }
}
