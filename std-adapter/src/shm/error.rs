//! Why opening, creating, reading or writing a shared region failed.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use memwire::Kind;
use memwire::layout::LayoutError;
use memwire::region::AccessError;
use memwire::schema::Difference;

/// Why an operation on a shared region failed.
///
/// Every way a region file can be unfit to map is its own variant, so that a
/// tool can say exactly what is wrong with a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShmError {
    /// A region path is not `tenant/region` with both parts 1–64 bytes of
    /// `[A-Za-z0-9_.-]`, not starting with a dot.
    #[error(
        "invalid region path {0:?}: expected tenant/region, each 1-64 of [A-Za-z0-9_.-], not starting with '.'"
    )]
    BadPath(String),
    /// No region file at the path.
    #[error("no region at {path}")]
    NotFound {
        /// The region file's path.
        path: PathBuf,
    },
    /// A region already exists at the path (creation never replaces one).
    #[error("a region already exists at {path}")]
    AlreadyExists {
        /// The region file's path.
        path: PathBuf,
    },
    /// The path, or its tenant directory, is a symbolic link: regions are
    /// never opened through one.
    #[error("{path} is a symbolic link; regions are not opened through links")]
    Symlink {
        /// The link's path.
        path: PathBuf,
    },
    /// The path is not a regular file (or, for a tenant, not a directory).
    #[error("{path} is not a regular file or directory as expected")]
    WrongFileType {
        /// The path.
        path: PathBuf,
    },
    /// The file or directory belongs to another user.
    #[error("{path} is owned by uid {owner}, not by this process's uid {expected}")]
    ForeignOwner {
        /// The path.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// This process's effective uid.
        expected: u32,
    },
    /// The region file is writable by its group or by everyone.
    #[error(
        "{path} has mode {mode:o}: writable by group or others; make it owner-only with `chmod 600 {path}`"
    )]
    Writable {
        /// The file's path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The region file is readable by its group or by everyone: its values
    /// would be open to other users.
    #[error(
        "{path} has mode {mode:o}: readable by group or others; make it owner-only with `chmod 600 {path}`"
    )]
    Readable {
        /// The file's path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The region file has more than one name (a hard link): another name,
    /// perhaps another region's, reaches the same bytes.
    #[error(
        "{path} has {links} hard links: a region file must have one name; remove the other links (`find -samefile {path}`) or give this region a copy of its own"
    )]
    HardLinked {
        /// The file's path.
        path: PathBuf,
        /// How many names the file has.
        links: u64,
    },
    /// A tenant directory, or the root, is open to other users (a tenant
    /// directory must be 0700; the root must not be group- or world-writable).
    #[error("directory {path} has mode {mode:o}: open to other users")]
    OpenDirectory {
        /// The directory's path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is shorter than a region header (a zero-length file included).
    #[error("{path} is {len} bytes, shorter than a region header")]
    TooShort {
        /// The file's path.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The file's header or table is not a valid region.
    #[error("{path} is not a usable region: {source}")]
    BadHeader {
        /// The file's path.
        path: PathBuf,
        /// What the core's checked view rejected.
        #[source]
        source: LayoutError,
    },
    /// The region's variables are not the schema the caller expects: the
    /// first variable that differs, and how.
    #[error("{path}: region variables differ from the expected schema: {difference}")]
    SchemaMismatch {
        /// The file's path.
        path: PathBuf,
        /// The first variable that differs (boxed: it holds two names,
        /// and every other variant is small).
        difference: Box<Difference>,
    },
    /// The open file's name was removed or renamed: the name leads to no
    /// file any more, and what is written to the open file reaches no one
    /// who opens the name.
    #[error("{path} was removed or renamed while open")]
    Removed {
        /// The file's path.
        path: PathBuf,
    },
    /// The open file's name now leads to another file.
    #[error("{path} now names another file than the one open")]
    Replaced {
        /// The file's path.
        path: PathBuf,
    },
    /// The bytes a region never changes after creation (the checksummed
    /// header fields, the variable table, the name index) changed while
    /// the file was open: something other than a writer wrote into it.
    #[error("{path}: its header or variable table changed while open")]
    HeaderChanged {
        /// The file's path.
        path: PathBuf,
    },
    /// A hub stopped serving the region: its file was removed, replaced or
    /// corrupted, or cannot be opened. It serves it again once a valid file
    /// of the region's schema has the name.
    #[error("{path} is not served: {reason}")]
    Unavailable {
        /// The file's path.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Another process holds the writer lock.
    #[error("{path} is being written by another process (pid {pid})")]
    WriterBusy {
        /// The file's path.
        path: PathBuf,
        /// The pid the lock holder recorded in the header (0 if none yet).
        pid: u32,
    },
    /// A write asked of the writer lock's holder through the region's
    /// request area was not taken in time: the holder neither committed
    /// nor called `ShmWriter::apply_requests`. The request was withdrawn
    /// and will never be applied; nothing was written.
    #[error(
        "{path}: the writer (pid {pid}) did not take the write within {timeout:?}; nothing was written (a writer applies remote writes at its commits and in apply_requests)"
    )]
    RequestNotTaken {
        /// The file's path.
        path: PathBuf,
        /// The pid the lock holder recorded.
        pid: u32,
        /// How long the request waited.
        timeout: Duration,
    },
    /// The writer lock's holder took a requested write but did not answer
    /// in time: it may have died applying it. The next writer keeps the
    /// write whole or rolls it back; the region shows which.
    #[error(
        "{path}: the writer (pid {pid}) took the write but did not answer; it may or may not be applied"
    )]
    RequestNotAnswered {
        /// The file's path.
        path: PathBuf,
        /// The pid the lock holder recorded.
        pid: u32,
    },
    /// The writer lock's holder refused a requested write, or it does not
    /// fit the region's request area.
    #[error("{path}: the writer refused the write: {reason}")]
    RequestRefused {
        /// The file's path.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// A write stayed in progress for longer than the stall bound: its
    /// writer is stuck or died mid-write and no writer has recovered the
    /// region yet.
    #[error("writer pid {pid} left a write in progress for longer than {bound:?}")]
    WriterStalled {
        /// The pid recorded in the header.
        pid: u32,
        /// The bound that passed.
        bound: Duration,
    },
    /// The region file shrank while this handle had it mapped (someone
    /// truncated it): its data is gone. The handle stays safe to use but
    /// reports this from every read and write; remove the file, create the
    /// region anew and open it again.
    #[error(
        "{path} was truncated while mapped: the region's data is gone; recreate the region and open it again"
    )]
    Truncated {
        /// The file's path.
        path: PathBuf,
    },
    /// A read or write was refused by the region (unknown variable, wrong
    /// length or kind).
    #[error(transparent)]
    Access(AccessError),
    /// A record's variable holds bytes that are not a value of its field's
    /// type: a `bool` stored as a byte other than 0 or 1 (by a program
    /// that wrote the region untyped).
    #[error("{path}: variable {variable} does not hold a valid {kind} (a bool is the byte 0 or 1)")]
    InvalidValue {
        /// The file's path.
        path: PathBuf,
        /// The variable's name.
        variable: String,
        /// The variable's kind.
        kind: Kind,
    },
    /// A system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: io::Error,
    },
}

impl ShmError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<io::Error>,
    ) -> ShmError {
        ShmError::Io {
            op,
            path: path.into(),
            source: source.into(),
        }
    }
}
