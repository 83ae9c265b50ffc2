//! Region handles: [`ShmRegion`] reads, [`ShmWriter`] holds the writer lock.

use std::fmt;
use std::fs::File;
use std::marker::PhantomData;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytemuck::Pod;
use memwire::layout::{ENTRY_LEN, HEADER_LEN, LayoutError, init, required_len};
use memwire::region::{AccessError, Recovery, VarRef};
use memwire::schema::{Kind, Name, Value};
use memwire::sync::{AtomicU32, Ordering};
use memwire::{Record, Region, Schema, VarId, Variable};

use super::error::ShmError;
use super::file;
use super::map::{MappedRegion, Mapping};
use super::notify::{self, Waiters};
use super::root::Root;

/// How long a read waits for a write in progress before it reports
/// [`ShmError::WriterStalled`], unless changed with
/// [`ShmRegion::with_stall_bound`]. A healthy writer holds a write open for
/// microseconds; 100 ms is far beyond that and short enough for a control
/// loop to notice a dead writer.
pub const STALL_BOUND: Duration = Duration::from_millis(100);

/// The marker for a region whose schema is read from its file rather than
/// fixed by a `#[derive(Schema)]` type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dynamic;

/// What both kinds of handle share: the mapping and where it came from.
pub(super) struct Shared {
    mapped: MappedRegion,
    path: PathBuf,
}

/// A mapped region that this process reads.
///
/// Opened read-only by [`ShmRegion::open`], the file is mapped read-only:
/// this handle cannot write the region. Reads are the core's seqlock reads
/// (atomic word copies, never torn); while a write is in progress they retry
/// with a growing pause, and after [`stall_bound`](Self::stall_bound) they
/// return [`ShmError::WriterStalled`] instead of waiting on a writer that may
/// be dead.
///
/// `T` is [`Dynamic`] (schema from the file) or a `#[derive(Schema)]` type
/// whose schema the file must hold, which adds [`load`](Self::load).
/// Handles are cheap to clone and share the mapping.
pub struct ShmRegion<T = Dynamic> {
    shared: Arc<Shared>,
    stall_bound: Duration,
    record: PhantomData<fn() -> T>,
}

impl<T> Clone for ShmRegion<T> {
    fn clone(&self) -> Self {
        ShmRegion {
            shared: Arc::clone(&self.shared),
            stall_bound: self.stall_bound,
            record: PhantomData,
        }
    }
}

impl<T> fmt::Debug for ShmRegion<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShmRegion")
            .field("path", &self.shared.path)
            .field("region", &self.shared.mapped.region())
            .finish()
    }
}

impl ShmRegion<Dynamic> {
    /// Opens region `path` (`tenant/region`) under `root` for reading,
    /// with the schema its file holds.
    pub fn open(root: &Root, path: &str) -> Result<ShmRegion, ShmError> {
        let (shared, _) = open_shared(root, path, false, None)?;
        Ok(ShmRegion::from_shared(shared))
    }
}

impl<T: Record + Pod> ShmRegion<T> {
    /// Opens region `path` under `root` for reading; its schema must be
    /// `T`'s ([`LayoutError::SchemaMismatch`] otherwise).
    pub fn open_record(root: &Root, path: &str) -> Result<ShmRegion<T>, ShmError> {
        let (shared, _) = open_shared(root, path, false, Some(T::schema()))?;
        Ok(ShmRegion::from_shared(shared))
    }

    /// The whole record, as of one moment.
    pub fn load(&self) -> Result<T, ShmError> {
        let mut data = vec![0u8; self.data_len()];
        self.snapshot(&mut data)?;
        let bytes = data
            .get(..size_of::<T>())
            .ok_or(ShmError::Access(AccessError::OutOfBounds))?;
        Ok(bytemuck::pod_read_unaligned(bytes))
    }
}

impl<T> ShmRegion<T> {
    pub(super) fn from_shared(shared: Shared) -> ShmRegion<T> {
        ShmRegion {
            shared: Arc::new(shared),
            stall_bound: STALL_BOUND,
            record: PhantomData,
        }
    }

