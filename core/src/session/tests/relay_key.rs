//! A relay that shows another signing key: stop and ask, accept, or a planned rotation.

use super::*;

fn other_relay() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x77; 32])
}

/// A session whose store holds `stored` (signed by [`relay_key`]), answering a challenge of `relay`.
fn challenged_by(stored: &[Fact], relay: &ed25519_dalek::SigningKey, older: Older) -> (ClientSession, Vec<Output>) {
    let mut session = session();
    session.remember_relay_signers(stored);
    session.set_present(stored.to_vec());
    let outputs = answer(&mut session, relay, older);
    (session, outputs)
}

/// What a challenge says about older keys: the ones it accepts, and their endorsements.
type Older = (Vec<PublicKey>, Vec<Endorsement>);

fn none() -> Older {
    (Vec::new(), Vec::new())
}

fn answer(session: &mut ClientSession, relay: &ed25519_dalek::SigningKey, (older, endorsed_by): Older) -> Vec<Output> {
    session.start(0);
    session.handle_connected(0);
    let frame = ServerFrame::Challenge {
        nonce: Nonce::from_bytes([3; 32]),
        relay: PublicKey::of(relay),
        protocol: 1,
        expires_in_ms: 30_000,
        trusted: older,
        endorsed_by,
    };
    session.handle_text(0, &serde_json::to_string(&frame).unwrap());
    drain(session)
}

fn logins(outputs: &[Output]) -> Vec<LoginFrame> {
    sent(outputs)
        .into_iter()
        .filter_map(|f| match f {
            ClientFrame::Login(login) => Some(login),
            _ => None,
        })
        .collect()
}

#[test]
fn an_unknown_relay_key_stops_the_session_without_logging_in_or_retrying() {
    let stored = [message("general", 5, 1)];
    let (mut session, outputs) = challenged_by(&stored, &other_relay(), none());
    assert!(logins(&outputs).is_empty(), "{outputs:?}");
    assert!(outputs.contains(&Output::Disconnect));
    let changed = Event::RelayKeyChanged {
        previous: vec![PublicKey::of(&relay_key()).to_string()],
        current: PublicKey::of(&other_relay()).to_string(),
    };
    assert!(outputs.contains(&Output::Event(changed)), "{outputs:?}");
    assert_eq!(session.status(), ConnectionStatus::KeyChanged);
    session.handle_closed(10, 0.5);
    assert_eq!(session.poll_timeout(), None, "no reconnect loop");
    assert_eq!(session.status(), ConnectionStatus::KeyChanged);
    assert_eq!(session.relay_key_change().map(|c| c.current), Some(PublicKey::of(&other_relay())));
}

#[test]
fn accepting_the_new_key_logs_in_presenting_only_what_the_new_relay_can_verify() {
    let old = message("general", 5, 1);
    let (mut session, _) = challenged_by(std::slice::from_ref(&old), &other_relay(), none());
    assert!(session.accept_relay_key(20));
    assert!(drain(&mut session).contains(&Output::Connect));
    let outputs = answer(&mut session, &other_relay(), none());
    let [login] = logins(&outputs).try_into().unwrap_or_else(|l| panic!("{l:?}"));
    assert!(login.facts.is_empty(), "the old relay's facts would fail the login: {:?}", login.facts);
    assert!(session.trusted().contains(&PublicKey::of(&relay_key())), "old history stays verified");
    assert!(session.trusted().contains(&PublicKey::of(&other_relay())));
    assert!(session.relay_key_change().is_none());
    assert!(!session.accept_relay_key(30), "nothing waits any more");
}

#[test]
fn a_planned_rotation_endorsed_by_the_old_key_is_trusted_and_the_history_presented() {
    let old = message("general", 5, 1);
    let endorsement = Endorsement::sign(&relay_key(), &PublicKey::of(&other_relay()));
    let older = (vec![PublicKey::of(&relay_key())], vec![endorsement]);
    let (session, outputs) = challenged_by(std::slice::from_ref(&old), &other_relay(), older);
    let [login] = logins(&outputs).try_into().unwrap_or_else(|l| panic!("{l:?}"));
    assert_eq!(login.facts, vec![old]);
    assert_eq!(session.status(), ConnectionStatus::Connecting);
}

#[test]
fn naming_the_old_key_without_its_endorsement_is_still_a_change() {
    let old = message("general", 5, 1);
    // An impostor can copy the old public key into its challenge, but cannot sign with it.
    let forged = Endorsement {
        key: PublicKey::of(&relay_key()),
        sig: Endorsement::sign(&other_relay(), &PublicKey::of(&other_relay())).sig,
    };
    for older in [(vec![PublicKey::of(&relay_key())], Vec::new()), (vec![PublicKey::of(&relay_key())], vec![forged])] {
        let (session, outputs) = challenged_by(std::slice::from_ref(&old), &other_relay(), older);
        assert!(logins(&outputs).is_empty(), "{outputs:?}");
        assert_eq!(session.status(), ConnectionStatus::KeyChanged);
    }
}

#[test]
fn a_device_with_no_history_trusts_the_relay_it_first_meets() {
    let (session, outputs) = challenged_by(&[], &other_relay(), none());
    assert_eq!(logins(&outputs).len(), 1);
    assert!(session.relay_key_change().is_none());
}
