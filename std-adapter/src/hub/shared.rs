//! What every part of a running hub shares: the regions, the configuration,
//! the session clock, the connections of publishing clients and the
//! record of failed logins ([`Shared`]). The hub handle, the accept loops, the scanners and every
//! connection hold it; it names none of them. A reload (`reload.rs`)
//! makes a new one that keeps everything but the configuration and the
//! regions added or retired.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use memwire::session::RegionId;

use super::config::{Config, RegionDecl, Tenant};
use super::error::HubError;
use super::forward::Publishers;
use super::logins::{RefusalLog, Throttle};
use super::metrics::Metrics;
use super::region::Served;

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
    /// Every region configured since the hub started, served, unavailable
    /// or retired by a reload (its id is its index): a reload only appends,
    /// so an id means the same region in every [`Shared`] of the hub.
    pub(crate) regions: Vec<Arc<Served>>,
    /// The directory of the region files.
    pub(crate) root: crate::shm::Root,
    pub(crate) clock: Clock,
    /// The connections of clients that publish regions.
    pub(crate) publishers: Arc<Publishers>,
    /// Failed logins by source, and when each may be answered next.
    pub(crate) throttle: Arc<Throttle>,
    /// The operator's log of refused logins.
    pub(crate) refusals: Arc<RefusalLog>,
    /// The counters of the hub's metrics.
    pub(crate) metrics: Arc<Metrics>,
    sessions: Arc<AtomicU64>,
}

impl Shared {
    /// Opens (or creates) every region of `config`. A region whose file
    /// cannot be opened is logged and kept as unavailable, so the others
    /// are served, until its scanner takes up a valid file; only an
    /// unusable root (which every region needs) fails.
    pub(crate) fn new(config: Config) -> Result<Shared, HubError> {
        let root = checked_root(&config)?;
        let mut regions = Vec::new();
        for tenant in &config.tenants {
            for decl in &tenant.regions {
                regions.push(Arc::new(open_region(&root, &config, tenant, decl)));
            }
        }
        Ok(Shared {
            throttle: Arc::new(Throttle::new(&config.limits)),
            refusals: Arc::new(RefusalLog::new()),
            metrics: Arc::new(Metrics::new(config.listen.http.is_some())),
            config,
            regions,
            root,
            clock: Clock::new(),
            publishers: Arc::default(),
            sessions: Arc::new(AtomicU64::new(1)),
        })
    }

    /// The hub after a reload: `config` and `regions`, with this one's
    /// clock, publishers, login records and session numbers.
    pub(crate) fn next(&self, config: Config, regions: Vec<Arc<Served>>) -> Shared {
        Shared {
            config,
            regions,
            root: self.root.clone(),
            clock: self.clock,
            publishers: Arc::clone(&self.publishers),
            throttle: Arc::clone(&self.throttle),
            refusals: Arc::clone(&self.refusals),
            metrics: Arc::clone(&self.metrics),
            sessions: Arc::clone(&self.sessions),
        }
    }

    /// The region `tenant/region`: a declared one, served or unavailable,
    /// or a discovered one while it serves a file.
    pub(crate) fn find(&self, tenant: &str, region: &str) -> Option<RegionId> {
        let index = self.regions.iter().position(|r| {
            !r.retired()
                && r.tenant == tenant
                && r.name == region
                && (!r.discovered || r.opened().is_some())
        })?;
        u32::try_from(index).ok().map(RegionId)
    }

    pub(crate) fn next_session(&self) -> u64 {
        self.sessions.fetch_add(1, Ordering::Relaxed)
    }
}

/// The root directory of `config`'s region files, checked when it has
/// regions (every region needs it).
pub(crate) fn checked_root(config: &Config) -> Result<crate::shm::Root, HubError> {
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
    Ok(root)
}

/// Opens (or creates) region `decl` of `tenant`; a file that cannot be
/// opened leaves it unavailable (logged).
pub(crate) fn open_region(
    root: &crate::shm::Root,
    config: &Config,
    tenant: &Tenant,
    decl: &RegionDecl,
) -> Served {
    let mut served = Served::open(
        root,
        tenant.name.as_str(),
        decl.name.as_str(),
        decl.schema.as_ref(),
        config.publish.chunk,
        config.publish.encode_once,
    );
    served.publisher.clone_from(&decl.publisher);
    served.publish = decl.publish;
    if served.opened().is_some() {
        tracing::info!(region = %served.path(), file = %served.file.display(), "serving");
    }
    served
}
