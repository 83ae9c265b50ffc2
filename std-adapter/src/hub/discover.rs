//! Discovery (`discover = true` on a tenant): serving every valid region
//! file in the tenant's directory, with the file's own schema, as files
//! come and go.
//!
//! One thread per hub ([`run`]) looks at the directory of every tenant
//! that discovers, under the configuration running now, every 200 ms (the
//! scanners' rhythm). A name that is not a region's is skipped: a dotfile
//! (`.<region>.requests`, a lock file), a name outside the region-name
//! rules, anything but a regular file, and a name a region of the tenant
//! has already (a declared one, or one found before). A file that does not
//! open as a valid region is skipped until its length or modification time
//! changes. A new valid file becomes a region the way a reload adds one
//! (`reload.rs`): appended to the regions in a new [`Shared`] that every
//! connection takes, with a scanner of its own. From then on it is served
//! like a declared region without `variables`, for the hub's life: removed
//! or broken, it is unavailable and hidden from listings and lookups
//! (`Shared::find`), and a valid file under its name again is served as a
//! new instance (`recheck.rs`). A tenant keeps at most [`DISCOVER_MAX`]
//! names; past them new files are logged, not served.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use memwire::schema::Name;
use tokio::sync::watch;

use super::region::{Opened, Served};
use super::scan::{SCAN_WAKE, Scanners};
use super::shared::Shared;

/// The regions the hub discovers in one tenant's directory at most, over
/// its life: each connection keeps a place for every region.
pub(crate) const DISCOVER_MAX: usize = 256;

/// What the discovery remembers between two looks.
#[derive(Default)]
struct Discovery {
    /// Files that did not open as a region, by path, as they were then.
    refused: HashMap<String, (u64, Option<SystemTime>)>,
    /// The tenants whose limit the log has mentioned.
    full: Vec<String>,
}

/// Looks at the directories of the discovering tenants until the hub
/// shuts down; a region found is added to the hub in `current` (under
/// `reloading`, so that it does not interleave with a reload) and its
/// scanner started.
pub(crate) fn run(
    current: &watch::Sender<Arc<Shared>>,
    reloading: &Mutex<()>,
    scanners: &Scanners,
) {
    let mut discovery = Discovery::default();
    while scanners.scanning() {
        let shared = Arc::clone(&current.borrow());
        let found = discovery.look(&shared);
        if !found.is_empty() {
            let _one = reloading.lock().unwrap_or_else(PoisonError::into_inner);
            let running = Arc::clone(&current.borrow());
            let mut regions = running.regions.clone();
            for served in found {
                // A reload in the meantime may have declared the name.
                if running.find(&served.tenant, &served.name).is_some() {
                    continue;
                }
                let served = Arc::new(served);
                tracing::info!(region = %served.path(), file = %served.file.display(), "serving a region found in the tenant's directory");
                scanners.add(&served);
                regions.push(served);
            }
            current.send_replace(Arc::new(running.next(running.config.clone(), regions)));
        }
        std::thread::sleep(SCAN_WAKE);
    }
}

impl Discovery {
    /// One look at every discovering tenant's directory: the regions of
    /// the new valid files in them.
    fn look(&mut self, shared: &Shared) -> Vec<Served> {
        let mut found = Vec::new();
        for tenant in shared.config.tenants.iter().filter(|t| t.discover) {
            let tenant = tenant.name.as_str();
            let known: Vec<&Served> = shared
                .regions
                .iter()
                .filter(|r| !r.retired() && r.tenant == tenant)
                .map(Arc::as_ref)
                .collect();
            let room = DISCOVER_MAX.saturating_sub(known.iter().filter(|r| r.discovered).count());
            for name in self.new_files(shared, tenant, &known) {
                let path = format!("{tenant}/{name}");
                let chunk = shared.config.publish.chunk;
                let encode_once = shared.config.publish.encode_once;
                match Opened::open(&shared.root, &path, None, chunk, encode_once) {
                    Ok(_) if found.len() >= room => {
                        if !self.full.iter().any(|t| t == tenant) {
                            self.full.push(tenant.to_owned());
                            tracing::warn!(tenant, max = DISCOVER_MAX, region = %path, "not serving a region found in the tenant's directory: the tenant has as many discovered regions as it may");
                        }
                    }
                    Ok(opened) => {
                        self.refused.remove(&path);
                        found.push(Served::found(
                            &shared.root,
                            tenant,
                            &name,
                            opened,
                            chunk,
                            encode_once,
                        ));
                    }
                    Err(e) => {
                        tracing::debug!(region = %path, error = %e, "not a region file; skipped until it changes");
                        if let Some(stamp) = stamp(shared, &path) {
                            self.refused.insert(path, stamp);
                        }
                    }
                }
            }
        }
        found
    }

    /// The names in `tenant`'s directory that may be new regions: regular
    /// files named as regions are, that no region in `known` has, and not
    /// refused as they are now.
    fn new_files(&self, shared: &Shared, tenant: &str, known: &[&Served]) -> Vec<String> {
        // A tenant directory not created yet holds nothing to serve.
        let Ok(entries) = std::fs::read_dir(shared.root.dir().join(tenant)) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.') && Name::new(name).is_ok())
            .filter(|name| !known.iter().any(|r| r.name == *name))
            .filter(|name| {
                let path = format!("{tenant}/{name}");
                self.refused
                    .get(&path)
                    .is_none_or(|was| stamp(shared, &path).as_ref() != Some(was))
            })
            .collect()
    }
}

/// A file's length and modification time, to tell whether it changed.
fn stamp(shared: &Shared, path: &str) -> Option<(u64, Option<SystemTime>)> {
    let meta = std::fs::symlink_metadata(shared.root.dir().join(path)).ok()?;
    Some((meta.len(), meta.modified().ok()))
}
