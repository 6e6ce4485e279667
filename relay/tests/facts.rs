//! Posting: relay-signed message facts, ids, chains and bad posts.

use catalk_proto::{ClientFrame, DraftId, ErrorCode, Fact, FactBody, FactId, PostFrame, ServerFrame, Signature};
use catalk_testkit::{TestClient, TestRelay, relay_config, user_key};

fn is_message(fact: &Fact) -> bool {
    matches!(fact.body, FactBody::Message { .. })
}

fn prev_of(fact: &Fact) -> Option<FactId> {
    match &fact.body {
        FactBody::Message { prev, .. } => *prev,
        _ => None,
    }
}

#[tokio::test]
async fn every_client_receives_the_same_signed_message() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let ServerFrame::Ack { id: Some(id), .. } = ada.post("general", "hello bob").await? else {
        anyhow::bail!("post not acked");
    };
    let at_ada = ada.fact_where(is_message).await?;
    let at_bob = bob.fact_where(is_message).await?;
    assert_eq!(at_ada, at_bob);
    assert_eq!(at_bob.id, id);
    let relay_key = ada.relay;
    assert_eq!(at_bob.verify(|k| *k == relay_key), Ok(()), "relay and author signatures verify");
    let FactBody::Message { author, text, channel, epoch, .. } = &at_bob.body else { unreachable!() };
    assert_eq!(*author, ada.public_key());
    assert_eq!(text, "hello bob");
    assert_eq!(channel.as_str(), "general");
    assert_eq!(Some(*epoch), ada.welcome.as_ref().map(|w| w.epoch.id));
    Ok(())
}

#[tokio::test]
async fn ids_strictly_increase_and_prev_chains_each_channel() -> anyhow::Result<()> {
    let mut config = relay_config();
    config.owners = vec![catalk_proto::PublicKey::of(&user_key(1))];
    let relay = TestRelay::start(config).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let general = ada.welcome.as_ref().and_then(|w| {
        w.channels
            .iter()
            .find(|c| matches!(&c.body, FactBody::Channel { name, .. } if name.as_str() == "general"))
            .map(|c| c.id)
    });
    let ServerFrame::Ack { id: Some(dev), .. } =
        ada.request(&ClientFrame::CreateChannel { rid: 100, name: "dev".into() }).await?
    else {
        anyhow::bail!("create refused");
    };
    for n in 0..20 {
        let (who, channel) = if n % 2 == 0 { (&mut ada, "general") } else { (&mut bob, "dev") };
        assert!(matches!(who.post(channel, &format!("message {n}")).await?, ServerFrame::Ack { .. }));
    }
    let mut seen = Vec::new();
    while seen.len() < 20 {
        seen.push(bob.fact_where(is_message).await?);
    }
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id), "ids strictly increase");
    let mut heads = std::collections::HashMap::new();
    heads.insert("general", general);
    heads.insert("dev", Some(dev));
    for fact in &seen {
        let FactBody::Message { channel, .. } = &fact.body else { unreachable!() };
        let head = heads.get_mut(channel.as_str()).expect("known channel");
        assert_eq!(prev_of(fact), *head, "prev links to the previous message in {channel}");
        *head = Some(fact.id);
    }
    Ok(())
}

#[tokio::test]
async fn bad_posts_are_refused_and_sign_nothing() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;

    // Author signature over other text.
    let mut frame = ada.post_frame("general", "original");
    if let ClientFrame::Post(post) = &mut frame {
        post.text = "tampered".into();
    }
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Error { code: ErrorCode::BadSignature, .. }));

    // Someone else's signature.
    let mut frame = bob.post_frame("general", "bob's words");
    if let ClientFrame::Post(post) = &mut frame {
        post.rid = 500;
    }
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Error { code: ErrorCode::BadSignature, .. }));

    let frame = ada.post_frame("nowhere", "hi");
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Error { code: ErrorCode::UnknownChannel, .. }));
    let frame = ada.post_frame("Not Valid", "hi");
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Error { code: ErrorCode::InvalidChannelName, .. }));
    let frame = ada.post_frame("general", "   ");
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Error { code: ErrorCode::InvalidBody, .. }));
    let frame = ada.post_frame("general", &"x".repeat(5000));
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Error { code: ErrorCode::InvalidBody, .. }));
    let bad_sig = ClientFrame::Post(PostFrame {
        rid: 77,
        channel: "general".into(),
        draft: DraftId::from_parts(1, 1),
        text: "x".into(),
        sig: Signature::from_bytes([0; 64]),
    });
    assert!(matches!(ada.request(&bad_sig).await?, ServerFrame::Error { code: ErrorCode::BadSignature, .. }));

    // Nothing above produced a message fact.
    let frames = bob.drain(std::time::Duration::from_millis(200)).await;
    assert!(!frames.iter().any(|f| matches!(f, ServerFrame::Fact { fact } if is_message(fact))), "{frames:?}");
    Ok(())
}

#[tokio::test]
async fn a_retried_draft_is_refused_as_duplicate() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let frame = ada.post_frame("general", "once");
    assert!(matches!(ada.request(&frame).await?, ServerFrame::Ack { .. }));
    let ClientFrame::Post(mut again) = frame else { unreachable!() };
    again.rid = 999;
    let again = ClientFrame::Post(again);
    assert!(matches!(
        ada.request(&again).await?,
        ServerFrame::Error { code: ErrorCode::DuplicateDraft, rid: Some(999), .. }
    ));
    Ok(())
}

#[tokio::test]
async fn presence_announces_arrivals_and_departures() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let mut ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let bob_key = bob.public_key();
    let arrived =
        ada.fact_where(|f| matches!(&f.body, FactBody::Presence { key, online: true, .. } if *key == bob_key)).await?;
    let FactBody::Presence { name, privileges, .. } = &arrived.body else { unreachable!() };
    assert_eq!(name.as_str(), "bob");
    assert!(privileges.post && !privileges.owner);
    drop(bob);
    ada.fact_where(|f| matches!(&f.body, FactBody::Presence { key, online: false, .. } if *key == bob_key)).await?;
    Ok(())
}

#[tokio::test]
async fn others_presence_follows_the_welcome_as_separate_frames() -> anyhow::Result<()> {
    let relay = TestRelay::start(relay_config()).await?;
    let ada = TestClient::login(&relay.ws_url(), user_key(1), "ada").await?;
    let ada_key = ada.public_key();
    let mut bob = TestClient::login(&relay.ws_url(), user_key(2), "bob").await?;
    let welcome = bob.welcome.clone().expect("welcome");
    assert_eq!(welcome.online.len(), 1, "the welcome holds only bob's own presence");
    assert_eq!(welcome.online_count, 2);
    bob.fact_where(|f| matches!(&f.body, FactBody::Presence { key, online: true, .. } if *key == ada_key)).await?;
    Ok(())
}
