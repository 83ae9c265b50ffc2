//! A mirror: a region held in this process, kept current by the client.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use bytemuck::Pod;
use memwire::diff::{ByteRange, DiffError, Differ, touched};
use memwire::layout::{LayoutError, required_len};
use memwire::region::AccessError;
use memwire::schema::Value;
use memwire::sync::AtomicU32;
use memwire::{Record, Region, Schema, VarId};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{ClientError, Command};
use crate::schema::OwnedSchema;
use crate::shm::ShmRegion;

/// Exact ranges an event is computed from; more and the event names every
/// variable of their span.
const SHADOW_RANGES: usize = 256;

/// Change events buffered per mirror before a slow reader of
/// [`Mirror::changes`] is told it lagged.
const EVENTS: usize = 256;

/// The memory of a mirror: its schema and region words.
pub(crate) struct MirrorMem {
    schema: OwnedSchema,
    words: Box<[AtomicU32]>,
}

self_cell::self_cell!(
    /// A mirror's memory and the live region over it.
    pub(crate) struct MirrorCell {
        owner: MirrorMem,
        #[covariant]
        dependent: Region,
    }
);

impl MirrorCell {
    /// Fresh mirror memory for `schema`, laid out as a region of `instance`.
    pub(crate) fn build(schema: OwnedSchema, instance: u64) -> Result<MirrorCell, LayoutError> {
        let len = required_len(&schema.as_schema())?;
        let words: Box<[AtomicU32]> = (0..len.div_ceil(4)).map(|_| AtomicU32::new(0)).collect();
        MirrorCell::try_new(MirrorMem { schema, words }, |mem| {
            Region::init(&mem.words, mem.schema.as_schema(), instance)
        })
    }

    pub(crate) fn region(&self) -> Region<'_> {
        *self.borrow_dependent()
    }
}

/// What changed in a mirror.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorEvent {
    /// The generation the mirror now holds.
    pub generation: u64,
    /// Whether the mirror was rewritten whole (first copy, reconnection to a
    /// new region instance, resync), or events were missed: every variable
    /// may have changed.
    pub resynced: bool,
    /// The variables whose bytes changed since the last event, in id order
    /// (a variable rewritten with its old value is not named).
    pub variables: Vec<VarId>,
}

/// The state of a mirror that the client task and every handle share.
pub(crate) struct MirrorShared {
    pub(crate) path: String,
    pub(crate) cell: MirrorCell,
    pub(crate) events: broadcast::Sender<MirrorEvent>,
    /// The data area as of the last event, to name exactly the variables
    /// whose bytes changed (an update may rewrite whole chunks).
    shadow: Mutex<Shadow>,
    /// The region file, mapped when the client is local to the hub.
    pub(crate) local: OnceLock<ShmRegion>,
    /// Set when the subscription ended for good (the hub refused it).
    pub(crate) ended: AtomicBool,
}

impl MirrorShared {
    pub(crate) fn new(path: String, cell: MirrorCell) -> MirrorShared {
        let len = cell.region().data_len();
        MirrorShared {
            path,
            cell,
            events: broadcast::channel(EVENTS).0,
            shadow: Mutex::new(Shadow {
                data: vec![0; len],
                current: vec![0; len],
                ranges: vec![ByteRange::new(0, 0); SHADOW_RANGES],
                differ: Differ::new(),
            }),
            local: OnceLock::new(),
            ended: AtomicBool::new(false),
        }
    }

    /// Publishes an event for a new generation, naming the variables whose
    /// bytes differ from the last event's. Called by the client task, the
    /// mirror's only writer, between updates.
    pub(crate) fn updated(&self, generation: u64, resynced: bool) {
        let region = self.cell.region();
        let schema = region.schema();
        let mut guard = self.shadow.lock().unwrap_or_else(PoisonError::into_inner);
        let shadow = &mut *guard;
        let variables: Vec<VarId> = match region.snapshot(&mut shadow.current) {
            Err(_) => schema
                .variables()
                .iter()
                .zip(0..)
                .map(|(_, i)| VarId(i))
                .collect(),
            Ok(_) => match shadow.differ.update(
                &shadow.current,
                &mut shadow.data,
                &mut shadow.ranges,
                None,
            ) {
                Ok(n) => touched(schema, shadow.ranges.get(..n).unwrap_or(&[])).collect(),
                Err(DiffError::Overflow(o)) => touched(schema, &[o.span]).collect(),
                Err(_) => schema
                    .variables()
                    .iter()
                    .zip(0..)
                    .map(|(_, i)| VarId(i))
                    .collect(),
            },
        };
        drop(guard);
        let _ = self.events.send(MirrorEvent {
            generation,
            resynced,
            variables,
        });
    }
}

/// The last data area reported, and the diff's buffers.
struct Shadow {
    data: Vec<u8>,
    current: Vec<u8>,
    ranges: Vec<ByteRange>,
    differ: Differ,
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

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("path", &self.shared.path)
            .field("generation", &self.generation())
            .field("local", &self.is_local())
            .finish()
    }
}

