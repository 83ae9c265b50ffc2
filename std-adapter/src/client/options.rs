//! How a client connects and reconnects ([`ClientOptions`]).

use std::time::Duration;

use rustls_pki_types::CertificateDer;

use crate::shm::Root;

/// How a client connects and reconnects.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// A name for the hub's logs; with the tenant, what the hub's
    /// configuration knows the client by.
    pub name: String,
    /// The tenant.
    pub tenant: String,
    /// The client's secret key.
    pub secret: Vec<u8>,
    /// Certificates to trust for `tls://` besides none: a hub's certificate
    /// or its CA.
    pub tls_roots: Vec<CertificateDer<'static>>,
    /// The hub's shared-memory root, for local reads over `unix://`.
    pub local_root: Option<Root>,
    /// The first pause before reconnecting.
    pub reconnect_min: Duration,
    /// The longest pause between reconnection attempts.
    pub reconnect_max: Duration,
    /// How long the first connection may take (connect and handshake).
    pub connect_timeout: Duration,
    /// Ask the hub for every update full (the whole data area) rather than
    /// a delta, for every subscription of this client: for a consumer
    /// that keeps no state between updates. Off by default;
    /// `Client::subscribe_full` asks it for one subscription.
    pub always_full: bool,
}

impl ClientOptions {
    /// Options with defaults: reconnect after 100 ms doubling up to 5 s
    /// (each pause with up to 50% random jitter), 10 s to connect, no TLS
    /// roots, no local reads.
    pub fn new(name: &str, tenant: &str, secret: impl Into<Vec<u8>>) -> ClientOptions {
        ClientOptions {
            name: name.to_owned(),
            tenant: tenant.to_owned(),
            secret: secret.into(),
            tls_roots: Vec::new(),
            local_root: None,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            always_full: false,
        }
    }
}
