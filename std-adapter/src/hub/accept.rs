//! Accepting connections: the transports the hub listens on ([`Transport`]:
//! [`Tcp`], [`Tls`], [`Unix`]) and the accept loop they share ([`Accept`]),
//! which holds the connection limit, spawns one task per connection
//! (`handler.rs`) and lets them close in order at shutdown.
//!
//! A connection past `max_connections` is told so, `Error` `Busy` "hub
//! full", and one from a source whose failed logins booked turns past
//! `auth_delay_max` (`logins.rs`), `Error` `RateLimited`: on a plain stream
//! the frame is written once without waiting and the stream closed, so a
//! flood over the limit holds no task and no buffer. A TLS connection is
//! closed without a word: the frame could only go after a TLS handshake,
//! which costs a task, a round trip and the CPU of a key exchange for each
//! connection the hub is refusing for want of exactly those.
//!
//! A transport accepts in two steps: [`accept`](Transport::accept), in the
//! loop, takes a connection as fast as it comes; [`open`](Transport::open),
//! in the connection's own task and within the handshake deadline, makes
//! the stream the session runs over (TLS: its handshake). Another transport
//! is one more implementation of [`Transport`] bound in
//! [`Hub::start`](super::handle::Hub::start).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use memwire::codec::{ErrorCode, ErrorFrame, Frame, Framing};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::error::HubError;
use super::handler;
use super::logins::Turn;
use super::peer::Peer;
use super::shared::Shared;
use super::wire::Stream;

/// A kind of listener the hub accepts connections on.
pub(crate) trait Transport: Send + Sync + 'static {
    /// What the logs call it ("TLS handshake failed").
    const NAME: &'static str;
    /// A connection as accepted, before its stream is opened.
    type Accepted: Send + 'static;
    /// Waits for the next connection; gives it with its peer.
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Accepted, Peer)>> + Send;
    /// Makes the stream the session runs over, in the connection's task;
    /// the hub bounds it with the handshake deadline.
    fn open(&self, accepted: Self::Accepted) -> impl Future<Output = io::Result<Stream>> + Send;
    /// Closes a connection the hub will not serve, telling it why with
    /// `frame` (a framed `Error`) if that costs no waiting.
    fn refuse(&self, accepted: Self::Accepted, frame: &[u8]);
}

/// Plain TCP.
pub(crate) struct Tcp(TcpListener);

impl Tcp {
    /// Listens on `addr`; gives the address bound.
    pub(crate) async fn bind(addr: SocketAddr) -> Result<(Tcp, SocketAddr), HubError> {
        let (listener, local) = bind_tcp(addr).await?;
        tracing::info!(addr = %local, "listening (tcp)");
        Ok((Tcp(listener), local))
    }
}

impl Transport for Tcp {
    const NAME: &'static str = "TCP";
    type Accepted = TcpStream;

    async fn accept(&self) -> io::Result<(TcpStream, Peer)> {
        let (stream, peer) = self.0.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok((stream, Peer::tcp(peer)))
    }

    async fn open(&self, stream: TcpStream) -> io::Result<Stream> {
        Ok(Stream::Plain(Arc::new(stream)))
    }

    fn refuse(&self, stream: TcpStream, frame: &[u8]) {
        if let Ok(stream) = stream.into_std() {
            refuse_plain(&stream, frame);
        }
    }
}

/// TLS over TCP.
pub(crate) struct Tls {
    listener: TcpListener,
    acceptor: TlsAcceptor,
}

impl Tls {
    /// Loads the certificate chain `cert` and its key `key`; done before
    /// any region is opened, so a bad file stops the hub early.
    pub(crate) fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, HubError> {
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
        let key_der =
            PrivateKeyDer::from_pem_file(key).map_err(|e| tls_error(key, e.to_string()))?;
        // The process's crypto provider: ring, the one rustls feature this
        // crate enables, unless the application installed another.
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key_der)
            .map_err(|e| tls_error(cert, e.to_string()))?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// Listens on `addr` with `acceptor`; gives the address bound.
    pub(crate) async fn bind(
        addr: SocketAddr,
        acceptor: TlsAcceptor,
    ) -> Result<(Tls, SocketAddr), HubError> {
        let (listener, local) = bind_tcp(addr).await?;
        tracing::info!(addr = %local, "listening (tls)");
        Ok((Tls { listener, acceptor }, local))
    }
}

impl Transport for Tls {
    const NAME: &'static str = "TLS";
    type Accepted = TcpStream;

    async fn accept(&self) -> io::Result<(TcpStream, Peer)> {
        let (stream, peer) = self.listener.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok((stream, Peer::tcp(peer)))
    }

    async fn open(&self, stream: TcpStream) -> io::Result<Stream> {
        let stream = self.acceptor.accept(stream).await?;
        Ok(Stream::Owned(Box::new(stream)))
    }

    /// Closed without a word (see the module docs).
    fn refuse(&self, stream: TcpStream, _frame: &[u8]) {
        drop(stream);
    }
}

/// A Unix socket, over which clients may map region files directly.
pub(crate) struct Unix(UnixListener);

impl Unix {
    /// Listens on `path`, replacing a socket file a hub left behind.
    pub(crate) fn bind(path: &Path) -> Result<Unix, HubError> {
        remove_stale_socket(path);
        let listener = UnixListener::bind(path).map_err(|source| HubError::Listen {
            addr: path.display().to_string(),
            source,
        })?;
        tracing::info!(path = %path.display(), "listening (unix)");
        Ok(Unix(listener))
    }
}

