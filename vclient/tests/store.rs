//! The disk store on real files: conformance, retention, reopening, `kill -9`, bad paths.

use catalk_core::HistoryStore;
use catalk_core::conformance::{self, message};
use catalk_proto::{ChannelName, Fact, FactBody, FactId, PublicKey, SigningKey};
use catalk_vclient::{DiskStore, StoreOpenError, StoreOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const HOUR_MS: u64 = 60 * 60 * 1000;

fn channel(name: &str) -> ChannelName {
    ChannelName::new(name).expect("valid channel name")
}

fn channel_fact(name: &str, ms: u64) -> Fact {
    let relay = SigningKey::from_bytes(&[0x5a; 32]);
    let creator = PublicKey::of(&relay);
    Fact::sign(&relay, FactId::from_parts(ms, 0), FactBody::Channel { name: channel(name), creator })
}

fn ids(facts: &[Fact]) -> Vec<FactId> {
    facts.iter().map(|f| f.id).collect()
}

fn open(path: &Path, options: StoreOptions) -> DiskStore {
    DiskStore::open(path, options).expect("store opens")
}

#[tokio::test]
async fn disk_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir.path().join("history.redb"), StoreOptions::default());
    let report = conformance::run(&store).await;
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert!(report.passed >= 11, "{report:?}");
}

#[tokio::test]
async fn prune_drops_messages_older_than_the_window_and_keeps_channels() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = StoreOptions { retention: Duration::from_millis(HOUR_MS), ..StoreOptions::default() };
    let store = open(&dir.path().join("history.redb"), options);
    let now = 10 * HOUR_MS;
    let created = channel_fact("ret", 1_000);
    let old: Vec<Fact> = (0..5).map(|n| message("ret", 8 * HOUR_MS + n, n as u128)).collect();
    let boundary = message("ret", now - HOUR_MS, 50);
    let new: Vec<Fact> = (0..3).map(|n| message("ret", 9 * HOUR_MS + 1 + n, 100 + n as u128)).collect();
    let all = [vec![created.clone(), boundary.clone()], old.clone(), new.clone()].concat();
    assert_eq!(store.put_facts(&all).await.expect("put"), 10);
    assert_eq!(store.message_count().expect("count"), 9);

    let report = store.prune(now).expect("prune");
    assert_eq!((report.expired, report.over_cap, report.message_count), (5, 0, 4));
    let ch = channel("ret");
    let kept = store.messages_before(&ch, None, 100).await.expect("page");
    assert_eq!(ids(&kept), ids(&[vec![boundary], new].concat()));
    assert_eq!(store.count_messages(&ch).await.expect("count"), 4);
    assert_eq!(store.message_count().expect("count"), 4);
    assert_eq!(store.fact(old[0].id).await.expect("get"), None);
    assert_eq!(store.channels().await.expect("channels"), vec![created]);
    assert_eq!(store.stored_bytes().expect("bytes"), report.stored_bytes);
    let again = store.prune(now).expect("prune again");
    assert_eq!((again.expired, again.over_cap, again.stored_bytes), (0, 0, report.stored_bytes));
}

#[tokio::test]
async fn prune_over_the_size_cap_drops_the_oldest_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.redb");
    // Two channels, ids interleaved in time, all inside the retention window.
    let facts: Vec<Fact> = (0..20u64)
        .map(|n| message(if n.is_multiple_of(2) { "cap-a" } else { "cap-b" }, 5_000 + n, n as u128))
        .collect();
    let full_bytes = {
        let store = open(&path, StoreOptions::default());
        store.put_facts(&facts).await.expect("put");
        assert_eq!(store.prune(6_000).expect("prune under the cap").over_cap, 0);
        store.stored_bytes().expect("bytes")
    };
    let max_bytes = full_bytes * 6 / 10;
    let store = open(&path, StoreOptions { max_bytes, ..StoreOptions::default() });
    let report = store.prune(6_000).expect("prune");
    assert_eq!(report.expired, 0);
    assert!(report.over_cap >= 8, "{report:?}");
    assert!(report.stored_bytes <= max_bytes, "{report:?}");
    assert_eq!(store.stored_bytes().expect("bytes"), report.stored_bytes);
    let a = store.messages_before(&channel("cap-a"), None, 100).await.expect("page a");
    let b = store.messages_before(&channel("cap-b"), None, 100).await.expect("page b");
    let mut kept = ids(&[a, b].concat());
    kept.sort();
    assert_eq!(kept, ids(&facts[report.over_cap..]), "the newest survive");
    assert_eq!(store.message_count().expect("count"), (20 - report.over_cap) as u64);
}

#[tokio::test]
async fn reopened_store_holds_the_same_facts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.redb");
    let created = channel_fact("reopen", 1_000);
    let messages: Vec<Fact> = (0..10).map(|n| message("reopen", 2_000 + n, n as u128)).collect();
    let bytes = {
        let store = open(&path, StoreOptions::default());
        store.put_facts(&[vec![created.clone()], messages.clone()].concat()).await.expect("put");
        store.stored_bytes().expect("bytes")
    };
    let store = open(&path, StoreOptions::default());
    let ch = channel("reopen");
    assert_eq!(store.messages_before(&ch, None, 100).await.expect("page"), messages);
    assert_eq!(store.channels().await.expect("channels"), vec![created]);
    assert_eq!(store.count_messages(&ch).await.expect("count"), 10);
    assert_eq!(store.fact(messages[3].id).await.expect("get").as_ref(), Some(&messages[3]));
    assert_eq!(store.stored_bytes().expect("bytes"), bytes);
}

