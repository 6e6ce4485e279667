//! The typed refusal every hub operation returns.

use catalk_proto::ErrorCode;

/// A request the relay refused; nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct Rejection {
    /// The wire error code.
    pub code: ErrorCode,
    /// Human-readable detail (no internals).
    pub detail: String,
}

impl Rejection {
    /// A rejection with `code` and `detail`.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into() }
    }
}
