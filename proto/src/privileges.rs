//! What a key may do, as attested by the relay.

use serde::{Deserialize, Serialize};

/// Privileges of one key. Carried in presence and grant facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Privileges {
    /// May post messages in channels.
    pub post: bool,
    /// May create channels.
    pub create_channel: bool,
    /// Is an owner of this relay (may grant and revoke).
    pub owner: bool,
    /// Is a virtual client (headless history keeper run by an owner).
    pub virtual_client: bool,
}

impl Privileges {
    const POST: u8 = 1;
    const CREATE_CHANNEL: u8 = 2;
    const OWNER: u8 = 4;
    const VIRTUAL_CLIENT: u8 = 8;

    /// Read-only: may read, may do nothing else.
    pub const NONE: Self = Self { post: false, create_channel: false, owner: false, virtual_client: false };
    /// May post but not create channels.
    pub const POSTER: Self = Self { post: true, ..Self::NONE };
    /// A configured virtual client: attested as one, may do nothing else.
    pub const VIRTUAL_CLIENT_ONLY: Self = Self { virtual_client: true, ..Self::NONE };
    /// What a configured owner holds: post, create channels, owner.
    pub const OWNER_ALL: Self = Self { post: true, create_channel: true, owner: true, virtual_client: false };

    /// The canonical one-byte form: bit 0 post, bit 1 create_channel, bit 2 owner, bit 3 virtual_client.
    pub fn bits(self) -> u8 {
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        flag(self.post, Self::POST)
            | flag(self.create_channel, Self::CREATE_CHANNEL)
            | flag(self.owner, Self::OWNER)
            | flag(self.virtual_client, Self::VIRTUAL_CLIENT)
    }

    /// Decodes the one-byte form, ignoring unknown bits.
    pub fn from_bits(bits: u8) -> Self {
        Self {
            post: bits & Self::POST != 0,
            create_channel: bits & Self::CREATE_CHANNEL != 0,
            owner: bits & Self::OWNER != 0,
            virtual_client: bits & Self::VIRTUAL_CLIENT != 0,
        }
    }

    /// The union of two privilege sets.
    pub fn union(self, other: Self) -> Self {
        Self::from_bits(self.bits() | other.bits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_for_every_combination() {
        for bits in 0u8..16 {
            assert_eq!(Privileges::from_bits(bits).bits(), bits);
        }
        assert_eq!(Privileges::OWNER_ALL.bits(), 0b0111);
    }
}
