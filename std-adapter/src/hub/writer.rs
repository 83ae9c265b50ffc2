//! Writes made in the hub's own process ([`HubWriter`]).

use std::fmt;
use std::sync::Arc;

use memwire::schema::Value;
use memwire::{Schema, VarId};

use super::region::{Opened, Served};
use super::shared::Shared;
use crate::shm::ShmError;
use crate::shm::notify::{self, Futex, Waiters};

/// Writes a region the hub serves, from the hub's own process
/// ([`Hub::writer`](super::Hub::writer)).
///
/// A commit by a local process reaches subscribers once the hub's scanner
/// thread has woken on it. A write through this handle is published by the
/// thread that makes it: it commits to the region file, scans and sends the
/// update to the region's subscribers (the first 16 from this thread, the
/// others from their connections' tasks), and only then wakes local
/// waiters. An application that embeds the hub and produces the data
/// itself saves a thread wake-up per update this way.
///
/// Like a [`ShmWriter`](crate::shm::ShmWriter), it is the region's writer
/// for as long as it lives: the hub holds the region's writer lock from
/// [`Hub::writer`](super::Hub::writer) until the last clone is dropped, so
/// local processes cannot write meanwhile, and a write costs no system
/// call but the sends. Remote writes still apply, taking turns with this
/// handle inside the hub's process. Like a local writer, it may write
/// every variable, writable by clients or not.
///
/// A write blocks the calling thread for at most the time the region's
/// subscribers take to queue their updates (never on the network). Once
/// the hub has shut down, writes still reach the region file.
#[derive(Clone)]
pub struct HubWriter {
    held: Arc<Held>,
}

/// The hold on a region's writer lock that the clones of a writer share.
struct Held {
    served: Arc<Served>,
    /// The file whose lock is held: the one served when the writer was
    /// made. Writes go to the file served at each write, in turns if it
    /// is another (the region's file was replaced meanwhile).
    file: Arc<Opened>,
}

impl Held {
    fn served(&self) -> &Served {
        &self.served
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.file.writer.release();
    }
}

/// Why [`Hub::writer`](super::Hub::writer) gave no writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriterError {
    /// The hub serves no region of that name.
    #[error("the hub serves no region {path}")]
    NotServed {
        /// `tenant/region`.
        path: String,
    },
    /// A client publishes the region: its file is the publisher's copy.
    #[error("region {path} is published by client {publisher}")]
    Published {
        /// `tenant/region`.
        path: String,
        /// The publishing client.
        publisher: String,
    },
    /// The writer lock could not be taken: a local process holds it
    /// ([`ShmError::WriterBusy`]), the region serves no file now
    /// ([`ShmError::Unavailable`]), or the lock call failed.
    #[error(transparent)]
    Region(#[from] ShmError),
}

impl fmt::Debug for HubWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubWriter")
            .field("region", &self.served().path())
            .finish()
    }
}

impl HubWriter {
    /// Takes the writer lock of region `tenant/region` of `shared`.
    pub(crate) fn new(shared: &Shared, tenant: &str, region: &str) -> Result<Self, WriterError> {
        let path = || format!("{tenant}/{region}");
        let served = shared
            .find(tenant, region)
            .and_then(|id| usize::try_from(id.0).ok())
            .and_then(|i| shared.regions.get(i))
            .ok_or_else(|| WriterError::NotServed { path: path() })?;
        if let Some(publisher) = &served.publisher {
            return Err(WriterError::Published {
                path: path(),
                publisher: publisher.clone(),
            });
        }
        let file = served.hold()?;
        Ok(HubWriter {
            held: Arc::new(Held {
                served: Arc::clone(served),
                file,
            }),
        })
    }

    fn served(&self) -> &Served {
        self.held.served()
    }

    /// The region's schema: that of the file whose lock this writer holds.
    pub fn schema(&self) -> Schema<'static> {
        self.held.file.schema
    }

    /// Writes variable `id` (exactly its length), publishes the change and
    /// returns the new generation.
    pub fn write(&self, id: VarId, bytes: &[u8]) -> Result<u64, ShmError> {
        self.served()
            .commit(|region| region.write(id, bytes), self.schema(), true)
    }

    /// Writes several variables in one commit and publishes them together.
    pub fn write_many(&self, parts: &[(VarId, &[u8])]) -> Result<u64, ShmError> {
        self.served()
            .commit(|region| region.write_many(parts), self.schema(), true)
    }

    /// Writes raw byte ranges of the data area (ascending, not
    /// overlapping) in one commit and publishes them together: a bridge
    /// applying another hub's update to its copy of a region.
    pub fn write_ranges(&self, ranges: &[(usize, &[u8])]) -> Result<u64, ShmError> {
        self.served().commit(
            |region| region.write_ranges(ranges, None),
            self.schema(),
            true,
        )
    }

    /// Writes `value` to variable `id` and publishes it.
    pub fn set<V: Value>(&self, id: VarId, value: V) -> Result<u64, ShmError> {
        self.served()
            .commit(|region| region.set(id, value), self.schema(), true)
    }

    /// Writes `value` to variable `name` and publishes it.
    pub fn set_by_name<V: Value>(&self, name: &str, value: V) -> Result<u64, ShmError> {
        self.served().commit(
            |region| region.set_by_name(name, value),
            self.schema(),
            true,
        )
    }

    /// Marks the region's current state as a consistent set of changes
    /// and returns its generation. Under the region's `manual` publish
    /// policy its writes reach subscribers only this way: this sends the
    /// state from the calling thread, one update however many writes led
    /// to it. Under the default `delta` policy every write is sent anyway
    /// and a mark changes nothing.
    pub fn publish(&self) -> Result<u64, ShmError> {
        let generation = self
            .served()
            .commit(|region| region.publish(), self.schema(), true)?;
        // Another hub serving the same file sleeps on the mark.
        if let Some(opened) = self.served().opened() {
            if let Some(word) = opened.reader().region().published_word() {
                let _ = notify::os().wake(word, Waiters::ALL);
            }
        }
        Ok(generation)
    }
}
