//! The client: connects to a hub, mirrors its regions and writes to them.
//!
//! - [`Client::connect`] takes `tcp://host:port`, `tls://host:port` or
//!   `unix:///path/to/socket`, authenticates, and keeps the connection up:
//!   on a loss it reconnects with exponential backoff and jitter,
//!   authenticates again and resubscribes every mirror, asking for a delta
//!   from the generation it holds (the hub sends everything when the region
//!   was created anew). A mirror is never left half-applied: an update is
//!   committed with its last part, and events say `resynced` when it was
//!   rewritten whole.
//! - [`Client::subscribe`] returns a [`Mirror`] once it holds a full copy.
//!   Its schema comes from the hub, so any region can be mirrored by name;
//!   `#[derive(Schema)]` records read it whole with [`Mirror::load`].
//! - Over the hub's Unix socket, with [`ClientOptions::local_root`] set to the
//!   hub's shared-memory root, a mirror reads the region file itself (the
//!   hub grants it by file permissions: only the hub's user can open it);
//!   writes still go through the hub, which checks rights.
//!
//! ```no_run
//! # async fn run() -> Result<(), memwire_std::client::ClientError> {
//! use memwire_std::client::{Client, ClientOptions};
//!
//! let options = ClientOptions::new("example", "demo", "memwire-demo-secret");
//! let client = Client::connect("tcp://127.0.0.1:7878", options).await?;
//! let sensors = client.subscribe("demo/sensors").await?;
//! let temperature: f32 = sensors.get("temperature")?;
//! sensors.set("setpoint", temperature + 1.0).await?;
//! let mut changes = sensors.changes();
//! while let Some(event) = changes.next().await {
//!     println!("generation {}: {} variables", event.generation, event.variables.len());
//! }
//! # Ok(()) }
//! ```

mod mirror;
mod task;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use memwire::codec::ErrorCode;
use memwire::region::AccessError;
use memwire::session::Stats;
use rustls_pki_types::CertificateDer;
use tokio::sync::{mpsc, oneshot};

pub use mirror::{Changes, Mirror, MirrorEvent};

use crate::shm::{Root, ShmError};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not `tcp://host:port`, `tls://host:port` or
    /// `unix:///path`.
    #[error("not a hub address: {0} (expected tcp://host:port, tls://host:port or unix:///path)")]
    BadUrl(String),
    /// The hub could not be reached.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The hub's URL.
        url: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS setup or handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The hub closed the connection with an error (a wrong secret gives
    /// [`ErrorCode::AuthFailed`]).
    #[error("the hub refused: {0}")]
    Refused(ErrorCode),
    /// The hub closed the connection during the handshake without a reason.
    #[error("the hub closed the connection")]
    Disconnected,
    /// The hub ended the subscription or refused the write.
    #[error("{0}")]
    Hub(ErrorCode),
    /// The region's variable table could not be turned into a mirror.
    #[error("the hub described a region this client cannot mirror: {0}")]
    BadSchema(String),
    /// The mirror has no variable of that name.
    #[error("no variable named {0}")]
    UnknownVariable(String),
    /// A typed access did not match the schema.
    #[error("the type does not match the region's schema")]
    SchemaMismatch,
    /// A read of the mirror failed (wrong kind or length, or busy).
    #[error("mirror read: {0}")]
    Access(AccessError),
    /// A read of the mapped region file failed.
    #[error("local region: {0}")]
    Local(String),
    /// The client is closed.
    #[error("the client is closed")]
    Closed,
    /// The client is reconnecting; try again.
    #[error("not connected to the hub (reconnecting)")]
    NotConnected,
    /// The write does not fit in one frame of the size the hub takes.
    #[error("the write is larger than the hub's largest frame")]
    TooLarge,
    /// The path is not `tenant/region`, or too many subscriptions.
    #[error("cannot subscribe to {0}")]
    BadPath(String),
}

impl ClientError {
    /// A local read's error, as the same mistake on a remote mirror gives it.
    fn local(e: ShmError) -> ClientError {
        match e {
            ShmError::Access(a) => ClientError::Access(a),
            other => ClientError::Local(other.to_string()),
        }
    }
}

