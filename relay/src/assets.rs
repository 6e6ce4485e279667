//! Serving the web app embedded at build time (see `build.rs`).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// URL path, e.g. `/index.html`.
    pub path: &'static str,
    /// Content type.
    pub mime: &'static str,
    /// Quoted strong ETag.
    pub etag: &'static str,
    /// The file.
    pub body: &'static [u8],
    /// The file, gzipped.
    pub gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

const PLACEHOLDER: &str = include_str!("../assets/placeholder.html");

/// Content security policy for the app: only this origin, wasm allowed, no inline script.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ws: wss:; \
                   img-src 'self' data: blob:; style-src 'self'; object-src 'none'; base-uri 'none'; \
                   frame-ancestors 'none'; form-action 'self'";

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
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

/// Answers a GET for a static file.
pub async fn serve(uri: Uri, request_headers: HeaderMap) -> Response {
    let Some(asset) = find(uri.path()) else {
        if uri.path() == "/" || uri.path() == "/index.html" {
            let mut response = axum::response::Html(PLACEHOLDER).into_response();
            secure(&mut response);
            return response;
        }
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let header_has = |name: header::HeaderName, needle: &str| {
        request_headers.get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains(needle))
    };
    let mut response = if header_has(header::IF_NONE_MATCH, asset.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if header_has(header::ACCEPT_ENCODING, "gzip") && asset.gzip.len() < asset.body.len() {
        let mut response = Response::new(Body::from(asset.gzip));
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        Response::new(Body::from(asset.body))
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    secure(&mut response);
    response
}
