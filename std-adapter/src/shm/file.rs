//! Region files on disk: the root, tenant directories, checked opens and
//! atomic creation.
//!
//! Every open goes through a directory file descriptor with `O_NOFOLLOW`, so
//! a symbolic link planted at a tenant or region name is refused, and every
//! file is checked with `fstat` on the descriptor that will be mapped (no
//! check-then-open race): a regular file, owned by this user, neither
//! readable nor writable by group or others, with exactly one name (no hard
//! link from another name), at least a header long.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, FileExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use memwire::layout::HEADER_LEN;
use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use super::error::ShmError;
use super::map::Access;

/// The longest tenant or region name.
pub const NAME_LEN_MAX: usize = 64;

/// Splits `tenant/region` and checks both names.
pub(crate) fn split_path(path: &str) -> Result<(&str, &str), ShmError> {
    let bad = || ShmError::BadPath(path.to_owned());
    let (tenant, region) = path.split_once('/').ok_or_else(bad)?;
    if !valid_name(tenant) || !valid_name(region) {
        return Err(bad());
    }
    Ok((tenant, region))
}

/// 1–64 bytes of `[A-Za-z0-9_.-]`, not starting with a dot: no `..`, no
/// hidden names (temporary files start with a dot), no separators.
fn valid_name(name: &str) -> bool {
    (1..=NAME_LEN_MAX).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// What `fstat` says of an open descriptor that the checks look at.
struct Stat {
    kind: FileType,
    /// The permission bits.
    mode: u32,
    len: u64,
    /// The number of hard links (names) of the file.
    links: u64,
}

/// The file type, permission bits, length and link count of an open
/// descriptor, checked for ownership.
fn owned_stat(fd: &impl std::os::fd::AsFd, path: &Path) -> Result<Stat, ShmError> {
    let st = rustix::fs::fstat(fd).map_err(|e| ShmError::io("fstat", path, e))?;
    if st.st_uid != euid() {
        return Err(ShmError::ForeignOwner {
            path: path.to_owned(),
            owner: st.st_uid,
            expected: euid(),
        });
    }
    let kind = FileType::from_raw_mode(st.st_mode);
    let mode = Mode::from_raw_mode(st.st_mode).bits() & 0o7777;
    let len = u64::try_from(st.st_size).unwrap_or(0);
    #[allow(clippy::useless_conversion, reason = "mode_t is u16 on some platforms")]
    let mode = u32::from(mode);
    #[allow(
        clippy::useless_conversion,
        reason = "nlink_t is u32 on some platforms"
    )]
    let links = u64::from(st.st_nlink);
    Ok(Stat {
        kind,
        mode,
        len,
        links,
    })
}

/// Opens the root directory, creating it (and its parents) with mode 0700
/// when `create` is set. The root may be reached through a link (it is the
/// user's choice); it must be this user's and not group- or world-writable.
pub(crate) fn open_root(dir: &Path, create: bool) -> Result<OwnedFd, ShmError> {
    if create {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| ShmError::io("create directory", dir, e))?;
    }
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::NOENT => ShmError::NotFound {
            path: dir.to_owned(),
        },
        e => ShmError::io("open", dir, e),
    })?;
    let mode = owned_stat(&fd, dir)?.mode;
    if mode & 0o022 != 0 {
        return Err(ShmError::OpenDirectory {
            path: dir.to_owned(),
            mode,
        });
    }
    Ok(fd)
}

/// Opens tenant directory `tenant` under `root`, creating it with mode 0700
/// (whatever the umask) when `create` is set. Refuses a link, another
/// user's directory and any mode other than owner-only.
pub(crate) fn open_tenant(
    root: &OwnedFd,
    root_dir: &Path,
    tenant: &str,
    create: bool,
) -> Result<OwnedFd, ShmError> {
    let path = root_dir.join(tenant);
    if create {
        match rustix::fs::mkdirat(root, tenant, Mode::RWXU) {
            // The umask may have cleared bits of 0700; the root is ours
            // alone, so nobody can swap the new directory before this.
            Ok(()) => rustix::fs::chmodat(root, tenant, Mode::RWXU, AtFlags::empty())
                .map_err(|e| ShmError::io("chmod", &path, e))?,
            Err(Errno::EXIST) => {}
            Err(e) => return Err(ShmError::io("create directory", &path, e)),
        }
    }
    let fd = rustix::fs::openat(
        root,
        tenant,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::LOOP => ShmError::Symlink { path: path.clone() },
        // With O_DIRECTORY a link is reported as "not a directory".
        Errno::NOTDIR if is_link(root, tenant) => ShmError::Symlink { path: path.clone() },
        Errno::NOTDIR => ShmError::WrongFileType { path: path.clone() },
        Errno::NOENT => ShmError::NotFound { path: path.clone() },
        e => ShmError::io("open", &path, e),
    })?;
    let mode = owned_stat(&fd, &path)?.mode;
    if mode & 0o077 != 0 {
        return Err(ShmError::OpenDirectory { path, mode });
    }
    Ok(fd)
}

