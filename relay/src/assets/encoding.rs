//! Reading `Accept-Encoding` (RFC 9110 §12.5.3) to pick a precompressed body.

/// Whether `accept_encoding` (the header's value) accepts the content coding `coding`: named
/// (case-insensitively) or matched by `*`, without `q=0`. An explicit entry wins over `*`.
pub fn accepts(accept_encoding: &str, coding: &str) -> bool {
    let mut wildcard = false;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|param| {
            let param = param.trim();
            let value = param.strip_prefix("q=").or_else(|| param.strip_prefix("Q="));
            value.is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        if name.eq_ignore_ascii_case(coding) {
            return !refused;
        }
        if name == "*" {
            wildcard = !refused;
        }
    }
    wildcard
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn named_codings_are_accepted_unless_refused_with_q_zero() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip, deflate", "gzip"));
        assert!(!accepts("gzip, deflate", "br"));
        assert!(accepts("GZIP;q=0.5", "gzip"));
        assert!(!accepts("gzip;q=0, br", "gzip"));
        assert!(!accepts("br; q=0.000", "br"));
        assert!(!accepts("", "gzip"));
    }

    #[test]
    fn a_wildcard_accepts_what_is_not_named() {
        assert!(accepts("*", "br"));
        assert!(!accepts("*;q=0", "br"));
        assert!(!accepts("br;q=0, *", "br"));
        assert!(accepts("identity, *;q=0.1", "gzip"));
    }

    #[test]
    fn a_coding_name_is_not_matched_by_its_prefix() {
        assert!(!accepts("gzipper", "gzip"));
        assert!(!accepts("x-gzip", "gzip"));
    }
}
