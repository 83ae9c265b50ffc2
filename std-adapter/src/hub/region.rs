//! A region as the hub serves it ([`Served`]): the shared-memory file it
//! serves now ([`Opened`], one instance) or why it serves none, the hub's
//! turns at writing it, the copy of a region a client publishes, and the
//! listeners it tells of new snapshots and of files dropped or taken up
//! ([`Listener`]). Noticing a removed, replaced or changed file and taking
//! up its successor is in `recheck.rs`. The scan that
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

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use super::config::PublishPolicy;
use super::metrics::{NOT_IMPORTED, RegionCounts, RegionFigures, STALE};
use super::shadow::{Published, Scanner};
use super::unavailable::{UNAVAILABLE, Unavailable};
use crate::schema::OwnedSchema;
use crate::shm::{Root, ShmError, ShmRegion, ShmWriter, TurnWriter, intern};
use memwire::Region;
use memwire::Schema;
use memwire::codec::{ErrorCode, Resume};
use memwire::region::AccessError;

/// How long a remote write to a region that a local writer holds waits for
/// that writer to take it from the region's request area (and as long
/// again for its answer) before the client is answered `Busy`. A writer
/// takes requests at each of its commits and in
/// [`ShmWriter::apply_requests`].
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(250);

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

/// One region the hub is configured to serve, until a reload retires it
/// (`reload.rs`): its name, its listeners, and the file it serves now
/// ([`Opened`]) or why it serves none ([`Unavailable`]). A file that is
/// removed, replaced or corrupted is dropped and a valid successor taken
/// up (`recheck.rs`).
pub(crate) struct Served {
    pub(crate) tenant: String,
    pub(crate) name: String,
    /// The client that publishes the region; the file is then its copy.
    pub(crate) publisher: Option<String>,
    /// When subscribers are sent the file's changes: every commit, or
    /// only the states its writer marks (`scan.rs`).
    pub(crate) publish: PublishPolicy,
    /// Where the copy of a published region stands, for the publisher's
    /// next connection (kept in memory: after a hub restart the copy is
    /// sent whole).
    held: Mutex<Option<Resume>>,
    /// The configured schema, which every file taken up must hold; `None`
    /// for a region that adopts the schema of each file it takes up.
    declared: Option<Schema<'static>>,
    pub(super) root: Root,
    /// The region file's path.
    pub(super) file: PathBuf,
    /// The chunk of the generation table and whether update parts are
    /// shared (`encode_once`), for each snapshot's first.
    pub(super) chunk: usize,
    pub(super) encode_once: bool,
    pub(super) state: RwLock<State>,
    pub(super) listeners: Mutex<Vec<Weak<dyn Listener>>>,
    /// A reload took the region out of the configuration (`reload.rs`):
    /// it serves no file again, and its name may be another region's.
    pub(super) retired: AtomicBool,
    /// Found in its tenant's directory (`discover.rs`), not declared: it
    /// is hidden while it serves no file.
    pub(crate) discovered: bool,
    /// What the region counts for the hub's metrics.
    pub(crate) counts: RegionCounts,
}

/// What a served region has now.
pub(crate) enum State {
    /// A file, served.
    Open(Arc<Opened>),
    /// No file it can serve.
    Unavailable(Unavailable),
}

/// One file of a region, as the hub serves it: one instance.
pub(crate) struct Opened {
    pub(super) writer: TurnWriter,
    /// The file's schema (the declared one, or the file's own).
    pub(super) schema: Schema<'static>,
    pub(super) published: RwLock<Arc<Published>>,
    pub(super) scanner: Mutex<Scanner>,
}

impl Opened {
    /// Opens the region file `tenant/name` under `root`, which must hold
    /// `schema` (any valid schema when `None`); never creates it.
    pub(super) fn open(
        root: &Root,
        path: &str,
        schema: Option<Schema<'_>>,
        chunk: usize,
        encode_once: bool,
    ) -> Result<Opened, ShmError> {
        let writer = TurnWriter::open(root, path, schema)?;
        let reader = writer.reader();
        let schema = reader.schema();
        let published = Published::first(reader, chunk, encode_once)?;
        let scanner = Scanner::new(reader, schema);
        Ok(Opened {
            writer,
            schema,
            published: RwLock::new(Arc::new(published)),
            scanner: Mutex::new(scanner),
        })
    }

    /// The read handle of the file.
    pub(crate) fn reader(&self) -> &ShmRegion {
        self.writer.reader()
    }

