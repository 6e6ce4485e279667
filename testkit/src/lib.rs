//! Test helpers for catalk: a real relay on an ephemeral port and websocket
//! test clients that log in by the real challenge. Used by the relay's
//! integration tests and the benchmark tool; not shipped.

mod client;
mod http;
mod relay;

pub use client::TestClient;
pub use http::http_get;
pub use relay::{TEST_CLAIM_TOKEN, TestRelay, relay_config, user_key};
