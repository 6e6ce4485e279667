//! The relay terminates TLS itself when given a certificate and key.

use catalk_relay::tls::{TlsError, load_server_config};
use catalk_testkit::relay_config;
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::rustls::{self, pki_types::ServerName};

#[tokio::test]
async fn serves_https_with_a_pem_certificate() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("catalk-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem())?;
    std::fs::write(&key_path, certified.signing_key.serialize_pem())?;

    let tls = load_server_config(&cert_path, &key_path)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(catalk_relay::serve_tls(listener, tls, relay_config(), async {
        let _ = stopped.await;
    }));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone())?;
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut stream = connector.connect(ServerName::try_from("localhost")?, tcp).await?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok\n"), "{response}");

    let _ = stop.send(());
    server.await??;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn missing_or_bad_pem_files_are_clear_errors() {
    let missing = std::path::Path::new("/nonexistent/cert.pem");
    assert!(matches!(load_server_config(missing, missing), Err(TlsError::Certificate { .. })));
}
