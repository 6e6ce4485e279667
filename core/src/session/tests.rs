use super::*;
use crate::conformance::message;
use catalk_proto::{Endorsement, Limits, Nonce, WelcomeFrame, verify_login};

fn relay_key() -> ed25519_dalek::SigningKey {
    // The key that signs `conformance::message` facts.
    ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32])
}

fn session() -> ClientSession {
    let key = ed25519_dalek::SigningKey::from_bytes(&[0x31; 32]);
    ClientSession::new(key, DisplayName::new("ada").unwrap())
}

fn drain(session: &mut ClientSession) -> Vec<Output> {
    std::iter::from_fn(|| session.poll_output()).collect()
}

fn sent(outputs: &[Output]) -> Vec<ClientFrame> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send(text) => Some(serde_json::from_str(text).unwrap()),
            _ => None,
        })
        .collect()
}

fn challenge(session: &mut ClientSession) -> (Nonce, Vec<Output>) {
    session.start(0);
    session.handle_connected(0);
    let nonce = Nonce::from_bytes([9; 32]);
    let frame = ServerFrame::Challenge {
        nonce,
        relay: PublicKey::of(&relay_key()),
        protocol: 1,
        expires_in_ms: 30_000,
        trusted: Vec::new(),
        endorsed_by: Vec::new(),
    };
    session.handle_text(0, &serde_json::to_string(&frame).unwrap());
    (nonce, drain(session))
}

fn welcome_for(session: &ClientSession, rid: u64) -> String {
    let relay = relay_key();
    let epoch = Fact::sign(&relay, FactId::from_parts(10, 0), FactBody::Epoch {});
    let general = Fact::sign(
        &relay,
        FactId::from_parts(10, 1),
        FactBody::Channel { name: ChannelName::general(), creator: PublicKey::of(&relay) },
    );
    let me = Fact::sign(
        &relay,
        FactId::from_parts(10, 2),
        FactBody::Presence {
            key: session.public_key(),
            name: DisplayName::new("ada").unwrap(),
            online: true,
            privileges: Privileges::POSTER,
        },
    );
    let welcome = WelcomeFrame {
        rid,
        key: session.public_key(),
        conn: 1,
        privileges: Privileges::POSTER,
        epoch,
        channels: vec![general],
        online: vec![me],
        online_count: 1,
        grant: None,
        limits: Limits::default(),
        trusted: vec![PublicKey::of(&relay)],
        heads: Vec::new(),
        ice_servers: Vec::new(),
    };
    serde_json::to_string(&ServerFrame::Welcome(Box::new(welcome))).unwrap()
}

fn logged_in() -> ClientSession {
    let mut session = session();
    let (_, outputs) = challenge(&mut session);
    let rid = sent(&outputs)[0].rid();
    let welcome = welcome_for(&session, rid);
    session.handle_text(0, &welcome);
    drain(&mut session);
    session
}

#[test]
fn challenge_is_answered_with_a_valid_login_presenting_stored_facts() {
    let mut session = session();
    let stored = vec![message("general", 5, 1)];
    session.set_present(stored.clone());
    let (nonce, outputs) = challenge(&mut session);
    assert!(outputs.contains(&Output::Connect));
    let frames = sent(&outputs);
    let [ClientFrame::Login(login)] = frames.as_slice() else { panic!("{frames:?}") };
    assert_eq!(login.name, "ada");
    assert_eq!(login.facts, stored);
    assert_eq!(verify_login(&login.key, &nonce, &PublicKey::of(&relay_key()), &login.sig), Ok(()));
    assert_eq!(session.status(), ConnectionStatus::Connecting);
}

