//! What every part of a running hub shares: the regions (configured and
//! discovered), the configuration, the session clock, the connections of
//! publishing clients and the record of failed logins ([`Shared`]). The hub handle, the accept loops, the scanners and every
//! connection hold it; it names none of them.

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use memwire::session::RegionId;

use super::config::Config;
use super::error::HubError;
use super::forward::Publishers;
use super::logins::{RefusalLog, Throttle};
use super::region::Served;
use crate::shm::Root;

/// The regions the hub discovers in one tenant's directory at most
/// (`discover = true`): each connection keeps a place for every one.
pub(crate) const DISCOVER_MAX: usize = 256;

/// The session clock: microseconds since the hub started.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    start: tokio::time::Instant,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            start: tokio::time::Instant::now(),
        }
    }

    pub(crate) fn now(&self) -> memwire::time::Instant {
        let micros = self.start.elapsed().as_micros();
        memwire::time::Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    pub(crate) fn sleep_until(&self, at: memwire::time::Instant) -> tokio::time::Sleep {
        let at = self.start + std::time::Duration::from_micros(at.as_micros());
        tokio::time::sleep_until(at)
    }
}

/// What every connection of a hub shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// Every configured region, served or unavailable (its id is its
    /// index); never added to or removed from while the hub runs.
    pub(crate) regions: Vec<Served>,
    /// The places of the regions discovered in the directories of the
    /// tenants that discover (`discover.rs`), [`DISCOVER_MAX`] per such
    /// tenant: their ids follow the configured ones. A place is filled
    /// once, with a region of one name for the hub's whole life.
    pub(crate) found: Vec<OnceLock<Served>>,
    /// Each discovering tenant and the ids of its places in `found`.
    pub(crate) discovering: Vec<(String, Range<usize>)>,
    /// The directory of the region files.
    pub(crate) root: Root,
    pub(crate) clock: Clock,
    /// The connections of clients that publish regions.
    pub(crate) publishers: Publishers,
    /// Failed logins by source, and when each may be answered next.
    pub(crate) throttle: Throttle,
    /// The operator's log of refused logins.
    pub(crate) refusals: RefusalLog,
    sessions: AtomicU64,
}

impl Shared {
    /// Opens (or creates) every region of `config`. A region whose file
    /// cannot be opened is logged and kept as unavailable, so the others
    /// are served, until its scanner takes up a valid file; only an
    /// unusable root (which every region needs) fails.
    pub(crate) fn new(config: Config) -> Result<Shared, HubError> {
        let root = match &config.root {
            Some(dir) => crate::shm::Root::new(dir),
            None => crate::shm::Root::from_env(),
        };
        if config
            .tenants
            .iter()
            .any(|t| !t.regions.is_empty() || t.discover)
        {
            root.check(true).map_err(|source| HubError::Root {
                path: root.dir().to_owned(),
                source,
            })?;
        }
        let mut regions = Vec::new();
        for tenant in &config.tenants {
            for decl in &tenant.regions {
                let mut served = Served::open(
                    &root,
                    tenant.name.as_str(),
                    decl.name.as_str(),
                    decl.schema.as_ref(),
                    config.publish.chunk,
                    config.publish.encode_once,
                );
                served.publisher.clone_from(&decl.publisher);
                if served.opened().is_some() {
                    tracing::info!(region = %served.path(), file = %served.file.display(), "serving");
                }
                regions.push(served);
            }
        }
        let mut discovering = Vec::new();
        let mut found = Vec::new();
        for tenant in config.tenants.iter().filter(|t| t.discover) {
            let first = regions.len() + found.len();
            found.extend((0..DISCOVER_MAX).map(|_| OnceLock::new()));
            discovering.push((tenant.name.as_str().to_owned(), first..first + DISCOVER_MAX));
        }
        Ok(Shared {
            throttle: Throttle::new(&config.limits),
            found,
            discovering,
            root,
            refusals: RefusalLog::new(),
            config,
            regions,
            clock: Clock::new(),
            publishers: Publishers::default(),
            sessions: AtomicU64::new(1),
        })
    }

    /// The region `tenant/region`: a configured one, served or
    /// unavailable, or a discovered one while it has a valid file.
    pub(crate) fn find(&self, tenant: &str, region: &str) -> Option<RegionId> {
        let (index, _) = self.all().find(|(i, r)| {
            r.tenant == tenant
                && r.name == region
                && (*i < self.regions.len() || r.opened().is_some())
        })?;
        u32::try_from(index).ok().map(RegionId)
    }

    /// The region of id `index`: configured or discovered.
    pub(crate) fn region(&self, index: usize) -> Option<&Served> {
        match index.checked_sub(self.regions.len()) {
            None => self.regions.get(index),
            Some(place) => self.found.get(place)?.get(),
        }
    }

    /// How many region ids there can be: the configured regions and every
    /// place for a discovered one.
    pub(crate) fn region_ids(&self) -> usize {
        self.regions.len() + self.found.len()
    }

    /// Every region and its id: the configured ones, then those discovered
    /// so far.
    pub(crate) fn all(&self) -> impl Iterator<Item = (usize, &Served)> {
        let found = self
            .found
            .iter()
            .enumerate()
            .filter_map(|(i, place)| Some((self.regions.len() + i, place.get()?)));
        self.regions.iter().enumerate().chain(found)
    }

    pub(crate) fn next_session(&self) -> u64 {
        self.sessions.fetch_add(1, Ordering::Relaxed)
    }
}
