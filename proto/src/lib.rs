//! Wire types, canonical signed bytes, signing and verification for catalk.
//!
//! This crate does no IO: no sockets, no clocks, no randomness. It builds for
//! the host and for `wasm32-unknown-unknown`, so the relay, the browser client
//! and the tests share one definition of every frame and every signed byte.
//!
//! The contract it implements is `docs/protocol.md`.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod batch;
mod canonical;
mod channel;
mod error_code;
mod fact;
mod fingerprint;
mod frame;
mod ice;
mod id;
mod key;
mod limits;
mod login;
mod message;
mod peer;
mod privileges;
mod rotation;
mod text;

pub use batch::verify_facts;
pub use canonical::CanonicalWriter;
pub use channel::{ChannelName, ChannelNameError, DEFAULT_CHANNEL};
pub use error_code::ErrorCode;
pub use fact::{Fact, FactBody, FactKind, VerifyError};
pub use fingerprint::{Fingerprint, FingerprintParseError, fingerprint, mix};
pub use frame::{
    ClientFrame, DecodeError, LoginFrame, PostFrame, ServerFrame, WelcomeFrame, decode_client_frame, request_id_of,
};
pub use ice::{IceServer, IceServerParseError};
pub use id::FactId;
pub use key::{KeyError, Nonce, PublicKey, Signature};
pub use limits::Limits;
pub use login::{LoginError, login_signing_bytes, sign_login, verify_login};
pub use message::{DraftId, author_signing_bytes, sign_post, verify_author};
pub use peer::{
    ChannelHoldings, MAX_AUTHOR_FACTS, MAX_PAGE_FACTS, MAX_PART_IDS, MAX_PEER_MESSAGE_BYTES, MAX_SUM_PARTS, PeerKind,
    PeerMessage, RangePart, RefusalCode, SignalKind, SyncSignal,
};
pub use privileges::Privileges;
pub use rotation::{Endorsement, ROTATION_DOMAIN, rotation_signing_bytes};
pub use text::{DisplayName, TextError, validate_body};

/// The protocol version spoken by this crate; it appears in the challenge and
/// in every domain-separation string.
pub const PROTOCOL_VERSION: u32 = 1;

pub use ed25519_dalek::SigningKey;
