//! Websocket frames between client and relay (JSON text messages tagged by `t`).

use crate::error_code::ErrorCode;
use crate::fact::Fact;
use crate::id::{DraftId, FactId};
use crate::key::{Nonce, PublicKey, Signature};
use crate::limits::Limits;
use crate::peer::PeerMessage;
use crate::privileges::Privileges;
use serde::{Deserialize, Serialize};

// See the note on `ServerFrame` about variant sizes.
#[allow(clippy::large_enum_variant)]
/// A frame from a client. Every client frame carries a request id `rid`
/// that the relay names in its `ack`, `welcome` or `error` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientFrame {
    /// Answer to the challenge.
    Login(LoginFrame),
    /// Re-present facts this relay (or a trusted earlier key) signed: channels, grants, chain heads.
    Present {
        /// Request id.
        rid: u64,
        /// The facts.
        facts: Vec<Fact>,
    },
    /// Post a message.
    Post(PostFrame),
    /// Create a channel (needs the `create_channel` privilege).
    CreateChannel {
        /// Request id.
        rid: u64,
        /// The new channel's name.
        name: String,
    },
    /// Set another key's privileges (owners only).
    Grant {
        /// Request id.
        rid: u64,
        /// Whose privileges.
        key: PublicKey,
        /// The privileges to hold from now on.
        privileges: Privileges,
    },
    /// Become owner with the one-time claim token the relay printed at start.
    Claim {
        /// Request id.
        rid: u64,
        /// The token.
        token: String,
    },
    /// Forward an opaque WebRTC signaling payload to another online key.
    Signal {
        /// Request id.
        rid: u64,
        /// Addressee.
        to: PublicKey,
        /// One connection of the addressee (from an earlier signal's `from_conn`);
        /// absent means every connection of `to`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_conn: Option<u64>,
        /// Opaque payload (SDP, ICE candidate, ...).
        payload: String,
    },
    /// A peer sync message for one connection of another key, carried by the relay
    /// because WebRTC could not connect the two (off unless the relay enables it).
    Peer {
        /// Request id.
        rid: u64,
        /// Addressee.
        to: PublicKey,
        /// The addressee's connection (from a `signal`'s `from_conn`).
        to_conn: u64,
        /// The sync message.
        msg: PeerMessage,
    },
    /// How many of this connection's sync links carry history now, by path: reported by the
    /// client (the relay cannot see data channels), summed at `/metrics` for the operator.
    Links {
        /// Request id.
        rid: u64,
        /// Direct data channels.
        direct: u32,
        /// Data channels through a TURN server.
        turn: u32,
        /// Links carried by the relay (`peer` frames).
        relay: u32,
    },
    /// Liveness check; answered with an ack.
    Ping {
        /// Request id.
        rid: u64,
    },
}

/// The `login` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFrame {
    /// Request id.
    pub rid: u64,
    /// The nonce from this connection's challenge.
    pub nonce: Nonce,
    /// The client's public key.
    pub key: PublicKey,
    /// Signature over [`crate::login_signing_bytes`].
    pub sig: Signature,
    /// Display name announced in presence.
    pub name: String,
    /// Facts to re-present at login (grants first, then channels and heads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<Fact>,
}

/// The `post` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostFrame {
    /// Request id.
    pub rid: u64,
    /// Channel name.
    pub channel: String,
    /// Author-chosen draft id.
    pub draft: DraftId,
    /// Body.
    pub text: String,
    /// Author signature over [`crate::author_signing_bytes`].
    pub sig: Signature,
}

impl ClientFrame {
    /// The request id of this frame.
    pub fn rid(&self) -> u64 {
        match self {
            Self::Login(f) => f.rid,
            Self::Post(f) => f.rid,
            Self::Present { rid, .. }
            | Self::CreateChannel { rid, .. }
            | Self::Grant { rid, .. }
            | Self::Claim { rid, .. }
            | Self::Signal { rid, .. }
            | Self::Peer { rid, .. }
            | Self::Links { rid, .. }
            | Self::Ping { rid } => *rid,
        }
    }
}

