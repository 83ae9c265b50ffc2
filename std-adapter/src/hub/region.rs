//! A region as the hub serves it ([`Served`]): the shared-memory file, the
//! hub's turns at writing it, the copy of a region a client publishes, and
//! the listeners it tells of new snapshots ([`Listener`]). The scan that
//! finds what local writers changed is in `scan.rs`; the snapshot it
//! publishes, in `shadow.rs`.
//!
//! The shadow is published as an immutable snapshot ([`Published`]) behind
//! an `Arc`: a connection holds the snapshot it last looked at and reads it
//! without any lock, and a scan replaces it (copying only while some
//! connection still holds the old one). Connections refresh their snapshot
//! at most at their subscriber rate, which is what holds a subscriber to it:
//! the session sees no new generation until then, and the next update covers
//! everything since.

use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use super::parts::Parts;
use super::shadow::{Published, Scanner};
use crate::schema::OwnedSchema;
use crate::shm::{Root, ShmError, ShmRegion, ShmWriter, TurnWriter};
use memwire::Region;
use memwire::Schema;
use memwire::codec::{ErrorCode, Resume};
use memwire::region::AccessError;

/// Who a region tells of its new snapshots: in the hub, each connection
/// that looked at the region.
pub(crate) trait Listener: Send + Sync {
    /// A scan found a new generation: send the update from the caller's
    /// thread if that can be done without waiting, else have it sent. The
    /// caller `waits` for a listener that is busy only when it holds no
    /// listener's lock itself.
    fn changed(&self, waits: bool);
    /// Have the new generation looked at later, from the listener's own
    /// task.
    fn wake(&self);
}

/// One region served by the hub.
pub(crate) struct Served {
    pub(crate) tenant: String,
    pub(crate) name: String,
    /// The client that publishes the region; the file is then its copy.
    pub(crate) publisher: Option<String>,
    /// Where the copy of a published region stands, for the publisher's
    /// next connection (kept in memory: after a hub restart the copy is
    /// sent whole).
    held: Mutex<Option<Resume>>,
    /// Update parts shared by the region's subscribers (`encode_once`).
    pub(crate) parts: Option<Parts>,
    pub(super) writer: TurnWriter,
    pub(super) published: RwLock<Arc<Published>>,
    pub(super) scanner: Mutex<Scanner>,
    pub(super) listeners: Mutex<Vec<Weak<dyn Listener>>>,
}

impl Served {
    /// Opens the region file `tenant/name` under `root`, creating it for
    /// `schema` if it does not exist; an existing file must hold `schema`.
    pub(crate) fn open(
        root: &Root,
        tenant: &str,
        name: &str,
        schema: OwnedSchema,
        chunk: usize,
    ) -> Result<Served, ShmError> {
        let path = format!("{tenant}/{name}");
        match ShmWriter::create(root, &path, schema.as_schema()) {
            // Created and released at once: the hub writes in turns.
            Ok(created) => drop(created),
            Err(ShmError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
        let writer = TurnWriter::open(root, &path, Some(schema.as_schema()))?;
        let reader = writer.reader();
        let published = Published::first(reader, chunk)?;
        let scanner = Scanner::new(reader, schema.as_schema());
        Ok(Served {
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            publisher: None,
            held: Mutex::new(None),
            parts: None,
            writer,
            published: RwLock::new(Arc::new(published)),
            scanner: Mutex::new(scanner),
            listeners: Mutex::new(Vec::new()),
        })
    }

    /// The region's schema: the file's, checked against the configured one
    /// when opened, held once per process (no per-call check).
    pub(crate) fn schema(&self) -> Schema<'static> {
        self.writer.reader().schema()
    }

    /// The read handle of the region file.
    pub(crate) fn reader(&self) -> &ShmRegion {
        self.writer.reader()
    }

    /// Whether the region file was found truncated under the hub: the
    /// region is then no longer served (see `scan.rs`).
    pub(crate) fn truncated(&self) -> bool {
        self.reader().is_truncated()
    }

    /// The latest snapshot.
    pub(crate) fn published(&self) -> Arc<Published> {
        Arc::clone(
            &self
                .published
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Asks that `listener` be told of every scan that finds a new
    /// generation.
    pub(crate) fn listen(&self, listener: &Weak<dyn Listener>) {
        let mut listeners = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        listeners.retain(|w| w.strong_count() > 0);
        listeners.push(Weak::clone(listener));
    }

    /// Applies a remote write (already checked against the schema and the
    /// client's rights) and publishes it before returning its generation.
    /// The writer's connection task holds its session, so its scan does not
    /// wait for other sessions (see [`scan`](Self::scan)).
    pub(crate) fn write(&self, ranges: &[(usize, &[u8])]) -> Result<u64, ErrorCode> {
        match self.commit(|region| region.write_ranges(ranges, None), false) {
            Ok(generation) => Ok(generation),
            Err(ShmError::WriterBusy { pid, .. }) => {
                tracing::info!(region = %self.path(), pid, "remote write refused: a local writer holds the region");
                Err(ErrorCode::Busy)
            }
            Err(e) => {
                tracing::warn!(region = %self.path(), error = %e, "remote write failed");
                Err(ErrorCode::Other)
            }
        }
    }

    /// Makes one commit with `write` in the hub's turn at the region file
    /// and publishes it from this thread, before local waiters are woken
    /// (the region's scanner only if this scan failed). Returns the new
    /// generation.
    pub(crate) fn commit(
        &self,
        write: impl FnOnce(&Region<'_>) -> Result<u64, AccessError>,
        waits: bool,
    ) -> Result<u64, ShmError> {
        let (generation, _) = self.writer.turn(write, || match self.scan(waits) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(region = %self.path(), error = %e, "scan after a write failed");
                false
            }
        })?;
        Ok(generation)
    }

    /// Keeps the region's writer lock for a
    /// [`HubWriter`](super::writer::HubWriter) until
    /// [`release`](Self::release).
    pub(crate) fn hold(&self) -> Result<(), ShmError> {
        self.writer.hold().map(drop)
    }

    /// Ends a [`hold`](Self::hold).
    pub(crate) fn release(&self) {
        self.writer.release();
    }

    /// Where the copy of a published region stands.
    pub(crate) fn held(&self) -> Option<Resume> {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes part of an update from the publishing client into the copy;
    /// the copy then holds `held` (generation 0: nothing whole).
    pub(crate) fn copy(&self, ranges: &[(usize, &[u8])], held: Resume) -> Result<(), ErrorCode> {
        if !ranges.is_empty() {
            self.write(ranges)?;
        }
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) =
            (held.generation != 0).then_some(held);
        Ok(())
    }

    /// `tenant/name`.
    pub(crate) fn path(&self) -> String {
        format!("{}/{}", self.tenant, self.name)
    }
}
