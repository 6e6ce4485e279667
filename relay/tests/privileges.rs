//! Owners, grants, revokes, the claim token and the newcomer policy.

use catalk_proto::{ClientFrame, ErrorCode, FactBody, Privileges, PublicKey, ServerFrame};
use catalk_relay::NewcomerPolicy;
use catalk_testkit::{TEST_CLAIM_TOKEN, TestClient, TestRelay, relay_config, user_key};

fn create(rid: u64, name: &str) -> ClientFrame {
    ClientFrame::CreateChannel { rid, name: name.into() }
}

fn grant(rid: u64, key: PublicKey, privileges: Privileges) -> ClientFrame {
    ClientFrame::Grant { rid, key, privileges }
}

const CREATOR: Privileges = Privileges { post: true, create_channel: true, owner: false, virtual_client: false };

#[tokio::test]
async fn unprivileged_channel_creation_is_forbidden_until_granted() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.owners = vec![PublicKey::of(&user_key(1))];
    let relay = TestRelay::start(config).await?;
    let mut owner = TestClient::login(&relay.ws_url(), user_key(1), "owner").await?;
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    assert!(matches!(bob.request(&create(1, "bobs")).await?, ServerFrame::Error { code: ErrorCode::Forbidden, .. }));
    // Bob cannot grant himself anything either.
    let frame = grant(2, bob.public_key(), CREATOR);
    assert!(matches!(bob.request(&frame).await?, ServerFrame::Error { code: ErrorCode::Forbidden, .. }));

    let frame = grant(3, bob.public_key(), CREATOR);
    assert!(matches!(owner.request(&frame).await?, ServerFrame::Ack { id: Some(_), .. }));
    let bob_key = bob.public_key();
    // Bob's presence now attests the privilege.
    bob.fact_where(|f| matches!(&f.body, FactBody::Presence { key, privileges, .. } if *key == bob_key && privileges.create_channel))
        .await?;
    assert!(matches!(bob.request(&create(4, "bobs")).await?, ServerFrame::Ack { id: Some(_), .. }));
    let channel =
        owner.fact_where(|f| matches!(&f.body, FactBody::Channel { name, .. } if name.as_str() == "bobs")).await?;
    assert!(matches!(&channel.body, FactBody::Channel { creator, .. } if *creator == bob_key));
    assert!(matches!(
        bob.request(&create(5, "bobs")).await?,
        ServerFrame::Error { code: ErrorCode::ChannelExists, .. }
    ));

    // Revoke: a newer grant with fewer privileges wins.
    let frame = grant(6, bob.public_key(), Privileges::NONE);
    assert!(matches!(owner.request(&frame).await?, ServerFrame::Ack { .. }));
    assert!(matches!(bob.request(&create(7, "more")).await?, ServerFrame::Error { code: ErrorCode::Forbidden, .. }));
    assert!(matches!(bob.post("general", "can I?").await?, ServerFrame::Error { code: ErrorCode::Forbidden, .. }));
    Ok(())
}

#[tokio::test]
async fn claim_token_makes_an_owner_once() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let wrong = ClientFrame::Claim { rid: 1, token: "guess".into() };
    assert!(matches!(bob.request(&wrong).await?, ServerFrame::Error { code: ErrorCode::InvalidClaim, .. }));
    let right = ClientFrame::Claim { rid: 2, token: TEST_CLAIM_TOKEN.into() };
    assert!(matches!(ada.request(&right).await?, ServerFrame::Ack { id: Some(_), .. }));
    let again = ClientFrame::Claim { rid: 3, token: TEST_CLAIM_TOKEN.into() };
    assert!(matches!(bob.request(&again).await?, ServerFrame::Error { code: ErrorCode::InvalidClaim, .. }), "one use");
    let ada_key = ada.public_key();
    ada.fact_where(
        |f| matches!(&f.body, FactBody::Presence { key, privileges, .. } if *key == ada_key && privileges.owner),
    )
    .await?;
    assert!(matches!(ada.request(&create(4, "ops")).await?, ServerFrame::Ack { .. }));
    Ok(())
}

#[tokio::test]
async fn read_only_newcomers_cannot_post() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.newcomers = NewcomerPolicy::ReadOnly;
    config.owners = vec![PublicKey::of(&user_key(1))];
    let relay = TestRelay::start(config).await?;
    let mut owner = TestClient::login(&relay.ws_url(), user_key(1), "owner").await?;
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    assert_eq!(bob.welcome.as_ref().map(|w| w.privileges), Some(Privileges::NONE));
    assert!(matches!(bob.post("general", "hi").await?, ServerFrame::Error { code: ErrorCode::Forbidden, .. }));
    let frame = grant(1, bob.public_key(), Privileges::POSTER);
    assert!(matches!(owner.request(&frame).await?, ServerFrame::Ack { .. }));
    assert!(matches!(bob.post("general", "hi").await?, ServerFrame::Ack { .. }));
    Ok(())
}

#[tokio::test]
async fn a_configured_virtual_client_is_attested_as_one_and_may_not_post() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.virtual_clients = vec![PublicKey::of(&user_key(9))];
    let relay = TestRelay::start(config).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut keeper = TestClient::login(&relay.ws_url(), user_key(9), "keeper").await?;
    let welcome = keeper.welcome.clone().expect("welcome");
    assert_eq!(welcome.privileges, Privileges::VIRTUAL_CLIENT_ONLY);
    let keeper_key = keeper.public_key();
    ada.fact_where(|f| {
        matches!(&f.body, FactBody::Presence { key, privileges, .. } if *key == keeper_key && privileges.virtual_client)
    })
    .await?;
    assert!(matches!(keeper.post("general", "hi").await?, ServerFrame::Error { code: ErrorCode::Forbidden, .. }));
    // Everyone else is not one.
    assert!(!ada.welcome.clone().expect("welcome").privileges.virtual_client);
    Ok(())
}