/// A frame from the relay.
// Frames are short-lived values decoded one at a time; boxing the large
// variants would cost an allocation per frame for no memory gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerFrame {
    /// First frame on every connection.
    Challenge {
        /// Fresh random nonce for this connection.
        nonce: Nonce,
        /// The relay's current signing key.
        relay: PublicKey,
        /// Protocol version.
        protocol: u32,
        /// How long the nonce stays valid.
        expires_in_ms: u64,
        /// Older relay keys this relay still accepts facts of (`--trusted-key`): a client
        /// presents facts they signed. Not proof of anything: see `endorsed_by`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        trusted: Vec<PublicKey>,
        /// Older relay keys' signatures over `relay` (a planned rotation): a client that trusted
        /// one of them trusts `relay` too.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        endorsed_by: Vec<crate::rotation::Endorsement>,
    },
    /// Successful login.
    Welcome(Box<WelcomeFrame>),
    /// A request was applied.
    Ack {
        /// The request id.
        rid: u64,
        /// The id of the fact the request produced, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<FactId>,
        /// For `present`: how many facts were adopted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        adopted: Option<u32>,
    },
    /// A request was refused, or the connection is being closed.
    Error {
        /// The request id, when the frame could be read far enough to know it.
        rid: Option<u64>,
        /// Stable error code.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
    /// A live fact.
    Fact {
        /// The fact.
        fact: Fact,
    },
    /// A signaling payload from another key.
    Signal {
        /// Sender, set by the relay from the sender's login.
        from: PublicKey,
        /// The sender's connection id (address replies to it with `to_conn`).
        from_conn: u64,
        /// Opaque payload.
        payload: String,
    },
    /// A peer sync message from another key's connection, carried by the relay.
    Peer {
        /// Sender, set by the relay from the sender's login.
        from: PublicKey,
        /// The sender's connection id.
        from_conn: u64,
        /// The sync message.
        msg: PeerMessage,
    },
}

/// The `welcome` frame: the state a client needs right after login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WelcomeFrame {
    /// The login's request id.
    pub rid: u64,
    /// The logged-in key.
    pub key: PublicKey,
    /// This connection's id, as `from_conn` in signals it sends.
    pub conn: u64,
    /// Its privileges.
    pub privileges: Privileges,
    /// The current epoch fact.
    pub epoch: Fact,
    /// Every channel fact the relay knows.
    pub channels: Vec<Fact>,
    /// This key's own presence fact. The presence facts of other online keys
    /// (at most `max_welcome_presence - 1`) follow the welcome as separate `fact` frames.
    pub online: Vec<Fact>,
    /// How many keys are online in all.
    pub online_count: usize,
    /// The newest grant fact for this key, if the relay holds one; clients store it
    /// and present it at their next login.
    pub grant: Option<Fact>,
    /// The relay's limits.
    pub limits: Limits,
    /// Keys whose signatures this relay accepts on presented facts (current first).
    pub trusted: Vec<PublicKey>,
    /// The newest message of each channel this relay run knows (posted this run or
    /// presented back): a returning client learns what it lacks at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heads: Vec<Fact>,
    /// TURN servers with credentials for this login only (short-lived, never published
    /// in `/.well-known/catalk.json`); left out when the relay has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ice_servers: Vec<crate::IceServer>,
}

/// Why a client frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not JSON, missing fields, or wrong field types.
    #[error("malformed frame: {reason}")]
    Malformed {
        /// The request id, if it could be read.
        rid: Option<u64>,
        /// What was wrong.
        reason: String,
    },
    /// A frame kind this relay does not know.
    #[error("unknown frame kind {kind:?}")]
    UnknownFrame {
        /// The request id, if it could be read.
        rid: Option<u64>,
        /// The unknown `t`.
        kind: String,
    },
}

impl DecodeError {
    /// The error code for the wire.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Malformed { .. } => ErrorCode::Malformed,
            Self::UnknownFrame { .. } => ErrorCode::UnknownFrame,
        }
    }

    /// The request id, if known.
    pub fn rid(&self) -> Option<u64> {
        match self {
            Self::Malformed { rid, .. } | Self::UnknownFrame { rid, .. } => *rid,
        }
    }
}

const CLIENT_KINDS: [&str; 9] =
    ["login", "present", "post", "create_channel", "grant", "claim", "signal", "peer", "ping"];

/// Reads the `rid` of a frame that failed to decode, if it has one.
pub fn request_id_of(text: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct Rid {
        rid: Option<u64>,
    }
    serde_json::from_str::<Rid>(text).ok().and_then(|r| r.rid)
}