    /// The live region. Crate-private: over a read-only mapping a write
    /// would fault, so only [`ShmWriter`] writes through it.
    pub(crate) fn region(&self) -> Region<'_> {
        self.shared.mapped.region()
    }

    /// The same region without its record type.
    pub fn untyped(&self) -> ShmRegion<Dynamic> {
        ShmRegion {
            shared: Arc::clone(&self.shared),
            stall_bound: self.stall_bound,
            record: PhantomData,
        }
    }

    /// This handle with another stall bound (see [`STALL_BOUND`]).
    pub fn with_stall_bound(mut self, bound: Duration) -> Self {
        self.stall_bound = bound;
        self
    }

    /// How long a read waits for a write in progress.
    pub fn stall_bound(&self) -> Duration {
        self.stall_bound
    }

    /// The region file's path.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The schema. Schemas read from files are kept for the life of the
    /// process, one copy per distinct schema.
    pub fn schema(&self) -> Schema<'static> {
        // Region<'_>::schema would tie it to self; the interned one is 'static.
        self.shared.mapped.schema()
    }

    /// The region instance.
    pub fn instance(&self) -> u64 {
        self.region().instance()
    }

    /// The schema fingerprint.
    pub fn fingerprint(&self) -> u64 {
        self.region().fingerprint()
    }

    /// The data area's length in bytes.
    pub fn data_len(&self) -> usize {
        self.region().data_len()
    }

    /// The number of bytes mapped (the file's length, up to 4 GiB).
    pub fn mapped_len(&self) -> usize {
        self.shared.mapped.mapped_len()
    }

    /// The pid the current writer recorded, 0 for none.
    pub fn writer_pid(&self) -> u32 {
        self.region().writer_id()
    }

    /// Variable `id`'s sequence counter (moves by 2 per committed write).
    pub fn seq(&self, id: VarId) -> Option<u32> {
        self.region().seq(id)
    }

    /// The generation (number of commits).
    pub fn generation(&self) -> Result<u64, ShmError> {
        self.bounded(|r| r.generation())
    }

    /// A consistent copy of variable `id` into `out` (exactly its length).
    #[inline]
    pub fn read(&self, id: VarId, out: &mut [u8]) -> Result<(), ShmError> {
        self.bounded(|r| r.read(id, out))
    }

    /// Variable `id`, located once: [`ShmVar::read`] then costs the
    /// seqlock alone, without the lookup and checks of [`read`](Self::read).
    pub fn var(&self, id: VarId) -> Result<ShmVar<'_, T>, ShmError> {
        let var = self
            .shared
            .mapped
            .region_ref()
            .var(id)
            .map_err(ShmError::Access)?;
        Ok(ShmVar { region: self, var })
    }

    /// Consistent copies of several variables as of one moment (at most
    /// [`memwire::region::MANY_MAX`]).
    pub fn read_many(&self, ids: &[VarId], outs: &mut [&mut [u8]]) -> Result<(), ShmError> {
        self.bounded(|r| r.read_many(ids, outs))
    }

    /// Variable `id` as `V`.
    pub fn get<V: Value>(&self, id: VarId) -> Result<V, ShmError> {
        self.bounded(|r| r.get(id))
    }

    /// Variable `name` as `V`.
    pub fn get_by_name<V: Value>(&self, name: &str) -> Result<V, ShmError> {
        self.bounded(|r| r.get_by_name(name))
    }

    /// A consistent copy of the whole data area into `out` (at least
    /// [`data_len`](Self::data_len) bytes) and its generation.
    pub fn snapshot(&self, out: &mut [u8]) -> Result<u64, ShmError> {
        self.bounded(|r| r.snapshot(out))
    }

    /// Runs `op` until no write overlaps it, pausing longer each time, for
    /// at most the stall bound.
    #[inline]
    pub(crate) fn bounded<R>(
        &self,
        mut op: impl FnMut(&Region<'_>) -> Result<R, AccessError>,
    ) -> Result<R, ShmError> {
        let region = self.shared.mapped.region_ref();
        match op(region) {
            Ok(v) => Ok(v),
            Err(AccessError::Busy) => self.bounded_slow(op),
            Err(e) => Err(ShmError::Access(e)),
        }
    }

    /// The retries of [`bounded`](Self::bounded), out of the fast path.
    #[cold]
    fn bounded_slow<R>(
        &self,
        mut op: impl FnMut(&Region<'_>) -> Result<R, AccessError>,
    ) -> Result<R, ShmError> {
        let region = self.region();
        let mut backoff = Backoff::new(self.stall_bound);
        loop {
            if !backoff.pause() {
                return Err(self.stalled());
            }
            match op(&region) {
                Ok(v) => return Ok(v),
                Err(AccessError::Busy) => {}
                Err(e) => return Err(ShmError::Access(e)),
            }
        }
    }

    pub(crate) fn stalled(&self) -> ShmError {
        ShmError::WriterStalled {
            pid: self.writer_pid(),
            bound: self.stall_bound,
        }
    }

    /// Blocks until the generation differs from `since` and returns the new
    /// one, or `None` after `timeout` (`None`: no timeout). Sleeps on the
    /// region's commit word (a futex on Linux); wakes on every commit.
    pub fn wait_for_change(
        &self,
        since: u64,
        timeout: Option<Duration>,
    ) -> Result<Option<u64>, ShmError> {
        self.wait_for_change_as(since, timeout, Waiters::ALL)
    }

    /// [`wait_for_change`](Self::wait_for_change) as `waiter`, which the
    /// commits that wake others may leave asleep (see [`Waiters`]).
    pub(crate) fn wait_for_change_as(
        &self,
        since: u64,
        timeout: Option<Duration>,
        waiter: Waiters,
    ) -> Result<Option<u64>, ShmError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let commit = self.region().commit_counter();
        loop {
            // Read the word before the generation: a commit after this load
            // moves the word, so the wait below returns at once.
            let seen = commit.load(Ordering::Acquire);
            let generation = self.generation()?;
            if generation != since {
                return Ok(Some(generation));
            }
            // Wait for the word to move past an even `seen` (or to end the
            // commit in progress when it is odd).
            let seen_even = seen & !1;
            if notify::wait_commit(notify::os(), commit, seen_even, waiter, || {
                remaining(deadline)
            })
            .is_none()
            {
                return Ok(None);
            }
        }
    }
}

