//! Project automation, run as `cargo xtask <command>`:
//!
//! - `run [-- RELAY_ARGS]`: build what is needed and start the relay.
//! - `test`: install missing tools, then run every check and test.
//! - `dist`: build the release relay binary.

mod process;
mod tools;

use anyhow::{Context as _, bail};
use process::{cargo, project_root};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.filter(|a| a != "--").collect();
    match command.as_str() {
        "run" => run(&rest),
        "test" => test(),
        "dist" => dist(),
        _ => {
            eprintln!("usage: cargo xtask <run [-- relay args] | test | dist>");
            bail!("unknown command {command:?}")
        }
    }
}

/// Builds the relay and runs it in the foreground.
fn run(relay_args: &[String]) -> anyhow::Result<()> {
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

/// Installs what the tests need, then runs formatting, lints, the wasm check and every test.
fn test() -> anyhow::Result<()> {
    tools::ensure_wasm_target()?;
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&["build", "--workspace", "--all-targets"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    cargo(&["check", "--package", "catalk-proto", "--target", "wasm32-unknown-unknown"])?;
    cargo(&["test", "--workspace", "--no-fail-fast"])?;
    println!("xtask: all checks and tests passed");
    Ok(())
}

/// Builds the release relay binary.
fn dist() -> anyhow::Result<()> {
    cargo(&["build", "--release", "--package", "catalk-relay"])?;
    println!("xtask: release binary at {}", project_root().join("target/release/catalk-relay").display());
    Ok(())
}
