//! Validation of human text: display names and message bodies.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Longest display name in bytes.
pub const MAX_DISPLAY_NAME: usize = 64;

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// Nothing but whitespace.
    #[error("text is empty")]
    Empty,
    /// Longer than the limit.
    #[error("text is {len} bytes, limit is {max}")]
    TooLong {
        /// Length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// Contains control characters (display names only).
    #[error("display names may not contain control characters")]
    ControlCharacter,
}

/// A display name: 1–64 bytes, trimmed, no control characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims and validates `name`.
    pub fn new(name: &str) -> Result<Self, TextError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(TextError::Empty);
        }
        if name.len() > MAX_DISPLAY_NAME {
            return Err(TextError::TooLong { len: name.len(), max: MAX_DISPLAY_NAME });
        }
        if name.chars().any(char::is_control) {
            return Err(TextError::ControlCharacter);
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
impl Serialize for DisplayName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for DisplayName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::new(&text).map_err(serde::de::Error::custom)
    }
}

/// Checks a message body: not blank and at most `max_bytes` of UTF-8.
pub fn validate_body(text: &str, max_bytes: usize) -> Result<(), TextError> {
    if text.trim().is_empty() {
        return Err(TextError::Empty);
    }
    if text.len() > max_bytes {
        return Err(TextError::TooLong { len: text.len(), max: max_bytes });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_is_trimmed_and_checked() {
        assert_eq!(DisplayName::new("  ada ").map(|n| n.0), Ok("ada".to_owned()));
        assert_eq!(DisplayName::new("   "), Err(TextError::Empty));
        assert_eq!(DisplayName::new("a\u{7}b"), Err(TextError::ControlCharacter));
        assert!(matches!(DisplayName::new(&"x".repeat(65)), Err(TextError::TooLong { .. })));
    }

    #[test]
    fn body_limits_apply_in_bytes() {
        assert_eq!(validate_body("hi", 2), Ok(()));
        assert_eq!(validate_body("é", 1), Err(TextError::TooLong { len: 2, max: 1 }));
        assert_eq!(validate_body(" \n", 10), Err(TextError::Empty));
    }
}
