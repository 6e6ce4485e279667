//! Channel names.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The channel that always exists.
pub const DEFAULT_CHANNEL: &str = "general";

/// Longest channel name in bytes.
pub const MAX_CHANNEL_NAME: usize = 32;

/// Why a channel name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("channel names are 1-32 characters of a-z, 0-9, '-' and '_', starting with a letter or digit")]
pub struct ChannelNameError;

/// A validated channel name: 1–32 bytes of `[a-z0-9_-]`, first byte a letter or digit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(String);

impl ChannelName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, ChannelNameError> {
        let bytes = name.as_bytes();
        let first_ok = bytes.first().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let rest_ok = bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_');
        if first_ok && rest_ok && bytes.len() <= MAX_CHANNEL_NAME {
            Ok(Self(name.to_owned()))
        } else {
            Err(ChannelNameError)
        }
    }

    /// The default channel, `general`.
    pub fn general() -> Self {
        Self(DEFAULT_CHANNEL.to_owned())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
impl Serialize for ChannelName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for ChannelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::new(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names_and_rejects_others() {
        assert!(ChannelName::new("general").is_ok());
        assert!(ChannelName::new("dev-ops_2").is_ok());
        for bad in ["", "-x", "Upper", "has space", "a#b", &"x".repeat(33)] {
            assert_eq!(ChannelName::new(bad), Err(ChannelNameError), "{bad:?}");
        }
    }
}
