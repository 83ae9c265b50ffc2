//! Where a connection comes from ([`Peer`]): its name in the logs, and the
//! [`Source`] that failed logins are counted by (`logins.rs`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A connection's peer as the accept loop saw it.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// The peer's address for the logs (`203.0.113.7:51234`, `unix`).
    pub(crate) name: String,
    /// Whom its failed logins count against.
    pub(crate) source: Source,
}

impl Peer {
    /// A TCP or TLS peer: counted by its IP address.
    pub(crate) fn tcp(addr: SocketAddr) -> Peer {
        Peer {
            name: addr.to_string(),
            source: Source::ip(addr.ip()),
        }
    }

    /// A peer on the Unix socket: counted by its user id when the kernel
    /// tells it, else with every other such peer.
    pub(crate) fn unix(uid: Option<u32>) -> Peer {
        Peer {
            name: match uid {
                Some(uid) => format!("unix uid={uid}"),
                None => "unix".to_owned(),
            },
            source: uid.map_or(Source::Unix, Source::Uid),
        }
    }
}

/// Whom failed logins are counted against.
///
/// An IPv6 peer is counted by its /64 network, the block one host usually
/// holds whole, so a host cannot dodge its count by changing the low bits;
/// an IPv4-mapped address counts as its IPv4 address. A peer on the Unix
/// socket is counted by its user id: a local user whose logins fail
/// delays no other user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// A TCP or TLS peer's address (IPv6: its /64).
    Ip(IpAddr),
    /// A Unix socket peer's user id.
    Uid(u32),
    /// A Unix socket peer whose user id the kernel did not tell.
    Unix,
}

impl Source {
    fn ip(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(v4) => Source::Ip(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source::Ip(IpAddr::V4(v4)),
                None => {
                    let net = u128::from(v6) & !((1u128 << 64) - 1);
                    Source::Ip(IpAddr::V6(net.into()))
                }
            },
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Ip(IpAddr::V6(net)) => write!(f, "{net}/64"),
            Source::Ip(ip) => write!(f, "{ip}"),
            Source::Uid(uid) => write!(f, "uid {uid}"),
            Source::Unix => f.write_str("unix"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_peers_count_by_their_64_and_mapped_ones_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Source::ip(a), Source::ip(b));
        assert_ne!(Source::ip(a), Source::ip(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(Source::ip(mapped), Source::ip(v4));
        assert_eq!(Source::ip(a).to_string(), "2001:db8:1:2::/64");
    }
}
