//! A minimal HTTP/1.1 GET for `/healthz` and `/.well-known/catalk.json`, so the
//! tool needs no HTTP client crate.

use anyhow::{Context as _, anyhow};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// GETs `path` from `addr`; returns the status code and the body (not de-chunked).
pub async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no HTTP status in {text:?}"))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_owned();
    Ok((status, body))
}

/// The relay's public key from `/.well-known/catalk.json`.
pub async fn relay_key(addr: SocketAddr) -> anyhow::Result<catalk_proto::PublicKey> {
    let (status, body) = get(addr, "/.well-known/catalk.json").await?;
    anyhow::ensure!(status == 200, "/.well-known/catalk.json answered {status}");
    // The document is small; if it came chunked, the JSON object still sits between the braces.
    let json = &body[body.find('{').unwrap_or(0)..body.rfind('}').map_or(body.len(), |i| i + 1)];
    #[derive(serde::Deserialize)]
    struct WellKnown {
        relay: catalk_proto::PublicKey,
    }
    let doc: WellKnown = serde_json::from_str(json).with_context(|| format!("decoding {json}"))?;
    Ok(doc.relay)
}
