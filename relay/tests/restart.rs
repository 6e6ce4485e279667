//! Client-authoritative state: after a restart the relay re-adopts what clients present.

use catalk_proto::{ClientFrame, ErrorCode, Fact, FactBody, Privileges, PublicKey, ServerFrame};
use catalk_testkit::{TestClient, TestRelay, relay_config, user_key};

fn is_grant(fact: &Fact) -> bool {
    matches!(fact.body, FactBody::Grant { .. })
}

async fn restart(relay: TestRelay, config: catalk_relay::RelayConfig) -> anyhow::Result<TestRelay> {
    let addr = relay.addr;
    relay.stop().await?;
    // A new run's epoch must sort after the old run's facts, which a restart within the
    // same millisecond cannot promise (ids are time-ordered; the tail is random).
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    TestRelay::start_on(listener, config)
}

#[tokio::test]
async fn grant_survives_a_restart_when_the_client_presents_it() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.owners = vec![PublicKey::of(&user_key(1))];
    let relay = TestRelay::start(config.clone()).await?;
    let mut owner = TestClient::login(&relay.ws_url(), user_key(1), "owner").await?;
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let creator = Privileges { post: true, create_channel: true, owner: false, virtual_client: false };
    let frame = ClientFrame::Grant { rid: 1, key: bob.public_key(), privileges: creator };
    assert!(matches!(owner.request(&frame).await?, ServerFrame::Ack { .. }));
    let grant = bob.fact_where(is_grant).await?;
    drop((owner, bob));

    let relay = restart(relay, config).await?;
    // Without the grant, bob is a newcomer again.
    let mut forgetful = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let frame = ClientFrame::CreateChannel { rid: 1, name: "x".into() };
    assert!(matches!(forgetful.request(&frame).await?, ServerFrame::Error { code: ErrorCode::Forbidden, .. }));
    drop(forgetful);
    // Presenting the stored grant at login restores it.
    let mut bob = TestClient::login_with(&relay.ws_url(), user_key(2), "bob", vec![grant]).await?;
    assert_eq!(bob.welcome.as_ref().map(|w| w.privileges), Some(creator));
    assert!(matches!(bob.request(&frame).await?, ServerFrame::Ack { .. }));
    Ok(())
}

#[tokio::test]
async fn channels_and_chain_heads_are_re_adopted_after_restart() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.owners = vec![PublicKey::of(&user_key(1))];
    let relay = TestRelay::start(config.clone()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let old_epoch = ada.welcome.as_ref().map(|w| w.epoch.id);
    let general = ada.welcome.as_ref().map(|w| w.channels.clone()).unwrap_or_default();
    assert!(matches!(
        ada.request(&ClientFrame::CreateChannel { rid: 1, name: "dev".into() }).await?,
        ServerFrame::Ack { .. }
    ));
    let dev = ada.fact_where(|f| matches!(f.body, FactBody::Channel { .. })).await?;
    assert!(matches!(ada.post("dev", "before restart").await?, ServerFrame::Ack { .. }));
    let head = ada.fact_where(|f| matches!(f.body, FactBody::Message { .. })).await?;
    drop(ada);

    let relay = restart(relay, config).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let new_epoch = ada.welcome.as_ref().map(|w| w.epoch.id);
    assert_ne!(old_epoch, new_epoch, "a restart starts a new epoch");
    assert!(matches!(ada.post("dev", "lost").await?, ServerFrame::Error { code: ErrorCode::UnknownChannel, .. }));

    let mut facts = general.clone();
    facts.push(dev.clone());
    facts.push(head.clone());
    let ServerFrame::Ack { adopted: Some(adopted), .. } = ada.request(&ClientFrame::Present { rid: 50, facts }).await?
    else {
        anyhow::bail!("present refused");
    };
    assert_eq!(adopted, 3, "old general replaces the fresh one, dev is added, the head is adopted");
    assert!(matches!(ada.post("dev", "after restart").await?, ServerFrame::Ack { .. }));
    let after =
        ada.fact_where(|f| matches!(&f.body, FactBody::Message { text, .. } if text == "after restart")).await?;
    let FactBody::Message { prev, epoch, .. } = &after.body else { unreachable!() };
    assert_eq!(*prev, Some(head.id), "the chain continues across the restart");
    assert_eq!(Some(*epoch), new_epoch);

    // A fresh login sees the re-adopted general (same id as before the restart).
    let bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let ids: Vec<_> = bob.welcome.as_ref().map(|w| w.channels.iter().map(|c| c.id).collect()).unwrap_or_default();
    assert!(ids.contains(&general[0].id) && ids.contains(&dev.id), "{ids:?}");
    Ok(())
}

