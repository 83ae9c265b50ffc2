//! A mirror's memory: the region words the client task applies updates to,
//! the region file mapped instead when the client is local, and the events
//! naming what changed. The task is its only writer; every handle reads it.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use memwire::diff::{ByteRange, DiffError, Differ, touched};
use memwire::layout::{LayoutError, required_len};
use memwire::sync::AtomicU32;
use memwire::{Region, Schema, VarId};
use tokio::sync::broadcast;

use super::applied::UpdateTaps;
use crate::schema::OwnedSchema;
use crate::shm::{ShmRegion, intern};

/// Exact ranges an event is computed from; more and the event names every
/// variable of their span.
const SHADOW_RANGES: usize = 256;

/// Change events buffered per mirror before a slow reader of
/// [`Mirror::changes`](super::Mirror::changes) is told it lagged.
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
    /// The mirror's schema, for [`names`](Self::names).
    schema: Schema<'static>,
}

impl MirrorEvent {
    /// The names of [`variables`](Self::variables), in id order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        let schema = self.schema;
        self.variables
            .iter()
            .filter_map(move |&id| schema.get(id).map(|v| v.name.as_str()))
    }

    /// Whether variable `name` is among those that changed.
    pub fn contains(&self, name: &str) -> bool {
        self.names().any(|n| n == name)
    }
}

/// The state of a mirror that the client task and every handle share.
pub(crate) struct MirrorShared {
    pub(crate) path: String,
    /// The subscription asks for every update full.
    pub(crate) full: bool,
    pub(crate) cell: MirrorCell,
    pub(crate) events: broadcast::Sender<MirrorEvent>,
    /// The readers of every update applied ([`Mirror::updates`](super::Mirror::updates)).
    pub(crate) taps: Arc<UpdateTaps>,
    /// The schema events name variables by: the mirror's, kept for the
    /// life of the process like every schema a region file holds.
    schema: Schema<'static>,
    /// The data area as of the last event, to name exactly the variables
    /// whose bytes changed (an update may rewrite whole chunks).
    shadow: Mutex<Shadow>,
    /// The region file, mapped when the client is local to the hub.
    pub(crate) local: OnceLock<ShmRegion>,
    /// Set when the subscription ended for good (the hub refused it).
    pub(crate) ended: AtomicBool,
}

impl MirrorShared {
    pub(crate) fn new(path: String, full: bool, cell: MirrorCell) -> MirrorShared {
        let len = cell.region().data_len();
        MirrorShared {
            path,
            full,
            schema: intern(cell.region().schema()),
            cell,
            events: broadcast::channel(EVENTS).0,
            taps: Arc::default(),
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
            schema: self.schema,
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
