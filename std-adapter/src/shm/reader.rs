//! Reading a region: [`ShmRegion`], whose reads wait a bounded time for a
//! write in progress, and [`ShmVar`], a variable located once.

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::time::{Duration, Instant};

use memwire::region::{AccessError, VarRef};
use memwire::schema::{RecordError, Value};
use memwire::sync::{AtomicU32, Ordering};
use memwire::{Record, Region, Schema, VarId};

use super::error::ShmError;
use super::liveness::{self, FileId, Holder};
use super::map::{Access, Held};
use super::notify::{self, Waiters};
use super::open::{Shared, open_shared};
use super::pause::{self, Request};
use super::root::Root;
use super::sigbus;

/// How long a read waits on a write in progress whose writer is dead or
/// stopped before it reports [`ShmError::WriterStalled`], unless changed
/// with [`ShmRegion::with_stall_bound`]. A healthy writer holds a write open
/// for microseconds; 100 ms is far beyond that and short enough for a
/// control loop to notice a dead writer.
///
/// A writer that is alive (it holds the writer lock and is not stopped) is
/// waited for longer: never reported while it commits, and reported only
/// when one write stays open for ten bounds.
pub const STALL_BOUND: Duration = Duration::from_millis(100);

/// How long a wait sleeps at most before it checks that the region file
/// was not truncated (see [`ShmRegion::check_file`]).
pub(crate) const FILE_CHECK: Duration = Duration::from_millis(250);

/// The marker for a region whose schema is read from its file rather than
/// fixed by a `#[derive(Schema)]` type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dynamic;

/// A mapped region that this process reads.
///
/// Opened read-only by [`ShmRegion::open`], the file is mapped read-only:
/// this handle cannot write the region. Reads are the core's seqlock reads
/// (atomic word copies, never torn); while a write is in progress they retry
/// with a growing pause. They keep trying while the writer commits; when
/// the writer has not committed for [`stall_bound`](Self::stall_bound) and
/// the system says it is dead or stopped (the writer lock is free, or its
/// holder is gone or stopped), they return [`ShmError::WriterStalled`]
/// instead of waiting on it. See [`STALL_BOUND`]. If the file is truncated
/// under the mapping, reads return [`ShmError::Truncated`] (and the process
/// survives: see [`check_file`](Self::check_file) and
/// `docs/shared-memory.md`).
///
/// `T` is [`Dynamic`] (schema from the file) or a `#[derive(Schema)]` type
/// whose schema the file must hold, which adds [`load`](Self::load).
/// Handles are cheap to clone and share the mapping.
pub struct ShmRegion<T = Dynamic> {
    shared: Held<Shared>,
    stall_bound: Duration,
    record: PhantomData<fn() -> T>,
}

impl<T> Clone for ShmRegion<T> {
    fn clone(&self) -> Self {
        ShmRegion {
            shared: self.shared.clone(),
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
        let (shared, _) = open_shared(root, path, Access::Header, None)?;
        Ok(ShmRegion::from_shared(shared))
    }
}

impl<T: Record> ShmRegion<T> {
    /// Opens region `path` under `root` for reading; its schema must be
    /// `T`'s ([`ShmError::SchemaMismatch`], naming the first variable that
    /// differs, otherwise).
    pub fn open_record(root: &Root, path: &str) -> Result<ShmRegion<T>, ShmError> {
        let (shared, _) = open_shared(root, path, Access::Header, Some(T::schema()))?;
        Ok(ShmRegion::from_shared(shared))
    }

    /// The whole record, as of one moment. A variable whose bytes are not
    /// a value of its field's type (a `bool` other than 0 or 1, written by
    /// another program) is [`ShmError::InvalidValue`].
    pub fn load(&self) -> Result<T, ShmError> {
        let mut data = vec![0u8; self.data_len()];
        self.snapshot(&mut data)?;
        T::decode(&data).map_err(|e| self.record_error(e))
    }
}

impl<T> ShmRegion<T> {
    /// A record's encoding or decoding error, naming the variable.
    pub(super) fn record_error(&self, e: RecordError) -> ShmError {
        let schema = self.schema();
        match e {
            RecordError::InvalidValue { variable } => match schema.get(variable) {
                Some(var) => ShmError::InvalidValue {
                    path: self.path().to_owned(),
                    variable: var.name.as_str().to_owned(),
                    kind: var.kind,
                },
                None => ShmError::Access(AccessError::InvalidValue),
            },
            _ => ShmError::Access(AccessError::OutOfBounds),
        }
    }

