//! ULID identifiers: fact ids (assigned by the relay) and draft ids (chosen by authors).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use ulid::Ulid;

macro_rules! ulid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            /// Builds an id from a millisecond timestamp and 80 random bits.
            pub const fn from_parts(timestamp_ms: u64, random: u128) -> Self {
                Self(Ulid::from_parts(timestamp_ms, random))
            }
            /// Builds an id from its 16 big-endian bytes.
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Ulid::from_bytes(bytes))
            }
            /// The 16 big-endian bytes (the canonical signed form).
            pub const fn to_bytes(&self) -> [u8; 16] {
                self.0.to_bytes()
            }
            /// Milliseconds since the Unix epoch encoded in the id.
            pub const fn timestamp_ms(&self) -> u64 {
                self.0.timestamp_ms()
            }
            /// The next id in sort order, or `None` when the random part is exhausted.
            pub const fn increment(&self) -> Option<Self> {
                match self.0.increment() {
                    Ok(next) => Some(Self(next)),
                    Err(_) => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut buf = [0u8; ulid::ULID_LEN];
                f.write_str(self.0.array_to_str(&mut buf))
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
        impl FromStr for $name {
            type Err = ulid::DecodeError;
            /// Parses the canonical text form only (26 upper-case Crockford
            /// characters, first one at most `7`), so every id has one spelling.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let id = Ulid::from_string(s)?;
                let mut buf = [0u8; ulid::ULID_LEN];
                if id.array_to_str(&mut buf) != s {
                    return Err(ulid::DecodeError::InvalidChar);
                }
                Ok(Self(id))
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut buf = [0u8; ulid::ULID_LEN];
                s.serialize_str(self.0.array_to_str(&mut buf))
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

ulid_newtype!(
    /// The id of a fact: a ULID assigned by the relay, strictly increasing per relay.
    FactId
);
ulid_newtype!(
    /// An author-chosen ULID that names one message draft; lets clients retry a
    /// post without duplicating it and tie an echo to the draft they sent.
    DraftId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_sorts_like_the_id() {
        let a = FactId::from_parts(1_000, 5);
        let b = FactId::from_parts(1_000, 6);
        let c = FactId::from_parts(1_001, 0);
        assert!(a < b && b < c);
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
        assert_eq!(c.to_string().parse::<FactId>().ok(), Some(c));
    }

    #[test]
    fn only_the_canonical_spelling_parses() {
        let id = FactId::from_parts(1_700_000_000_000, 99);
        let text = id.to_string();
        assert_eq!(text.parse::<FactId>().ok(), Some(id));
        assert!(text.to_lowercase().parse::<FactId>().is_err());
        assert!("ZZZZZZZZZZZZZZZZZZZZZZZZZZ".parse::<FactId>().is_err());
    }

    #[test]
    fn increment_moves_forward() {
        let a = FactId::from_parts(7, 1);
        assert_eq!(a.increment(), Some(FactId::from_parts(7, 2)));
    }
}
