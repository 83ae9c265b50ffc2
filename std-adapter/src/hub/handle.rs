//! The [`Hub`] handle and its lifecycle: start (open the regions, bind the
//! listeners, start the scanners), the addresses it listens on, the writer
//! of a region in this process, a reload of its configuration, and
//! shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::accept::{Accept, Tcp, Tls, Unix};
use super::config::Config;
use super::discover;
use super::error::HubError;
use super::http;
use super::reload::{self, ReloadError, Reloaded};
use super::scan::Scanners;
use super::shared::Shared;
use super::web::Page;
use super::websocket::WebSocket;
use super::writer::{HubWriter, WriterError};

/// How long shutdown waits for connections to close in order.
const DRAIN: Duration = Duration::from_secs(2);

/// A running hub. Dropping it does not stop it: call
/// [`shutdown`](Self::shutdown).
pub struct Hub {
    /// The hub as its last reload left it; the accept loops and every
    /// connection take each new one from here.
    current: Arc<watch::Sender<Arc<Shared>>>,
    /// Held through a reload (or the addition of regions found by
    /// discovery), so that two do not interleave.
    reloading: Arc<Mutex<()>>,
    tcp: Option<SocketAddr>,
    tls: Option<SocketAddr>,
    unix: Option<PathBuf>,
    http: Option<SocketAddr>,
    ws: Option<SocketAddr>,
    wss: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    scanners: Arc<Scanners>,
    accepting: JoinSet<()>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("tcp", &self.tcp)
            .field("tls", &self.tls)
            .field("unix", &self.unix)
            .field("http", &self.http)
            .field("ws", &self.ws)
            .field("wss", &self.wss)
            .field("regions", &self.shared().regions.len())
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
        let current = Arc::new(watch::Sender::new(Arc::clone(&shared)));
        let (stop, _) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(shared.config.limits.max_connections));
        let mut accepting = JoinSet::new();

        let mut tcp = None;
        if let Some(addr) = listen.tcp {
            let (listener, local) = Tcp::bind(addr).await?;
            tcp = Some(local);
            accepting.spawn(Accept::new(&current, &permits, &stop).run(listener));
        }
        let max_frame = shared.config.limits.max_frame;
        let mut ws = None;
        if let Some(addr) = listen.ws {
            let (listener, local) = WebSocket::<false>::bind(addr, max_frame).await?;
            ws = Some(local);
            accepting.spawn(Accept::new(&current, &permits, &stop).run(listener));
        }
        let mut wss = None;
        if let (Some(addr), Some((_, acceptor))) = (listen.wss, &tls) {
            let (listener, local) =
                WebSocket::<true>::bind(addr, acceptor.clone(), max_frame).await?;
            wss = Some(local);
            accepting.spawn(Accept::new(&current, &permits, &stop).run(listener));
        }
        let mut tls_addr = None;
        if let Some((addr, acceptor)) = tls {
            let (listener, local) = Tls::bind(addr, acceptor).await?;
            tls_addr = Some(local);
            accepting.spawn(Accept::new(&current, &permits, &stop).run(listener));
        }
        let mut unix = None;
        if let Some(path) = listen.unix {
            let listener = Unix::bind(&path)?;
            unix = Some(path);
            accepting.spawn(Accept::new(&current, &permits, &stop).run(listener));
        }

        let mut http_addr = None;
        if let Some(addr) = listen.http {
            let (listener, local) = http::bind(addr).await?;
            http_addr = Some(local);
            let page = shared.config.web.enabled.then_some(Page { ws, wss });
            accepting.spawn(http::serve(
                listener,
                current.subscribe(),
                page,
                stop.subscribe(),
            ));
        }

        let scanners = Arc::new(Scanners::start(&shared));
        let reloading = Arc::new(Mutex::new(()));
        // Always: a reload may turn discovery on.
        {
            let (current, reloading, scanners) = (
                Arc::clone(&current),
                Arc::clone(&reloading),
                Arc::clone(&scanners),
            );
            scanners
                .clone()
                .spawn(move || discover::run(&current, &reloading, &scanners));
        }
        Ok(Hub {
            current,
            reloading,
            tcp,
            tls: tls_addr,
            unix,
            http: http_addr,
            ws,
            wss,
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

    /// The bound WebSocket address (`ws://`), if `listen.ws` is set.
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.ws
    }

    /// The bound secure WebSocket address (`wss://`), if `listen.wss` is
    /// set.
    pub fn wss_addr(&self) -> Option<SocketAddr> {
        self.wss
    }

    /// The Unix socket path, if listening on one.
    pub fn unix_path(&self) -> Option<&Path> {
        self.unix.as_deref()
    }

    /// The bound address of the metrics' HTTP listener, if one is set
    /// (`listen.http`).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http
    }

    /// The hub as its last reload left it.
    pub(super) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.current.borrow())
    }

    /// The configuration the hub runs with now (its last reload's).
    pub fn config(&self) -> Config {
        self.shared().config.clone()
    }

    /// The shared-memory file of region `tenant/region`, if configured
    /// (served now or not).
    pub fn region_file(&self, tenant: &str, region: &str) -> Option<PathBuf> {
        let shared = self.shared();
        let id = shared.find(tenant, region)?;
        let served = shared.regions.get(usize::try_from(id.0).ok()?)?;
        Some(served.file.clone())
    }

    /// Runs on `config` from now on, without a restart: tenants, clients
    /// (secrets and rights) and regions are added, changed and removed, and
    /// what the change does not touch goes on as it was (no connection
    /// closed, no subscription sent its region again).
    ///
    /// - A region added is opened (or created) and served; a region removed
    ///   ends its subscriptions with an error frame that says so; a region
    ///   declared anew (another schema or publisher) does the same, and is
    ///   served as a new region.
    /// - The connection of a client removed (or of its tenant), or whose
    ///   secret changed, is closed with `AuthFailed` and the reason.
    /// - A client's subscription to a region its new rights do not let it
    ///   read ends with `AccessDenied`; its writes follow the new rights.
    /// - A region a connected client now publishes is taken up at that
    ///   client's next connection.
    ///
    /// `listen`, `root`, `limits` and `publish` cannot change without a
    /// restart: a config that changes them is refused
    /// ([`ReloadError::NeedsRestart`]) and the hub runs on as it was. Gives
    /// what changed.
    pub fn reload(&self, config: Config) -> Result<Reloaded, ReloadError> {
        let _one = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let plan = reload::plan(&self.shared(), config)?;
        for served in &plan.added {
            self.scanners.add(served);
        }
        self.current.send_replace(Arc::new(plan.shared));
        for (served, reason) in &plan.retired {
            served.retire(reason);
        }
        tracing::info!(changes = %plan.changes, "config reloaded");
        Ok(plan.changes)
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
        HubWriter::new(&self.shared(), tenant, region)
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