impl Transport for Unix {
    const NAME: &'static str = "Unix";
    type Accepted = tokio::net::UnixStream;

    async fn accept(&self) -> io::Result<(tokio::net::UnixStream, Peer)> {
        let (stream, _) = self.0.accept().await?;
        let uid = stream.peer_cred().ok().map(|cred| cred.uid());
        Ok((stream, Peer::unix(uid)))
    }

    async fn open(&self, stream: tokio::net::UnixStream) -> io::Result<Stream> {
        Ok(Stream::Plain(Arc::new(stream)))
    }

    fn refuse(&self, stream: tokio::net::UnixStream, frame: &[u8]) {
        if let Ok(stream) = stream.into_std() {
            refuse_plain(&stream, frame);
        }
    }
}

/// Refuses a plain stream (non-blocking, out of the runtime) without
/// waiting: takes what the peer already sent, so that closing does not
/// reset the connection over unread bytes before the peer reads `frame`;
/// writes `frame` if the socket takes it at once; ends the stream.
fn refuse_plain<S>(stream: &S, frame: &[u8])
where
    S: AsFd,
    for<'a> &'a S: Read + Write,
{
    let mut sent = [0u8; 512];
    let _ = { stream }.read(&mut sent);
    let _ = { stream }.write(frame);
    let _ = rustix::net::shutdown(stream, rustix::net::Shutdown::Write);
}

/// `code` and `reason` as a length-prefixed `Error` frame.
fn error_frame(code: ErrorCode, reason: &str) -> Vec<u8> {
    let frame = Frame::Error(ErrorFrame {
        code,
        handle: None,
        reason,
    });
    let mut buf = vec![0u8; 64];
    let n = Framing::LengthPrefix.encode(&frame, &mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

pub(super) async fn bind_tcp(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), HubError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| listen_error(addr, source))?;
    let local = listener.local_addr().map_err(|e| listen_error(addr, e))?;
    Ok((listener, local))
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

/// What an accept loop needs: the hub as its last reload left it, the
/// connection limit all its transports share, and the shutdown signal.
pub(crate) struct Accept {
    current: watch::Receiver<Arc<Shared>>,
    permits: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
    /// The answer to a connection past the limit.
    full: Vec<u8>,
    /// The answer to a connection whose source's turn is too far off.
    throttled: Vec<u8>,
}

impl Accept {
    pub(crate) fn new(
        current: &watch::Sender<Arc<Shared>>,
        permits: &Arc<Semaphore>,
        stop: &watch::Sender<bool>,
    ) -> Accept {
        Accept {
            current: current.subscribe(),
            permits: Arc::clone(permits),
            stop: stop.subscribe(),
            full: error_frame(ErrorCode::Busy, "hub full"),
            throttled: error_frame(ErrorCode::RateLimited, "too many failed logins"),
        }
    }

    /// Accepts connections on `transport` until shutdown, then waits for
    /// them to close (the caller bounds the wait).
    pub(crate) async fn run<T: Transport>(mut self, transport: T) {
        let transport = Arc::new(transport);
        let mut connections = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                a = transport.accept() => a,
                // A finished connection's task lets go of its memory now,
                // not at the next accept: a flood's memory is freed once it
                // has closed, even if no one connects again. (Every
                // `accept` is cancel-safe: its only await is the listener's.)
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                _ = self.stop.changed() => break,
            };
            let (accepted, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // The connection runs with the hub as it is now, and takes
            // each later reload from `reloads`.
            let mut reloads = self.current.clone();
            let shared = Arc::clone(&reloads.borrow_and_update());
            let Some(permit) = self.admit(&shared, &peer) else {
                transport.refuse(accepted, &self.full);
                continue;
            };
            let turn = shared
                .throttle
                .turn(peer.source, tokio::time::Instant::now());
            if turn == Turn::Refused {
                tracing::debug!(peer = %peer.name, "connection refused: too many failed logins");
                transport.refuse(accepted, &self.throttled);
                continue;
            }
            let mut stop = self.stop.clone();
            let transport = Arc::clone(&transport);
            let open = shared.metrics.accepted(T::NAME);
            connections.spawn(async move {
                let _permit = permit;
                let _open = open;
                // A source whose logins failed waits for its turn before
                // anything of its handshake, whatever its proof will be.
                if let Turn::After(wait) = turn {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => return,
                    }
                }
                // Opening the stream counts against the handshake deadline.
                let deadline = shared.config.limits.handshake;
                match tokio::time::timeout(deadline, transport.open(accepted)).await {
                    Ok(Ok(stream)) => handler::run(stream, shared, peer, stop, reloads).await,
                    Ok(Err(e)) => {
                        tracing::info!(peer = %peer.name, error = %e, "{} handshake failed", T::NAME);
                    }
                    Err(_) => {
                        tracing::info!(peer = %peer.name, "{} handshake timed out", T::NAME);
                    }
                }
            });
        }
        drain(connections).await;
    }

    fn admit(&self, shared: &Shared, peer: &Peer) -> Option<OwnedSemaphorePermit> {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                tracing::warn!(
                    peer = %peer.name,
                    max = shared.config.limits.max_connections,
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
