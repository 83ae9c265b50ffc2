//! Where region files live.

use std::env;
use std::path::{Path, PathBuf};

use super::error::ShmError;
use super::file;

/// The directory that holds one directory per tenant, each holding region
/// files: `<root>/<tenant>/<region>`.
///
/// [`Root::from_env`] picks, in order: `$MEMWIRE_ROOT`;
/// `$XDG_RUNTIME_DIR/memwire` (a per-user tmpfs on most Linux desktops and
/// servers); `/dev/shm/memwire-<uid>` on Linux; `<temp dir>/memwire-<uid>`
/// elsewhere. The uid suffix keeps users out of each other's way on shared
/// directories: a directory another user made first would be refused as
/// foreign-owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    /// The environment variable that overrides the default root.
    pub const ENV: &'static str = "MEMWIRE_ROOT";

    /// A root at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Root {
        Root { dir: dir.into() }
    }

    /// The root chosen from the environment (see [`Root`]).
    pub fn from_env() -> Root {
        if let Some(dir) = env::var_os(Self::ENV).filter(|d| !d.is_empty()) {
            return Root::new(dir);
        }
        if let Some(dir) = env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            return Root::new(PathBuf::from(dir).join("memwire"));
        }
        let uid = rustix::process::geteuid().as_raw();
        if cfg!(target_os = "linux") && Path::new("/dev/shm").is_dir() {
            return Root::new(format!("/dev/shm/memwire-{uid}"));
        }
        Root::new(env::temp_dir().join(format!("memwire-{uid}")))
    }

    /// The root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens the root directory, creating it (mode 0700) if `create` is
    /// set, and checks it as every open does: this user's, not group- or
    /// world-writable.
    pub(crate) fn check(&self, create: bool) -> Result<(), ShmError> {
        file::open_root(&self.dir, create).map(drop)
    }

    /// The file that region path `tenant/region` names.
    pub fn file_of(&self, path: &str) -> Result<PathBuf, ShmError> {
        let (tenant, region) = file::split_path(path)?;
        Ok(file::display_path(&self.dir, tenant, region))
    }
}

impl Default for Root {
    fn default() -> Root {
        Root::from_env()
    }
}
