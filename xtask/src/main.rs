//! Project automation, run as `cargo xtask <command>`:
//!
//! - `run [-- RELAY_ARGS]`: build the web app and the relay, start the relay.
//! - `test`: install missing tools, then run every check and test (CI runs this).
//! - `dist`: build the release relay binary with the web app embedded.
//! - `web`: build the web app into `web/dist` (what the relay embeds).
//! - `selftest-wasm`: build the wasm client with its test entry points into
//!   `target/selftest-pkg`, for the browser tests and `e2e/bench/verify.mjs`.

mod process;
mod tools;
mod web;

use anyhow::{Context as _, bail};
use process::{cargo, project_root, run as run_command};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.filter(|a| a != "--").collect();
    match command.as_str() {
        "run" => run(&rest),
        "test" => test(),
        "dist" => dist(),
        "web" => web::build(),
        "selftest-wasm" => web::build_selftest(),
        _ => {
            eprintln!("usage: cargo xtask <run [-- relay args] | test | dist | web | selftest-wasm>");
            bail!("unknown command {command:?}")
        }
    }
}

/// Builds the web app and the relay, then runs the relay in the foreground.
fn run(relay_args: &[String]) -> anyhow::Result<()> {
    web::build()?;
    cargo(&["build", "--package", "catalk-relay"])?;
    let binary = project_root().join("target/debug/catalk-relay");
    let status = std::process::Command::new(&binary)
        .args(relay_args)
        .status()
        .with_context(|| format!("starting {}", binary.display()))?;
    if !status.success() {
        bail!("catalk-relay exited with {status}");
    }
    Ok(())
}

/// Installs what the tests need, then runs formatting, lints, the wasm check, every Rust test
/// and the browser tests.
fn test() -> anyhow::Result<()> {
    let chromium = tools::ensure_chromium()?;
    cargo(&["fmt", "--all", "--", "--check"])?;
    web::build()?;
    web::build_selftest()?;
    cargo(&["build", "--workspace", "--all-targets"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    // catalk-core as the app gets it: in the run above, dev-dependencies turn on `test-support`.
    cargo(&["clippy", "--package", "catalk-core", "--", "-D", "warnings"])?;
    let wasm_clippy = ["clippy", "--package", "catalk-client", "--target", "wasm32-unknown-unknown"];
    cargo(&[&wasm_clippy[..], &["--", "-D", "warnings"]].concat())?;
    cargo(&[&wasm_clippy[..], &["--features", "selftest", "--", "-D", "warnings"]].concat())?;
    cargo(&["check", "--package", "catalk-proto", "--package", "catalk-core", "--target", "wasm32-unknown-unknown"])?;
    cargo(&["test", "--workspace", "--no-fail-fast"])?;
    browser_tests(&chromium)?;
    println!("xtask: all checks and tests passed");
    Ok(())
}

/// Runs the Playwright tests in `e2e/tests` against the debug relay with the app embedded
/// (and the selftest wasm for the tests of the client's test entry points), then the
/// namespace internet of `e2e/netns` (NATs, STUN, TURN; as root, else it says it skips).
fn browser_tests(chromium: &str) -> anyhow::Result<()> {
    let root = project_root();
    let relay = root.join("target/debug/catalk-relay");
    let status = std::process::Command::new("node")
        .args(["--test", "--test-concurrency=1", "e2e/tests/", "e2e/netns/"])
        .current_dir(&root)
        .env("CATALK_RELAY_BIN", &relay)
        .env("CATALK_VCLIENT_BIN", root.join("target/debug/catalk-vclient"))
        .env("CATALK_SELFTEST_PKG", web::selftest_pkg())
        .env("CATALK_CHROMIUM", chromium)
        .status()
        .context("starting node")?;
    if !status.success() {
        bail!("browser tests failed ({status}); screenshots are in target/e2e-screenshots");
    }
    Ok(())
}

/// Builds the release relay binary with the web app embedded.
fn dist() -> anyhow::Result<()> {
    web::build()?;
    cargo(&["build", "--release", "--package", "catalk-relay"])?;
    let binary = project_root().join("target/release/catalk-relay");
    run_command("ls", &["-l", &binary.to_string_lossy()])?;
    println!("xtask: release binary at {} (serves the web app on its own)", binary.display());
    Ok(())
}
