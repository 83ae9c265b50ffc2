//! Listeners, TLS, the connection limit, the scanners and shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::wire::Stream;
use super::{Config, HubError, HubWriter, Shared, WriterError, connection};
use crate::shm::notify::Waiters;

/// How long a scanner sleeps on its region before checking for shutdown.
const SCAN_WAKE: Duration = Duration::from_millis(200);
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
    scanning: Arc<AtomicBool>,
    scanners: Vec<JoinHandle<()>>,
    accepting: JoinSet<()>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("tcp", &self.tcp)
            .field("tls", &self.tls)
            .field("unix", &self.unix)
            .field("regions", &self.shared.regions.len())
            .finish()
    }
}

impl Hub {
    /// Opens (or creates) every region of `config`, binds its listeners and
    /// starts serving. Must run inside a tokio runtime.
    pub async fn start(config: Config) -> Result<Hub, HubError> {
        let tls = match &config.listen.tls {
            Some(t) => Some((t.addr, acceptor(&t.cert, &t.key)?)),
            None => None,
        };
        let listen = config.listen.clone();
        let shared = Arc::new(Shared::new(config)?);
        let (stop, _) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(shared.config.limits.max_connections));
        let mut accepting = JoinSet::new();

        let mut tcp = None;
        if let Some(addr) = listen.tcp {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| listen_error(addr, source))?;
            let local = listener.local_addr().map_err(|e| listen_error(addr, e))?;
            tracing::info!(addr = %local, "listening (tcp)");
            tcp = Some(local);
            let ctx = Accept::new(&shared, &permits, &stop);
            accepting.spawn(ctx.tcp(listener, None));
        }
        let mut tls_addr = None;
        if let Some((addr, acceptor)) = tls {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| listen_error(addr, source))?;
            let local = listener.local_addr().map_err(|e| listen_error(addr, e))?;
            tracing::info!(addr = %local, "listening (tls)");
            tls_addr = Some(local);
            let ctx = Accept::new(&shared, &permits, &stop);
            accepting.spawn(ctx.tcp(listener, Some(acceptor)));
        }
        let mut unix = None;
        if let Some(path) = listen.unix {
            remove_stale_socket(&path);
            let listener = UnixListener::bind(&path).map_err(|source| HubError::Listen {
                addr: path.display().to_string(),
                source,
            })?;
            tracing::info!(path = %path.display(), "listening (unix)");
            unix = Some(path);
            let ctx = Accept::new(&shared, &permits, &stop);
            accepting.spawn(ctx.unix(listener));
        }

        let scanning = Arc::new(AtomicBool::new(true));
        let scanners = (0..shared.regions.len())
            .map(|index| {
                let shared = Arc::clone(&shared);
                let scanning = Arc::clone(&scanning);
                std::thread::spawn(move || scan_loop(&shared, index, &scanning))
            })
            .collect();
        Ok(Hub {
            shared,
            tcp,
            tls: tls_addr,
            unix,
            stop,
            scanning,
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

    /// The shared-memory file of region `tenant/region`, if served.
    pub fn region_file(&self, tenant: &str, region: &str) -> Option<&Path> {
        let id = self.shared.find(tenant, region)?;
        let served = self.shared.regions.get(usize::try_from(id.0).ok()?)?;
        Some(served.reader().path())
    }

    /// The writer of region `tenant/region` in this process, which
    /// publishes each write from the calling thread ([`HubWriter`]). The
    /// hub holds the region's writer lock until the writer and its clones
    /// are dropped. Fails if the hub does not serve the region, if a client
    /// publishes it (its file is then the publisher's copy), or if a local
    /// process holds its writer lock.
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
        self.scanning.store(false, Ordering::Relaxed);
        for scanner in self.scanners.drain(..) {
            let _ = tokio::task::spawn_blocking(move || scanner.join()).await;
        }
        if let Some(path) = &self.unix {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// What an accept loop needs.
struct Accept {
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
}

impl Accept {
    fn new(shared: &Arc<Shared>, permits: &Arc<Semaphore>, stop: &watch::Sender<bool>) -> Accept {
        Accept {
            shared: Arc::clone(shared),
            permits: Arc::clone(permits),
            stop: stop.subscribe(),
        }
    }

    async fn tcp(mut self, listener: TcpListener, tls: Option<TlsAcceptor>) {
        let mut connections = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = self.stop.changed() => break,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let Some(permit) = self.admit(&peer.to_string()) else {
                continue;
            };
            let shared = Arc::clone(&self.shared);
            let stop = self.stop.clone();
            let tls = tls.clone();
            connections.spawn(async move {
                let _permit = permit;
                let peer = peer.to_string();
                match tls {
                    None => {
                        connection::run(Stream::Plain(Arc::new(stream)), shared, peer, stop).await
                    }
                    Some(acceptor) => {
                        // The TLS handshake counts against the same deadline.
                        let deadline = shared.config.limits.handshake;
                        match tokio::time::timeout(deadline, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => {
                                connection::run(Stream::Tls(Box::new(stream)), shared, peer, stop)
                                    .await
                            }
                            Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                            Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                        }
                    }
                }
            });
            while connections.try_join_next().is_some() {}
        }
        drain(connections).await;
    }

    async fn unix(mut self, listener: UnixListener) {
        let mut connections = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = self.stop.changed() => break,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(permit) = self.admit("unix") else {
                continue;
            };
            let shared = Arc::clone(&self.shared);
            let stop = self.stop.clone();
            connections.spawn(async move {
                let _permit = permit;
                connection::run(
                    Stream::Plain(Arc::new(stream)),
                    shared,
                    "unix".to_owned(),
                    stop,
                )
                .await;
            });
            while connections.try_join_next().is_some() {}
        }
        drain(connections).await;
    }

    fn admit(&self, peer: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                tracing::warn!(
                    %peer,
                    max = self.shared.config.limits.max_connections,
                    "connection refused: too many connections"
                );
                None
            }
        }
    }
}

/// Waits for connections to finish closing; the caller bounds the wait.
async fn drain(mut connections: JoinSet<()>) {
    while connections.join_next().await.is_some() {}
}

fn scan_loop(shared: &Shared, index: usize, scanning: &AtomicBool) {
    let Some(served) = shared.regions.get(index) else {
        return;
    };
    let mut since = served.published().generation;
    while scanning.load(Ordering::Relaxed) {
        // Writes the hub published itself do not wake it (`Waiters`).
        match served
            .reader()
            .wait_for_change_as(since, Some(SCAN_WAKE), Waiters::SCANNER)
        {
            Ok(None) => continue,
            Ok(Some(generation)) => {
                tracing::trace!(target: "memwire::latency", step = "scanner woke");
                since = generation;
            }
            Err(e) => {
                tracing::warn!(region = %served.path(), error = %e, "waiting for a change failed");
                std::thread::sleep(SCAN_WAKE);
                continue;
            }
        }
        if let Err(e) = served.scan(true) {
            tracing::warn!(region = %served.path(), error = %e, "scan failed");
        }
    }
}

fn listen_error(addr: SocketAddr, source: std::io::Error) -> HubError {
    HubError::Listen {
        addr: addr.to_string(),
        source,
    }
}

/// Removes a socket file left by a hub that did not shut down; anything
/// that is not a socket is left alone (and binding then fails clearly).
fn remove_stale_socket(path: &Path) {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}

fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, HubError> {
    let tls_error = |file: &Path, message: String| HubError::Tls {
        file: file.to_owned(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls_error(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(tls_error(cert, "no certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| tls_error(key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| tls_error(cert, e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
