//! [`Error`]: why the bridge, or one region's export or import, stopped.

use memwire_std::hub::{BridgeError, WriterError};
use memwire_std::shm::ShmError;

/// Why the bridge could not start, or a region's export or import stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bridge's configuration is not one zenoh takes.
    #[error("zenoh configuration: {0}")]
    Config(String),
    /// zenoh refused an operation (opening the session, declaring a key).
    #[error("zenoh: {0}")]
    Zenoh(String),
    /// The hub has no such region, or a client publishes it.
    #[error(transparent)]
    Hub(#[from] BridgeError),
    /// The local copy of an imported region could not be made or written.
    #[error("local copy: {0}")]
    Copy(String),
    /// A region file could not be created or written.
    #[error(transparent)]
    Region(#[from] ShmError),
}

impl From<zenoh::Error> for Error {
    fn from(e: zenoh::Error) -> Error {
        Error::Zenoh(e.to_string())
    }
}

impl From<WriterError> for Error {
    fn from(e: WriterError) -> Error {
        Error::Copy(e.to_string())
    }
}
