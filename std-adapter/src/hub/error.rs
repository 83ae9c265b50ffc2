//! Why a hub could not start ([`HubError`]).

use std::path::PathBuf;

/// Why a hub could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The root directory of the region files cannot be used (created,
    /// opened, or it is another user's or open to others). A single region
    /// file that cannot be opened does not stop the hub: the region is
    /// unavailable and the others are served.
    #[error("region root {path}: {source}")]
    Root {
        /// The root directory.
        path: PathBuf,
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
