//! Presence fan-out: everyone hears about everyone while few are online; past
//! `presence_announce_max`, a newcomer is announced only once it posts.

use catalk_proto::{Fact, FactBody, PublicKey, ServerFrame};
use catalk_testkit::{TestClient, TestRelay, relay_config, user_key};
use std::time::Duration;

/// The keys of the presence facts among `frames`, with their `online` flag.
fn presence(frames: &[ServerFrame]) -> Vec<(PublicKey, bool)> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Fact { fact: Fact { body: FactBody::Presence { key, online, .. }, .. } } => {
                Some((*key, *online))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn past_the_limit_newcomers_are_announced_when_they_post_and_only_then_when_they_leave() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.limits.presence_announce_max = 2;
    let relay = TestRelay::start(config).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let mut cy = TestClient::login(&relay.ws_url(), user_key(3), "cy").await?;
    let seen = presence(&ada.drain(Duration::from_millis(300)).await);
    assert!(seen.contains(&(bob.public_key(), true)), "bob is announced: {seen:?}");
    assert!(!seen.iter().any(|(k, _)| *k == cy.public_key()), "cy, the third, is not: {seen:?}");

    // A newcomer is told about the announced keys only.
    let mut dee = TestClient::login(&relay.ws_url(), user_key(4), "dee").await?;
    let told = presence(&dee.drain(Duration::from_millis(300)).await);
    assert!(told.contains(&(ada.public_key(), true)) && told.contains(&(bob.public_key(), true)), "{told:?}");
    assert!(!told.iter().any(|(k, _)| *k == cy.public_key()), "{told:?}");
    assert_eq!(dee.welcome.as_ref().map(|w| w.online_count), Some(4), "the count still counts everyone");

    // Cy posts: everyone learns cy's presence right before the message.
    assert!(matches!(cy.post("general", "hello from cy").await?, ServerFrame::Ack { .. }));
    let cy_key = cy.public_key();
    let mut before_message = Vec::new();
    loop {
        let frame = ada.recv().await?;
        if matches!(&frame, ServerFrame::Fact { fact } if matches!(&fact.body, FactBody::Message { author, .. } if *author == cy_key))
        {
            break;
        }
        before_message.push(frame);
    }
    assert!(presence(&before_message).contains(&(cy_key, true)), "{before_message:?}");

    // Cy (announced now) leaving is announced; dee (never announced) leaving is not.
    let dee_key = dee.public_key();
    drop(cy);
    drop(dee);
    let after = presence(&ada.drain(Duration::from_millis(500)).await);
    assert!(after.contains(&(cy_key, false)), "{after:?}");
    assert!(!after.iter().any(|(k, _)| *k == dee_key), "{after:?}");
    drop(bob);
    Ok(())
}

#[tokio::test]
async fn owners_and_virtual_clients_are_always_announced() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.limits.presence_announce_max = 1;
    config.owners = vec![PublicKey::of(&user_key(8))];
    config.virtual_clients = vec![PublicKey::of(&user_key(9))];
    let relay = TestRelay::start(config).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let _bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let owner = TestClient::login(&relay.ws_url(), user_key(8), "owner").await?;
    let keeper = TestClient::login(&relay.ws_url(), user_key(9), "keeper").await?;
    let seen = presence(&ada.drain(Duration::from_millis(300)).await);
    assert!(seen.contains(&(owner.public_key(), true)), "{seen:?}");
    assert!(seen.contains(&(keeper.public_key(), true)), "{seen:?}");
    assert!(!seen.iter().any(|(k, _)| *k == PublicKey::of(&user_key(2))), "bob is past the limit: {seen:?}");
    Ok(())
}
