//! The [`Hub`] handle and its lifecycle: start (open the regions, bind the
//! listeners, start the scanners), the addresses it listens on, the writer
//! of a region in this process, and shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::accept::{Accept, Tcp, Tls, Unix};
use super::config::Config;
use super::error::HubError;
use super::scan::Scanners;
use super::shared::Shared;
use super::writer::{HubWriter, WriterError};

/// How long shutdown waits for connections to close in order.
const DRAIN: Duration = Duration::from_secs(2);

/// A running hub. Dropping it does not stop it: call
/// [`shutdown`](Self::shutdown).
pub struct Hub {
    shared: Arc<Shared>,
    tcp: Option<SocketAddr>,
    tls: Option<SocketAddr>,
    unix: Option<PathBuf>,
    stop: watch::Sender<bool>,
    scanners: Scanners,
    accepting: JoinSet<()>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("tcp", &self.tcp)
            .field("tls", &self.tls)
            .field("unix", &self.unix)
            .field("regions", &self.shared.all().count())
            .finish()
    }
}

impl Hub {
    /// Opens (or creates) every region of `config`, binds its listeners and
    /// starts serving. Must run inside a tokio runtime.
    pub async fn start(config: Config) -> Result<Hub, HubError> {
        let tls = match &config.listen.tls {
            Some(t) => Some((t.addr, Tls::acceptor(&t.cert, &t.key)?)),
            None => None,
        };
        let listen = config.listen.clone();
        let shared = Arc::new(Shared::new(config)?);
        let (stop, _) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(shared.config.limits.max_connections));
        let mut accepting = JoinSet::new();

        let mut tcp = None;
        if let Some(addr) = listen.tcp {
            let (listener, local) = Tcp::bind(addr).await?;
            tcp = Some(local);
            accepting.spawn(Accept::new(&shared, &permits, &stop).run(listener));
        }
        let mut tls_addr = None;
        if let Some((addr, acceptor)) = tls {
            let (listener, local) = Tls::bind(addr, acceptor).await?;
            tls_addr = Some(local);
            accepting.spawn(Accept::new(&shared, &permits, &stop).run(listener));
        }
        let mut unix = None;
        if let Some(path) = listen.unix {
            let listener = Unix::bind(&path)?;
            unix = Some(path);
            accepting.spawn(Accept::new(&shared, &permits, &stop).run(listener));
        }

        let scanners = Scanners::start(&shared);
        Ok(Hub {
            shared,
            tcp,
            tls: tls_addr,
            unix,
            stop,
            scanners,
            accepting,
        })
    }

    /// The bound TCP address, if listening on TCP.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp
    }

    /// The bound TLS address, if listening with TLS.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls
    }

    /// The Unix socket path, if listening on one.
    pub fn unix_path(&self) -> Option<&Path> {
        self.unix.as_deref()
    }

    /// The configuration the hub runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The shared-memory file of region `tenant/region`, if configured
    /// (served now or not) or discovered (while it has a valid file).
    pub fn region_file(&self, tenant: &str, region: &str) -> Option<&Path> {
        let id = self.shared.find(tenant, region)?;
        let served = self.shared.region(usize::try_from(id.0).ok()?)?;
        Some(&served.file)
    }

    /// The writer of region `tenant/region` in this process, which
    /// publishes each write from the calling thread ([`HubWriter`]). The
    /// hub holds the region's writer lock until the writer and its clones
    /// are dropped. Fails if the hub has no such region, if a client
    /// publishes it (its file is then the publisher's copy), if it serves
    /// no file now ([`ShmError::Unavailable`](crate::shm::ShmError)), or if
    /// a local process holds its writer lock. Writes after the region's
    /// file was removed fail the same way; after a replacement they go to
    /// the new file, taking its lock per write.
    pub fn writer(&self, tenant: &str, region: &str) -> Result<HubWriter, WriterError> {
        HubWriter::new(Arc::clone(&self.shared), tenant, region)
    }

    /// Stops accepting, closes every connection in order (an error frame
    /// "shutting down" and a close, for at most two seconds), stops the
    /// scanners and removes the Unix socket.
    pub async fn shutdown(mut self) {
        tracing::info!("shutting down");
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + DRAIN;
        while tokio::time::timeout_at(deadline, self.accepting.join_next())
            .await
            .is_ok_and(|next| next.is_some())
        {}
        self.accepting.abort_all();
        self.scanners.stop().await;
        if let Some(path) = &self.unix {
            let _ = std::fs::remove_file(path);
        }
    }
}
