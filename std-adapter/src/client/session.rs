//! One connection of the client task: a core session
//! ([`memwire::session::Client`]) over a stream, driven in the order its
//! sans-IO interface asks for, each step in a file of its own:
//!
//! 1. `events.rs`: take every [`poll_event`](Session::poll_event) — the
//!    welcome, mirror updates, ended subscriptions, write answers — and
//!    retry a write that waited for room (`commands.rs`);
//! 2. `transmit.rs`: write out every
//!    [`poll_transmit`](Session::poll_transmit), then show the counters;
//!    stop once the session [`is_closed`](Session::is_closed);
//! 3. `timer.rs`: sleep until [`poll_timeout`](Session::poll_timeout), and
//!    meanwhile wait for whichever comes first:
//!    - `input.rs`: bytes from the hub, to
//!      [`handle_input_with`](Session::handle_input_with) (variable tables
//!      and the region list go to `describe.rs`),
//!    - `commands.rs`: a command from a handle (subscribe, write, close),
//!    - the timer, to [`handle_timeout`](Session::handle_timeout);
//!
//! then again from 1. A subscription is asked for in `describe.rs`, its
//! mirror made from the variable table there, and mapped from the region
//! file in `local.rs` when the client is on the hub's host.

use std::collections::HashMap;
use std::sync::Arc;

use elsa::sync::FrozenVec;
use memwire::codec::ErrorCode;
use memwire::schema::Variable;
use memwire::session::{Client as Session, ClientConfig};
use tokio::sync::{mpsc, oneshot};

use super::applied::TappedParts;
use super::connect::Stream;
use super::error::ClientError;
use super::memory::MirrorShared;
use super::shared::{Command, Mirror};
use super::task::{Driver, End, RX, SUBS};

/// A subscription slot of the current connection.
pub(super) enum Slot {
    /// Waiting for the variable table.
    Describing {
        path: String,
        /// Every update full.
        full: bool,
        vars: Vec<Variable>,
        reply: oneshot::Sender<Result<Mirror, ClientError>>,
    },
    /// Has a mirror, waiting for its first full copy.
    Fresh {
        mirror: Arc<MirrorShared>,
        reply: oneshot::Sender<Result<Mirror, ClientError>>,
    },
    /// Live: index into `Driver::subs`.
    Live(usize),
}

/// A write the user asked for.
pub(super) struct Write {
    pub(super) path: String,
    pub(super) name: String,
    pub(super) value: Vec<u8>,
    pub(super) reply: oneshot::Sender<Result<u64, ClientError>>,
}

/// The state of one connection: the session, its stream and buffers, and
/// the requests waiting for its answers.
pub(super) struct Connection<'a> {
    pub(super) stream: Box<dyn Stream>,
    /// The connection's time zero: the session's clock counts from it.
    pub(super) start: tokio::time::Instant,
    pub(super) session: Box<Session<'a, SUBS, RX>>,
    /// The mirrors the session's regions live in, for the whole connection.
    pub(super) mirrors: &'a FrozenVec<Arc<MirrorShared>>,
    pub(super) slots: HashMap<u16, Slot>,
    pub(super) writes: HashMap<u32, oneshot::Sender<Result<u64, ClientError>>>,
    /// A write waiting for room in the session; no command is taken
    /// meanwhile, so writers wait in the bounded command queue.
    pub(super) held: Option<Write>,
    /// The framed parts of writes too large for the session's queue,
    /// encoded by `commands.rs`, sent before what the session has to send:
    /// the parts of one write follow each other with no other write
    /// between them.
    pub(super) write_parts: Vec<u8>,
    pub(super) buf: Vec<u8>,
    pub(super) input: Vec<u8>,
    /// Whether the hub has welcomed the client.
    pub(super) connected: bool,
    pub(super) close_code: Option<ErrorCode>,
    /// The welcome's region list, until the welcome is taken.
    pub(super) regions: Vec<(String, u64)>,
    /// Each subscription's parts of the update in progress
    /// ([`Observer::held_parts`](memwire::session::Observer::held_parts)).
    pub(super) parts: HashMap<u16, TappedParts>,
}

