//! The fly.io deployment files agree with the relay: `fly.toml` parses, sends traffic to the
//! port the relay listens on by default, health-checks `/healthz`, runs on the smallest
//! machine with connection limits, and passes the client IP header; the Dockerfile builds
//! `catalk-relay`. (The image itself cannot be built here: no Docker engine.)

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct FlyToml {
    app: String,
    primary_region: String,
    build: Build,
    env: BTreeMap<String, String>,
    http_service: HttpService,
    services: Vec<Service>,
    vm: Vec<Vm>,
}

#[derive(Debug, Deserialize)]
struct Service {
    protocol: String,
    internal_port: u16,
    ports: Vec<ServicePort>,
}

#[derive(Debug, Deserialize)]
struct ServicePort {
    port: u16,
}

#[derive(Debug, Deserialize)]
struct Build {
    dockerfile: String,
}

#[derive(Debug, Deserialize)]
struct HttpService {
    internal_port: u16,
    force_https: bool,
    auto_stop_machines: String,
    auto_start_machines: bool,
    min_machines_running: u32,
    concurrency: Concurrency,
    checks: Vec<Check>,
}

#[derive(Debug, Deserialize)]
struct Concurrency {
    #[serde(rename = "type")]
    kind: String,
    soft_limit: u32,
    hard_limit: u32,
}

#[derive(Debug, Deserialize)]
struct Check {
    method: String,
    path: String,
}

#[derive(Debug, Deserialize)]
struct Vm {
    size: String,
    memory: String,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fly_toml() -> FlyToml {
    let text = std::fs::read_to_string(root().join("fly.toml")).expect("read fly.toml");
    toml::from_str(&text).expect("fly.toml parses")
}

/// The `--listen` default as the relay binary itself reports it in `--help`.
fn relay_default_listen() -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_catalk-relay"))
        .arg("--help")
        .env_remove("CATALK_LISTEN")
        .output()
        .expect("run catalk-relay --help");
    assert!(output.status.success(), "catalk-relay --help failed");
    let help = String::from_utf8(output.stdout).expect("help is UTF-8");
    let listen = help.find("--listen").expect("--help lists --listen");
    let rest = &help[listen..];
    let start = rest.find("[default: ").expect("--listen has a default") + "[default: ".len();
    let end = rest[start..].find(']').expect("default is bracketed");
    rest[start..start + end].to_owned()
}

fn port_of(address: &str) -> u16 {
    address.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).expect("address ends in :port")
}

#[test]
fn fly_toml_routes_to_the_relays_listen_port() {
    let fly = fly_toml();
    let default_listen = relay_default_listen();
    assert_eq!(default_listen, "0.0.0.0:8080");
    assert_eq!(fly.http_service.internal_port, port_of(&default_listen));
    // CATALK_LISTEN in [env] must agree with the proxy's internal port too.
    let listen = fly.env.get("CATALK_LISTEN").expect("[env] sets CATALK_LISTEN");
    assert_eq!(listen, &default_listen);
    assert_eq!(fly.http_service.internal_port, port_of(listen));
    assert!(fly.http_service.force_https);
}

#[test]
fn fly_toml_routes_stun_over_udp_on_the_same_port() {
    let fly = fly_toml();
    let stun = fly.env.get("CATALK_STUN_LISTEN").expect("[env] sets CATALK_STUN_LISTEN");
    assert!(stun.starts_with("fly-global-services:"), "fly delivers UDP only to fly-global-services: {stun}");
    let port = port_of(stun);
    let udp: Vec<&Service> = fly.services.iter().filter(|s| s.protocol == "udp").collect();
    assert_eq!(udp.len(), 1, "one UDP service: {:?}", fly.services);
    assert_eq!(udp[0].internal_port, port);
    assert!(udp[0].ports.iter().all(|p| p.port == port), "external port = internal port on fly: {:?}", udp[0].ports);
}

#[test]
fn fly_toml_health_checks_healthz() {
    let fly = fly_toml();
    assert!(
        fly.http_service.checks.iter().any(|c| c.path == "/healthz" && c.method.eq_ignore_ascii_case("GET")),
        "a GET /healthz check: {:?}",
        fly.http_service.checks
    );
}

#[test]
fn fly_toml_runs_on_the_smallest_machine_with_connection_limits() {
    let fly = fly_toml();
    assert_eq!(fly.vm.len(), 1);
    assert_eq!(fly.vm[0].size, "shared-cpu-1x");
    assert_eq!(fly.vm[0].memory, "256mb");
    let concurrency = &fly.http_service.concurrency;
    assert_eq!(concurrency.kind, "connections");
    assert!(concurrency.soft_limit > 0);
    assert!(concurrency.hard_limit > concurrency.soft_limit, "{concurrency:?}");
    assert_eq!(fly.http_service.auto_stop_machines, "stop");
    assert!(fly.http_service.auto_start_machines);
    assert_eq!(fly.http_service.min_machines_running, 0);
}

#[test]
fn fly_toml_passes_the_client_ip_and_keeps_secrets_out() {
    let fly = fly_toml();
    assert_eq!(fly.env.get("CATALK_CLIENT_IP_HEADER").map(String::as_str), Some("fly-client-ip"));
    for secret in ["CATALK_RELAY_KEY", "CATALK_OWNERS"] {
        assert!(!fly.env.contains_key(secret), "{secret} belongs in `fly secrets set`, not [env]");
    }
    assert!(!fly.app.is_empty() && !fly.primary_region.is_empty());
}

#[test]
fn dockerfile_builds_the_relay() {
    let fly = fly_toml();
    let dockerfile = std::fs::read_to_string(root().join(&fly.build.dockerfile)).expect("read the Dockerfile");
    assert!(dockerfile.contains("catalk-relay"), "the Dockerfile names catalk-relay");
    assert!(dockerfile.lines().any(|l| l.trim() == "EXPOSE 8080"), "the Dockerfile exposes 8080");
    assert!(
        dockerfile.lines().any(|l| l.starts_with("USER ") && !l.contains("root") && !l.contains(" 0")),
        "the image runs as a non-root user"
    );
    let dockerignore = std::fs::read_to_string(root().join(".dockerignore")).expect("read .dockerignore");
    assert!(dockerignore.lines().any(|l| l.trim_end_matches('/') == "target"), ".dockerignore skips target/");
}