/// Whether `name` in `dir` is a symbolic link (for error messages only).
fn is_link(dir: &OwnedFd, name: &str) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
}

/// Opens region file `name` in `tenant` for `access` and checks it: a
/// regular file, this user's, neither readable nor writable by group or
/// others, with one link, at least a header long. [`Access::Header`] opens
/// the file for reading and writing when the system allows it (a reader
/// stores only its pause request, to the header), and for reading alone
/// when it does not (a file of mode 0400, a read-only file system): the
/// access it got. Returns the file, its length and that access.
pub(crate) fn open_region(
    tenant: &OwnedFd,
    path: &Path,
    name: &str,
    access: Access,
) -> Result<(File, u64, Access), ShmError> {
    let open = |flags: OFlags| {
        rustix::fs::openat(
            tenant,
            name,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    let opened = match access {
        Access::Read => open(OFlags::RDONLY).map(|fd| (fd, Access::Read)),
        Access::Write => open(OFlags::RDWR).map(|fd| (fd, Access::Write)),
        Access::Header => match open(OFlags::RDWR) {
            Err(Errno::ACCESS | Errno::PERM | Errno::ROFS) => {
                open(OFlags::RDONLY).map(|fd| (fd, Access::Read))
            }
            opened => opened.map(|fd| (fd, Access::Header)),
        },
    };
    let (fd, access) = opened.map_err(|e| match e {
        Errno::LOOP => ShmError::Symlink {
            path: path.to_owned(),
        },
        Errno::NOENT => ShmError::NotFound {
            path: path.to_owned(),
        },
        Errno::ISDIR => ShmError::WrongFileType {
            path: path.to_owned(),
        },
        e => ShmError::io("open", path, e),
    })?;
    let Stat {
        kind,
        mode,
        len,
        links,
    } = owned_stat(&fd, path)?;
    if kind != FileType::RegularFile {
        return Err(ShmError::WrongFileType {
            path: path.to_owned(),
        });
    }
    if mode & 0o022 != 0 {
        return Err(ShmError::Writable {
            path: path.to_owned(),
            mode,
        });
    }
    if mode & 0o044 != 0 {
        return Err(ShmError::Readable {
            path: path.to_owned(),
            mode,
        });
    }
    // A second name would let one region be opened as another: creation
    // links the temporary file and unlinks it, leaving exactly one.
    if links > 1 {
        return Err(ShmError::HardLinked {
            path: path.to_owned(),
            links,
        });
    }
    if len < HEADER_LEN as u64 {
        return Err(ShmError::TooShort {
            path: path.to_owned(),
            len,
        });
    }
    Ok((File::from(fd), len, access))
}

/// Creates region file `name` in `tenant` holding `bytes`, atomically: the
/// bytes go to a temporary file (mode 0600, space reserved up front), which
/// is locked for writing and then given `name`, failing if `name` exists.
/// A crash leaves at most a temporary file, never a half-written region
/// under the name. Returns the new file, writer lock held, with one name.
pub(crate) fn create_region(
    tenant: &OwnedFd,
    path: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<File, ShmError> {
    let temp = format!(".{name}.{}.{:x}.tmp", std::process::id(), random_u64());
    let fd = rustix::fs::openat(
        tenant,
        temp.as_str(),
        OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::RUSR | Mode::WUSR,
    )
    .map_err(|e| ShmError::io("create", path, e))?;
    let file = File::from(fd);
    let filled = fill(&file, bytes).and_then(|()| name_file(tenant, &temp, name));
    // The temporary name goes whether or not the file got its name.
    let _ = rustix::fs::unlinkat(tenant, temp.as_str(), AtFlags::empty());
    match filled {
        Ok(()) => Ok(file),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(ShmError::AlreadyExists {
            path: path.to_owned(),
        }),
        Err(e) => Err(ShmError::io("create", path, e)),
    }
}

/// Gives the temporary file `temp` the name `name`, failing if `name`
/// exists. A rename that never replaces moves the one name, so no open
/// ever sees the file with two names (which [`open_region`] refuses);
/// where the file system cannot rename so, a link and the caller's unlink
/// of `temp` leave two names for that instant only.
fn name_file(tenant: &OwnedFd, temp: &str, name: &str) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    match rustix::fs::renameat_with(
        tenant,
        temp,
        tenant,
        name,
        rustix::fs::RenameFlags::NOREPLACE,
    ) {
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
            tracing::debug!("rename without replacing unsupported here; linking the region file");
        }
        done => return done.map_err(io::Error::from),
    }
    rustix::fs::linkat(tenant, temp, tenant, name, AtFlags::empty()).map_err(io::Error::from)
}

/// Sets the mode to 0600 whatever the umask, reserves the space, writes the
/// region and takes the writer lock before the file gets its name.
fn fill(file: &File, bytes: &[u8]) -> io::Result<()> {
    rustix::fs::fchmod(file, Mode::RUSR | Mode::WUSR)?;
    reserve(file, bytes.len() as u64)?;
    file.write_all_at(bytes, 0)?;
    if !try_lock(file)? {
        // Nobody else knows the temporary name.
        return Err(io::Error::from(io::ErrorKind::WouldBlock));
    }
    Ok(())
}

/// Reserves `len` bytes so that a later store into the mapping cannot fail
/// for lack of space (a `SIGBUS` on a full tmpfs), falling back to a sparse
/// length where the file system cannot allocate.
fn reserve(file: &File, len: u64) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
        Ok(()) => return Ok(()),
        Err(Errno::OPNOTSUPP | Errno::NOSYS) => {
            tracing::debug!("fallocate unsupported here; the region file is sparse");
        }
        Err(e) => return Err(e.into()),
    }
    rustix::fs::ftruncate(file, len)?;
    Ok(())
}

