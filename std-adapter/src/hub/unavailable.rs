//! Regions the hub is configured to serve but could not open
//! ([`Unavailable`]): a corrupt header, a file of another schema, a link
//! under the region's name. The hub serves the others; a subscriber of one
//! of these gets an error that names the problem, and the hub's log says
//! the rest (the file's path and the full reason).

use crate::shm::ShmError;
use memwire::layout::LayoutError;

/// A configured region whose file could not be opened or created.
#[derive(Debug)]
pub(crate) struct Unavailable {
    pub(crate) tenant: String,
    pub(crate) name: String,
    /// Why, as the error frame to its subscribers says it (at most 100
    /// bytes, the wire's limit on a reason).
    pub(crate) reason: &'static str,
}

impl Unavailable {
    /// Logs `error` at error level and keeps the region's reason.
    pub(crate) fn new(tenant: &str, name: &str, error: &ShmError) -> Unavailable {
        tracing::error!(
            region = %format_args!("{tenant}/{name}"),
            error = %error,
            "region not served: its file cannot be opened; the other regions are served",
        );
        Unavailable {
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            reason: reason(error),
        }
    }
}

/// The reason given for a region whose file was truncated while served.
pub(crate) const TRUNCATED: &str = "region unavailable: its file was truncated while served";

/// What is wrong with the file, in a reason that fits an error frame. The
/// path and the remedy stay in the hub's log: a remote client learns what
/// kind of problem it is, not how the hub's disk is laid out.
fn reason(error: &ShmError) -> &'static str {
    match error {
        ShmError::BadHeader {
            source: LayoutError::SchemaMismatch,
            ..
        } => "region unavailable: its file holds another schema",
        ShmError::BadHeader { .. } | ShmError::TooShort { .. } => {
            "region unavailable: its file is not a valid region (corrupt or truncated)"
        }
        ShmError::Symlink { .. } => "region unavailable: its file is a symbolic link",
        ShmError::WrongFileType { .. } => "region unavailable: its path is not a regular file",
        ShmError::ForeignOwner { .. } => "region unavailable: its file belongs to another user",
        ShmError::Writable { .. } | ShmError::Readable { .. } | ShmError::OpenDirectory { .. } => {
            "region unavailable: its file or directory is open to other users"
        }
        ShmError::HardLinked { .. } => "region unavailable: its file has more than one name",
        ShmError::Truncated { .. } => TRUNCATED,
        _ => "region unavailable: its file cannot be opened",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn every_reason_fits_an_error_frame() {
        let path = || PathBuf::from("r/t/x");
        let errors = [
            ShmError::BadHeader {
                path: path(),
                source: LayoutError::SchemaMismatch,
            },
            ShmError::BadHeader {
                path: path(),
                source: LayoutError::BadMagic,
            },
            ShmError::TooShort {
                path: path(),
                len: 0,
            },
            ShmError::Symlink { path: path() },
            ShmError::WrongFileType { path: path() },
            ShmError::ForeignOwner {
                path: path(),
                owner: 1,
                expected: 2,
            },
            ShmError::Readable {
                path: path(),
                mode: 0o644,
            },
            ShmError::HardLinked {
                path: path(),
                links: 2,
            },
            ShmError::Truncated { path: path() },
            ShmError::io("open", path(), std::io::Error::other("x")),
        ];
        for error in &errors {
            let reason = reason(error);
            assert!(reason.len() <= 100, "{reason}");
        }
    }
}