/// Decodes a client frame, telling malformed frames from unknown kinds.
pub fn decode_client_frame(text: &str) -> Result<ClientFrame, DecodeError> {
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => Ok(frame),
        Err(err) => {
            #[derive(Deserialize)]
            struct Head {
                t: Option<String>,
                rid: Option<u64>,
            }
            let head = serde_json::from_str::<Head>(text).ok();
            let rid = head.as_ref().and_then(|h| h.rid);
            match head.and_then(|h| h.t) {
                Some(kind) if !CLIENT_KINDS.contains(&kind.as_str()) => Err(DecodeError::UnknownFrame { rid, kind }),
                _ => Err(DecodeError::Malformed { rid, reason: err.to_string() }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fact::strategies::{arb_channel, arb_fact, arb_id, arb_sig};
    use crate::peer::{ChannelHoldings, PeerKind, RefusalCode};
    use proptest::collection::vec;
    use proptest::prelude::*;

    #[test]
    fn unknown_kind_is_told_apart_from_malformed() {
        assert_eq!(
            decode_client_frame(r#"{"t":"dance","rid":4}"#),
            Err(DecodeError::UnknownFrame { rid: Some(4), kind: "dance".into() })
        );
        let err = decode_client_frame(r#"{"t":"ping"}"#).err();
        assert!(matches!(err, Some(DecodeError::Malformed { rid: None, .. })), "{err:?}");
        let err = decode_client_frame("not json").err();
        assert!(matches!(err, Some(DecodeError::Malformed { rid: None, .. })));
        let err = decode_client_frame(r#"{"t":"post","rid":9,"channel":"general"}"#).err();
        assert!(matches!(err, Some(DecodeError::Malformed { rid: Some(9), .. })));
    }

    #[test]
    fn every_client_kind_is_listed() {
        let ping = serde_json::to_value(ClientFrame::Ping { rid: 1 }).unwrap_or_default();
        assert_eq!(ping["t"], "ping");
        assert!(CLIENT_KINDS.contains(&"create_channel"));
    }

    fn arb_key() -> impl Strategy<Value = PublicKey> {
        any::<[u8; 32]>().prop_map(PublicKey::from_bytes)
    }

    proptest! {
        #[test]
        fn client_frames_round_trip(rid in any::<u64>(), to in arb_key(), payload in ".{0,100}", name in ".{0,40}", bits in 0u8..16, t in 0u64..(1<<48), r in any::<u128>()) {
            let frames = vec![
                ClientFrame::Ping { rid },
                ClientFrame::Links { rid, direct: bits.into(), turn: 1, relay: 0 },
                ClientFrame::Signal { rid, to, to_conn: Some(rid / 2), payload: payload.clone() },
                ClientFrame::CreateChannel { rid, name: name.clone() },
                ClientFrame::Grant { rid, key: to, privileges: Privileges::from_bits(bits) },
                ClientFrame::Claim { rid, token: payload.clone() },
                ClientFrame::Post(PostFrame { rid, channel: name, draft: DraftId::from_parts(t, r), text: payload, sig: Signature::from_bytes([7; 64]) }),
            ];
            for frame in frames {
                let json = serde_json::to_string(&frame).unwrap();
                prop_assert_eq!(decode_client_frame(&json).unwrap(), frame);
            }
        }

        #[test]
        fn server_frames_round_trip(rid in any::<u64>(), from in arb_key(), payload in ".{0,100}", t in 0u64..(1<<48), r in any::<u128>()) {
            let frames = vec![
                ServerFrame::Ack { rid, id: Some(FactId::from_parts(t, r)), adopted: None },
                ServerFrame::Error { rid: Some(rid), code: ErrorCode::RateLimited, message: payload.clone() },
                ServerFrame::Signal { from, from_conn: rid, payload },
                ServerFrame::Challenge { nonce: Nonce::from_bytes([1; 32]), relay: from, protocol: 1, expires_in_ms: 30_000, trusted: vec![], endorsed_by: vec![] },
                ServerFrame::Challenge { nonce: Nonce::from_bytes([2; 32]), relay: from, protocol: 1, expires_in_ms: 1, trusted: vec![from], endorsed_by: vec![crate::rotation::Endorsement { key: from, sig: Signature::from_bytes([3; 64]) }] },
            ];
            for frame in frames {
                let json = serde_json::to_string(&frame).unwrap();
                prop_assert_eq!(serde_json::from_str::<ServerFrame>(&json).unwrap(), frame);
            }
        }
    }

    fn arb_nonce() -> impl Strategy<Value = Nonce> {
        any::<[u8; 32]>().prop_map(Nonce::from_bytes)
    }

    fn arb_holdings() -> impl Strategy<Value = ChannelHoldings> {
        (
            arb_channel(),
            any::<u64>(),
            proptest::option::of(arb_id()),
            proptest::option::of(arb_id()),
            any::<u128>(),
            any::<bool>(),
        )
            .prop_map(|(channel, count, oldest, newest, fp, complete)| ChannelHoldings {
                channel,
                count,
                oldest,
                newest,
                fp: crate::Fingerprint(fp),
                complete,
            })
    }

    fn arb_peer_message() -> impl Strategy<Value = PeerMessage> {
        prop_oneof![
            (any::<u32>(), any::<bool>(), vec(arb_holdings(), 0..4)).prop_map(|(v, browser, channels)| {
                PeerMessage::Hello { v, kind: if browser { PeerKind::Browser } else { PeerKind::Virtual }, channels }
            }),
            (any::<u64>(), arb_channel(), proptest::option::of(arb_id()), proptest::option::of(arb_id()), any::<u32>())
                .prop_map(|(rid, channel, before, after, limit)| PeerMessage::Page {
                    rid,
                    channel,
                    before,
                    after,
                    limit
                }),
            (any::<u64>(), vec(arb_fact(), 0..4), any::<bool>()).prop_map(|(rid, facts, more)| PeerMessage::Facts {
                rid,
                facts,
                more
            }),
            (any::<u64>(), any::<bool>()).prop_map(|(rid, limited)| PeerMessage::Refused {
                rid,
                code: if limited { RefusalCode::RateLimited } else { RefusalCode::BadRequest }
            }),
        ]
    }

    fn arb_limits() -> impl Strategy<Value = Limits> {
        (any::<[u32; 8]>(), any::<[u16; 7]>()).prop_map(|(rates, sizes)| Limits {
            max_frame_bytes: usize::from(sizes[0]),
            max_body_bytes: usize::from(sizes[1]),
            max_signal_bytes: usize::from(sizes[2]),
            max_present_facts: usize::from(sizes[3]),
            nonce_ttl_ms: u64::from(rates[0]),
            frames_per_second: rates[1],
            frames_burst: rates[2],
            posts_per_second_per_key: rates[3],
            posts_burst_per_key: rates[4],
            signals_per_second: rates[5],
            max_connections_per_ip: rates[6],
            outbound_queue_frames: usize::from(sizes[4]),
            max_welcome_presence: usize::from(sizes[5]),
            presence_announce_max: usize::from(sizes[6]),
            sync_fallback_bytes_per_second: rates[7],
        })
    }

    fn arb_welcome() -> impl Strategy<Value = WelcomeFrame> {
        (
            (any::<u64>(), arb_key(), any::<u64>(), 0u8..16, arb_fact()),
            (vec(arb_fact(), 0..3), vec(arb_fact(), 0..3), any::<u32>(), proptest::option::of(arb_fact())),
            (arb_limits(), vec(arb_key(), 1..3), vec(arb_fact(), 0..3)),
        )
            .prop_map(
                |((rid, key, conn, bits, epoch), (channels, online, online_count, grant), (limits, trusted, heads))| {
                    WelcomeFrame {
                        rid,
                        key,
                        conn,
                        privileges: Privileges::from_bits(bits),
                        epoch,
                        channels,
                        online,
                        online_count: online_count as usize,
                        grant,
                        limits,
                        trusted,
                        heads,
                        ice_servers: Vec::new(),
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn login_present_and_peer_frames_round_trip(
            rid in any::<u64>(),
            nonce in arb_nonce(),
            key in arb_key(),
            sig in arb_sig(),
            name in ".{0,40}",
            facts in vec(arb_fact(), 0..4),
            to_conn in any::<u64>(),
            msg in arb_peer_message(),
        ) {
            let frames = vec![
                ClientFrame::Login(LoginFrame { rid, nonce, key, sig, name, facts: facts.clone() }),
                ClientFrame::Present { rid, facts },
                ClientFrame::Peer { rid, to: key, to_conn, msg },
            ];
            for frame in frames {
                let json = serde_json::to_string(&frame).unwrap();
                prop_assert_eq!(decode_client_frame(&json).unwrap(), frame);
            }
        }

        #[test]
        fn welcome_fact_and_peer_frames_round_trip(
            welcome in arb_welcome(),
            fact in arb_fact(),
            from in arb_key(),
            from_conn in any::<u64>(),
            msg in arb_peer_message(),
        ) {
            let frames = vec![
                ServerFrame::Welcome(Box::new(welcome)),
                ServerFrame::Fact { fact },
                ServerFrame::Peer { from, from_conn, msg },
            ];
            for frame in frames {
                let json = serde_json::to_string(&frame).unwrap();
                prop_assert_eq!(serde_json::from_str::<ServerFrame>(&json).unwrap(), frame);
            }
        }
    }

    #[test]
    fn login_without_facts_omits_the_field_and_decodes_empty() {
        let login = ClientFrame::Login(LoginFrame {
            rid: 1,
            nonce: Nonce::from_bytes([1; 32]),
            key: PublicKey::from_bytes([2; 32]),
            sig: Signature::from_bytes([3; 64]),
            name: "ada".into(),
            facts: vec![],
        });
        let json = serde_json::to_string(&login).unwrap();
        assert!(!json.contains("facts"), "{json}");
        assert_eq!(decode_client_frame(&json), Ok(login));
    }
}