/// Takes the writer lock on `file` without waiting: `false` when another
/// open file holds it. The kernel drops the lock when the last descriptor of
/// this open file is closed, which includes the process dying.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    match rustix::fs::flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Releases the writer lock taken by [`try_lock`] on this open file.
pub(crate) fn unlock(file: &File) -> io::Result<()> {
    rustix::fs::flock(file, FlockOperation::Unlock)?;
    Ok(())
}

/// Opens (creating it, mode 0600) the request lock file of region `name`
/// in `tenant`: `.<name>.requests`, a name no region can have (region names
/// never start with a dot). A poster of write requests holds its `flock`
/// (see `requests.rs`), so that two hubs never post to one region at once;
/// the region file's own lock stays with its writer.
pub(crate) fn open_request_lock(root: &Path, tenant: &str, name: &str) -> Result<File, ShmError> {
    let root_fd = open_root(root, false)?;
    let tenant_fd = open_tenant(&root_fd, root, tenant, false)?;
    let lock_name = format!(".{name}.requests");
    let path = root.join(tenant).join(&lock_name);
    let fd = rustix::fs::openat(
        &tenant_fd,
        lock_name.as_str(),
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::RUSR | Mode::WUSR,
    )
    .map_err(|e| match e {
        Errno::LOOP => ShmError::Symlink { path: path.clone() },
        e => ShmError::io("open", &path, e),
    })?;
    let kind = owned_stat(&fd, &path)?.kind;
    if kind != FileType::RegularFile {
        return Err(ShmError::WrongFileType { path });
    }
    Ok(File::from(fd))
}

/// The path of a region file, for messages.
pub(crate) fn display_path(root: &Path, tenant: &str, region: &str) -> PathBuf {
    root.join(tenant).join(region)
}

/// A random 64-bit number for region instances and temporary names.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.write_u32(std::process::id());
    h.finish()
}