#[test]
fn welcome_makes_the_session_ready_and_persists_verified_facts() {
    let mut session = session();
    let (_, outputs) = challenge(&mut session);
    let rid = sent(&outputs)[0].rid();
    session.handle_text(0, &welcome_for(&session, rid));
    let outputs = drain(&mut session);
    assert_eq!(session.status(), ConnectionStatus::Connected);
    let persisted: Vec<&Fact> =
        outputs.iter().filter_map(|o| if let Output::Persist(f) = o { Some(f) } else { None }).flatten().collect();
    assert_eq!(persisted.len(), 2, "epoch and general");
    assert!(outputs.iter().any(|o| matches!(o, Output::Event(Event::Ready { .. }))));
    assert_eq!(session.online_views().len(), 1);
    assert_eq!(session.channel_views()[0].name, "general");
}

#[test]
fn facts_beyond_one_frame_are_presented_after_welcome() {
    let mut session = session();
    let many: Vec<Fact> = (0..600).map(|n| message("general", 5, n)).collect();
    session.set_present(many);
    let (_, outputs) = challenge(&mut session);
    let frames = sent(&outputs);
    let ClientFrame::Login(login) = &frames[0] else { panic!() };
    assert!(login.facts.len() <= PRESENT_BUDGET_FACTS);
    let welcome = welcome_for(&session, login.rid);
    session.handle_text(0, &welcome);
    let later: usize = sent(&drain(&mut session))
        .iter()
        .map(|f| if let ClientFrame::Present { facts, .. } = f { facts.len() } else { 0 })
        .sum();
    assert_eq!(login.facts.len() + later, 600);
}

#[test]
fn forged_live_fact_is_dropped_and_not_persisted() {
    let mut session = logged_in();
    let mut forged = message("general", 20, 1);
    if let FactBody::Message { text, .. } = &mut forged.body {
        *text = "forged".into();
    }
    session.handle_text(0, &serde_json::to_string(&ServerFrame::Fact { fact: forged }).unwrap());
    let outputs = drain(&mut session);
    assert!(outputs.iter().any(|o| matches!(o, Output::Event(Event::Dropped { .. }))), "{outputs:?}");
    assert!(!outputs.iter().any(|o| matches!(o, Output::Persist(_))));

    session.handle_text(0, "{\"t\":\"fact\",\"fact\":42}");
    assert!(drain(&mut session).iter().any(|o| matches!(o, Output::Event(Event::Dropped { .. }))));

    let genuine = message("general", 21, 2);
    session.handle_text(0, &serde_json::to_string(&ServerFrame::Fact { fact: genuine.clone() }).unwrap());
    let outputs = drain(&mut session);
    assert!(outputs.contains(&Output::Persist(vec![genuine])));
    assert!(outputs.iter().any(|o| matches!(o, Output::Event(Event::Message { .. }))));
}

#[test]
fn post_is_signed_and_resolved_by_ack_or_error() {
    let mut session = logged_in();
    let rid = session.post("general", "hello", DraftId::from_parts(1, 1)).unwrap();
    let frames = sent(&drain(&mut session));
    let [ClientFrame::Post(post)] = frames.as_slice() else { panic!("{frames:?}") };
    assert_eq!(post.rid, rid);
    let general = ChannelName::general();
    assert_eq!(
        catalk_proto::verify_author(
            &session.public_key(),
            &PublicKey::of(&relay_key()),
            &general,
            &post.draft,
            "hello",
            &post.sig
        ),
        Ok(())
    );
    let id = FactId::from_parts(30, 1);
    session.handle_text(0, &serde_json::to_string(&ServerFrame::Ack { rid, id: Some(id), adopted: None }).unwrap());
    assert!(drain(&mut session).contains(&Output::Resolve { rid, result: Ok(Some(id)) }));

    let rid = session.create_channel("dev").unwrap();
    drain(&mut session);
    let error = ServerFrame::Error { rid: Some(rid), code: ErrorCode::Forbidden, message: "no".into() };
    session.handle_text(0, &serde_json::to_string(&error).unwrap());
    let outputs = drain(&mut session);
    assert!(
        outputs.iter().any(
            |o| matches!(o, Output::Resolve { result: Err(e), .. } if e.code == ActionCode::Relay(ErrorCode::Forbidden))
        ),
        "{outputs:?}"
    );
}

