//! `catalk-bench`: parses flags, runs one benchmark, prints its report.

use anyhow::Context as _;
use catalk_bench::{FleetOptions, IdleOptions, LatencyOptions, SpawnOptions, Target, ThroughputOptions};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// Load generator for the catalk relay. Starts a release `catalk-relay` on
/// loopback (or drives `--url`) with real clients that log in by the Ed25519
/// challenge and post author-signed messages.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Common {
    /// Print one JSON object on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Relay binary to start on 127.0.0.1 (ignored with --url). Default:
    /// `catalk-relay` next to this binary, else `target/release/catalk-relay`.
    #[arg(long, global = true)]
    relay_bin: Option<PathBuf>,
    /// Extra argument for the started relay (repeat for several).
    #[arg(long = "relay-arg", global = true, allow_hyphen_values = true)]
    relay_args: Vec<String>,
    /// Drive this relay instead of starting one (ws://host:port/ws).
    #[arg(long, global = true)]
    url: Option<String>,
    /// With --url: the relay's pid on this machine, to read its memory and CPU.
    #[arg(long, global = true, requires = "url")]
    relay_pid: Option<u32>,
    /// Logins in flight at once.
    #[arg(long, global = true, default_value_t = 32)]
    login_concurrency: usize,
    /// Connections per loopback source address (127.0.0.1, .2, …) before the next one is used.
    #[arg(long, global = true, default_value_t = catalk_bench::sockets::CONNECTIONS_PER_SOURCE)]
    connections_per_source: usize,
    /// No progress bar.
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Log N clients in and hold them; report the relay's memory per connection.
    Idle {
        /// Clients to log in.
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Seconds to hold them once the relay is quiet.
        #[arg(long, default_value_t = 0)]
        hold: u64,
    },
    /// Publishers post as fast as the relay accepts; subscribers receive.
    Throughput {
        /// Clients that post.
        #[arg(long, default_value_t = 4)]
        publishers: usize,
        /// Clients that only receive.
        #[arg(long, default_value_t = 100)]
        subscribers: usize,
        /// Seconds to measure.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Seconds of posting before measuring.
        #[arg(long, default_value_t = 2)]
        warmup: u64,
        /// Unanswered posts per publisher.
        #[arg(long, default_value_t = 64)]
        window: usize,
        /// Bytes of each message text.
        #[arg(long, default_value_t = 64)]
        body_bytes: usize,
        /// Seconds to measure the machine's crypto limit.
        #[arg(long, default_value_t = 2.0)]
        crypto_secs: f64,
        /// Pre-signed posts per publisher (default: 1.5 × what the crypto limit allows).
        #[arg(long)]
        messages_per_publisher: Option<usize>,
    },
    /// A steady post rate to many clients; publish→deliver latency percentiles.
    Latency {
        /// Clients online (all receive every post).
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Posts per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// How many of the clients post.
        #[arg(long, default_value_t = 10)]
        publishers: usize,
        /// Seconds to measure.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Seconds of posting before measuring.
        #[arg(long, default_value_t = 2)]
        warmup: u64,
        /// Bytes of each message text.
        #[arg(long, default_value_t = 64)]
        body_bytes: usize,
    },
}

fn target(common: &Common) -> Target {
    match &common.url {
        Some(url) => Target::Url { url: url.clone(), pid: common.relay_pid },
        None => Target::Spawn(SpawnOptions {
            relay_bin: common.relay_bin.clone().unwrap_or_else(default_relay_bin),
            extra_args: common.relay_args.clone(),
        }),
    }
}

fn default_relay_bin() -> PathBuf {
    let sibling = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join("catalk-relay")));
    sibling.filter(|path| path.exists()).unwrap_or_else(|| PathBuf::from("target/release/catalk-relay"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let target = target(&cli.common);
    let progress = !cli.common.quiet;
    let fleet = FleetOptions {
        concurrency: cli.common.login_concurrency,
        connections_per_source: cli.common.connections_per_source,
    };
    let report = match cli.command {
        Command::Idle { clients, hold } => {
            let options = IdleOptions {
                clients,
                fleet,
                hold: Duration::from_secs(hold),
                settle_limit: Duration::from_secs(3600),
            };
            to_value(catalk_bench::idle(&target, &options, progress).await?)?
        }
        Command::Throughput {
            publishers,
            subscribers,
            duration,
            warmup,
            window,
            body_bytes,
            crypto_secs,
            messages_per_publisher,
        } => {
            let options = ThroughputOptions {
                publishers,
                subscribers,
                duration: Duration::from_secs(duration),
                warmup: Duration::from_secs(warmup),
                window,
                body_bytes,
                fleet,
                crypto_time: Duration::from_secs_f64(crypto_secs),
                messages_per_publisher,
            };
            to_value(catalk_bench::throughput(&target, &options, progress).await?)?
        }
        Command::Latency { clients, rate, publishers, duration, warmup, body_bytes } => {
            let options = LatencyOptions {
                clients,
                rate,
                publishers,
                duration: Duration::from_secs(duration),
                warmup: Duration::from_secs(warmup),
                body_bytes,
                fleet,
            };
            to_value(catalk_bench::latency(&target, &options, progress).await?)?
        }
    };
    if cli.common.json {
        println!("{report}");
    } else {
        print_human(&report);
    }
    Ok(())
}

fn to_value(report: impl Serialize) -> anyhow::Result<serde_json::Value> {
    serde_json::to_value(report).context("serialising the report")
}

/// One `name  value` line per field, numbers rounded for reading.
fn print_human(report: &serde_json::Value) {
    let Some(fields) = report.as_object() else {
        println!("{report}");
        return;
    };
    let width = fields.keys().map(String::len).max().unwrap_or(0);
    for (name, value) in fields {
        let text = match value {
            serde_json::Value::Number(n) if n.is_f64() => format_float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::Number(n) => group_digits(&n.to_string()),
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "-".into(),
            other => other.to_string(),
        };
        println!("{name:<width$}  {text}");
    }
}

fn format_float(x: f64) -> String {
    if x.abs() >= 1000.0 { group_digits(&format!("{x:.0}")) } else { format!("{x:.3}") }
}

fn group_digits(digits: &str) -> String {
    let (sign, digits) = digits.strip_prefix('-').map_or(("", digits), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}
