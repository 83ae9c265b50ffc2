//! The state the handle and the runner share, and the handle.

use core::cell::RefCell;
use core::sync::atomic::{AtomicBool, Ordering};

use embassy_sync::blocking_mutex::Mutex as BlockingMutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::{Channel, DynamicReceiver};
use embassy_sync::mutex::Mutex;
use embassy_sync::signal::Signal;
use memwire::schema::Name;

use crate::event::{Event, WriteError};

/// What a write asks for: the bytes themselves wait in the write buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WriteCommand {
    /// Tells a result apart from that of an earlier, abandoned write.
    pub(crate) seq: u32,
    pub(crate) mirror: usize,
    pub(crate) target: WriteTarget,
    /// How many bytes of the write buffer the write carries.
    pub(crate) len: usize,
}

/// Where a write goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum WriteTarget {
    /// A whole variable by name.
    Variable(Name),
    /// Bytes of the data area from this offset.
    Offset(usize),
}

/// A write waiting for the runner: the command and its bytes change
/// together, under one lock, so the runner never pairs a command with the
/// bytes of another.
pub(crate) struct WriteSlot<B: ?Sized> {
    pub(crate) command: Option<WriteCommand>,
    pub(crate) bytes: B,
}

/// The write slot, whatever its capacity.
pub(crate) type WriteCell = dyn WriteStore + Sync;

/// Access to a write slot that hides its capacity from the handle's and
/// the runner's types.
pub(crate) trait WriteStore {
    /// Puts a command and its bytes in the slot, replacing any waiting one;
    /// `None` if the bytes do not fit.
    fn put(&self, command: WriteCommand, bytes: &[u8]) -> Option<()>;
    /// Takes the waiting command, if any, and shows it with its bytes to
    /// `f`, under the slot's lock.
    fn take(&self, f: &mut dyn FnMut(WriteCommand, &[u8]));
}

impl<const WRITE: usize> WriteStore
    for BlockingMutex<CriticalSectionRawMutex, RefCell<WriteSlot<[u8; WRITE]>>>
{
    fn put(&self, command: WriteCommand, bytes: &[u8]) -> Option<()> {
        self.lock(|slot| {
            let mut slot = slot.borrow_mut();
            slot.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
            slot.command = Some(command);
            Some(())
        })
    }

    fn take(&self, f: &mut dyn FnMut(WriteCommand, &[u8])) {
        self.lock(|slot| {
            let mut slot = slot.borrow_mut();
            if let Some(command) = slot.command.take() {
                f(command, slot.bytes.get(..command.len).unwrap_or_default());
            }
        });
    }
}

/// What the handle and the runner share: events one way, write requests
/// the other, the connection state, and the wake-up for local changes.
pub(crate) struct Shared<const EVENTS: usize, const WRITE: usize> {
    pub(crate) events: Channel<CriticalSectionRawMutex, Event, EVENTS>,
    pub(crate) link: Link,
    pub(crate) write: BlockingMutex<CriticalSectionRawMutex, RefCell<WriteSlot<[u8; WRITE]>>>,
}

impl<const EVENTS: usize, const WRITE: usize> Shared<EVENTS, WRITE> {
    pub(crate) const fn new() -> Self {
        Shared {
            events: Channel::new(),
            link: Link::new(),
            write: BlockingMutex::new(RefCell::new(WriteSlot {
                command: None,
                bytes: [0; WRITE],
            })),
        }
    }
}

/// The part of [`Shared`] whose type does not depend on its capacities.
pub(crate) struct Link {
    pub(crate) connected: AtomicBool,
    /// One write at a time: held by [`Handle::write`] from request to
    /// answer.
    pub(crate) write_turn: Mutex<CriticalSectionRawMutex, u32>,
    /// Wakes the runner when a command is put in the write slot.
    pub(crate) write_wake: Signal<CriticalSectionRawMutex, ()>,
    pub(crate) write_result: Signal<CriticalSectionRawMutex, (u32, Result<u64, WriteError>)>,
    pub(crate) notify: Signal<CriticalSectionRawMutex, ()>,
}

impl Link {
    const fn new() -> Self {
        Link {
            connected: AtomicBool::new(false),
            write_turn: Mutex::new(0),
            write_wake: Signal::new(),
            write_result: Signal::new(),
            notify: Signal::new(),
        }
    }
}

/// The application's side of the client: events, connection state and
/// writes to mirrored regions. It is `Copy`: hand it to as many tasks as
/// need it; they share one event queue.
#[derive(Clone, Copy)]
pub struct Handle<'a> {
    pub(crate) events: DynamicReceiver<'a, Event>,
    pub(crate) link: &'a Link,
    pub(crate) write: &'a WriteCell,
}

impl Handle<'_> {
    /// Waits for the next event. Events queue in the
    /// [`Resources`](crate::Resources)' `EVENTS` slots; when the
    /// application falls further behind, the oldest are dropped (the
    /// mirrors themselves always hold the latest bytes).
    pub async fn next_event(&self) -> Event {
        self.events.receive().await
    }

    /// The next event if one is waiting.
    pub fn try_next_event(&self) -> Option<Event> {
        self.events.try_receive().ok()
    }

    /// Whether the hub has welcomed the current session.
    pub fn is_connected(&self) -> bool {
        self.link.connected.load(Ordering::Acquire)
    }

    /// Tells the runner that published regions changed now, so it scans
    /// them without waiting for its scan interval.
    pub fn notify(&self) {
        self.link.notify.signal(());
    }

    /// Asks the hub to write `value` (little-endian, exactly the
    /// variable's length) to variable `name` of mirror `mirror`, and waits
    /// for its answer: the generation of the region that holds the write.
    /// The mirror changes when the hub's update arrives. Concurrent writes
    /// from several tasks take turns.
    pub async fn write(&self, mirror: usize, name: &str, value: &[u8]) -> Result<u64, WriteError> {
        let name = Name::new(name).map_err(|_| WriteError::Invalid)?;
        self.request(mirror, WriteTarget::Variable(name), value)
            .await
    }

    /// Asks the hub to write `bytes` at `offset` of mirror `mirror`'s data
    /// area, and waits for its answer as [`write`](Self::write) does. The
    /// range must lie inside writable variables.
    pub async fn write_bytes(
        &self,
        mirror: usize,
        offset: usize,
        bytes: &[u8],
    ) -> Result<u64, WriteError> {
        self.request(mirror, WriteTarget::Offset(offset), bytes)
            .await
    }

    async fn request(
        &self,
        mirror: usize,
        target: WriteTarget,
        bytes: &[u8],
    ) -> Result<u64, WriteError> {
        let mut turn = self.link.write_turn.lock().await;
        *turn = turn.wrapping_add(1);
        let seq = *turn;
        let command = WriteCommand {
            seq,
            mirror,
            target,
            len: bytes.len(),
        };
        self.write.put(command, bytes).ok_or(WriteError::TooLarge)?;
        self.link.write_wake.signal(());
        loop {
            let (answered, result) = self.link.write_result.wait().await;
            // A result of an earlier write whose caller gave up is dropped.
            if answered == seq {
                return result;
            }
        }
    }
}
