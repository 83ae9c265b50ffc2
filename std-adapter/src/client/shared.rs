//! What the handles and the client task pass each other: the [`Command`]s
//! a handle sends, the [`Status`] the task shows, and the [`Mirror`] handle
//! itself, which the task hands out for a subscription and which sends
//! commands in turn (its reads and writes are in `mirror.rs`).

use std::sync::Arc;

use memwire::session::Stats;
use tokio::sync::{mpsc, oneshot};

use super::error::ClientError;
use super::memory::MirrorShared;

/// What the handles ask of the client task.
pub(crate) enum Command {
    Subscribe {
        path: String,
        /// Every update full (`Client::subscribe_full`).
        full: bool,
        reply: oneshot::Sender<Result<Mirror, ClientError>>,
    },
    Write {
        path: String,
        name: String,
        value: Vec<u8>,
        reply: oneshot::Sender<Result<u64, ClientError>>,
    },
    /// Ask the hub for a full copy of the mirror at `path`.
    Resync {
        path: String,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    Close,
}

/// The client's writes by outcome, over all its connections
/// ([`Client::writes`](super::Client::writes)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteCounts {
    /// Applied by the hub.
    pub applied: u64,
    /// Refused by the hub (rights, names, values, rate, a busy region).
    pub refused: u64,
    /// Sent, then lost with the connection before an answer came
    /// ([`ClientError::NotConnected`]).
    pub unanswered: u64,
}

/// What the client task shares with its handles.
#[derive(Default)]
pub(crate) struct Status {
    pub(super) regions: Vec<(String, u64)>,
    pub(super) stats: Stats,
    pub(super) writes: WriteCounts,
    pub(super) connections: u64,
    pub(super) connected: bool,
}

impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Status")
            .field("regions", &self.regions)
            .field("connections", &self.connections)
            .finish()
    }
}

/// A region mirrored from a hub: read it like a local region, write it
/// through the hub, and wait for its changes.
///
/// Reads never block on the network: they read the mirror's memory (with
/// the region's seqlock, so a variable is never torn while an update is
/// applied), or the region file itself when the client is on the hub's host
/// ([`is_local`](Self::is_local)). Handles are cheap to clone.
#[derive(Clone)]
pub struct Mirror {
    pub(crate) shared: Arc<MirrorShared>,
    pub(crate) commands: mpsc::Sender<Command>,
}
