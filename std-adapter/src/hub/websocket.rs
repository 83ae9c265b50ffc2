//! WebSocket listeners ([`WebSocket`]): `listen.ws`, plain, and
//! `listen.wss`, over TLS with the certificate of `[listen.tls]`.
//!
//! `open` runs the TLS handshake (for `wss`) and the WebSocket upgrade
//! within the handshake deadline, then hands the session the
//! length-prefixed stream `crate::websocket` makes of the binary messages:
//! the connection is served by the same task, with the same
//! authentication, rights and limits, as a TCP one. Like TLS, it is an
//! owned stream: scans wake its task rather than writing to it.
//!
//! Every path is upgraded: the protocol's own handshake, not the URL,
//! says who the client is. A connection the hub refuses (full, or a
//! throttled source) is closed before the upgrade, without a word, as TLS
//! is: an answer would cost the upgrade it is refused for.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::accept::{Transport, bind_tcp};
use super::error::HubError;
use super::peer::Peer;
use super::wire::Stream;
use crate::websocket;

/// A WebSocket listener; `SECURE` for `wss` (TLS first).
pub(crate) struct WebSocket<const SECURE: bool> {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    max_frame: usize,
}

impl WebSocket<false> {
    /// Listens for `ws://` on `addr`, for frames of at most `max_frame`
    /// bytes; gives the address bound.
    pub(crate) async fn bind(
        addr: SocketAddr,
        max_frame: u32,
    ) -> Result<(WebSocket<false>, SocketAddr), HubError> {
        let (listener, local) = bind_tcp(addr).await?;
        tracing::info!(addr = %local, "listening (ws)");
        Ok((WebSocket::new(listener, None, max_frame), local))
    }
}

impl WebSocket<true> {
    /// Listens for `wss://` on `addr` with `acceptor`; gives the address
    /// bound.
    pub(crate) async fn bind(
        addr: SocketAddr,
        acceptor: TlsAcceptor,
        max_frame: u32,
    ) -> Result<(WebSocket<true>, SocketAddr), HubError> {
        let (listener, local) = bind_tcp(addr).await?;
        tracing::info!(addr = %local, "listening (wss)");
        Ok((WebSocket::new(listener, Some(acceptor), max_frame), local))
    }
}

impl<const SECURE: bool> WebSocket<SECURE> {
    fn new(listener: TcpListener, tls: Option<TlsAcceptor>, max_frame: u32) -> Self {
        WebSocket {
            listener,
            tls,
            max_frame: usize::try_from(max_frame).unwrap_or(usize::MAX),
        }
    }
}

impl<const SECURE: bool> Transport for WebSocket<SECURE> {
    const NAME: &'static str = if SECURE { "WSS" } else { "WS" };
    type Accepted = TcpStream;

    async fn accept(&self) -> io::Result<(TcpStream, Peer)> {
        let (stream, peer) = self.listener.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok((stream, Peer::tcp(peer)))
    }

    async fn open(&self, stream: TcpStream) -> io::Result<Stream> {
        let config = Some(websocket::config(self.max_frame));
        let pipe = match &self.tls {
            Some(acceptor) => {
                let stream = acceptor.accept(stream).await?;
                let ws = tokio_tungstenite::accept_async_with_config(stream, config)
                    .await
                    .map_err(io::Error::other)?;
                websocket::bridge(ws, self.max_frame)
            }
            None => {
                let ws = tokio_tungstenite::accept_async_with_config(stream, config)
                    .await
                    .map_err(io::Error::other)?;
                websocket::bridge(ws, self.max_frame)
            }
        };
        Ok(Stream::Owned(Box::new(pipe)))
    }

    /// Closed without a word (see the module docs).
    fn refuse(&self, stream: TcpStream, _frame: &[u8]) {
        drop(stream);
    }
}