    pub(super) fn from_shared(shared: Shared) -> ShmRegion<T> {
        ShmRegion {
            shared: Held::new(shared),
            stall_bound: STALL_BOUND,
            record: PhantomData,
        }
    }

    /// The file this handle mapped, as `fstat` named it when it was opened.
    pub(super) fn file_id(&self) -> Option<FileId> {
        self.shared.file
    }

    /// The live region. Crate-private: over a read-only mapping a write
    /// would fault, so only [`ShmWriter`](super::ShmWriter) writes through it.
    pub(crate) fn region(&self) -> Region<'_> {
        self.shared.mapped.region()
    }

    /// The header's pause word, if this handle may store to it (see
    /// `pause.rs`; `None` for a reader of a file opened read-only).
    #[inline]
    pub(crate) fn pause_word(&self) -> Option<&AtomicU32> {
        self.shared.mapped.pause_word()
    }

    /// The same region without its record type.
    pub fn untyped(&self) -> ShmRegion<Dynamic> {
        ShmRegion {
            shared: self.shared.clone(),
            stall_bound: self.stall_bound,
            record: PhantomData,
        }
    }

    /// This handle with another stall bound (see [`STALL_BOUND`]).
    pub fn with_stall_bound(mut self, bound: Duration) -> Self {
        self.stall_bound = bound;
        self
    }

    /// How long a read waits on a write in progress whose writer is dead
    /// or stopped (see [`STALL_BOUND`]).
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
    #[inline(always)]
    pub fn read(&self, id: VarId, out: &mut [u8]) -> Result<(), ShmError> {
        // The fast path is the core's inlined read and one load of the
        // process-wide truncation flag; everything else (retries, errors,
        // a truncated file) is out of line, so that no `ShmError` is built
        // or moved on the way.
        let first = self.shared.region_ref().read(id, out);
        if first.is_ok() && !sigbus::any_truncated() {
            return Ok(());
        }
        self.read_slow(id, out, first)
    }