#[tokio::test]
async fn presented_facts_with_bad_or_untrusted_signatures_are_refused_whole() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.limits.max_present_facts = 3;
    let relay = TestRelay::start(config.clone()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let general = ada.welcome.as_ref().map(|w| w.channels.clone()).unwrap_or_default();

    // Signed by a key the relay does not trust.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[0x77; 32]);
    let rogue = Fact::sign(
        &stranger,
        catalk_proto::FactId::from_parts(1, 1),
        FactBody::Channel { name: catalk_proto::ChannelName::new("rogue")?, creator: PublicKey::of(&stranger) },
    );
    let mut facts = general.clone();
    facts.push(rogue);
    assert!(matches!(
        ada.request(&ClientFrame::Present { rid: 1, facts }).await?,
        ServerFrame::Error { code: ErrorCode::UntrustedSigner, .. }
    ));
    // Tampered relay fact.
    let mut tampered = general[0].clone();
    if let FactBody::Channel { name, .. } = &mut tampered.body {
        *name = catalk_proto::ChannelName::new("renamed")?;
    }
    assert!(matches!(
        ada.request(&ClientFrame::Present { rid: 2, facts: vec![tampered] }).await?,
        ServerFrame::Error { code: ErrorCode::BadSignature, .. }
    ));
    // Too many.
    let many = vec![general[0].clone(); config.limits.max_present_facts + 1];
    assert!(matches!(
        ada.request(&ClientFrame::Present { rid: 3, facts: many }).await?,
        ServerFrame::Error { code: ErrorCode::TooManyFacts, .. }
    ));
    let frame = ada.post_frame("rogue", "x");
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Error { code: ErrorCode::UnknownChannel, .. }));
    Ok(())
}

#[tokio::test]
async fn facts_signed_by_a_trusted_earlier_key_are_adopted() -> anyhow::Result<()> {
    let old = relay_config();
    let relay = TestRelay::start(old.clone()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let claim = ClientFrame::Claim { rid: 1, token: catalk_testkit::TEST_CLAIM_TOKEN.into() };
    assert!(matches!(ada.request(&claim).await?, ServerFrame::Ack { .. }));
    let grant = ada.fact_where(is_grant).await?;
    drop(ada);

    // Key rotation: the new relay key trusts the old one, which endorses it.
    let mut rotated = relay_config();
    rotated.signing_key = ed25519_dalek::SigningKey::from_bytes(&[0x43; 32]);
    rotated.previous_keys = vec![old.signing_key.clone()];
    let relay = restart(relay, rotated.clone()).await?;
    let ada = TestClient::login_with(&relay.ws_url(), user_key(1), "ada", vec![grant.clone()]).await?;
    assert!(ada.welcome.as_ref().is_some_and(|w| w.privileges.owner));
    assert_eq!(ada.older_keys, vec![old.public_key()], "the challenge names the old key");
    let [endorsement] = ada.endorsed_by.as_slice() else { panic!("one endorsement: {:?}", ada.endorsed_by) };
    assert_eq!(endorsement.key, old.public_key());
    assert!(endorsement.endorses(&rotated.public_key()), "signed by the old key, so devices keep trusting");
    drop(ada);

    // Only trusting the old public key accepts its facts, but endorses nothing.
    rotated.previous_keys.clear();
    rotated.trusted_keys = vec![old.public_key()];
    let relay = restart(relay, rotated.clone()).await?;
    let ada = TestClient::login_with(&relay.ws_url(), user_key(1), "ada", vec![grant.clone()]).await?;
    assert!(ada.welcome.as_ref().is_some_and(|w| w.privileges.owner));
    assert!(ada.endorsed_by.is_empty());
    drop(ada);

    // Without the trust entry the same fact is refused.
    rotated.trusted_keys.clear();
    let relay = restart(relay, rotated).await?;
    let err = TestClient::login_with(&relay.ws_url(), user_key(1), "ada", vec![grant]).await.err();
    assert!(format!("{err:?}").contains("UntrustedSigner"), "{err:?}");
    drop(relay);
    Ok(())
}

#[tokio::test]
async fn the_welcome_carries_each_channels_head_posted_or_presented() -> anyhow::Result<()> {
    let config = relay_config();
    let relay = TestRelay::start(config.clone()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    assert_eq!(ada.welcome.as_ref().map(|w| w.heads.len()), Some(0), "nothing posted yet");
    let general = ada.welcome.as_ref().map(|w| w.channels.clone()).unwrap_or_default();
    for text in ["one", "two"] {
        assert!(matches!(ada.post("general", text).await?, ServerFrame::Ack { .. }));
    }
    let head = ada.fact_where(|f| matches!(&f.body, FactBody::Message { text, .. } if text == "two")).await?;
    let bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    assert_eq!(bob.welcome.as_ref().map(|w| w.heads.clone()), Some(vec![head.clone()]), "the newest message only");
    drop((ada, bob));

    // After a restart the head is known again once someone presents it.
    let relay = restart(relay, config).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    assert_eq!(ada.welcome.as_ref().map(|w| w.heads.len()), Some(0));
    let mut facts = general;
    facts.push(head.clone());
    assert!(matches!(ada.request(&ClientFrame::Present { rid: 9, facts }).await?, ServerFrame::Ack { .. }));
    let cleo = TestClient::login(&relay.ws_url(), user_key(3), "cleo").await?;
    assert_eq!(cleo.welcome.as_ref().map(|w| w.heads.clone()), Some(vec![head]));
    Ok(())
}
