//! The [`Client`] handle: connects, starts the client task, and asks it for
//! mirrors.

use std::sync::{Arc, Mutex, PoisonError};

use memwire::session::Stats;
use tokio::sync::{mpsc, oneshot};

use super::connect::{Connector, Endpoint};
use super::error::ClientError;
use super::options::ClientOptions;
use super::shared::{Command, Mirror, Status, WriteCounts};
use super::task::{Driver, RX};

/// A connection to a hub, kept up in the background (a task on the tokio
/// runtime it was made on).
#[derive(Debug)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    status: Arc<Mutex<Status>>,
    task: tokio::task::JoinHandle<()>,
}

impl Client {
    /// Connects to the hub at `url` (`tcp://host:port`, `tls://host:port`,
    /// `unix:///path`, `ws://host:port[/path]` or `wss://host:port[/path]`)
    /// and authenticates; fails if the first connection does not succeed
    /// (later losses reconnect by themselves).
    pub async fn connect(url: &str, options: ClientOptions) -> Result<Client, ClientError> {
        let endpoint = Endpoint::parse(url)?;
        let connector = Connector::new(url, endpoint, &options, RX)?;
        let status = Arc::new(Mutex::new(Status::default()));
        let (commands, receiver) = mpsc::channel(64);
        let (ready, first) = oneshot::channel();
        let driver = Driver::new(connector, options, Arc::clone(&status), commands.clone());
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

    /// The client's writes by outcome, over all its connections: applied,
    /// refused, and lost with a connection before their answer.
    pub fn writes(&self) -> WriteCounts {
        self.status().writes
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
        self.subscribe_as(path, false).await
    }

    /// [`subscribe`](Self::subscribe), asking the hub for every update
    /// full (the whole data area) rather than a delta: for a consumer that
    /// keeps no state between updates. [`ClientOptions::always_full`]
    /// asks this for every subscription of a client.
    ///
    /// [`ClientOptions::always_full`]: super::ClientOptions::always_full
    pub async fn subscribe_full(&self, path: &str) -> Result<Mirror, ClientError> {
        self.subscribe_as(path, true).await
    }

    async fn subscribe_as(&self, path: &str, full: bool) -> Result<Mirror, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Subscribe {
                path: path.to_owned(),
                full,
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
