//! TURN credentials: each welcome carries its own short-lived username and
//! password for the configured TURN servers, and the well-known file never does.

use catalk_relay::turn::{TurnConfig, password};
use catalk_testkit::{TestClient, TestRelay, http_get, relay_config, user_key};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[tokio::test]
async fn each_login_gets_its_own_short_lived_turn_credentials() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.turn = Some(TurnConfig {
        urls: vec!["turn:turn.example.org:3478".into()],
        secret: "not-in-any-public-file".into(),
        ttl: Duration::from_secs(600),
    });
    let relay = TestRelay::start(config).await?;
    let ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let servers = ada.welcome.as_ref().map(|w| w.ice_servers.clone()).unwrap_or_default();
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0].urls, vec!["turn:turn.example.org:3478".to_owned()]);
    let username = servers[0].username.clone().unwrap_or_default();
    let (expiry, key) = username.split_once(':').unwrap_or_default();
    assert_eq!(key, ada.public_key().to_string(), "the username names the client");
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let expiry: u64 = expiry.parse()?;
    assert!((now + 590..=now + 610).contains(&expiry), "valid for the ttl: {expiry} vs {now}");
    assert_eq!(servers[0].credential, Some(password("not-in-any-public-file", &username)));

    let (_, body) = http_get(relay.addr, "/.well-known/catalk.json").await?;
    assert!(!body.contains("turn.example.org") && !body.contains(&username), "nothing of TURN is public: {body}");
    let bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let bobs = bob.welcome.as_ref().map(|w| w.ice_servers.clone()).unwrap_or_default();
    assert_ne!(bobs[0].username, servers[0].username, "credentials are per client");
    relay.stop().await
}

#[tokio::test]
async fn the_welcome_names_the_published_servers_first_so_native_peers_need_no_well_known_file() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.ice_servers = vec!["stun:relay.example.org:8080".parse()?];
    config.turn = Some(TurnConfig {
        urls: vec!["turn:turn.example.org:3478".into()],
        secret: "s".into(),
        ttl: Duration::from_secs(600),
    });
    let relay = TestRelay::start(config).await?;
    let ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let servers = ada.welcome.as_ref().map(|w| w.ice_servers.clone()).unwrap_or_default();
    let urls: Vec<&str> = servers.iter().flat_map(|s| s.urls.iter().map(String::as_str)).collect();
    assert_eq!(urls, ["stun:relay.example.org:8080", "turn:turn.example.org:3478"]);
    assert!(servers[0].username.is_none() && servers[1].username.is_some());
    relay.stop().await
}
