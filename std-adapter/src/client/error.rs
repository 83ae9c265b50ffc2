//! Why a client call failed ([`ClientError`]).

use memwire::Kind;
use memwire::codec::ErrorCode;
use memwire::region::AccessError;

use crate::shm::ShmError;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not `tcp://host:port`, `tls://host:port`,
    /// `unix:///path`, `ws://host:port[/path]` or `wss://host:port[/path]`.
    #[error(
        "not a hub address: {0} (expected tcp://host:port, tls://host:port, unix:///path, ws://host:port or wss://host:port)"
    )]
    BadUrl(String),
    /// The hub could not be reached.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The hub's URL.
        url: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS setup or handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The hub closed the connection with an error (a wrong secret gives
    /// [`ErrorCode::AuthFailed`]).
    #[error("the hub refused: {0}")]
    Refused(ErrorCode),
    /// The hub closed the connection during the handshake without a reason.
    #[error("the hub closed the connection")]
    Disconnected,
    /// The hub ended the subscription or refused the write.
    #[error("{0}")]
    Hub(ErrorCode),
    /// The region's variable table could not be turned into a mirror.
    #[error("the hub described a region this client cannot mirror: {0}")]
    BadSchema(String),
    /// The mirror has no variable of that name.
    #[error("no variable named {0}")]
    UnknownVariable(String),
    /// A typed access did not match the schema.
    #[error("the type does not match the region's schema")]
    SchemaMismatch,
    /// A read of the mirror failed (wrong kind or length, or busy).
    #[error("mirror read: {0}")]
    Access(AccessError),
    /// A record's variable holds bytes that are not a value of its field's
    /// type: a `bool` stored as a byte other than 0 or 1.
    #[error("variable {variable} does not hold a valid {kind} (a bool is the byte 0 or 1)")]
    InvalidValue {
        /// The variable's name.
        variable: String,
        /// The variable's kind.
        kind: Kind,
    },
    /// A read of the mapped region file failed.
    #[error("local region: {0}")]
    Local(String),
    /// The client is closed.
    #[error("the client is closed")]
    Closed,
    /// The client is reconnecting; try again.
    #[error("not connected to the hub (reconnecting)")]
    NotConnected,
    /// The write does not fit in one frame of the size the hub takes. Not
    /// returned by [`Mirror::write`](super::Mirror::write) any more, which
    /// sends a larger write in parts; kept for matches written against it.
    #[error("the write is larger than the hub's largest frame")]
    TooLarge,
    /// The path is not `tenant/region`, or too many subscriptions.
    #[error("cannot subscribe to {0}")]
    BadPath(String),
}

impl ClientError {
    /// A local read's error, as the same mistake on a remote mirror gives it.
    pub(super) fn local(e: ShmError) -> ClientError {
        match e {
            ShmError::Access(a) => ClientError::Access(a),
            ShmError::InvalidValue { variable, kind, .. } => {
                ClientError::InvalidValue { variable, kind }
            }
            other => ClientError::Local(other.to_string()),
        }
    }
}
