//! How a client introduces itself and what it can take.

use crate::time::Duration;

/// How a [`Client`](super::Client) introduces itself and what it can take.
#[derive(Clone, Copy, Debug)]
pub struct ClientConfig<'a> {
    /// A free-form name for the hub's logs, at most 64 bytes.
    pub name: &'a str,
    /// The tenant to authenticate for.
    pub tenant: &'a str,
    /// The client's secret key within the tenant.
    pub secret: &'a [u8],
    /// The largest frame body the client takes (capped at the receive
    /// buffer `RX`; at least 128).
    pub max_frame: u32,
    /// Ping when nothing was sent for this long (the hub's keep-alive is
    /// used when shorter).
    pub keepalive: Duration,
    /// Close when nothing was heard for this long (the hub's timeout is used
    /// when shorter).
    pub timeout: Duration,
    /// Close when the hub has not welcomed the client by then.
    pub handshake: Duration,
}

impl<'a> ClientConfig<'a> {
    /// A configuration with the defaults: frames as large as the receive
    /// buffer, a ping after 5 s of silence, a 15 s dead-peer timeout, a 10 s
    /// handshake deadline.
    pub const fn new(name: &'a str, tenant: &'a str, secret: &'a [u8]) -> Self {
        ClientConfig {
            name,
            tenant,
            secret,
            max_frame: u32::MAX,
            keepalive: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            handshake: Duration::from_secs(10),
        }
    }
}
