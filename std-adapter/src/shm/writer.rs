//! Writing a region: [`ShmWriter`], the one process that holds the region's
//! writer lock; taking it repairs a write a dead writer left half-done.

use std::fmt;
use std::fs::File;
use std::ops::Deref;
use std::sync::{Mutex, PoisonError};

use memwire::layout::{init_journaled, journaled_len};
use memwire::region::{AccessError, Recovery};
use memwire::schema::Value;
use memwire::{Record, Region, Schema, VarId};

use super::error::ShmError;
use super::file;
use super::liveness::FileId;
use super::map::{Access, MappedRegion, Mapping};
use super::notify::{self, Waiters};
use super::open::{Shared, intern, open_shared};
use super::pause;
use super::reader::{Dynamic, ShmRegion};
use super::requests::{self, RemoteWrite};
use super::root::Root;

/// What a writer found and repaired when it took over from one that died
/// mid-write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// The pid the dead writer recorded.
    pub previous_writer: u32,
    /// The repair: the interrupted commit rolled back from the journal
    /// ([`Recovery::rolled_back`] variables) or left standing, odd counters
    /// made even, the generation after it.
    pub recovery: Recovery,
}

/// The one process allowed to write a region: holds an exclusive lock on
/// its file (`flock`), which the kernel releases when this handle is dropped
/// or the process dies.
///
/// Every write commits through the core's seqlock and then wakes every
/// waiter ([`ShmRegion::wait_for_change`], watchers and change streams).
/// Once the file is found truncated under the mapping, every write fails
/// with [`ShmError::Truncated`] instead of committing.
/// Dereferences to a [`ShmRegion`] for reads.
///
/// # Remote writes
///
/// A hub cannot take the lock while this writer lives; it posts the writes
/// its clients make (to variables the schema marks writable, checked by
/// the hub) in the region's request area instead. This writer applies a
/// posted write after each of its own commits (an empty area costs one
/// relaxed load) and in [`apply_requests`](Self::apply_requests), each as
/// a commit of its own, and answers the hub. A writer that writes rarely
/// calls `apply_requests` every few tens of milliseconds: the hub waits
/// [`hub::REQUEST_TIMEOUT`](crate::hub::REQUEST_TIMEOUT) for the write to
/// be taken, then withdraws it and tells the client. The writes applied at
/// commits are kept for [`remote_writes`](Self::remote_writes).
pub struct ShmWriter<T = Dynamic> {
    region: ShmRegion<T>,
    recovered: Option<Recovered>,
    /// Remote writes applied at commits, not yet taken by `remote_writes`.
    remote: Mutex<Vec<RemoteWrite>>,
    /// Holds the writer lock for as long as it is open.
    lock: File,
}

impl<T> fmt::Debug for ShmWriter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShmWriter")
            .field("region", &self.region)
            .field("recovered", &self.recovered)
            .finish()
    }
}

impl<T> Deref for ShmWriter<T> {
    type Target = ShmRegion<T>;
    fn deref(&self) -> &ShmRegion<T> {
        &self.region
    }
}

impl ShmWriter<Dynamic> {
    /// Creates region `path` under `root` for `schema` and takes its writer
    /// lock. Fails with [`ShmError::AlreadyExists`] if the file exists.
    pub fn create(root: &Root, path: &str, schema: Schema<'_>) -> Result<ShmWriter, ShmError> {
        create_writer(root, path, intern(schema))
    }

    /// Opens region `path` under `root` for writing, with the schema its
    /// file holds; takes the writer lock ([`ShmError::WriterBusy`] if
    /// another process holds it) and repairs a write left half-done by a
    /// writer that died: a commit that had not reached its commit point is
    /// rolled back, so every variable holds its last committed value (see
    /// [`recovered`](Self::recovered)).
    pub fn open(root: &Root, path: &str) -> Result<ShmWriter, ShmError> {
        open_writer(root, path, None)
    }

    /// Opens region `path` for writing if it exists (its schema must be
    /// `schema`), else creates it.
    pub fn open_or_create(
        root: &Root,
        path: &str,
        schema: Schema<'_>,
    ) -> Result<ShmWriter, ShmError> {
        let schema = intern(schema);
        match create_writer(root, path, schema) {
            Err(ShmError::AlreadyExists { .. }) => open_writer(root, path, Some(schema)),
            other => other,
        }
    }
}

impl<T: Record> ShmWriter<T> {
    /// Creates region `path` under `root` holding `T`'s schema.
    pub fn create_record(root: &Root, path: &str) -> Result<ShmWriter<T>, ShmError> {
        create_writer(root, path, T::schema())
    }

    /// Opens region `path` for writing; its schema must be `T`'s.
    pub fn open_record(root: &Root, path: &str) -> Result<ShmWriter<T>, ShmError> {
        open_writer(root, path, Some(T::schema()))
    }