impl Mirror {
    /// The region's path, `tenant/region`.
    pub fn path(&self) -> &str {
        &self.shared.path
    }

    /// The region's schema, as the hub described it.
    pub fn schema(&self) -> Schema<'_> {
        self.shared.cell.region().schema()
    }

    /// Whether reads go to the region file mapped in this process (a client
    /// connected over the hub's Unix socket that may open the file).
    pub fn is_local(&self) -> bool {
        self.shared.local.get().is_some()
    }

    /// Whether the hub ended the subscription (the region is gone or access
    /// was withdrawn); the mirror keeps its last contents.
    pub fn is_ended(&self) -> bool {
        self.shared.ended.load(Ordering::Relaxed)
    }

    /// The generation the mirror holds.
    pub fn generation(&self) -> u64 {
        match self.shared.local.get() {
            Some(local) => local.generation().unwrap_or(0),
            None => self.shared.cell.region().generation().unwrap_or(0),
        }
    }

    fn id(&self, name: &str) -> Result<VarId, ClientError> {
        self.schema()
            .find(name)
            .ok_or_else(|| ClientError::UnknownVariable(name.to_owned()))
    }

    /// The bytes of variable `name`.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, ClientError> {
        let id = self.id(name)?;
        let len = self
            .schema()
            .get(id)
            .map_or(0, |v| usize::try_from(v.len()).unwrap_or(0));
        let mut out = vec![0u8; len];
        match self.shared.local.get() {
            Some(local) => local.read(id, &mut out).map_err(ClientError::local)?,
            None => retry(|| self.shared.cell.region().read(id, &mut out))?,
        }
        Ok(out)
    }

    /// Variable `name` as a `V` (kind and length must match).
    pub fn get<V: Value>(&self, name: &str) -> Result<V, ClientError> {
        match self.shared.local.get() {
            Some(local) => local.get_by_name(name).map_err(ClientError::local),
            None => retry(|| self.shared.cell.region().get_by_name(name)),
        }
    }

    /// The whole data area, as of one generation.
    pub fn snapshot(&self) -> Result<(u64, Vec<u8>), ClientError> {
        let mut out = vec![0u8; self.shared.cell.region().data_len()];
        let generation = match self.shared.local.get() {
            Some(local) => local.snapshot(&mut out).map_err(ClientError::local)?,
            None => retry(|| self.shared.cell.region().snapshot(&mut out))?,
        };
        Ok((generation, out))
    }

    /// The whole region as the `#[derive(Schema)]` record `T` (its schema
    /// must be the region's).
    pub fn load<T: Record + Pod>(&self) -> Result<T, ClientError> {
        if T::schema().fingerprint() != self.schema().fingerprint() {
            return Err(ClientError::SchemaMismatch);
        }
        let (_, data) = self.snapshot()?;
        let bytes = data
            .get(..size_of::<T>())
            .ok_or(ClientError::SchemaMismatch)?;
        Ok(bytemuck::pod_read_unaligned(bytes))
    }

    /// Asks the hub to write variable `name` (exactly its length in bytes,
    /// little-endian) and returns the generation that holds the write. The
    /// mirror shows it once the hub's update arrives.
    pub async fn write(&self, name: &str, value: &[u8]) -> Result<u64, ClientError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Write {
            path: self.shared.path.clone(),
            name: name.to_owned(),
            value: value.to_vec(),
            reply,
        };
        self.commands
            .send(command)
            .await
            .map_err(|_| ClientError::Closed)?;
        answer.await.map_err(|_| ClientError::Closed)?
    }

    /// [`write`](Self::write) of a typed value.
    pub async fn set<V: Value>(&self, name: &str, value: V) -> Result<u64, ClientError> {
        let raw = value.to_raw();
        self.write(name, bytemuck::bytes_of(&raw)).await
    }

    /// The changes from now on, as an async stream of events.
    pub fn changes(&self) -> Changes {
        Changes {
            events: self.shared.events.subscribe(),
        }
    }
}

/// Change events of a [`Mirror`]. Several updates between two looks are
/// separate events while fewer than 256 are buffered; past that the reader
/// gets one event with `resynced` set.
#[derive(Debug)]
pub struct Changes {
    events: broadcast::Receiver<MirrorEvent>,
}

impl Changes {
    /// The next event; `None` once the client is closed.
    pub async fn next(&mut self) -> Option<MirrorEvent> {
        loop {
            match self.events.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Skip to the newest and say that anything may have changed.
                    let mut last = None;
                    while let Ok(event) = self.events.try_recv() {
                        last = Some(event);
                    }
                    if let Some(mut event) = last {
                        event.resynced = true;
                        return Some(event);
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// Runs a seqlock read of the mirror, retrying while the client task is in
/// the middle of applying an update (microseconds).
fn retry<R>(mut op: impl FnMut() -> Result<R, AccessError>) -> Result<R, ClientError> {
    for _ in 0..10_000 {
        match op() {
            Err(AccessError::Busy) => std::thread::yield_now(),
            other => return other.map_err(ClientError::Access),
        }
    }
    Err(ClientError::Access(AccessError::Busy))
}
