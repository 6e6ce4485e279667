//! Order-independent fingerprints of sets of message ids, as peers compare
//! them in `hello` and `parts` (docs/protocol.md §12.1): 128 bits, on the wire
//! as 32 lowercase hex digits.

use crate::id::FactId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The fingerprint of a set of ids: the wrapping sum of [`mix`] of each.
/// Equal sets give equal fingerprints; the fingerprint of a union of disjoint
/// sets is the sum of theirs, so one id in or out is one addition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u128);

impl Fingerprint {
    /// The fingerprint of the empty set.
    pub const EMPTY: Self = Self(0);

    /// With `id` added (it must not be in the set).
    #[must_use]
    pub fn with(self, id: &FactId) -> Self {
        Self(self.0.wrapping_add(mix(id)))
    }

    /// With `id` taken out (it must be in the set).
    #[must_use]
    pub fn without(self, id: &FactId) -> Self {
        Self(self.0.wrapping_sub(mix(id)))
    }

    /// The fingerprint of the union with a disjoint set.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        Self(self.0.wrapping_add(other.0))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Why a fingerprint's text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a fingerprint is 32 hex digits, got {0:?}")]
pub struct FingerprintParseError(String);

impl std::str::FromStr for Fingerprint {
    type Err = FingerprintParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FingerprintParseError(text.chars().take(40).collect()));
        }
        u128::from_str_radix(text, 16).map(Self).map_err(|_| FingerprintParseError(text.to_owned()))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The fingerprint of a set of ids.
pub fn fingerprint<'a>(ids: impl IntoIterator<Item = &'a FactId>) -> Fingerprint {
    ids.into_iter().fold(Fingerprint::EMPTY, |acc, id| acc.with(id))
}

/// The per-id term of [`fingerprint`] (SplitMix-style mixing of both halves).
pub fn mix(id: &FactId) -> u128 {
    let v = u128::from_be_bytes(id.to_bytes());
    let mut hi = (v >> 64) as u64 ^ 0x9e37_79b9_7f4a_7c15;
    let mut lo = v as u64 ^ 0xbf58_476d_1ce4_e5b9;
    for _ in 0..2 {
        hi = (hi ^ (hi >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        lo = (lo ^ (lo >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        hi ^= lo.rotate_left(17);
        lo ^= hi.rotate_left(31);
    }
    (u128::from(hi) << 64) | u128::from(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_order_independent_and_additive() {
        let ids: Vec<FactId> = (0..50).map(|n| FactId::from_parts(1000 + n, u128::from(n))).collect();
        let forward = fingerprint(&ids);
        assert_eq!(forward, fingerprint(ids.iter().rev()));
        let (a, b) = ids.split_at(20);
        assert_eq!(fingerprint(a).union(fingerprint(b)), forward);
        assert_ne!(fingerprint(&ids[1..]), forward);
        assert_eq!(forward.without(&ids[0]), fingerprint(&ids[1..]));
    }

    #[test]
    fn fingerprints_are_32_hex_digits_on_the_wire() {
        let fp = fingerprint(&[FactId::from_parts(5, 5)]);
        let json = serde_json::to_string(&fp).unwrap_or_default();
        assert_eq!(json.len(), 34);
        assert_eq!(serde_json::from_str::<Fingerprint>(&json).ok(), Some(fp));
        assert_eq!(serde_json::to_string(&Fingerprint::EMPTY).unwrap_or_default(), format!("\"{}\"", "0".repeat(32)));
        for bad in ["\"\"", "\"abc\"", &format!("\"{}\"", "g".repeat(32)), &format!("\"{}\"", "0".repeat(33))] {
            assert!(serde_json::from_str::<Fingerprint>(bad).is_err(), "{bad} is refused");
        }
    }
}
