//! `IceServer` parsing: the formats `--ice-server` and `CATALK_ICE_SERVERS` accept.

use catalk_rtc::{IceServer, IceServerParseError};

fn parse(text: &str) -> Result<IceServer, IceServerParseError> {
    text.parse()
}

#[test]
fn stun_url_parses_without_credentials() {
    let server = parse("stun:stun.example.org:3478").expect("valid");
    assert_eq!(server.urls, ["stun:stun.example.org:3478"]);
    assert_eq!((server.username, server.credential), (None, None));
    assert_eq!(parse("stun:192.0.2.1").expect("valid").urls, ["stun:192.0.2.1"]);
    assert_eq!(parse("stuns:[2001:db8::1]:5349").expect("valid").urls, ["stuns:[2001:db8::1]:5349"]);
}

#[test]
fn turn_url_takes_credentials_out_of_the_url() {
    let server = parse("turn:alice:s3cr:t@x@relay.example.org:3478?transport=tcp").expect("valid");
    assert_eq!(server.urls, ["turn:relay.example.org:3478?transport=tcp"]);
    assert_eq!(server.username.as_deref(), Some("alice"));
    assert_eq!(server.credential.as_deref(), Some("s3cr:t@x"));
    let server = parse("turns:bob:pw@10.0.0.1").expect("valid");
    assert_eq!(server.urls, ["turns:10.0.0.1"]);
}

#[test]
fn list_splits_on_commas_and_whitespace() {
    let servers =
        IceServer::parse_list(" stun:a.example:3478, turn:u:p@b.example:3478\nstun:c.example ").expect("valid");
    let urls: Vec<_> = servers.iter().map(|s| s.urls[0].as_str()).collect();
    assert_eq!(urls, ["stun:a.example:3478", "turn:b.example:3478", "stun:c.example"]);
    assert_eq!(IceServer::parse_list("  ").expect("empty is valid"), []);
}

#[test]
fn bad_strings_are_rejected_with_the_reason() {
    assert!(matches!(parse("http://example.org"), Err(IceServerParseError::Scheme(_))));
    assert!(matches!(parse("stun.example.org:3478"), Err(IceServerParseError::Scheme(_))));
    assert!(matches!(parse(""), Err(IceServerParseError::Scheme(_))));
    assert!(matches!(parse("stun:"), Err(IceServerParseError::Host(_))));
    assert!(matches!(parse("stun:bad host"), Err(IceServerParseError::Host(_))));
    assert!(matches!(parse("stun:[::1"), Err(IceServerParseError::Host(_))));
    assert!(matches!(parse("stun:host:0"), Err(IceServerParseError::Port(_))));
    assert!(matches!(parse("stun:host:70000"), Err(IceServerParseError::Port(_))));
    assert!(matches!(parse("stun:host:"), Err(IceServerParseError::Port(_))));
    assert!(matches!(parse("turn:relay.example.org:3478"), Err(IceServerParseError::MissingCredentials(_))));
    assert!(matches!(parse("turn:alice@relay.example.org"), Err(IceServerParseError::MissingCredentials(_))));
    assert!(matches!(parse("turn::pw@relay.example.org"), Err(IceServerParseError::MissingCredentials(_))));
    assert!(matches!(parse("stun:u:p@stun.example.org"), Err(IceServerParseError::UnexpectedCredentials(_))));
    assert!(matches!(parse("turn:u:p@relay.example.org?transport=sctp"), Err(IceServerParseError::Host(_))));
    assert!(IceServer::parse_list("stun:a.example, nonsense").is_err());
}

#[test]
fn errors_do_not_show_the_password() {
    let error = parse("turn:alice:hunter2@bad host").expect_err("bad host");
    assert!(!error.to_string().contains("hunter2"), "{error}");
    let error = parse("stun:alice:hunter2@stun.example.org").expect_err("credentials on stun");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}
