//! A connection's byte stream, as its task and the scanners use it.
//!
//! A plain TCP or Unix stream is shared: the connection's task reads and
//! writes it, and a scan that found a change may write the update to it at
//! once from its own thread, without waiting (`try_write`), which saves
//! waking the task (see [`super::connection`]). A TLS stream keeps its
//! record state in one place, so it is split and only its task writes it.

use std::future::poll_fn;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::server::TlsStream;

/// A stream that any thread may read or write through a shared reference.
pub(crate) trait Socket: Send + Sync {
    /// Ready when the stream may have bytes to read.
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Reads without waiting; `WouldBlock` when nothing is there.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Ready when the stream may take bytes.
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Writes without waiting; `WouldBlock` when the send buffer is full.
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
    /// Ends the sending direction (the peer reads the end of the stream).
    fn shutdown_write(&self) -> io::Result<()>;
}

macro_rules! socket {
    ($t:ty) => {
        impl Socket for $t {
            fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$t>::poll_read_ready(self, cx)
            }
            fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                <$t>::try_read(self, buf)
            }
            fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$t>::poll_write_ready(self, cx)
            }
            fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                <$t>::try_write(self, buf)
            }
            fn shutdown_write(&self) -> io::Result<()> {
                shutdown_write(self)
            }
        }
    };
}

socket!(TcpStream);
socket!(UnixStream);

fn shutdown_write(socket: &impl AsFd) -> io::Result<()> {
    rustix::net::shutdown(socket, rustix::net::Shutdown::Write)?;
    Ok(())
}

/// A connection's stream as it was accepted.
pub(crate) enum Stream {
    /// TCP or Unix: shared, writable from a scanner's thread.
    Plain(Arc<dyn Socket>),
    /// TLS: written by the connection's task only.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// The shared stream, when scanners may write to it.
    pub(crate) fn direct(&self) -> Option<Arc<dyn Socket>> {
        match self {
            Stream::Plain(socket) => Some(Arc::clone(socket)),
            Stream::Tls(_) => None,
        }
    }

    /// The reading and writing sides, for the connection's task.
    pub(crate) fn split(self) -> (Reader, Writer) {
        match self {
            Stream::Plain(socket) => (Reader::Plain(Arc::clone(&socket)), Writer::Plain(socket)),
            Stream::Tls(tls) => {
                let (rd, wr) = tokio::io::split(*tls);
                (Reader::Tls(rd), Writer::Tls(wr))
            }
        }
    }
}

type Tls = TlsStream<TcpStream>;

/// The reading side of a stream.
pub(crate) enum Reader {
    /// A shared plain stream.
    Plain(Arc<dyn Socket>),
    /// The reading half of a TLS stream.
    Tls(ReadHalf<Tls>),
}

impl Reader {
    /// Reads what has arrived, waiting for at least one byte (0: the end).
    pub(crate) async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Reader::Plain(socket) => {
                poll_fn(|cx| {
                    loop {
                        ready!(socket.poll_read_ready(cx))?;
                        match socket.try_read(buf) {
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            result => return Poll::Ready(result),
                        }
                    }
                })
                .await
            }
            Reader::Tls(half) => half.read(buf).await,
        }
    }
}

/// The writing side of a stream.
pub(crate) enum Writer {
    /// A shared plain stream.
    Plain(Arc<dyn Socket>),
    /// The writing half of a TLS stream.
    Tls(WriteHalf<Tls>),
}

impl Writer {
    /// Writes some of `buf` once the stream takes bytes.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self {
            Writer::Plain(socket) => loop {
                ready!(socket.poll_write_ready(cx))?;
                match socket.try_write(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    result => return Poll::Ready(result),
                }
            },
            Writer::Tls(half) => Pin::new(half).poll_write(cx, buf),
        }
    }

    /// Ends the sending direction: TLS sends its close notification first.
    pub(crate) async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Writer::Plain(socket) => socket.shutdown_write(),
            Writer::Tls(half) => half.shutdown().await,
        }
    }
}
