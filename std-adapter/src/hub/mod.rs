//! The hub: serves regions to clients over TCP, TLS and a Unix socket.
//!
//! - `config.rs`: the TOML configuration ([`Config`]) and its embedded
//!   default (a `demo` tenant with a demo region).
//! - `region.rs`: each region as a shared-memory file, the shadow the
//!   sessions publish from, and the scan that finds what local writers
//!   changed (woken by the region's futex, narrowed by sequence counters).
//! - `connection.rs`: one task per connection, running the core's sans-IO
//!   [`Server`](memwire::session::Server) session over the stream.
//! - `listen.rs`: the listeners, TLS, connection limits and shutdown.
//! - `writer.rs`: [`HubWriter`], writes made in the hub's process and
//!   published from the writing thread.
//!
//! ```no_run
//! # async fn run() -> Result<(), memwire_std::hub::HubError> {
//! use memwire_std::hub::{Config, Hub};
//!
//! let hub = Hub::start(Config::default_config()).await?;
//! println!("listening on {:?}", hub.tcp_addr());
//! tokio::signal::ctrl_c().await.ok();
//! hub.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! `docs/hub.md` is the operator's guide; `docs/hub-config.md` documents
//! every configuration key.

pub mod config;
mod connection;
mod forward;
mod listen;
mod parts;
mod region;
mod view;
mod wire;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use memwire::session::RegionId;

pub use config::{Config, ConfigError};
pub use connection::SLOW_CONSUMER_GRACE;
pub use listen::Hub;
pub use writer::{HubWriter, WriterError};

use parts::Parts;
use region::Served;

/// Why a hub could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// A region file could not be opened or created.
    #[error("region {path}: {source}")]
    Region {
        /// `tenant/region`.
        path: String,
        /// Why.
        source: crate::shm::ShmError,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address or socket path.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be loaded.
    #[error("TLS: {file}: {message}")]
    Tls {
        /// The certificate or key file.
        file: PathBuf,
        /// Why.
        message: String,
    },
    /// A region's schema is not valid.
    #[error("region {path}: {message}")]
    Schema {
        /// `tenant/region`.
        path: String,
        /// Why.
        message: String,
    },
}

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
    pub(crate) regions: Vec<Served>,
    pub(crate) clock: Clock,
    /// The connections of clients that publish regions.
    pub(crate) publishers: forward::Publishers,
    sessions: AtomicU64,
}

impl Shared {
    fn new(config: Config) -> Result<Shared, HubError> {
        let root = match &config.root {
            Some(dir) => crate::shm::Root::new(dir),
            None => crate::shm::Root::from_env(),
        };
        let mut regions = Vec::new();
        for tenant in &config.tenants {
            for decl in &tenant.regions {
                let path = format!("{}/{}", tenant.name.as_str(), decl.name.as_str());
                let mut served = Served::open(
                    &root,
                    tenant.name.as_str(),
                    decl.name.as_str(),
                    decl.schema.clone(),
                    config.publish.chunk,
                )
                .map_err(|source| HubError::Region {
                    path: path.clone(),
                    source,
                })?;
                served.publisher.clone_from(&decl.publisher);
                if config.publish.encode_once {
                    served.parts = Some(Parts::default());
                }
                tracing::info!(region = %path, file = %served.reader().path().display(), "serving");
                regions.push(served);
            }
        }
        Ok(Shared {
            config,
            regions,
            clock: Clock::new(),
            publishers: forward::Publishers::default(),
            sessions: AtomicU64::new(1),
        })
    }

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