/// The time left before `deadline`: `Some(None)` without one, `None` once it passed.
pub(crate) fn remaining(deadline: Option<Instant>) -> Option<Option<Duration>> {
    match deadline {
        None => Some(None),
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            (!left.is_zero()).then_some(Some(left))
        }
    }
}

/// A growing pause: yields first, then sleeps from 2 µs doubling to 1 ms,
/// until `bound` has passed since the first pause.
pub(crate) struct Backoff {
    start: Option<Instant>,
    step: Duration,
    bound: Duration,
}

impl Backoff {
    pub(crate) fn new(bound: Duration) -> Backoff {
        Backoff {
            start: None,
            step: Duration::from_micros(2),
            bound,
        }
    }

    /// Pauses; `false` once the bound has passed.
    pub(crate) fn pause(&mut self) -> bool {
        let Some(start) = self.start else {
            self.start = Some(Instant::now());
            std::thread::yield_now();
            return true;
        };
        let elapsed = start.elapsed();
        if elapsed >= self.bound {
            return false;
        }
        std::thread::sleep(self.step.min(self.bound - elapsed));
        self.step = (self.step * 2).min(Duration::from_millis(1));
        true
    }
}

/// What a writer found and repaired when it took over from one that died
/// mid-write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// The pid the dead writer recorded.
    pub previous_writer: u32,
    /// The repair: odd counters made even, the generation after it.
    pub recovery: Recovery,
}

/// The one process allowed to write a region: holds an exclusive lock on
/// its file (`flock`), which the kernel releases when this handle is dropped
/// or the process dies.
///
/// Every write commits through the core's seqlock and then wakes every
/// waiter ([`ShmRegion::wait_for_change`], watchers and change streams).
/// Dereferences to a [`ShmRegion`] for reads.
pub struct ShmWriter<T = Dynamic> {
    region: ShmRegion<T>,
    recovered: Option<Recovered>,
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
    /// writer that died (see [`recovered`](Self::recovered)).
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

impl<T: Record + Pod> ShmWriter<T> {
    /// Creates region `path` under `root` holding `T`'s schema.
    pub fn create_record(root: &Root, path: &str) -> Result<ShmWriter<T>, ShmError> {
        create_writer(root, path, T::schema())
    }

    /// Opens region `path` for writing; its schema must be `T`'s.
    pub fn open_record(root: &Root, path: &str) -> Result<ShmWriter<T>, ShmError> {
        open_writer(root, path, Some(T::schema()))
    }

