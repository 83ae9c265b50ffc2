//! What every part of a running hub shares: the regions, the configuration,
//! the session clock, the connections of publishing clients and the
//! record of failed logins ([`Shared`]). The hub handle, the accept loops, the scanners and every
//! connection hold it; it names none of them.

use std::sync::atomic::{AtomicU64, Ordering};

use memwire::session::RegionId;

use super::config::Config;
use super::error::HubError;
use super::forward::Publishers;
use super::logins::{RefusalLog, Throttle};
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
    /// Every configured region, served or unavailable (its id is its
    /// index); never added to or removed from while the hub runs.
    pub(crate) regions: Vec<Served>,
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
        if config.tenants.iter().any(|t| !t.regions.is_empty()) {
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
                    &decl.schema,
                    config.publish.chunk,
                    config.publish.encode_once,
                );
                served.publisher.clone_from(&decl.publisher);
                served.publish = decl.publish;
                if served.opened().is_some() {
                    tracing::info!(region = %served.path(), file = %served.file.display(), "serving");
                }
                regions.push(served);
            }
        }
        Ok(Shared {
            throttle: Throttle::new(&config.limits),
            refusals: RefusalLog::new(),
            config,
            regions,
            clock: Clock::new(),
            publishers: Publishers::default(),
            sessions: AtomicU64::new(1),
        })
    }

    /// The region `tenant/region`, served or unavailable.
    pub(crate) fn find(&self, tenant: &str, region: &str) -> Option<RegionId> {
        let index = self
            .regions
            .iter()
            .position(|r| r.tenant == tenant && r.name == region)?;
        u32::try_from(index).ok().map(RegionId)
    }

    pub(crate) fn next_session(&self) -> u64 {
        self.sessions.fetch_add(1, Ordering::Relaxed)
    }
}