    /// [`read`](Self::read) after a first attempt that failed, or in a
    /// process where a file was found truncated.
    #[cold]
    #[inline(never)]
    fn read_slow(
        &self,
        id: VarId,
        out: &mut [u8],
        first: Result<(), AccessError>,
    ) -> Result<(), ShmError> {
        let result = match first {
            Ok(()) => Ok(()),
            Err(AccessError::Busy) => self.bounded_slow(|r| r.read(id, out)),
            Err(e) => Err(ShmError::Access(e)),
        };
        self.intact(result)
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
    #[inline(always)]
    pub fn get<V: Value>(&self, id: VarId) -> Result<V, ShmError> {
        // As `read`: the core's inlined read and one flag load.
        match self.shared.region_ref().get(id) {
            Ok(v) if !sigbus::any_truncated() => Ok(v),
            first => self.get_slow(id, first),
        }
    }

    /// [`get`](Self::get) after a first attempt that failed, or in a
    /// process where a file was found truncated.
    #[cold]
    #[inline(never)]
    fn get_slow<V: Value>(&self, id: VarId, first: Result<V, AccessError>) -> Result<V, ShmError> {
        let result = match first {
            Ok(v) => Ok(v),
            Err(AccessError::Busy) => self.bounded_slow(|r| r.get(id)),
            Err(e) => Err(ShmError::Access(e)),
        };
        self.intact(result)
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

    /// Runs `op` until no write overlaps it, pausing longer each time,
    /// until the writer is found stalled (see [`WriteWait`]).
    #[inline]
    pub(crate) fn bounded<R>(
        &self,
        mut op: impl FnMut(&Region<'_>) -> Result<R, AccessError>,
    ) -> Result<R, ShmError> {
        let region = self.shared.region_ref();
        let result = match op(region) {
            Ok(v) => Ok(v),
            Err(AccessError::Busy) => self.bounded_slow(op),
            Err(e) => Err(ShmError::Access(e)),
        };
        self.intact(result)
    }

    /// `result`, unless the file was found truncated: a copy made since
    /// may hold the zeros the `SIGBUS` handler mapped (see `sigbus.rs`).
    #[inline(always)]
    pub(crate) fn intact<R>(&self, result: Result<R, ShmError>) -> Result<R, ShmError> {
        if self.shared.mapped.mapping().truncated() {
            return Err(self.truncated());
        }
        result
    }

    /// Checks that the region file still holds every byte this handle
    /// mapped (one `fstat`). Reads and writes report
    /// [`ShmError::Truncated`] by themselves when they reach a page the file
    /// lost; a cut inside the last page the file keeps raises no fault, and
    /// only this check finds it. Waits ([`wait_for_change`](Self::wait_for_change),
    /// watchers) and the hub's scans run it; a process that only reads can
    /// call it now and then.
    pub fn check_file(&self) -> Result<(), ShmError> {
        match self.shared.mapped.mapping().check_len() {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.truncated()),
            Err(e) => Err(ShmError::io("fstat", &self.shared.path, e)),
        }
    }

    #[cold]
    fn truncated(&self) -> ShmError {
        ShmError::Truncated {
            path: self.shared.path.clone(),
        }
    }

    /// The retries of [`bounded`](Self::bounded), out of the fast path.
    #[cold]
    fn bounded_slow<R>(
        &self,
        mut op: impl FnMut(&Region<'_>) -> Result<R, AccessError>,
    ) -> Result<R, ShmError> {
        let region = self.region();
        let mut wait = WriteWait::new(self.stall_bound);
        let result = loop {
            wait.pause(self)?;
            match op(&region) {
                Ok(v) => break Ok(v),
                Err(AccessError::Busy) => {}
                Err(e) => break Err(ShmError::Access(e)),
            }
        };
        wait.done(self);
        result
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
        self.check_file()?;
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
            // No commit wakes a waiter once the file is truncated (the word
            // is no longer the file's): sleep at most FILE_CHECK at a time
            // and check the file after every sleep.
            let check_at = Instant::now() + FILE_CHECK;
            let woke = notify::wait_commit(notify::os(), commit, seen_even, waiter, || {
                remaining_before_check(deadline, check_at)
            });
            self.check_file()?;
            if woke.is_none() && remaining(deadline).is_none() {
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

/// [`remaining`], cut short to end at `check_at`: `None` once either passed.
pub(crate) fn remaining_before_check(
    deadline: Option<Instant>,
    check_at: Instant,
) -> Option<Option<Duration>> {
    let left = remaining(deadline)?;
    let to_check = remaining(Some(check_at))??;
    Some(Some(left.map_or(to_check, |left| left.min(to_check))))
}

/// How many stall bounds a read waits on a writer that is alive and not
/// stopped but holds one write open without committing: preempted mid-write
/// on a loaded machine, or stuck. 1 s with the default bound.
pub(crate) const LIVE_STALL_FACTOR: u32 = 10;

/// Waiting out writes in progress: a growing pause (a yield, then sleeps
/// from 2 µs doubling to 1 ms) and, once per stall bound, a look at the
/// region's commit counter and at the writer.
///
/// - The counter moved since the last look: the writer is alive and
///   committing, and this reader only lost races with it (preempted
///   mid-copy, or a copy longer than the writer's pauses). It keeps trying
///   for as long as commits go on; a pause hands it a fresh time slice.
/// - It stood still for a whole bound and the lock's holder is dead or
///   stopped (or the system cannot tell, see `liveness.rs`):
///   [`ShmError::WriterStalled`].
/// - It stood still and the holder is alive: its write will end;
///   `WriterStalled` only once the counter stood still for
///   [`LIVE_STALL_FACTOR`] bounds.
///
/// A reader that has failed for [`pause::ASK_AFTER_ROUNDS`] rounds of
/// [`pause::READ_TRIES`] attempts asks the writer to hold its next commit
/// back (`pause.rs`) and retries without sleeping
/// while the request stands, so that a writer committing in a tight loop
/// cannot overtake every copy; [`done`](Self::done) withdraws the request.
pub(crate) struct WriteWait {
    bound: Duration,
    step: Duration,
    /// When the last look was and the commit counter it saw; `None` before
    /// the first pause.
    look: Option<(Instant, u32)>,
    /// When the counter was last seen to move (or the wait began).
    moved: Instant,
    /// Rounds of attempts failed so far: each pause follows one.
    rounds: u32,
    /// This reader's request that the writer pause.
    request: Request,
}

impl WriteWait {
    pub(crate) fn new(bound: Duration) -> WriteWait {
        WriteWait {
            bound,
            step: Duration::from_micros(2),
            look: None,
            moved: Instant::now(),
            rounds: 0,
            request: Request::default(),
        }
    }

    /// Withdraws this reader's request that the writer pause, if it made
    /// one: to call when the wait ends with a copy (an error from
    /// [`pause`](Self::pause) withdraws it by itself).
    pub(crate) fn done<T>(&mut self, region: &ShmRegion<T>) {
        self.request.withdraw(region.pause_word());
    }

    /// Pauses, or says that the writer of `region` stalled.
    pub(crate) fn pause<T>(&mut self, region: &ShmRegion<T>) -> Result<(), ShmError> {
        let result = self.pause_once(region);
        if result.is_err() {
            self.done(region);
        }
        result
    }

    fn pause_once<T>(&mut self, region: &ShmRegion<T>) -> Result<(), ShmError> {
        let live = region.region();
        let commit = live.commit_counter().load(Ordering::Acquire);
        let now = Instant::now();
        self.rounds = self.rounds.saturating_add(1);
        let Some((at, seen)) = self.look else {
            self.look = Some((now, commit));
            self.moved = now;
            std::thread::yield_now();
            return Ok(());
        };
        if now.duration_since(at) >= self.bound {
            self.look = Some((now, commit));
            if commit != seen {
                self.moved = now;
            } else {
                // A writer that faulted on a truncated file left its write
                // open in the page the file kept, and stays alive: the
                // stall is the truncation (one `fstat` per bound waited).
                if let Err(truncated @ ShmError::Truncated { .. }) = region.check_file() {
                    return Err(truncated);
                }
                if self.stalled(region, now) {
                    return Err(region.stalled());
                }
            }
        }
        if self.rounds >= pause::ASK_AFTER_ROUNDS {
            self.request.ask(region.pause_word());
            if self.request.stands(region.pause_word()) {
                // The writer is holding back for this reader: a sleep now
                // would waste the pause.
                std::thread::yield_now();
                return Ok(());
            }
        }
        std::thread::sleep(self.step);
        self.step = (self.step * 2).min(Duration::from_millis(1));
        Ok(())
    }

    /// Whether a writer whose counter stood still for a bound has stalled.
    fn stalled<T>(&self, region: &ShmRegion<T>, now: Instant) -> bool {
        match liveness::holder(region.shared.file) {
            Holder::Live => now.duration_since(self.moved) >= self.bound * LIVE_STALL_FACTOR,
            Holder::Stopped | Holder::Dead | Holder::Unknown => true,
        }
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
        let first = self.var.read(out);
        if first.is_ok() && !sigbus::any_truncated() {
            return Ok(());
        }
        self.read_slow(out, first)
    }

    #[cold]
    #[inline(never)]
    fn read_slow(&self, out: &mut [u8], first: Result<(), AccessError>) -> Result<(), ShmError> {
        let result = match first {
            Ok(()) => Ok(()),
            Err(AccessError::Busy) => self.region.bounded_slow(|_| self.var.read(out)),
            Err(e) => Err(ShmError::Access(e)),
        };
        self.region.intact(result)
    }
}

#[cfg(test)]
mod tests {
    use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};

    use super::*;
    use crate::shm::ShmWriter;

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
}
