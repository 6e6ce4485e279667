//! STUN and TURN servers for WebRTC: the text form operators configure
//! (`stun:HOST[:PORT]`, `turn:USER:PASSWORD@HOST[:PORT]`) and the JSON form
//! browsers take (`RTCIceServer`). The relay publishes its list in
//! `/.well-known/catalk.json`; native peers configure their own.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// One STUN or TURN server, as in the browser's `RTCIceServer` (and serialised like it:
/// `{"urls":[…],"username":…,"credential":…}`, the last two only for TURN).
///
/// Parsed from one string with [`FromStr`]: `stun:HOST[:PORT]`, `stuns:…`, or
/// `turn:USER:PASSWORD@HOST[:PORT][?transport=udp|tcp]` (also `turns:`). The user name ends at
/// the first `:` and the password at the last `@`; TURN needs both, STUN takes neither. A list
/// (for `--ice-server` or `CATALK_ICE_SERVERS`) is parsed with [`IceServer::parse_list`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// Server URLs without credentials, e.g. `turn:relay.example.org:3478`.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Why an ICE server string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IceServerParseError {
    /// The scheme is not `stun`, `stuns`, `turn` or `turns`.
    #[error("unknown ICE server scheme in {0:?} (expected stun:, stuns:, turn: or turns:)")]
    Scheme(String),
    /// The host is missing or contains characters a host cannot have.
    #[error("bad host in ICE server {0:?}")]
    Host(String),
    /// The port is not a number from 1 to 65535.
    #[error("bad port in ICE server {0:?}")]
    Port(String),
    /// A TURN server without `USER:PASSWORD@`.
    #[error("TURN server {0:?} needs USER:PASSWORD@")]
    MissingCredentials(String),
    /// A STUN server with credentials.
    #[error("STUN server {0:?} takes no credentials")]
    UnexpectedCredentials(String),
}

impl IceServer {
    /// Parses a list separated by commas or whitespace, e.g. the value of `CATALK_ICE_SERVERS`.
    /// An empty or blank string gives an empty list.
    pub fn parse_list(list: &str) -> Result<Vec<IceServer>, IceServerParseError> {
        list.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()).map(str::parse).collect()
    }
}

impl FromStr for IceServer {
    type Err = IceServerParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = text.split_once(':').ok_or_else(|| IceServerParseError::Scheme(redact(text)))?;
        let is_turn = match scheme {
            "turn" | "turns" => true,
            "stun" | "stuns" => false,
            _ => return Err(IceServerParseError::Scheme(redact(text))),
        };
        let (credentials, address) = match rest.rsplit_once('@') {
            Some((userinfo, address)) => (Some(userinfo), address),
            None => (None, rest),
        };
        let (host_port, query) = match address.split_once('?') {
            Some((host_port, query)) => (host_port, Some(query)),
            None => (address, None),
        };
        check_host_port(host_port, text)?;
        if let Some(query) = query
            && (!is_turn || !matches!(query, "transport=udp" | "transport=tcp"))
        {
            return Err(IceServerParseError::Host(redact(text)));
        }
        let url = format!("{scheme}:{address}");
        match (is_turn, credentials) {
            (false, None) => Ok(Self { urls: vec![url], username: None, credential: None }),
            (false, Some(_)) => Err(IceServerParseError::UnexpectedCredentials(redact(text))),
            (true, None) => Err(IceServerParseError::MissingCredentials(redact(text))),
            (true, Some(userinfo)) => match userinfo.split_once(':') {
                Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                    Ok(Self { urls: vec![url], username: Some(user.to_owned()), credential: Some(password.to_owned()) })
                }
                _ => Err(IceServerParseError::MissingCredentials(redact(text))),
            },
        }
    }
}

/// Checks `HOST[:PORT]`, where HOST may be a bracketed IPv6 address; `text` is the whole string.
fn check_host_port(host_port: &str, text: &str) -> Result<(), IceServerParseError> {
    let bad_host = || IceServerParseError::Host(redact(text));
    let bad_port = || IceServerParseError::Port(redact(text));
    let port = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (ip, after) = bracketed.split_once(']').ok_or_else(bad_host)?;
        ip.parse::<std::net::Ipv6Addr>().map_err(|_| bad_host())?;
        match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(bad_port)?),
        }
    } else {
        let (host, port) = match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        };
        if host.is_empty() || !host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
            return Err(bad_host());
        }
        port
    };
    match port.map(str::parse::<u16>) {
        None | Some(Ok(1..)) => Ok(()),
        Some(_) => Err(bad_port()),
    }
}

/// The string with the password hidden, for error messages that may be logged.
fn redact(text: &str) -> String {
    match (text.split_once(':'), text.rsplit_once('@')) {
        (Some((scheme, rest)), Some((_, address))) => {
            let user = rest.split_once(':').map_or("", |(user, _)| user);
            format!("{scheme}:{user}:***@{address}")
        }
        _ => text.to_owned(),
    }
}

impl std::fmt::Display for IceServer {
    /// Writes the server in the form [`FromStr`] reads, with the password hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, url) in self.urls.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match (&self.username, url.split_once(':')) {
                (Some(user), Some((scheme, address))) => write!(f, "{scheme}:{user}:***@{address}")?,
                _ => f.write_str(url)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password() {
        assert_eq!(redact("stun:u:secret@h:1"), "stun:u:***@h:1");
    }

    #[test]
    fn json_is_the_browsers_rtc_ice_server() {
        let stun: IceServer = "stun:stun.example.org:3478".parse().expect("valid");
        assert_eq!(serde_json::to_string(&stun).expect("json"), r#"{"urls":["stun:stun.example.org:3478"]}"#);
        let turn: IceServer = "turn:alice:secret@relay.example.org".parse().expect("valid");
        assert_eq!(
            serde_json::to_string(&turn).expect("json"),
            r#"{"urls":["turn:relay.example.org"],"username":"alice","credential":"secret"}"#
        );
    }

    #[test]
    fn display_hides_the_password() {
        let server: IceServer = "turn:alice:secret@relay.example.org:3478".parse().expect("valid");
        assert_eq!(server.to_string(), "turn:alice:***@relay.example.org:3478");
    }
}
