//! The client task: the state that outlives a connection, and the
//! reconnection loop around one connection at a time (`session.rs`), with
//! exponential backoff and jitter between them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use memwire::codec::Resume;
use tokio::sync::{mpsc, oneshot};

use super::connect::Connector;
use super::error::ClientError;
use super::memory::MirrorShared;
use super::options::ClientOptions;
use super::shared::{Command, Mirror, Status};

/// Subscriptions per connection.
pub(super) const SUBS: usize = 32;
/// The largest frame the client takes.
pub(super) const RX: usize = 64 * 1024;

/// The answer to a subscribe.
pub(super) type Reply = oneshot::Sender<Result<Mirror, ClientError>>;

/// A subscription that survives reconnections.
pub(super) struct Sub {
    pub(super) mirror: Arc<MirrorShared>,
    pub(super) resume: Option<Resume>,
}

/// What ended a connection.
pub(super) enum End {
    /// The user closed the client.
    Closed,
    /// The connection was lost (or refused); reconnect.
    Lost(ClientError),
}

/// The client task.
pub(crate) struct Driver {
    pub(super) connector: Connector,
    pub(super) options: ClientOptions,
    pub(super) status: Arc<Mutex<Status>>,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) subs: Vec<Sub>,
    /// Subscribe requests to make on the next connection.
    /// Subscriptions asked for while not connected: path, full, reply.
    pub(super) queued: Vec<(String, bool, Reply)>,
}

impl Driver {
    pub(crate) fn new(
        connector: Connector,
        options: ClientOptions,
        status: Arc<Mutex<Status>>,
        commands: mpsc::Sender<Command>,
    ) -> Driver {
        Driver {
            connector,
            options,
            status,
            commands,
            subs: Vec::new(),
            queued: Vec::new(),
        }
    }

    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        ready: oneshot::Sender<Result<(), ClientError>>,
    ) {
        let mut ready = Some(ready);
        let mut pause = self.options.reconnect_min;
        loop {
            let attempt = async {
                let stream = self.connector.open().await?;
                Ok::<_, ClientError>(stream)
            };
            let stream = if ready.is_some() {
                match tokio::time::timeout(self.options.connect_timeout, attempt).await {
                    Ok(r) => r,
                    Err(_) => Err(ClientError::Disconnected),
                }
            } else {
                attempt.await
            };
            let end = match stream {
                Ok(stream) => {
                    let connections = self.connections();
                    let end = self.session(stream, &mut commands, &mut ready).await;
                    self.status
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .connected = false;
                    if self.connections() > connections {
                        // It got in: the next loss starts from the shortest pause.
                        pause = self.options.reconnect_min;
                    }
                    end
                }
                Err(e) => End::Lost(e),
            };
            match end {
                End::Closed => return,
                End::Lost(e) => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Err(e));
                        return;
                    }
                    tracing::info!(url = %self.connector.url, error = %e, "connection lost; reconnecting");
                }
            }
            // Exponential backoff with jitter; commands keep being answered.
            let wait = jittered(pause, random_unit());
            pause = (pause * 2).min(self.options.reconnect_max);
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => break,
                    command = commands.recv() => match command {
                        None | Some(Command::Close) => return,
                        Some(Command::Subscribe { path, full, reply }) => {
                            self.queued.push((path, full, reply));
                        }
                        Some(Command::Write { reply, .. }) => {
                            let _ = reply.send(Err(ClientError::NotConnected));
                        }
                        Some(Command::Resync { reply, .. }) => {
                            let _ = reply.send(Err(ClientError::NotConnected));
                        }
                    },
                }
            }
        }
    }

    fn connections(&self) -> u64 {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .connections
    }
}

/// The wait before the next attempt: `pause` stretched by up to a half,
/// as `unit` in [0, 1) says, so that clients that lost one hub together do
/// not all come back at the same instant.
fn jittered(pause: Duration, unit: f64) -> Duration {
    pause.mul_f64(1.0 + unit * 0.5)
}

/// A number in [0, 1) for jitter.
fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_spread_over_half_a_pause_above_it() {
        let pause = Duration::from_millis(200);
        let waits: Vec<Duration> = (0..64).map(|_| jittered(pause, random_unit())).collect();
        for wait in &waits {
            assert!(
                *wait >= pause && *wait < pause.mul_f64(1.5),
                "{wait:?} outside [{pause:?}, 1.5 × {pause:?})"
            );
        }
        let first = waits[0];
        assert!(
            waits.iter().any(|w| *w != first),
            "64 waits all equal: no jitter"
        );
        assert_eq!(jittered(pause, 0.0), pause);
        assert!(jittered(pause, 0.999_999) < pause.mul_f64(1.5));
    }
}