    /// Opens region `path` for writing if it exists, else creates it: a
    /// writer that runs again takes up its region with the values it
    /// left. An existing file with another schema is refused
    /// ([`ShmError::SchemaMismatch`], naming the first variable that
    /// differs).
    pub fn open_or_create_record(root: &Root, path: &str) -> Result<ShmWriter<T>, ShmError> {
        match create_writer(root, path, T::schema()) {
            Err(ShmError::AlreadyExists { .. }) => open_writer(root, path, Some(T::schema())),
            other => other,
        }
    }

    /// Writes the fields of `value` whose stored bytes differ from the
    /// region's, in one commit, and returns its generation. Only the
    /// variables written move their sequence counters, so change events
    /// name exactly the variables whose bytes changed, as a remote
    /// mirror's events do. When no field changed nothing is committed (no
    /// waiter is woken) and the current generation is returned.
    pub fn store(&self, value: &T) -> Result<u64, ShmError> {
        let mut new = vec![0u8; self.data_len()];
        let mut old = vec![0u8; new.len()];
        value.encode(&mut new).map_err(|e| self.record_error(e))?;
        let generation = self.snapshot(&mut old)?;
        let changed: Vec<(usize, &[u8])> = self
            .schema()
            .variables()
            .iter()
            .filter_map(|var| {
                let bytes = var.offset as usize..var.end() as usize;
                let now = new.get(bytes.clone())?;
                (old.get(bytes) != Some(now)).then_some((var.offset as usize, now))
            })
            .collect();
        if changed.is_empty() {
            return Ok(generation);
        }
        self.write_ranges(&changed, None)
    }
}

impl<T> ShmWriter<T> {
    /// What this writer repaired when it took the lock, if anything.
    pub fn recovered(&self) -> Option<Recovered> {
        self.recovered
    }

    /// The read handle (also reachable through `Deref`).
    pub fn reader(&self) -> &ShmRegion<T> {
        &self.region
    }

