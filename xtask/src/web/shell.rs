//! The offline shell of `web/dist`: a build id (a hash of the dist contents), `index.html`
//! pointing at the build's immutable URLs (`/v/<build-id>/…`), `build-id`, and `sw.js` made
//! from the template `web/sw.js` with the build id and the list of files to precache.
//!
//! The relay serves `/v/<its build id>/<path>` as `<path>` of `web/dist` with a year-long
//! immutable cache lifetime, and `index.html` and `sw.js` to be revalidated on every load.

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;
use std::path::Path;

/// Files served at fixed URLs (revalidated on every use), never under `/v/<build-id>/`.
const UNVERSIONED: [&str; 3] = ["index.html", "sw.js", "build-id"];

/// The placeholders `web/sw.js` must contain.
const BUILD_ID_SLOT: &str = "\"%BUILD_ID%\"";
const ASSETS_SLOT: &str = "[/* %ASSETS% */]";

/// Hex digits of SHA-256 kept in the build id (64 bits: plenty to tell builds apart).
const BUILD_ID_LEN: usize = 16;

/// Every file under `dir`, as paths relative to it with `/` separators, sorted.
pub fn relative_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else {
                let relative = path.strip_prefix(root).context("file under its root")?;
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Stamps `dist` (already holding the app's files) with a build id; returns the id.
pub fn stamp(dist: &Path) -> anyhow::Result<String> {
    let files = relative_files(dist)?;
    let id = build_id(dist, &files)?;
    let assets: Vec<&String> = files.iter().filter(|f| !UNVERSIONED.contains(&f.as_str())).collect();

    let index = dist.join("index.html");
    let html = std::fs::read_to_string(&index).context("reading web/dist/index.html")?;
    let (html, rewritten) = rewrite_html(&html, &id, |value| assets.iter().any(|a| *a == value));
    if rewritten == 0 {
        bail!("index.html names none of the app's files: nothing to version");
    }
    std::fs::write(&index, html)?;

    let sw = dist.join("sw.js");
    let template = std::fs::read_to_string(&sw).context("reading the service worker template web/sw.js")?;
    let urls = assets.iter().map(|a| versioned_url(&id, a)).collect::<anyhow::Result<Vec<_>>>()?;
    std::fs::write(&sw, service_worker(&template, &id, &urls)?)?;

    std::fs::write(dist.join("build-id"), format!("{id}\n"))?;
    Ok(id)
}

/// SHA-256 over every file's path and contents, in path order, cut to [`BUILD_ID_LEN`] hex digits.
fn build_id(dist: &Path, files: &[String]) -> anyhow::Result<String> {
    let mut hash = Sha256::new();
    for file in files {
        let bytes = std::fs::read(dist.join(file)).with_context(|| format!("reading {file}"))?;
        hash.update((file.len() as u64).to_le_bytes());
        hash.update(file.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    let mut hex = String::with_capacity(BUILD_ID_LEN);
    for byte in hash.finalize().iter().take(BUILD_ID_LEN / 2) {
        let _ = write!(hex, "{byte:02x}");
    }
    Ok(hex)
}

/// `/v/<id>/<file>`; refuses names that would need escaping in HTML, JavaScript or a URL.
fn versioned_url(id: &str, file: &str) -> anyhow::Result<String> {
    if !file.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b)) {
        bail!("web/dist/{file}: use letters, digits, '-', '_' and '.' in file names");
    }
    Ok(format!("/v/{id}/{file}"))
}

/// Rewrites every `href="…"` and `src="…"` whose value `is_asset` accepts to the build's
/// versioned URL. Returns the new HTML and how many values it rewrote.
fn rewrite_html(html: &str, id: &str, is_asset: impl Fn(&str) -> bool) -> (String, usize) {
    let mut out = String::with_capacity(html.len() + 256);
    let mut rest = html;
    let mut rewritten = 0;
    while let Some((start, attr)) = next_attribute(rest) {
        let value_start = start + attr.len();
        let Some(len) = rest[value_start..].find('"') else { break };
        let value = &rest[value_start..value_start + len];
        out.push_str(&rest[..value_start]);
        if is_asset(value) {
            out.push_str(&format!("/v/{id}/{value}"));
            rewritten += 1;
        } else {
            out.push_str(value);
        }
        rest = &rest[value_start + len..];
    }
    out.push_str(rest);
    (out, rewritten)
}

/// The first ` href="` or ` src="` in `html`: its offset and the matched text.
fn next_attribute(html: &str) -> Option<(usize, &'static str)> {
    [" href=\"", " src=\""].into_iter().filter_map(|attr| html.find(attr).map(|at| (at, attr))).min()
}

/// Fills the template's build id and asset list.
fn service_worker(template: &str, id: &str, urls: &[String]) -> anyhow::Result<String> {
    for slot in [BUILD_ID_SLOT, ASSETS_SLOT] {
        if !template.contains(slot) {
            bail!("web/sw.js lacks the placeholder {slot}");
        }
    }
    let list: Vec<String> = urls.iter().map(|u| format!("\n  \"{u}\"")).collect();
    Ok(template.replace(BUILD_ID_SLOT, &format!("\"{id}\"")).replace(ASSETS_SLOT, &format!("[{},\n]", list.join(","))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_versions_only_the_apps_files() {
        let html = r##"<link rel="stylesheet" href="app.css"><script type="module" src="js/main.js"></script>
<use href="#i-logo"/><link rel="icon" href="data:image/svg+xml,x"><a href="https://example.org/">"##;
        let (out, n) = rewrite_html(html, "abc", |v| v == "app.css" || v == "js/main.js");
        assert_eq!(n, 2);
        assert!(out.contains(r#"href="/v/abc/app.css""#), "{out}");
        assert!(out.contains(r#"src="/v/abc/js/main.js""#), "{out}");
        assert!(
            out.contains(r##"href="#i-logo""##)
                && out.contains("href=\"data:image")
                && out.contains("https://example.org/")
        );
    }

    #[test]
    fn service_worker_gets_the_build_id_and_assets() {
        let template = "const BUILD_ID = \"%BUILD_ID%\";\nconst ASSETS = [/* %ASSETS% */];\n";
        let sw = service_worker(template, "abc", &["/v/abc/app.css".to_owned()]).expect("filled");
        assert!(sw.contains("const BUILD_ID = \"abc\";"), "{sw}");
        assert!(sw.contains("\"/v/abc/app.css\""), "{sw}");
        assert!(service_worker("no slots", "abc", &[]).is_err());
    }

    #[test]
    fn versioned_urls_refuse_names_that_need_escaping() {
        assert_eq!(versioned_url("abc", "pkg/a_b-c.js").expect("plain name"), "/v/abc/pkg/a_b-c.js");
        assert!(versioned_url("abc", "a\"b.js").is_err());
        assert!(versioned_url("abc", "a b.js").is_err());
    }
}