    /// Writes every field of `value` in one commit; returns the generation.
    pub fn store(&self, value: &T) -> Result<u64, ShmError> {
        self.write_ranges(&[(0, bytemuck::bytes_of(value))], None)
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

    fn notify(&self, result: Result<u64, AccessError>) -> Result<u64, ShmError> {
        let generation = result.map_err(ShmError::Access)?;
        notify::committed(
            notify::os(),
            self.region.region().commit_counter(),
            Waiters::ALL,
        );
        Ok(generation)
    }

    /// Writes variable `id` (exactly its length) and commits; returns the
    /// new generation.
    pub fn write(&self, id: VarId, bytes: &[u8]) -> Result<u64, ShmError> {
        self.notify(self.region.region().write(id, bytes))
    }

    /// Writes several variables in one commit.
    pub fn write_many(&self, parts: &[(VarId, &[u8])]) -> Result<u64, ShmError> {
        self.notify(self.region.region().write_many(parts))
    }

    /// [`write_many`](Self::write_many), calling `during` while the write is
    /// open (its counters odd): for tests and tools that hold a write open.
    pub fn write_many_then(
        &self,
        parts: &[(VarId, &[u8])],
        during: impl FnOnce(),
    ) -> Result<u64, ShmError> {
        self.notify(self.region.region().write_many_then(parts, during))
    }

    /// Writes `value` to variable `id` and commits.
    pub fn set<V: Value>(&self, id: VarId, value: V) -> Result<u64, ShmError> {
        self.notify(self.region.region().set(id, value))
    }

    /// Writes `value` to variable `name` and commits.
    pub fn set_by_name<V: Value>(&self, name: &str, value: V) -> Result<u64, ShmError> {
        self.notify(self.region.region().set_by_name(name, value))
    }

    /// Writes raw byte ranges of the data area in one commit (see
    /// [`Region::write_ranges`]).
    pub fn write_ranges(
        &self,
        ranges: &[(usize, &[u8])],
        generation: Option<u64>,
    ) -> Result<u64, ShmError> {
        self.notify(self.region.region().write_ranges(ranges, generation))
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

/// One variable of a mapped region, located once ([`ShmRegion::var`]), for
/// reads in a loop.
pub struct ShmVar<'r, T = Dynamic> {
    region: &'r ShmRegion<T>,
    var: VarRef<'r>,
}

impl<T> fmt::Debug for ShmVar<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShmVar")
            .field("len", &self.var.len())
            .finish()
    }
}

impl<T> ShmVar<'_, T> {
    /// The variable's length in bytes.
    pub fn len(&self) -> usize {
        self.var.len()
    }

    /// Always false: a variable holds at least one byte.
    pub fn is_empty(&self) -> bool {
        self.var.is_empty()
    }

    /// A consistent copy into `out` (exactly the variable's length), with
    /// the same bound on a stalled writer as [`ShmRegion::read`].
    #[inline(always)]
    pub fn read(&self, out: &mut [u8]) -> Result<(), ShmError> {
        match self.var.read(out) {
            Ok(()) => Ok(()),
            Err(AccessError::Busy) => self.region.bounded_slow(|_| self.var.read(out)),
            Err(e) => Err(ShmError::Access(e)),
        }
    }
}

pub(super) fn open_shared(
    root: &Root,
    path: &str,
    write: bool,
    expect: Option<Schema<'static>>,
) -> Result<(Shared, File), ShmError> {
    let (tenant, name) = file::split_path(path)?;
    let file_path = file::display_path(root.dir(), tenant, name);
    let root_fd = file::open_root(root.dir(), false)?;
    let tenant_fd = file::open_tenant(&root_fd, root.dir(), tenant, false)?;
    let (file, len) = file::open_region(&tenant_fd, &file_path, name, write)?;
    let mapping = Mapping::new(&file, len, write, &file_path)?;
    let bad = |source| ShmError::BadHeader {
        path: file_path.clone(),
        source,
    };
    let schema = match expect {
        Some(s) => s,
        None => intern(file_schema(mapping.words()).map_err(bad)?.as_schema()),
    };
    let mapped = MappedRegion::new(mapping, schema).map_err(bad)?;
    Ok((
        Shared {
            mapped,
            path: file_path,
        },
        file,
    ))
}

