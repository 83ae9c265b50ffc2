//! Discovery (`discover = true` on a tenant): serving every valid region
//! file in the tenant's directory, with the file's own schema, as files
//! come and go.
//!
//! [`Discovery::look`] lists the directory; the tenant's discovery thread
//! (`scan.rs`) calls it on the scanners' rhythm, every 200 ms. A name that
//! is not a region's is skipped: a dotfile (`.<region>.requests`, a lock
//! file), a name outside the region-name rules, anything but a regular
//! file, and a configured region's file (its region serves it already). A
//! file that does not open as a valid region is skipped until its length
//! or modification time changes. A new valid file takes a place in
//! `Shared::found` for the hub's life and gets a scanner; from then on it
//! is served like a configured region without `variables`: removed or
//! broken, it is unavailable (and hidden from listings and lookups), and a
//! valid file under its name again is served as a new instance
//! (`recheck.rs`). Places are bounded ([`DISCOVER_MAX`] per tenant); past
//! them new files are logged, not served.

use std::collections::HashMap;
use std::ops::Range;
use std::time::SystemTime;

use memwire::schema::Name;

use super::region::{Opened, Served};
use super::shared::{DISCOVER_MAX, Shared};

/// One tenant's discovery: its places, and the files it skipped.
pub(crate) struct Discovery {
    tenant: String,
    places: Range<usize>,
    /// Files that did not open as a region, as they were then.
    refused: HashMap<String, (u64, Option<SystemTime>)>,
    /// Whether the log said that the places ran out.
    full: bool,
}

impl Discovery {
    /// The discovery of `tenant`, whose regions take the ids `places`.
    pub(crate) fn new(tenant: &str, places: Range<usize>) -> Discovery {
        Discovery {
            tenant: tenant.to_owned(),
            places,
            refused: HashMap::new(),
            full: false,
        }
    }

    /// Looks at the tenant's directory once: serves each new valid region
    /// file in a free place, and returns the ids of the regions it found,
    /// whose scanners the caller starts.
    pub(crate) fn look(&mut self, shared: &Shared) -> Vec<usize> {
        let dir = shared.root.dir().join(&self.tenant);
        // A tenant directory not created yet holds nothing to serve.
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let known: Vec<&str> = shared
            .all()
            .filter(|(_, r)| r.tenant == self.tenant)
            .map(|(_, r)| r.name.as_str())
            .collect();
        let mut candidates = Vec::new();
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if !is_file || name.starts_with('.') || Name::new(&name).is_err() {
                continue;
            }
            if known.contains(&name.as_str()) {
                continue;
            }
            let stamp = entry.metadata().map(|m| (m.len(), m.modified().ok())).ok();
            if stamp.is_some() && self.refused.get(&name) == stamp.as_ref() {
                continue;
            }
            candidates.push((name, stamp));
        }
        let mut found = Vec::new();
        for (name, stamp) in candidates {
            let path = format!("{}/{name}", self.tenant);
            let chunk = shared.config.publish.chunk;
            let encode_once = shared.config.publish.encode_once;
            match Opened::open(&shared.root, &path, None, chunk, encode_once) {
                Ok(opened) => {
                    self.refused.remove(&name);
                    let Some(index) = self.place(shared) else {
                        if !self.full {
                            self.full = true;
                            tracing::warn!(tenant = %self.tenant, max = DISCOVER_MAX, region = %path, "not serving a region found in the tenant's directory: the tenant has as many discovered regions as it may");
                        }
                        break;
                    };
                    let served = Served::found(
                        &shared.root,
                        &self.tenant,
                        &name,
                        opened,
                        chunk,
                        encode_once,
                    );
                    let Some(place) = index
                        .checked_sub(shared.regions.len())
                        .and_then(|i| shared.found.get(i))
                    else {
                        break;
                    };
                    if place.set(served).is_ok() {
                        tracing::info!(region = %path, file = %dir.join(&name).display(), "serving a region found in the tenant's directory");
                        found.push(index);
                    }
                }
                Err(e) => {
                    tracing::debug!(region = %path, error = %e, "not a region file; skipped until it changes");
                    if let Some(stamp) = stamp {
                        self.refused.insert(name, stamp);
                    }
                }
            }
        }
        found
    }

    /// The id of the first free place of this tenant.
    fn place(&self, shared: &Shared) -> Option<usize> {
        self.places.clone().find(|&index| {
            index
                .checked_sub(shared.regions.len())
                .and_then(|i| shared.found.get(i))
                .is_some_and(|place| place.get().is_none())
        })
    }
}
