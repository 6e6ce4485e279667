//! Micro-benchmarks of the protocol's hot paths: canonical encoding, signing,
//! verification (single and batch) and JSON encoding of fact frames.
//!
//! Run with `cargo bench -p catalk-proto`; results are recorded in
//! `docs/benchmarks.md`.

use catalk_proto::{
    ChannelName, DraftId, Fact, FactBody, FactId, PublicKey, ServerFrame, decode_client_frame, sign_post,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const TEXT: &str = "catalk-bench 0000000001 a typical short chat message of about sixty-four bytes";

fn relay_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x11; 32])
}

fn author_key(n: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[n; 32])
}

/// A message body as the relay signs it, authored by key `n`.
fn message_body(relay: &PublicKey, n: u8) -> FactBody {
    let author = author_key(n);
    let channel = ChannelName::general();
    let draft = DraftId::from_parts(1_700_000_000_000, u128::from(n));
    FactBody::Message {
        channel: channel.clone(),
        author: PublicKey::of(&author),
        draft,
        text: TEXT.to_owned(),
        prev: Some(FactId::from_parts(1_700_000_000_000, 1)),
        epoch: FactId::from_parts(1_600_000_000_000, 0),
        author_sig: sign_post(&author, relay, &channel, &draft, TEXT),
    }
}

fn message_fact(n: u8) -> Fact {
    let relay = relay_key();
    let body = message_body(&PublicKey::of(&relay), n);
    Fact::sign(&relay, FactId::from_parts(1_700_000_000_001, u128::from(n)), body)
}

fn canonical(c: &mut Criterion) {
    let fact = message_fact(1);
    c.bench_function("canonical/message_fact_signing_bytes", |b| {
        b.iter(|| Fact::signing_bytes(black_box(&fact.id), black_box(&fact.relay), black_box(&fact.body)))
    });
}

fn signing(c: &mut Criterion) {
    let relay = relay_key();
    let relay_public = PublicKey::of(&relay);
    let body = message_body(&relay_public, 1);
    let id = FactId::from_parts(1_700_000_000_001, 1);
    c.bench_function("sign/message_fact", |b| b.iter(|| Fact::sign(&relay, black_box(id), black_box(body.clone()))));
    let author = author_key(2);
    let channel = ChannelName::general();
    let draft = DraftId::from_parts(1_700_000_000_000, 2);
    c.bench_function("sign/post", |b| {
        b.iter(|| sign_post(&author, black_box(&relay_public), &channel, black_box(&draft), black_box(TEXT)))
    });
}

fn verification(c: &mut Criterion) {
    let fact = message_fact(1);
    let bytes = Fact::signing_bytes(&fact.id, &fact.relay, &fact.body);
    c.bench_function("verify/verify_strict_single", |b| {
        b.iter(|| fact.relay.verify_strict(black_box(&bytes), black_box(&fact.sig)))
    });
    let trusted = fact.relay;
    c.bench_function("verify/message_fact_relay_and_author", |b| b.iter(|| black_box(&fact).verify(|k| *k == trusted)));

    let mut group = c.benchmark_group("verify/batch");
    for size in [16usize, 64, 256] {
        let facts: Vec<Fact> = (0..size).map(|n| message_fact(n as u8)).collect();
        let messages: Vec<Vec<u8>> = facts.iter().map(|f| Fact::signing_bytes(&f.id, &f.relay, &f.body)).collect();
        let messages: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let signatures: Vec<ed25519_dalek::Signature> =
            facts.iter().map(|f| ed25519_dalek::Signature::from_bytes(f.sig.as_bytes())).collect();
        let keys: Vec<ed25519_dalek::VerifyingKey> =
            facts.iter().filter_map(|f| f.relay.verifying_key().ok()).collect();
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            b.iter(|| ed25519_dalek::verify_batch(black_box(&messages), black_box(&signatures), black_box(&keys)))
        });
    }
    group.finish();
}

fn json(c: &mut Criterion) {
    let frame = ServerFrame::Fact { fact: message_fact(1) };
    let text = serde_json::to_string(&frame).unwrap_or_default();
    c.bench_function("json/encode_fact_frame", |b| b.iter(|| serde_json::to_string(black_box(&frame))));
    c.bench_function("json/decode_fact_frame", |b| b.iter(|| serde_json::from_str::<ServerFrame>(black_box(&text))));
    let relay = PublicKey::of(&relay_key());
    let author = author_key(3);
    let channel = ChannelName::general();
    let draft = DraftId::from_parts(1_700_000_000_000, 3);
    let post = catalk_proto::ClientFrame::Post(catalk_proto::PostFrame {
        rid: 7,
        channel: channel.as_str().to_owned(),
        draft,
        text: TEXT.to_owned(),
        sig: sign_post(&author, &relay, &channel, &draft, TEXT),
    });
    let post = serde_json::to_string(&post).unwrap_or_default();
    c.bench_function("json/decode_post_frame", |b| b.iter(|| decode_client_frame(black_box(&post))));
}

criterion_group!(benches, canonical, signing, verification, json);
criterion_main!(benches);