/// How a client connects and reconnects.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// A name for the hub's logs; with the tenant, what the hub's
    /// configuration knows the client by.
    pub name: String,
    /// The tenant.
    pub tenant: String,
    /// The client's secret key.
    pub secret: Vec<u8>,
    /// Certificates to trust for `tls://` besides none: a hub's certificate
    /// or its CA.
    pub tls_roots: Vec<CertificateDer<'static>>,
    /// The hub's shared-memory root, for local reads over `unix://`.
    pub local_root: Option<Root>,
    /// The first pause before reconnecting.
    pub reconnect_min: Duration,
    /// The longest pause between reconnection attempts.
    pub reconnect_max: Duration,
    /// How long the first connection may take (connect and handshake).
    pub connect_timeout: Duration,
}

impl ClientOptions {
    /// Options with defaults: reconnect after 100 ms doubling up to 5 s
    /// (each pause with up to 50% random jitter), 10 s to connect, no TLS
    /// roots, no local reads.
    pub fn new(name: &str, tenant: &str, secret: impl Into<Vec<u8>>) -> ClientOptions {
        ClientOptions {
            name: name.to_owned(),
            tenant: tenant.to_owned(),
            secret: secret.into(),
            tls_roots: Vec::new(),
            local_root: None,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Where a hub listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Tcp(String),
    Tls { addr: String, host: String },
    Unix(std::path::PathBuf),
}

impl Endpoint {
    fn parse(url: &str) -> Result<Endpoint, ClientError> {
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

/// What the handles ask of the client task.
pub(crate) enum Command {
    Subscribe {
        path: String,
        reply: oneshot::Sender<Result<Mirror, ClientError>>,
    },
    Write {
        path: String,
        name: String,
        value: Vec<u8>,
        reply: oneshot::Sender<Result<u64, ClientError>>,
    },
    Close,
}

/// What the client task shares with its handles.
#[derive(Default)]
pub(crate) struct Status {
    regions: Vec<(String, u64)>,
    stats: Stats,
    connections: u64,
    connected: bool,
}

/// A connection to a hub, kept up in the background (a task on the tokio
/// runtime it was made on).
#[derive(Debug)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    status: Arc<Mutex<Status>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Status")
            .field("regions", &self.regions)
            .field("connections", &self.connections)
            .finish()
    }
}

impl Client {
    /// Connects to the hub at `url` and authenticates; fails if the first
    /// connection does not succeed (later losses reconnect by themselves).
    pub async fn connect(url: &str, options: ClientOptions) -> Result<Client, ClientError> {
        let endpoint = Endpoint::parse(url)?;
        let connector = task::Connector::new(url, endpoint, &options)?;
        let status = Arc::new(Mutex::new(Status::default()));
        let (commands, receiver) = mpsc::channel(64);
        let (ready, first) = oneshot::channel();
        let driver = task::Driver::new(connector, options, Arc::clone(&status), commands.clone());
        let task = tokio::spawn(driver.run(receiver, ready));
        match first.await {
            Ok(Ok(())) => Ok(Client {
                commands,
                status,
                task,
            }),
            Ok(Err(e)) => {
                task.abort();
                Err(e)
            }
            Err(_) => Err(ClientError::Closed),
        }
    }

    /// The regions the hub listed for this client at the last connection,
    /// with their instance ids.
    pub fn regions(&self) -> Vec<(String, u64)> {
        self.status().regions.clone()
    }

    /// The counters of the current connection.
    pub fn stats(&self) -> Stats {
        self.status().stats
    }

    /// How many times the client has connected (1 after `connect`).
    pub fn connections(&self) -> u64 {
        self.status().connections
    }

    /// Whether the client is connected and welcomed now; false while it
    /// reconnects (mirrors then keep their last contents).
    pub fn is_connected(&self) -> bool {
        self.status().connected
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Mirrors region `path` (`tenant/region`); returns once the mirror
    /// holds a full copy. Subscribing twice gives two mirrors.
    pub async fn subscribe(&self, path: &str) -> Result<Mirror, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Subscribe {
                path: path.to_owned(),
                reply,
            })
            .await
            .map_err(|_| ClientError::Closed)?;
        answer.await.map_err(|_| ClientError::Closed)?
    }

    /// Closes the connection in order and stops reconnecting. Mirrors keep
    /// their contents.
    pub async fn close(self) {
        let _ = self.commands.send(Command::Close).await;
        let _ = self.task.await;
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
