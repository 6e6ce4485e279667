//! Bad configuration gets one clear line on stderr and a non-zero exit.

use std::process::Command;

fn vclient(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_catalk-vclient"))
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("run catalk-vclient");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).trim().to_owned())
}

fn assert_one_line_error(args: &[&str], expected: &str) {
    let (code, stderr) = vclient(args);
    assert_ne!(code, 0, "exit code for {args:?}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(expected), "{stderr:?} should mention {expected:?}");
}

#[test]
fn a_relay_url_that_is_not_a_websocket_url_is_refused() {
    assert_one_line_error(&["--relay-url", "https://example.org"], "not a ws:// or wss:// URL");
}

#[test]
fn an_unreadable_or_garbled_key_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("bad.key");
    std::fs::write(&key, "not a key").expect("write");
    assert_one_line_error(&["--key-file", key.to_str().expect("utf8")], "key is not 43 characters");
    let missing_dir = dir.path().join("no/such/dir/vclient.key");
    assert_one_line_error(&["--key-file", missing_dir.to_str().expect("utf8")], "key file");
}

#[test]
fn a_store_path_that_cannot_be_written_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("vclient.key");
    let store = dir.path().join("no/such/dir/history.redb");
    assert_one_line_error(
        &["--key-file", key.to_str().expect("utf8"), "--store", store.to_str().expect("utf8")],
        "store path",
    );
}

#[test]
fn a_relay_that_is_not_there_is_reported_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("vclient.key");
    let store = dir.path().join("history.redb");
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let url = format!("ws://127.0.0.1:{port}/ws");
    assert_one_line_error(
        &["--key-file", key.to_str().expect("utf8"), "--store", store.to_str().expect("utf8"), "--relay-url", &url],
        "cannot reach a catalk relay",
    );
}

#[test]
fn print_key_prints_the_public_key_and_keeps_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("vclient.key");
    let print = || {
        let out = Command::new(env!("CARGO_BIN_EXE_catalk-vclient"))
            .args(["--print-key", "--key-file", key.to_str().expect("utf8")])
            .output()
            .expect("run");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let first = print();
    assert_eq!(first.len(), 43, "{first}");
    assert_eq!(print(), first, "the key file is reused");
}