impl Connection<'_> {
    /// The session's time now.
    pub(super) fn now(&self) -> memwire::time::Instant {
        since(self.start)
    }
}

/// The time elapsed since `start`, as the session counts it.
fn since(start: tokio::time::Instant) -> memwire::time::Instant {
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    memwire::time::Instant::from_micros(micros)
}

impl Driver {
    /// One connection, until it ends.
    pub(super) async fn session(
        &mut self,
        stream: Box<dyn Stream>,
        commands: &mut mpsc::Receiver<Command>,
        ready: &mut Option<oneshot::Sender<Result<(), ClientError>>>,
    ) -> End {
        let start = tokio::time::Instant::now();
        let mirrors: FrozenVec<Arc<MirrorShared>> = FrozenVec::new();
        // The session borrows its identity for the whole connection.
        let options = self.options.clone();
        let config = ClientConfig {
            max_frame: RX as u32,
            ..ClientConfig::new(&options.name, &options.tenant, &options.secret)
        };
        let mut session: Box<Session<'_, SUBS, RX>> = Box::new(Session::new(since(start), config));
        let mut slots: HashMap<u16, Slot> = HashMap::new();
        let mut parts: HashMap<u16, TappedParts> = HashMap::new();
        for (index, sub) in self.subs.iter().enumerate() {
            mirrors.push(Arc::clone(&sub.mirror));
            let Some(region) = mirrors.get(mirrors.len() - 1).map(|m| m.cell.region()) else {
                continue;
            };
            if let Ok(handle) = session.subscribe(&sub.mirror.path, region, sub.resume) {
                if options.always_full || sub.mirror.full {
                    session.always_full(handle);
                }
                slots.insert(handle.0, Slot::Live(index));
                // The mirror resumes: its next update follows a time
                // without the hub.
                parts.insert(
                    handle.0,
                    TappedParts::new(Arc::clone(&sub.mirror.taps), true),
                );
            }
        }
        let mut conn = Connection {
            stream,
            start,
            session,
            mirrors: &mirrors,
            slots,
            writes: HashMap::new(),
            held: None,
            write_parts: Vec::new(),
            buf: vec![0u8; RX + 5],
            input: vec![0u8; 16 * 1024],
            connected: false,
            close_code: None,
            regions: Vec::new(),
            parts,
        };
        let end = loop {
            let delivered = self.handle_events(&mut conn, ready);
            self.write_held(&mut conn);
            // The mirrors' watchers first, then the acks and requests: a
            // watcher woken on this thread runs only once the task yields,
            // and writing to the socket would hold it back.
            if delivered {
                tokio::task::yield_now().await;
            }
            conn.transmit().await;
            self.show_stats(&conn);
            if let Some(end) = conn.closed() {
                break end;
            }
            let timer = conn.timer();
            tokio::select! {
                read = conn.read() => match read {
                    Some(n) => conn.handle_input(n),
                    None => break End::Lost(ClientError::Disconnected),
                },
                command = commands.recv(), if conn.held.is_none() => {
                    if let Some(end) = self.command(&mut conn, command).await {
                        break end;
                    }
                }
                () = timer => conn.handle_timeout(),
            }
        };
        // Requests of this connection that were not answered.
        let unanswered = u64::try_from(conn.writes.len()).unwrap_or(u64::MAX);
        self.count_writes(|w| w.unanswered += unanswered);
        for (_, reply) in conn.writes.drain() {
            let _ = reply.send(Err(ClientError::NotConnected));
        }
        if let Some(write) = conn.held {
            let _ = write.reply.send(Err(ClientError::NotConnected));
        }
        for (_, slot) in conn.slots.drain() {
            match slot {
                Slot::Describing {
                    path, full, reply, ..
                } => self.queued.push((path, full, reply)),
                Slot::Fresh { mirror, reply } => {
                    self.queued.push((mirror.path.clone(), mirror.full, reply));
                }
                Slot::Live(_) => {}
            }
        }
        end
    }
}
