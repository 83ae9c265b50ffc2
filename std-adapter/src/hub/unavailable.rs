//! Why a configured region is not served now ([`Unavailable`]): its file
//! could not be opened (a corrupt header, a file of another schema, a link
//! under the region's name), or the file served was removed, renamed,
//! replaced, changed or truncated under the hub. The hub serves the others; a
//! subscriber of one of these gets an error that names the problem, a
//! remote write gets [`UNAVAILABLE`], and the hub's log says the rest (the
//! file's path and the full reason). Any path that finds a served file
//! broken (`recheck.rs`, and whatever else detects a broken file) goes
//! through [`Served::mark_unavailable`](super::region::Served), so the
//! region is taken up again the same way once a valid file has its name.

use crate::shm::ShmError;
use memwire::codec::ErrorCode;
use memwire::layout::LayoutError;

/// The code that refuses a remote write to an unavailable region. No code
/// says "this region's file is broken": `Other`, the subscribers' error
/// frame naming the problem.
pub(crate) const UNAVAILABLE: ErrorCode = ErrorCode::Other;

/// Why a configured region serves no file.
#[derive(Debug)]
pub(crate) struct Unavailable {
    /// Why, as the error frame to its subscribers says it (at most 100
    /// bytes, the wire's limit on a reason).
    pub(crate) reason: &'static str,
}

impl Unavailable {
    /// Logs `error` at error level (a file not created yet at info level:
    /// a region that adopts its file's schema waits for its writer) and
    /// keeps the region's reason.
    pub(crate) fn new(region: &str, error: &ShmError) -> Unavailable {
        if matches!(error, ShmError::NotFound { .. }) {
            tracing::info!(
                region,
                error = %error,
                "region not served yet: no file has its name; it is served once a valid file has",
            );
            return Unavailable {
                reason: reason(error),
            };
        }
        tracing::error!(
            region,
            error = %error,
            "region not served: its file cannot be served; the other regions are served, and this one once a valid file has its name",
        );
        Unavailable {
            reason: reason(error),
        }
    }

    /// A discovered region whose file was removed: dropped as discovery
    /// promises, logged at info level.
    pub(crate) fn dropped(region: &str, error: &ShmError) -> Unavailable {
        tracing::info!(region, error = %error, "a discovered region's file was removed: no longer served");
        Unavailable {
            reason: reason(error),
        }
    }
}

/// The reason given for a region whose file was truncated while served.
pub(crate) const TRUNCATED: &str = "region unavailable: its file was truncated while served";

/// What is wrong with the file, in a reason that fits an error frame. The
/// path and the remedy stay in the hub's log: a remote client learns what
/// kind of problem it is, not how the hub's disk is laid out.
pub(crate) fn reason(error: &ShmError) -> &'static str {
    match error {
        ShmError::Removed { .. } => "region unavailable: its file was removed or renamed",
        ShmError::NotFound { .. } => {
            "region unavailable: no file has its name (not created yet, or removed or renamed)"
        }
        ShmError::Replaced { .. } => {
            "region unavailable: its file was replaced by one that cannot be served"
        }
        ShmError::HeaderChanged { .. } => {
            "region unavailable: its file's header or table changed while served"
        }
        ShmError::Unavailable { reason, .. } => reason,
        ShmError::SchemaMismatch { .. }
        | ShmError::BadHeader {
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
            ShmError::Removed { path: path() },
            ShmError::NotFound { path: path() },
            ShmError::SchemaMismatch {
                path: path(),
                difference: Box::new(memwire::schema::Difference::Missing {
                    name: memwire::Name::new("x").unwrap(),
                }),
            },
            ShmError::Replaced { path: path() },
            ShmError::HeaderChanged { path: path() },
        ];
        for error in &errors {
            let reason = reason(error);
            assert!(reason.len() <= 100, "{reason}");
        }
    }
}