    /// The latest snapshot of this file.
    pub(crate) fn published(&self) -> Arc<Published> {
        Arc::clone(
            &self
                .published
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl Served {
    /// Opens the region file `tenant/name` under `root`, creating it for
    /// `schema` if it does not exist; an existing file must hold `schema`.
    /// Without a schema, the region adopts the file's own once its writer
    /// has created it. A file that cannot be opened leaves the region
    /// unavailable (logged), to be taken up once it is fixed or created.
    pub(crate) fn open(
        root: &Root,
        tenant: &str,
        name: &str,
        schema: Option<&OwnedSchema>,
        chunk: usize,
        encode_once: bool,
    ) -> Served {
        let path = format!("{tenant}/{name}");
        let declared = schema.map(|s| intern(s.as_schema()));
        let created = match declared.map(|schema| ShmWriter::create(root, &path, schema)) {
            // Created and released at once: the hub writes in turns.
            Some(Ok(created)) => {
                drop(created);
                Ok(())
            }
            None | Some(Err(ShmError::AlreadyExists { .. })) => Ok(()),
            Some(Err(e)) => Err(e),
        };
        let opened = created.and_then(|()| Opened::open(root, &path, declared, chunk, encode_once));
        let state = match opened {
            Ok(opened) => State::Open(Arc::new(opened)),
            Err(e) => State::Unavailable(Unavailable::new(&path, &e)),
        };
        Served::with_state(root, tenant, name, declared, state, chunk, encode_once)
    }

    /// A region found in its tenant's directory, serving `opened` with the
    /// file's own schema (`discover.rs`).
    pub(crate) fn found(
        root: &Root,
        tenant: &str,
        name: &str,
        opened: Opened,
        chunk: usize,
        encode_once: bool,
    ) -> Served {
        let state = State::Open(Arc::new(opened));
        Served {
            discovered: true,
            ..Served::with_state(root, tenant, name, None, state, chunk, encode_once)
        }
    }

    fn with_state(
        root: &Root,
        tenant: &str,
        name: &str,
        declared: Option<Schema<'static>>,
        state: State,
        chunk: usize,
        encode_once: bool,
    ) -> Served {
        Served {
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            publisher: None,
            publish: PublishPolicy::Delta,
            held: Mutex::new(None),
            declared,
            file: root.dir().join(tenant).join(name),
            root: root.clone(),
            chunk,
            encode_once,
            state: RwLock::new(state),
            listeners: Mutex::new(Vec::new()),
            retired: AtomicBool::new(false),
            discovered: false,
            counts: RegionCounts::default(),
        }
    }

    /// The schema every file of the region must hold: the configured one,
    /// or `None` when the region adopts each file's own.
    pub(crate) fn declared(&self) -> Option<Schema<'static>> {
        self.declared
    }

    /// Whether a reload took the region out of the configuration.
    pub(crate) fn retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// The file served now, if any.
    pub(crate) fn opened(&self) -> Option<Arc<Opened>> {
        match &*self.state.read().unwrap_or_else(PoisonError::into_inner) {
            State::Open(opened) => Some(Arc::clone(opened)),
            State::Unavailable(_) => None,
        }
    }

    /// Why no file is served, if none is.
    pub(crate) fn unavailable(&self) -> Option<&'static str> {
        match &*self.state.read().unwrap_or_else(PoisonError::into_inner) {
            State::Open(_) => None,
            State::Unavailable(broken) => Some(broken.reason),
        }
    }

    /// The latest snapshot, if a file is served.
    pub(crate) fn published(&self) -> Option<Arc<Published>> {
        self.opened().map(|opened| opened.published())
    }

    /// The region's figures for a scrape of the hub's metrics.
    pub(crate) fn figures(&self) -> RegionFigures {
        let listening = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|w| w.strong_count() > 0)
            .count();
        let published = self.published();
        let parts = published.as_ref().and_then(|p| p.parts.as_ref());
        let count = |n: &AtomicU64| n.load(Ordering::Relaxed);
        RegionFigures {
            tenant: self.tenant.clone(),
            region: self.name.clone(),
            generation: published.as_ref().map_or(0, |p| p.generation),
            encode_hits: parts.map_or(0, |p| count(&p.hits)),
            encoded: parts.map_or(0, |p| count(&p.kept)),
            commits: self.counts.commits.load(Ordering::Relaxed),
            subscribers: listening,
            scans: self.counts.scans.clone(),
            full_updates: self.counts.full_updates.get(),
            deltas: self.counts.deltas.get(),
            update_bytes: self.counts.update_bytes.get(),
            stale: match self.counts.import.load(Ordering::Relaxed) {
                NOT_IMPORTED => None,
                state => Some(state == STALE),
            },
        }
    }

    /// Asks that `listener` be told of every scan that finds a new
    /// generation, and of every file dropped or taken up.
    pub(crate) fn listen(&self, listener: &Weak<dyn Listener>) {
        let mut listeners = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        listeners.retain(|w| w.strong_count() > 0);
        listeners.push(Weak::clone(listener));
    }