#[test]
fn actions_while_offline_fail_at_once() {
    let mut session = session();
    assert_eq!(session.post("general", "x", DraftId::from_parts(1, 1)).map_err(|e| e.code), Err(ActionCode::Offline));
    let mut session = logged_in();
    assert_eq!(session.post("Bad Name", "x", DraftId::from_parts(1, 1)).map_err(|e| e.code), Err(ActionCode::Invalid));
}

#[test]
fn a_drop_fails_pending_requests_and_reconnects_with_backoff() {
    let mut session = logged_in();
    let rid = session.post("general", "in flight", DraftId::from_parts(1, 2)).unwrap();
    drain(&mut session);
    session.handle_closed(1_000, 0.0);
    let outputs = drain(&mut session);
    assert!(outputs.iter().any(
        |o| matches!(o, Output::Resolve { rid: r, result: Err(e) } if *r == rid && e.code == ActionCode::Offline)
    ));
    assert_eq!(session.status(), ConnectionStatus::Reconnecting);
    let at = session.poll_timeout().unwrap();
    assert!(at > 1_000);
    session.handle_timeout(at - 1);
    assert!(!drain(&mut session).contains(&Output::Connect), "not before the delay");
    session.handle_timeout(at);
    assert!(drain(&mut session).contains(&Output::Connect));
    // A second failure waits longer (backoff grows).
    session.handle_closed(at, 0.0);
    let second = session.poll_timeout().unwrap() - at;
    assert!(second > at - 1_000, "{second} vs {}", at - 1_000);
}

#[test]
fn a_reconnect_presents_grants_channels_and_heads_that_arrived_since_the_page_loaded() {
    let mut session = logged_in();
    let relay = relay_key();
    let grant = Fact::sign(
        &relay,
        FactId::from_parts(20, 0),
        FactBody::Grant {
            grantee: session.public_key(),
            privileges: Privileges::OWNER_ALL,
            issuer: session.public_key(),
        },
    );
    let design = Fact::sign(
        &relay,
        FactId::from_parts(21, 0),
        FactBody::Channel { name: ChannelName::new("design").unwrap(), creator: session.public_key() },
    );
    let head = message("general", 22, 1);
    for fact in [&grant, &design, &head] {
        session.handle_text(22, &serde_json::to_string(&ServerFrame::Fact { fact: fact.clone() }).unwrap());
    }
    drain(&mut session);
    session.handle_closed(23, 0.5);
    let retry = session.poll_timeout().unwrap_or(0);
    session.handle_timeout(retry);
    session.handle_connected(retry);
    let frame = ServerFrame::Challenge {
        nonce: Nonce::from_bytes([8; 32]),
        relay: PublicKey::of(&relay),
        protocol: 1,
        expires_in_ms: 30_000,
        trusted: Vec::new(),
        endorsed_by: Vec::new(),
    };
    session.handle_text(retry, &serde_json::to_string(&frame).unwrap());
    let frames = sent(&drain(&mut session));
    let Some(ClientFrame::Login(login)) = frames.last() else { panic!("{frames:?}") };
    assert_eq!(login.facts.first(), Some(&grant), "grants first");
    assert!(login.facts.contains(&design));
    assert!(login.facts.contains(&head));
}

#[test]
fn stopping_resolves_requests_in_flight_as_offline() {
    let mut session = logged_in();
    let rid = session.post("general", "hello", DraftId::from_parts(5, 5)).unwrap();
    drain(&mut session);
    session.stop();
    let outputs = drain(&mut session);
    assert!(
        outputs.iter().any(
            |o| matches!(o, Output::Resolve { rid: r, result: Err(e) } if *r == rid && e.code == ActionCode::Offline)
        ),
        "{outputs:?}"
    );
}

mod relay_key;
