//! Why a hub could not start ([`HubError`]).

use std::path::PathBuf;

/// Why a hub could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// A region file could not be opened or created.
    #[error("region {path}: {source}")]
    Region {
        /// `tenant/region`.
        path: String,
        /// Why.
        source: crate::shm::ShmError,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address or socket path.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be loaded.
    #[error("TLS: {file}: {message}")]
    Tls {
        /// The certificate or key file.
        file: PathBuf,
        /// Why.
        message: String,
    },
    /// A region's schema is not valid.
    #[error("region {path}: {message}")]
    Schema {
        /// `tenant/region`.
        path: String,
        /// Why.
        message: String,
    },
}