    /// Applies a remote write (already checked against `checked`, the
    /// schema of the snapshot the session sent, and the client's rights)
    /// and publishes it before returning its generation.
    /// The file is checked first (`recheck.rs`): a write is never reported
    /// applied to a file that the region's name no longer leads to.
    /// The writer's connection task holds its session, so its scan does not
    /// wait for other sessions (see [`scan`](Self::scan)).
    pub(crate) fn write(
        &self,
        ranges: &[(usize, &[u8])],
        checked: Schema<'_>,
    ) -> Result<u64, ErrorCode> {
        if let Err(reason) = self.check(false) {
            tracing::info!(region = %self.path(), reason, "remote write refused: the region is unavailable");
            return Err(UNAVAILABLE);
        }
        match self.commit(|region| region.write_ranges(ranges, None), checked, false) {
            Ok(generation) => Ok(generation),
            Err(e @ ShmError::SchemaMismatch { .. }) => {
                tracing::info!(region = %self.path(), error = %e, "remote write refused: the region's file was replaced by one of another schema");
                Err(ErrorCode::SchemaMismatch)
            }
            Err(ShmError::WriterBusy { .. }) => self.request(ranges, checked),
            Err(e @ ShmError::Unavailable { .. }) => {
                tracing::info!(region = %self.path(), error = %e, "remote write refused");
                Err(UNAVAILABLE)
            }
            Err(e) => {
                tracing::warn!(region = %self.path(), error = %e, "remote write failed");
                Err(ErrorCode::Other)
            }
        }
    }

    /// A remote write to a region a local writer holds: posted to it
    /// through the region's request area, applied by it as a commit of
    /// its own, then published from here.
    fn request(&self, ranges: &[(usize, &[u8])], checked: Schema<'_>) -> Result<u64, ErrorCode> {
        let opened = self.opened().ok_or(UNAVAILABLE)?;
        if opened.schema != checked {
            return Err(ErrorCode::SchemaMismatch);
        }
        let wait = || opened.writer.request(ranges, REQUEST_TIMEOUT);
        // The wait for the local writer (up to twice the timeout) runs on
        // the connection's task: on a multi-thread runtime the worker hands
        // its other tasks to the rest first, so one region with an idle
        // writer cannot stall every connection. A current-thread runtime
        // has no other worker and simply waits.
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let result = if multi_thread {
            tokio::task::block_in_place(wait)
        } else {
            wait()
        };
        match result {
            Ok(generation) => {
                if let Err(e) = self.scan(false) {
                    tracing::warn!(region = %self.path(), error = %e, "scan after a write failed");
                }
                Ok(generation)
            }
            Err(
                e @ (ShmError::WriterBusy { .. }
                | ShmError::RequestNotTaken { .. }
                | ShmError::RequestNotAnswered { .. }),
            ) => {
                tracing::info!(region = %self.path(), error = %e, "remote write not applied by the local writer");
                Err(ErrorCode::Busy)
            }
            Err(e @ (ShmError::Unavailable { .. } | ShmError::Truncated { .. })) => {
                tracing::info!(region = %self.path(), error = %e, "remote write refused");
                Err(UNAVAILABLE)
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
    /// generation; [`ShmError::Unavailable`] when no file is served, and
    /// [`ShmError::SchemaMismatch`] when the file served now does not hold
    /// `schema`, the one `write` was made for (a region that adopts its
    /// file's schema may have a file of another schema now).
    pub(crate) fn commit(
        &self,
        write: impl FnOnce(&Region<'_>) -> Result<u64, AccessError>,
        schema: Schema<'_>,
        waits: bool,
    ) -> Result<u64, ShmError> {
        let opened = self.opened().ok_or_else(|| self.unavailable_error())?;
        if let Some(difference) = opened.schema.difference(schema) {
            return Err(ShmError::SchemaMismatch {
                path: self.file.clone(),
                difference: Box::new(difference),
            });
        }
        let turn = opened.writer.turn(write, || match self.scan(waits) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(region = %self.path(), error = %e, "scan after a write failed");
                false
            }
        });
        match turn {
            Ok((generation, _)) => Ok(generation),
            Err(e) => {
                self.drop_truncated(&opened, &e, waits);
                Err(e)
            }
        }
    }

    /// Keeps the writer lock of the file served now for a
    /// [`HubWriter`](super::writer::HubWriter), until the file's
    /// `writer.release()`.
    pub(crate) fn hold(&self) -> Result<Arc<Opened>, ShmError> {
        let opened = self.opened().ok_or_else(|| self.unavailable_error())?;
        opened.writer.hold()?;
        Ok(opened)
    }

    fn unavailable_error(&self) -> ShmError {
        ShmError::Unavailable {
            path: self.file.clone(),
            reason: self.unavailable().unwrap_or("region unavailable"),
        }
    }

    /// Where the copy of a published region stands.
    pub(crate) fn held(&self) -> Option<Resume> {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes part of an update from the publishing client into the copy;
    /// the copy then holds `held` (generation 0: nothing whole).
    pub(crate) fn copy(&self, ranges: &[(usize, &[u8])], held: Resume) -> Result<(), ErrorCode> {
        if !ranges.is_empty() {
            // A published region always has its declared schema.
            let schema = self.declared.ok_or(UNAVAILABLE)?;
            self.write(ranges, schema)?;
        }
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) =
            (held.generation != 0).then_some(held);
        Ok(())
    }

    /// Forgets where the copy of a published region stood.
    pub(super) fn forget_held(&self) {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// `tenant/name`.
    pub(crate) fn path(&self) -> String {
        format!("{}/{}", self.tenant, self.name)
    }
}
