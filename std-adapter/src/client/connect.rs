//! Connecting: the hub's address ([`Endpoint`]) and the streams to it over
//! TCP, TLS, a Unix socket or WebSocket ([`Connector`]). Over WebSocket
//! (`ws://`, `wss://`) the stream is the length-prefixed one
//! `crate::websocket` makes of the binary messages.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::client_async_with_config;
use tokio_tungstenite::tungstenite::Error as WsError;

use super::error::ClientError;
use super::options::ClientOptions;
use crate::websocket;

/// Where a hub listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Tcp(String),
    Tls {
        addr: String,
        host: String,
    },
    Unix(std::path::PathBuf),
    /// `ws://` (`secure`: `wss://`): the whole URL for the upgrade
    /// request, the address and the host name.
    WebSocket {
        url: String,
        addr: String,
        host: String,
        secure: bool,
    },
}

impl Endpoint {
    pub(super) fn parse(url: &str) -> Result<Endpoint, ClientError> {
        let bad = || ClientError::BadUrl(url.to_owned());
        if let Some(rest) = url.strip_prefix("tcp://") {
            return (!rest.is_empty() && rest.contains(':'))
                .then(|| Endpoint::Tcp(rest.to_owned()))
                .ok_or_else(bad);
        }
        if let Some(rest) = url.strip_prefix("tls://") {
            let (host, _) = rest.rsplit_once(':').ok_or_else(bad)?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(bad());
            }
            return Ok(Endpoint::Tls {
                addr: rest.to_owned(),
                host: host.to_owned(),
            });
        }
        for (scheme, secure) in [("ws://", false), ("wss://", true)] {
            let Some(rest) = url.strip_prefix(scheme) else {
                continue;
            };
            let addr = rest.split(['/', '?']).next().unwrap_or_default();
            let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() || port.is_empty() {
                return Err(bad());
            }
            return Ok(Endpoint::WebSocket {
                url: url.to_owned(),
                addr: addr.to_owned(),
                host: host.to_owned(),
                secure,
            });
        }
        if let Some(rest) = url.strip_prefix("unix://") {
            return (rest.starts_with('/'))
                .then(|| Endpoint::Unix(rest.into()))
                .ok_or_else(bad);
        }
        Err(bad())
    }
}

/// A byte stream to a hub.
pub(super) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Opens streams to the hub.
pub(crate) struct Connector {
    pub(super) url: String,
    pub(super) endpoint: Endpoint,
    tls: Option<TlsConnector>,
    /// The largest message taken over WebSocket: the client's largest frame.
    max_frame: usize,
}

impl Connector {
    pub(crate) fn new(
        url: &str,
        endpoint: Endpoint,
        options: &ClientOptions,
        max_frame: usize,
    ) -> Result<Connector, ClientError> {
        let tls = match endpoint {
            Endpoint::Tls { .. } | Endpoint::WebSocket { secure: true, .. } => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in &options.tls_roots {
                    roots
                        .add(cert.clone())
                        .map_err(|e| ClientError::Tls(e.to_string()))?;
                }
                // The process's crypto provider: ring, the one rustls
                // feature this crate enables, unless the application
                // installed another.
                let config = rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Some(TlsConnector::from(Arc::new(config)))
            }
            _ => None,
        };
        Ok(Connector {
            url: url.to_owned(),
            endpoint,
            tls,
            max_frame,
        })
    }

    pub(super) async fn open(&self) -> Result<Box<dyn Stream>, ClientError> {
        let io = |source| ClientError::Connect {
            url: self.url.clone(),
            source,
        };
        match (&self.endpoint, &self.tls) {
            (Endpoint::Tcp(addr), _) => {
                let stream = TcpStream::connect(addr).await.map_err(io)?;
                let _ = stream.set_nodelay(true);
                Ok(Box::new(stream))
            }
            (Endpoint::Tls { addr, host }, Some(tls)) => {
                let stream = TcpStream::connect(addr).await.map_err(io)?;
                let _ = stream.set_nodelay(true);
                Ok(Box::new(secure(tls, host, stream).await?))
            }
            (Endpoint::Unix(path), _) => Ok(Box::new(UnixStream::connect(path).await.map_err(io)?)),
            (
                Endpoint::WebSocket {
                    url,
                    addr,
                    host,
                    secure: is_secure,
                },
                tls,
            ) => {
                let stream = TcpStream::connect(addr).await.map_err(io)?;
                let _ = stream.set_nodelay(true);
                let config = Some(websocket::config(self.max_frame));
                let upgrade = |e: WsError| ClientError::Connect {
                    url: self.url.clone(),
                    source: std::io::Error::other(e),
                };
                let pipe = match (is_secure, tls) {
                    (false, _) => {
                        let (ws, _) = client_async_with_config(url.as_str(), stream, config)
                            .await
                            .map_err(upgrade)?;
                        websocket::bridge(ws, self.max_frame)
                    }
                    (true, Some(tls)) => {
                        let stream = secure(tls, host, stream).await?;
                        let (ws, _) = client_async_with_config(url.as_str(), stream, config)
                            .await
                            .map_err(upgrade)?;
                        websocket::bridge(ws, self.max_frame)
                    }
                    (true, None) => return Err(ClientError::Tls("no TLS configuration".into())),
                };
                Ok(Box::new(pipe))
            }
            (Endpoint::Tls { .. }, None) => Err(ClientError::Tls("no TLS configuration".into())),
        }
    }
}

/// TLS over `stream` to `host`.
async fn secure(
    tls: &TlsConnector,
    host: &str,
    stream: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ClientError> {
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    tls.connect(name, stream)
        .await
        .map_err(|e| ClientError::Tls(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:7878").unwrap(),
            Endpoint::Tcp("127.0.0.1:7878".into())
        );
        assert_eq!(
            Endpoint::parse("tls://hub.example:7879").unwrap(),
            Endpoint::Tls {
                addr: "hub.example:7879".into(),
                host: "hub.example".into()
            }
        );
        assert_eq!(
            Endpoint::parse("unix:///run/memwire.sock").unwrap(),
            Endpoint::Unix("/run/memwire.sock".into())
        );
        assert_eq!(
            Endpoint::parse("ws://127.0.0.1:7412/memwire").unwrap(),
            Endpoint::WebSocket {
                url: "ws://127.0.0.1:7412/memwire".into(),
                addr: "127.0.0.1:7412".into(),
                host: "127.0.0.1".into(),
                secure: false,
            }
        );
        assert_eq!(
            Endpoint::parse("wss://[::1]:7413").unwrap(),
            Endpoint::WebSocket {
                url: "wss://[::1]:7413".into(),
                addr: "[::1]:7413".into(),
                host: "::1".into(),
                secure: true,
            }
        );
        for bad in [
            "",
            "ws://host",
            "ws://:1/x",
            "wss://host:/",
            "tcp://",
            "tcp://host",
            "http://x:1",
            "unix://relative",
            "tls://:1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