/// Set in the child process of [`acknowledged_writes_survive_sigkill`] to the store path.
const CRASH_STORE_ENV: &str = "CATALK_VCLIENT_CRASH_STORE";
const CRASH_FACTS: u64 = 5_000;
const KILL_AFTER_ACKS: u64 = 100;

fn crash_fact(n: u64) -> Fact {
    message(if n.is_multiple_of(2) { "crash-a" } else { "crash-b" }, 1_000 + n, u128::from(n))
}

/// The child half of [`acknowledged_writes_survive_sigkill`]; does nothing in a normal run.
#[tokio::test]
async fn crash_child_writes_until_killed() {
    let Some(path) = std::env::var_os(CRASH_STORE_ENV) else { return };
    let store = open(Path::new(&path), StoreOptions::default());
    let mut out = std::io::stdout().lock();
    for n in 0..CRASH_FACTS {
        store.put_facts(&[crash_fact(n)]).await.expect("put");
        writeln!(out, "acked {n}").and_then(|()| out.flush()).expect("stdout");
    }
    // Wait to be killed; exit on our own if the parent never does.
    std::thread::sleep(Duration::from_secs(60));
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.redb");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["crash_child_writes_until_killed", "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_STORE_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut acked = None;
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        // libtest may print "test name ... " ahead of the first ack on the same line.
        let Some(n) = line.split("acked ").nth(1).and_then(|n| n.trim().parse::<u64>().ok()) else { continue };
        acked = Some(n);
        if n + 1 >= KILL_AFTER_ACKS && !killed {
            child.kill().expect("SIGKILL the child");
            killed = true;
        }
    }
    child.wait().expect("reap child");
    let acked = acked.expect("the child acknowledged writes before dying");
    assert!(killed && acked + 1 < CRASH_FACTS, "the child was killed mid-run (acked {acked})");

    let store = open(&path, StoreOptions::default());
    for n in 0..=acked {
        let fact = crash_fact(n);
        assert_eq!(store.fact(fact.id).await.expect("get").as_ref(), Some(&fact), "acked fact {n} lost");
    }
    let held = store.message_count().expect("count");
    let a = store.count_messages(&channel("crash-a")).await.expect("count a");
    let b = store.count_messages(&channel("crash-b")).await.expect("count b");
    assert!(held > acked && held == (a + b) as u64, "held {held} = {a} + {b}, acked 0..={acked}");
    eprintln!("killed after {} acks; {held} facts held after reopening", acked + 1);
}

#[test]
fn open_under_a_missing_directory_names_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("no-such-dir").join("history.redb");
    let err = DiskStore::open(&path, StoreOptions::default()).expect_err("must fail");
    assert!(matches!(err, StoreOpenError::MissingDirectory { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()) && !message.contains('\n'), "{message}");
}

#[test]
fn open_under_a_file_instead_of_a_directory_names_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").expect("write file");
    let path = file.join("history.redb");
    let err = DiskStore::open(&path, StoreOptions::default()).expect_err("must fail");
    assert!(matches!(err, StoreOpenError::MissingDirectory { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
}

/// A directory this process may not create files in: a 0o555 temp dir, or, where
/// permission bits are not enforced (root), Linux's `/sys`, which refuses new files.
fn unwritable_dir(temp: &Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let locked = temp.join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    [locked, "/sys".into()].into_iter().find(|dir| {
        let probe = dir.join("catalk-vclient-probe");
        match std::fs::File::create(&probe) {
            Err(e) => e.kind() == std::io::ErrorKind::PermissionDenied,
            Ok(_) => {
                std::fs::remove_file(&probe).ok();
                false
            }
        }
    })
}

#[test]
fn open_in_a_read_only_directory_is_not_writable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(unwritable) = unwritable_dir(dir.path()) else {
        eprintln!("skipped: no directory here refuses this user's writes");
        return;
    };
    let path = unwritable.join("history.redb");
    let err = DiskStore::open(&path, StoreOptions::default()).expect_err("must fail");
    assert!(matches!(err, StoreOpenError::NotWritable { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.starts_with(&format!("store path {} is not writable: ", path.display())), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn open_of_a_store_already_open_is_in_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.redb");
    let _first = open(&path, StoreOptions::default());
    let err = DiskStore::open(&path, StoreOptions::default()).expect_err("must fail");
    assert!(matches!(err, StoreOpenError::InUse { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
}

#[test]
fn open_of_a_file_that_is_not_a_store_is_unusable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.redb");
    std::fs::write(&path, vec![0x42; 8192]).expect("write junk");
    let err = DiskStore::open(&path, StoreOptions::default()).expect_err("must fail");
    assert!(matches!(err, StoreOpenError::Unusable { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
}