    /// The region, for a commit: first gives way to a reader that asked
    /// for a pause (`pause.rs`; one relaxed load when none did).
    #[inline(always)]
    fn committing(&self) -> Region<'_> {
        pause::give_way(self.region.pause_word());
        self.region.region()
    }

    fn notify(&self, result: Result<u64, AccessError>) -> Result<u64, ShmError> {
        // A commit into a truncated file landed on the zeros the `SIGBUS`
        // handler mapped (or on a page cut from the file): nothing to wake.
        let generation = self.region.intact(result.map_err(ShmError::Access))?;
        notify::committed(
            notify::os(),
            self.region.region().commit_counter(),
            Waiters::ALL,
        );
        if let Some(applied) = self.take_request() {
            let mut remote = self.remote.lock().unwrap_or_else(PoisonError::into_inner);
            if remote.len() == REMOTE_KEPT {
                remote.remove(0);
            }
            remote.push(applied);
        }
        Ok(generation)
    }

    #[inline]
    fn take_request(&self) -> Option<RemoteWrite> {
        let live = self.region.region();
        let applied = requests::take(&live)?;
        notify::committed(notify::os(), live.commit_counter(), Waiters::ALL);
        Some(applied)
    }

    /// Applies the remote write a hub posted, if any, as a commit of its
    /// own, and returns it. Commits do this too; a writer that commits
    /// rarely calls this regularly so that remote writes are not left
    /// waiting (the hub gives up on one not taken within
    /// [`hub::REQUEST_TIMEOUT`](crate::hub::REQUEST_TIMEOUT)). The write
    /// returned here is not kept for [`remote_writes`](Self::remote_writes).
    pub fn apply_requests(&self) -> Option<RemoteWrite> {
        self.take_request()
    }

    /// Takes the remote writes applied at this writer's commits since the
    /// last call, oldest first (at most the last 256 are kept).
    pub fn remote_writes(&self) -> Vec<RemoteWrite> {
        std::mem::take(&mut *self.remote.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Writes variable `id` (exactly its length) and commits; returns the
    /// new generation.
    pub fn write(&self, id: VarId, bytes: &[u8]) -> Result<u64, ShmError> {
        self.notify(self.committing().write(id, bytes))
    }

    /// Writes several variables in one commit.
    pub fn write_many(&self, parts: &[(VarId, &[u8])]) -> Result<u64, ShmError> {
        self.notify(self.committing().write_many(parts))
    }

    /// [`write_many`](Self::write_many), calling `during` while the write is
    /// open (its counters odd): for tests and tools that hold a write open.
    pub fn write_many_then(
        &self,
        parts: &[(VarId, &[u8])],
        during: impl FnOnce(),
    ) -> Result<u64, ShmError> {
        self.notify(self.committing().write_many_then(parts, during))
    }

    /// Writes `value` to variable `id` and commits.
    pub fn set<V: Value>(&self, id: VarId, value: V) -> Result<u64, ShmError> {
        self.notify(self.committing().set(id, value))
    }

    /// Writes `value` to variable `name` and commits.
    pub fn set_by_name<V: Value>(&self, name: &str, value: V) -> Result<u64, ShmError> {
        self.notify(self.committing().set_by_name(name, value))
    }

    /// Writes raw byte ranges of the data area in one commit (see
    /// [`Region::write_ranges`](memwire::Region::write_ranges)).
    pub fn write_ranges(
        &self,
        ranges: &[(usize, &[u8])],
        generation: Option<u64>,
    ) -> Result<u64, ShmError> {
        self.notify(self.committing().write_ranges(ranges, generation))
    }
}

impl<T> Drop for ShmWriter<T> {
    fn drop(&mut self) {
        let region = self.region.region();
        if region.writer_id() == std::process::id() {
            region.set_writer_id(0);
        }
        // Closing `lock` alone is not enough: a child forked by another
        // thread of this process holds a copy of the descriptor until it
        // execs, and the lock stays with the open file while any copy
        // lives. Unlocking releases it for every copy at once.
        let _ = file::unlock(&self.lock);
    }
}

/// How many remote writes applied at commits a writer keeps.
const REMOTE_KEPT: usize = 256;

fn open_writer<T>(
    root: &Root,
    path: &str,
    expect: Option<Schema<'static>>,
) -> Result<ShmWriter<T>, ShmError> {
    let (shared, lock) = open_shared(root, path, Access::Write, expect)?;
    let region = ShmRegion::from_shared(shared);
    if !file::try_lock(&lock).map_err(|e| ShmError::io("lock", region.path(), e))? {
        return Err(ShmError::WriterBusy {
            path: region.path().to_owned(),
            pid: region.writer_pid(),
        });
    }
    let live = region.region();
    let previous_writer = live.writer_id();
    let recovery = live.recover();
    requests::clear_taken(&live);
    live.set_writer_id(std::process::id());
    let recovered = recovery.repaired().then_some(Recovered {
        previous_writer,
        recovery,
    });
    if let Some(r) = &recovered {
        tracing::warn!(
            path = %region.path().display(),
            previous_writer,
            variables = r.recovery.variables,
            rolled_back = r.recovery.rolled_back,
            generation = r.recovery.generation,
            "recovered a write left in progress by a dead writer"
        );
        notify::committed(notify::os(), live.commit_counter(), Waiters::ALL);
    }
    Ok(ShmWriter {
        region,
        recovered,
        remote: Mutex::new(Vec::new()),
        lock,
    })
}

fn create_writer<T>(
    root: &Root,
    path: &str,
    schema: Schema<'static>,
) -> Result<ShmWriter<T>, ShmError> {
    let (tenant, name) = file::split_path(path)?;
    let file_path = file::display_path(root.dir(), tenant, name);
    let bad = |source| ShmError::BadHeader {
        path: file_path.clone(),
        source,
    };
    // A file outlives its writer: journaled, so that a commit the writer
    // dies in is rolled back by the next one.
    let len = journaled_len(&schema).map_err(bad)?;
    let mut bytes = vec![0u8; len];
    init_journaled(&mut bytes, &schema, file::random_u64()).map_err(bad)?;
    let root_fd = file::open_root(root.dir(), true)?;
    let tenant_fd = file::open_tenant(&root_fd, root.dir(), tenant, true)?;
    let lock = file::create_region(&tenant_fd, &file_path, name, &bytes)?;
    let mapping = Mapping::new(&lock, len as u64, Access::Write, &file_path)?;
    let mapped = MappedRegion::new(mapping, schema).map_err(bad)?;
    let region = ShmRegion::from_shared(Shared {
        mapped,
        path: file_path,
        file: FileId::of(&lock),
    });
    region.region().set_writer_id(std::process::id());
    Ok(ShmWriter {
        region,
        recovered: None,
        remote: Mutex::new(Vec::new()),
        lock,
    })
}

#[cfg(test)]
mod tests {
    use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};

    use super::*;

    static SCHEMA: SchemaBuf<1> = SchemaBuilder::new().var("x", Kind::U32, 1).build();

    #[test]
    fn a_dropped_writer_releases_the_lock_that_a_copy_of_its_descriptor_shares() {
        let dir = std::env::temp_dir().join(format!("memwire-unit-lock-{}", std::process::id()));
        let root = Root::new(&dir);
        let writer = ShmWriter::create(&root, "t/r", SCHEMA.as_schema()).unwrap();
        // What a child forked by another thread holds until it execs: a
        // descriptor of the same open file.
        let copy = writer.lock.try_clone().unwrap();
        drop(writer);
        let next = ShmWriter::open(&root, "t/r");
        drop(copy);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(next.is_ok(), "{:?}", next.err());
    }
}
