//! Canonical byte layout for everything that is signed.
//!
//! Layout rules (see docs/protocol.md, "Signed bytes"): a domain-separation
//! string followed by one zero byte, then fields in a fixed order. Integers are
//! big-endian; variable-length byte strings carry a `u32` big-endian length;
//! optional fields are one tag byte (`0` absent, `1` present) and the value.

/// Builds the canonical bytes of one signed object.
#[derive(Debug)]
pub struct CanonicalWriter {
    buf: Vec<u8>,
}

impl CanonicalWriter {
    /// Starts a buffer with `domain` and its terminating zero byte.
    pub fn new(domain: &str) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(domain.as_bytes());
        buf.push(0);
        Self { buf }
    }

    /// Appends one byte.
    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.buf.push(value);
        self
    }

    /// Appends fixed-length bytes with no length prefix.
    pub fn fixed(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Appends a `u32` length prefix and the bytes.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        // Every signed field is bounded far below 4 GiB by the limits; saturating
        // keeps this total without a panic path.
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Appends a UTF-8 string as length-prefixed bytes.
    pub fn str(&mut self, text: &str) -> &mut Self {
        self.bytes(text.as_bytes())
    }

    /// Appends an optional fixed-length value with its tag byte.
    pub fn optional(&mut self, value: Option<&[u8]>) -> &mut Self {
        match value {
            None => self.u8(0),
            Some(bytes) => self.u8(1).fixed(bytes),
        }
    }

    /// The finished bytes.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_domain_zero_then_fields() {
        let bytes = CanonicalWriter::new("d").u8(9).str("ab").optional(None).optional(Some(&[5])).finish();
        assert_eq!(bytes, vec![b'd', 0, 9, 0, 0, 0, 2, b'a', b'b', 0, 1, 5]);
    }
}