fn open_writer<T>(
    root: &Root,
    path: &str,
    expect: Option<Schema<'static>>,
) -> Result<ShmWriter<T>, ShmError> {
    let (shared, lock) = open_shared(root, path, true, expect)?;
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
            generation = r.recovery.generation,
            "recovered a write left in progress by a dead writer"
        );
        notify::committed(notify::os(), live.commit_counter(), Waiters::ALL);
    }
    Ok(ShmWriter {
        region,
        recovered,
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
    let len = required_len(&schema).map_err(bad)?;
    let mut bytes = vec![0u8; len];
    init(&mut bytes, &schema, random_u64()).map_err(bad)?;
    let root_fd = file::open_root(root.dir(), true)?;
    let tenant_fd = file::open_tenant(&root_fd, root.dir(), tenant, true)?;
    let lock = file::create_region(&tenant_fd, &file_path, name, &bytes)?;
    let mapping = Mapping::new(&lock, len as u64, true, &file_path)?;
    let mapped = MappedRegion::new(mapping, schema).map_err(bad)?;
    let region = ShmRegion::from_shared(Shared {
        mapped,
        path: file_path,
    });
    region.region().set_writer_id(std::process::id());
    Ok(ShmWriter {
        region,
        recovered: None,
        lock,
    })
}

/// A schema copied out of a region's table.
struct OwnedSchema {
    vars: Vec<Variable>,
    index: Vec<u32>,
}

impl OwnedSchema {
    fn as_schema(&self) -> Schema<'_> {
        // Checked when it was read; an empty schema is the only alternative.
        Schema::new_checked(&self.vars, &self.index).unwrap_or(Schema::EMPTY)
    }
}

/// Reads the schema a mapped region holds (validating the whole layout).
fn file_schema(words: &[AtomicU32]) -> Result<OwnedSchema, LayoutError> {
    const COUNT_WORD: usize = 32 / 4;
    let declared = words
        .get(COUNT_WORD)
        .map_or(0, |w| w.load(Ordering::Relaxed)) as usize;
    // Never allocate more entries than the mapped bytes can hold.
    let fits = words.len().saturating_sub(HEADER_LEN / 4) / (ENTRY_LEN / 4);
    let n = declared.min(fits);
    let placeholder = match Name::new("v") {
        Ok(name) => Variable::new(name, Kind::U8, 1, 0),
        Err(_) => return Err(LayoutError::BadName(0)),
    };
    let mut vars = vec![placeholder; n];
    let mut index = vec![0u32; n];
    let count = Region::read_schema(words, &mut vars, &mut index)?.len();
    vars.truncate(count);
    index.truncate(count);
    Ok(OwnedSchema { vars, index })
}

/// One `'static` copy of each distinct schema this process has used, so
/// that handles and change events can hold schemas without borrowing.
/// Bounded by the number of distinct schemas, not by opens.
pub(super) fn intern(schema: Schema<'_>) -> Schema<'static> {
    static SCHEMAS: Mutex<Vec<Schema<'static>>> = Mutex::new(Vec::new());
    let mut known = SCHEMAS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(s) = known.iter().find(|s| **s == schema) {
        return *s;
    }
    let vars: &'static [Variable] = Vec::leak(schema.variables().to_vec());
    let index: &'static [u32] = Vec::leak(schema.name_order().to_vec());
    // A copy of a checked schema is valid.
    let copy = Schema::new_checked(vars, index).unwrap_or(Schema::EMPTY);
    known.push(copy);
    copy
}

/// A random 64-bit number for region instances and temporary names.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};

    use super::*;

    static SCHEMA: SchemaBuf<1> = SchemaBuilder::new().var("x", Kind::U32, 1).build();

    #[test]
    fn a_located_variable_reads_each_commit() {
        let dir = std::env::temp_dir().join(format!("memwire-unit-var-{}", std::process::id()));
        let root = Root::new(&dir);
        let writer = ShmWriter::create(&root, "t/r", SCHEMA.as_schema()).unwrap();
        let reader = ShmRegion::open(&root, "t/r").unwrap();
        let x = reader.var(VarId(0)).unwrap();
        let mut out = [0u8; 4];
        for value in [1u32, 7, u32::MAX] {
            writer.set(VarId(0), value).unwrap();
            x.read(&mut out).unwrap();
            assert_eq!(u32::from_le_bytes(out), value);
        }
        assert!(matches!(
            x.read(&mut [0u8; 8]),
            Err(ShmError::Access(AccessError::WrongLength { .. }))
        ));
        assert!(matches!(
            reader.var(VarId(1)),
            Err(ShmError::Access(AccessError::UnknownVariable))
        ));
        drop((writer, reader));
        let _ = std::fs::remove_dir_all(&dir);
    }

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
