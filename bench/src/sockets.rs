//! Room for many sockets: the open-file limit and loopback source addresses.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Connections placed on one source address. Linux hands out ephemeral ports
/// from 32768–60999 (28,232) per source address; stay well below that.
pub const CONNECTIONS_PER_SOURCE: usize = 25_000;

/// File descriptors kept free beyond one per connection (listeners, pipes, /proc reads).
const FD_SLACK: u64 = 1024;

/// File descriptors a process needs beyond its sockets (listener, pipes, `/proc` reads).
const FD_MINIMUM_SLACK: u64 = 64;

/// Raises this process's open-file limit so that `connections` sockets fit.
///
/// Raises the hard limit too when allowed (`CAP_SYS_RESOURCE`); otherwise the
/// soft limit goes up to the hard one. Children started afterwards (the relay)
/// inherit it. Returns the soft limit now in force, or an error when even that
/// leaves no room for `connections` sockets.
pub fn raise_fd_limit(connections: usize) -> anyhow::Result<u64> {
    let wanted = connections as u64 + FD_SLACK;
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let limit = if soft >= wanted {
        soft
    } else if rlimit::setrlimit(rlimit::Resource::NOFILE, wanted, hard.max(wanted)).is_ok() {
        wanted
    } else {
        rlimit::increase_nofile_limit(wanted)?
    };
    anyhow::ensure!(
        limit >= connections as u64 + FD_MINIMUM_SLACK,
        "the open-file limit is {limit} (hard limit {hard}; raising it needs CAP_SYS_RESOURCE): \
         too low for {connections} connections in one process"
    );
    Ok(limit)
}

/// The local addresses to bind client sockets to, used round-robin.
///
/// `None` means "let the kernel choose" (one address is enough, or the relay is
/// not on loopback). For a loopback IPv4 relay needing more than `per_source`
/// connections: 127.0.0.1, 127.0.0.2, …
pub fn source_addresses(relay: SocketAddr, connections: usize, per_source: usize) -> Vec<Option<IpAddr>> {
    let needed = connections.div_ceil(per_source.max(1)).max(1);
    match relay.ip() {
        IpAddr::V4(ip) if ip.is_loopback() && needed > 1 => {
            (1..=needed).map(|n| Some(IpAddr::V4(Ipv4Addr::new(127, 0, (n >> 8) as u8, n as u8)))).collect()
        }
        _ => vec![None],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_until_the_port_range_runs_out() {
        let relay: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(source_addresses(relay, 20_000, CONNECTIONS_PER_SOURCE), vec![None]);
        let many = source_addresses(relay, 60_000, CONNECTIONS_PER_SOURCE);
        assert_eq!(many.len(), 3);
        assert_eq!(many[2], Some("127.0.0.3".parse().unwrap()));
    }

    #[test]
    fn remote_relays_keep_the_kernel_choice() {
        let relay: SocketAddr = "10.0.0.1:8080".parse().unwrap();
        assert_eq!(source_addresses(relay, 100_000, CONNECTIONS_PER_SOURCE), vec![None]);
    }
}
