//! Connecting: the hub's address ([`Endpoint`]) and the streams to it over
//! TCP, TLS or a Unix socket ([`Connector`]).

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;

use super::error::ClientError;
use super::options::ClientOptions;

/// Where a hub listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Tcp(String),
    Tls { addr: String, host: String },
    Unix(std::path::PathBuf),
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
}

impl Connector {
    pub(crate) fn new(
        url: &str,
        endpoint: Endpoint,
        options: &ClientOptions,
    ) -> Result<Connector, ClientError> {
        let tls = match endpoint {
            Endpoint::Tls { .. } => {
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
                let name = rustls_pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| ClientError::Tls(e.to_string()))?;
                let stream = tls
                    .connect(name, stream)
                    .await
                    .map_err(|e| ClientError::Tls(e.to_string()))?;
                Ok(Box::new(stream))
            }
            (Endpoint::Unix(path), _) => Ok(Box::new(UnixStream::connect(path).await.map_err(io)?)),
            (Endpoint::Tls { .. }, None) => Err(ClientError::Tls("no TLS configuration".into())),
        }
    }
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
        for bad in [
            "",
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
