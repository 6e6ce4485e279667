//! Serving the web app embedded at build time (see `build.rs`).
//!
//! - `/v/<build id>/<path>` is the file `<path>` of this build, cached for a year as
//!   `immutable`: its URL changes whenever any file of the app does. Other build ids are `404`.
//! - `/` (`index.html`), `/sw.js` (the service worker) and every file at its plain path are
//!   `no-cache`: revalidated on each use with their ETag (`304`).
//!
//! Bodies were compressed by `cargo xtask web`; the relay picks brotli, gzip or none by the
//! request's `Accept-Encoding` (`Vary: Accept-Encoding`) and never compresses at run time.

mod encoding;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// One representation of an embedded file.
#[derive(Debug)]
pub struct Encoded {
    /// The bytes sent.
    pub bytes: &'static [u8],
    /// Quoted strong ETag, distinct per representation.
    pub etag: &'static str,
}

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// URL path, e.g. `/index.html`.
    pub path: &'static str,
    /// Content type.
    pub mime: &'static str,
    /// The file as it is.
    pub identity: Encoded,
    /// The file gzipped, when that is smaller.
    pub gzip: Option<Encoded>,
    /// The file brotli-compressed, when that is smaller.
    pub brotli: Option<Encoded>,
}

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

const PLACEHOLDER: &str = include_str!("../assets/placeholder.html");

/// Content security policy for the app: only this origin, wasm allowed, no inline script.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ws: wss:; \
                   img-src 'self' data: blob:; style-src 'self'; object-src 'none'; base-uri 'none'; \
                   frame-ancestors 'none'; form-action 'self'";

/// `Cache-Control` of the files under `/v/<build id>/`.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Files served only at their fixed URL, never under `/v/<build id>/`.
const UNVERSIONED: [&str; 3] = ["/index.html", "/sw.js", "/build-id"];

/// Whether the app was embedded (false means the placeholder page is served).
pub fn embedded() -> bool {
    ASSETS.iter().any(|a| a.path == "/index.html")
}

fn find(path: &str) -> Option<&'static Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

fn secure(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

fn not_found() -> Response {
    let mut response = (StatusCode::NOT_FOUND, "not found\n").into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Answers a GET for a file at its plain path (`/`, `/index.html`, `/sw.js`, …): `no-cache`.
pub async fn serve(uri: Uri, request_headers: HeaderMap) -> Response {
    let Some(asset) = find(uri.path()) else {
        if uri.path() == "/" || uri.path() == "/index.html" {
            let mut response = axum::response::Html(PLACEHOLDER).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            secure(&mut response);
            return response;
        }
        return not_found();
    };
    respond(asset, &request_headers, "no-cache")
}

/// Answers a GET for `/v/<build>/<path>`: this build's file `<path>`, immutable; `404` for
/// another build (the URLs of an older app are gone once the relay runs a newer one).
pub async fn serve_versioned(Path((build, path)): Path<(String, String)>, request_headers: HeaderMap) -> Response {
    let path = format!("/{path}");
    if build.is_empty() || build != BUILD_ID || UNVERSIONED.contains(&path.as_str()) {
        return not_found();
    }
    match ASSETS.iter().find(|a| a.path == path) {
        Some(asset) => respond(asset, &request_headers, IMMUTABLE),
        None => not_found(),
    }
}

fn respond(asset: &'static Asset, request_headers: &HeaderMap, cache_control: &'static str) -> Response {
    let accept = request_headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (encoded, coding) = match (&asset.brotli, &asset.gzip) {
        (Some(br), _) if encoding::accepts(accept, "br") => (br, Some("br")),
        (_, Some(gz)) if encoding::accepts(accept, "gzip") => (gz, Some("gzip")),
        _ => (&asset.identity, None),
    };
    let unchanged = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim().trim_start_matches("W/") == encoded.etag));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(encoded.bytes));
        if let Some(coding) = coding {
            response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    headers.insert(header::ETAG, HeaderValue::from_static(encoded.etag));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    secure(&mut response);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(name, value)| (name.clone(), HeaderValue::from_static(value))).collect()
    }

    fn header_of(response: &Response, name: header::HeaderName) -> Option<&str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    async fn versioned(build: &str, path: &str, request: HeaderMap) -> Response {
        serve_versioned(Path((build.to_owned(), path.to_owned())), request).await
    }

    #[tokio::test]
    async fn versioned_files_are_immutable_and_other_builds_are_not_found() {
        assert_eq!(versioned("0123456789abcdef", "app.css", HeaderMap::new()).await.status(), StatusCode::NOT_FOUND);
        if !embedded() {
            return; // built without web/dist: nothing is versioned
        }
        let response = versioned(BUILD_ID, "app.css", HeaderMap::new()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header_of(&response, header::CACHE_CONTROL), Some(IMMUTABLE));
        for fixed in ["index.html", "sw.js", "build-id", "no-such-file.js"] {
            assert_eq!(versioned(BUILD_ID, fixed, HeaderMap::new()).await.status(), StatusCode::NOT_FOUND, "{fixed}");
        }
    }

    #[tokio::test]
    async fn the_page_and_the_service_worker_are_revalidated() {
        let page = serve(Uri::from_static("/"), HeaderMap::new()).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(header_of(&page, header::CACHE_CONTROL), Some("no-cache"));
        if embedded() {
            let worker = serve(Uri::from_static("/sw.js"), HeaderMap::new()).await;
            assert_eq!(header_of(&worker, header::CACHE_CONTROL), Some("no-cache"));
            assert_eq!(header_of(&worker, header::CONTENT_TYPE), Some("text/javascript; charset=utf-8"));
        }
    }

    #[tokio::test]
    async fn brotli_is_preferred_then_gzip_and_each_has_its_own_etag() {
        let Some(asset) = find("/index.html") else { return };
        let br = respond(asset, &headers(&[(header::ACCEPT_ENCODING, "gzip, deflate, br")]), "no-cache");
        let gz = respond(asset, &headers(&[(header::ACCEPT_ENCODING, "gzip, deflate")]), "no-cache");
        let plain = respond(asset, &HeaderMap::new(), "no-cache");
        assert_eq!(header_of(&br, header::CONTENT_ENCODING), Some("br"));
        assert_eq!(header_of(&gz, header::CONTENT_ENCODING), Some("gzip"));
        assert_eq!(header_of(&plain, header::CONTENT_ENCODING), None);
        let etags: Vec<_> = [&br, &gz, &plain].iter().map(|r| header_of(r, header::ETAG).map(str::to_owned)).collect();
        assert!(etags[0] != etags[1] && etags[1] != etags[2] && etags[0] != etags[2], "{etags:?}");
        assert_eq!(header_of(&br, header::VARY), Some("accept-encoding"));
    }

    #[tokio::test]
    async fn a_matching_etag_is_not_modified() {
        let Some(asset) = find("/index.html") else { return };
        let gz = asset.gzip.as_ref().map_or(asset.identity.etag, |e| e.etag);
        let request = HeaderMap::from_iter([
            (header::ACCEPT_ENCODING, HeaderValue::from_static("gzip")),
            (header::IF_NONE_MATCH, HeaderValue::from_static(gz)),
        ]);
        assert_eq!(respond(asset, &request, "no-cache").status(), StatusCode::NOT_MODIFIED);
        let other = headers(&[(header::IF_NONE_MATCH, "\"something-else\"")]);
        assert_eq!(respond(asset, &other, "no-cache").status(), StatusCode::OK);
    }
}
