//! `catalk-vclient`: checks its configuration (one clear line and a non-zero exit
//! when something cannot work), then keeps history until SIGTERM or Ctrl-C.

use anyhow::Context as _;
use catalk_vclient::{Args, DiskStore, Metrics, Shell, relay_socket};
use clap::Parser as _;
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("catalk-vclient: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("catalk-vclient: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let settings = args.settings()?;
    let (key, created) = catalk_keyfile::load_or_create(&args.key_file)?;
    let public = catalk_proto::PublicKey::of(&key);
    if args.print_key {
        println!("{public}");
        return Ok(());
    }
    if created {
        tracing::info!(file = %args.key_file.display(), %public, "generated a new key; mark it on the relay with --virtual-client");
    }
    let store = DiskStore::open(&settings.store_path, settings.store_options)?;
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = settings.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("metrics address {addr}"))?;
        tracing::info!(addr = %listener.local_addr()?, "metrics listening");
        let metrics = Arc::clone(&metrics);
        tokio::spawn(catalk_vclient::metrics::serve(listener, metrics));
    }
    relay_socket::probe(&settings.relay_url, Duration::from_secs(10)).await?;
    tracing::info!(%public, relay = %settings.relay_url, store = %settings.store_path.display(), "virtual client starting");
    Shell::new(settings, key, store, metrics).run(shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM (fly.io, systemd) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
