//! A connection's byte stream, as its task and the scanners use it.
//!
//! A plain TCP or Unix stream is shared: the connection's task reads and
//! writes it, and a scan that found a change may write the update to it at
//! once from its own thread, without waiting (`try_write`), which saves
//! waking the task (see `connection.rs`). A TLS stream keeps its record
//! state in one place, so it is split and only its task writes it; so is
//! any other stream a transport gives as an [`Owned`](Stream::Owned) one.

use std::future::poll_fn;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpStream, UnixStream};

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

/// A byte stream that only its connection's task reads and writes.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A connection's stream as it was accepted.
pub(crate) enum Stream {
    /// TCP or Unix: shared, writable from a scanner's thread.
    Plain(Arc<dyn Socket>),
    /// TLS, or any stream written by the connection's task only.
    Owned(Box<dyn Io>),
}

impl Stream {
    /// The shared stream, when scanners may write to it.
    pub(crate) fn direct(&self) -> Option<Arc<dyn Socket>> {
        match self {
            Stream::Plain(socket) => Some(Arc::clone(socket)),
            Stream::Owned(_) => None,
        }
    }

    /// The reading and writing sides, for the connection's task.
    pub(crate) fn split(self) -> (Reader, Writer) {
        match self {
            Stream::Plain(socket) => (Reader::Plain(Arc::clone(&socket)), Writer::Plain(socket)),
            Stream::Owned(stream) => {
                let (rd, wr) = tokio::io::split(stream);
                (Reader::Owned(rd), Writer::Owned(wr))
            }
        }
    }
}

/// The reading side of a stream.
pub(crate) enum Reader {
    /// A shared plain stream.
    Plain(Arc<dyn Socket>),
    /// The reading half of an owned stream.
    Owned(ReadHalf<Box<dyn Io>>),
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
            Reader::Owned(half) => half.read(buf).await,
        }
    }
}

/// The writing side of a stream.
pub(crate) enum Writer {
    /// A shared plain stream.
    Plain(Arc<dyn Socket>),
    /// The writing half of an owned stream.
    Owned(WriteHalf<Box<dyn Io>>),
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
            Writer::Owned(half) => Pin::new(half).poll_write(cx, buf),
        }
    }

    /// Ends the sending direction: TLS sends its close notification first.
    pub(crate) async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Writer::Plain(socket) => socket.shutdown_write(),
            Writer::Owned(half) => half.shutdown().await,
        }
    }
}
