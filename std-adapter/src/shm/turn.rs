//! A writer that takes the region's writer lock in turns ([`TurnWriter`]).

use std::fmt;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use memwire::region::AccessError;
use memwire::{Region, Schema};

use super::error::ShmError;
use super::file;
use super::identity::Identity;
use super::map::Access;
use super::notify::{self, Waiters};
use super::open::{intern, open_shared};
use super::pause;
use super::reader::{Dynamic, ShmRegion};
use super::requests::{self, Unanswered};
use super::root::Root;
use super::writer::Recovered;

/// A writable mapping that takes the writer lock for each write and
/// releases it after, so that local writers ([`ShmWriter`]) and this handle
/// take turns. A hub holds one per region: remote writes go through it while
/// local processes stay free to open their own writer between them.
///
/// A write while another process holds the lock fails at once with
/// [`ShmError::WriterBusy`]; [`request`](Self::request) then asks the
/// holder to make it through the region's request area. Taking the lock repairs a write that a dead
/// writer left half-done, as [`ShmWriter::open`] does. Writes from several
/// threads of this process take turns too (the OS lock belongs to the open
/// file, which they share, so a mutex orders them).
///
/// [`ShmWriter`]: super::ShmWriter
/// [`ShmWriter::open`]: super::ShmWriter::open
pub struct TurnWriter {
    region: ShmRegion<Dynamic>,
    file: File,
    /// One turn at a time in this process, and how many holders keep the
    /// OS lock between turns.
    turns: Mutex<usize>,
    /// The file as it was opened, for [`check`](Self::check).
    identity: Identity,
    /// Where the region's request lock file is: the root and `tenant/region`.
    root: PathBuf,
    name: String,
    /// The request lock file, once opened, and the next request id: one
    /// request at a time from this process.
    requests: Mutex<Option<(File, u32)>>,
}

impl fmt::Debug for TurnWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnWriter")
            .field("region", &self.region)
            .finish()
    }
}

impl TurnWriter {
    /// Opens region `path` under `root` with a writable mapping, without
    /// taking the writer lock. With `expect`, the file must hold that schema.
    pub fn open(root: &Root, path: &str, expect: Option<Schema<'_>>) -> Result<Self, ShmError> {
        let (shared, file) = open_shared(root, path, Access::Write, expect.map(intern))?;
        let region = ShmRegion::from_shared(shared);
        let identity = Identity::take(
            region.file_id(),
            region.region().words(),
            region.schema().len(),
            region.path(),
        )?;
        Ok(TurnWriter {
            region,
            file,
            turns: Mutex::new(0),
            identity,
            root: root.dir().to_owned(),
            name: path.to_owned(),
            requests: Mutex::new(None),
        })
    }

    /// The read handle.
    pub fn reader(&self) -> &ShmRegion<Dynamic> {
        &self.region
    }

    /// Checks that the region's name still leads to the open file and that
    /// the bytes fixed at creation are unchanged: [`ShmError::Removed`],
    /// [`ShmError::Replaced`] or [`ShmError::HeaderChanged`] if not. A
    /// `stat` of the name and a comparison of the header and table.
    /// [`ShmError::Truncated`] first, if the file is shorter than the
    /// mapping: a header compared with the zeros mapped over a lost page
    /// would read as changed.
    pub fn check(&self) -> Result<(), ShmError> {
        self.region.check_file()?;
        let checked = self
            .identity
            .check(self.region.region().words(), self.region.path());
        self.region.intact(checked)
    }

    /// Takes the lock, writes raw byte ranges of the data area in one commit
    /// (see [`Region::write_ranges`]), wakes waiters and releases the lock.
    /// Returns the new generation and what was repaired, if anything.
    pub fn write_ranges(
        &self,
        ranges: &[(usize, &[u8])],
    ) -> Result<(u64, Option<Recovered>), ShmError> {
        self.turn(|live| live.write_ranges(ranges, None), || false)
    }

    /// One turn: takes the lock (unless held, see [`hold`](Self::hold)),
    /// repairs what a dead writer left, makes one commit with `write`,
    /// releases the lock, calls `then` if the commit succeeded, and wakes
    /// waiters last. The hub publishes the commit from `then`, so that
    /// waking local waiters does not hold the update back or compete with
    /// it for a CPU; when `then` says it did, the hub's scanner, having
    /// nothing left to find, is not woken at all ([`Waiters::NOT_SCANNER`]).
    pub(crate) fn turn(
        &self,
        write: impl FnOnce(&Region<'_>) -> Result<u64, AccessError>,
        then: impl FnOnce() -> bool,
    ) -> Result<(u64, Option<Recovered>), ShmError> {
        let live = self.region.region();
        // A remote write into a file cut inside its last page would raise
        // no fault and be lost: look at the file's length first.
        self.region.check_file()?;
        let (result, recovered) = {
            let holds = self.turns();
            let recovered = if *holds == 0 { self.lock()? } else { None };
            pause::give_way(self.region.pause_word());
            let result = write(&live);
            // A request another hub posted while this one held the lock.
            let _ = requests::take(&live);
            if *holds == 0 {
                live.set_writer_id(0);
                self.unlock()?;
            }
            (result, recovered)
        };
        let result = self.region.intact(result.map_err(ShmError::Access));
        let published = result.is_ok() && then();
        if result.is_ok() || recovered.is_some() {
            // A repair is a commit of its own, which only a scan publishes.
            let whom = if published && recovered.is_none() {
                Waiters::NOT_SCANNER
            } else {
                Waiters::ALL
            };
            notify::committed(notify::os(), live.commit_counter(), whom);
        }
        Ok((result?, recovered))
    }

    /// Keeps the writer lock between turns until as many
    /// [`release`](Self::release)s: each turn then costs no system call,
    /// and no other process can write meanwhile. Fails with
    /// [`ShmError::WriterBusy`] while another process holds the lock.
    pub(crate) fn hold(&self) -> Result<Option<Recovered>, ShmError> {
        let mut holds = self.turns();
        let recovered = if *holds == 0 { self.lock()? } else { None };
        *holds += 1;
        if recovered.is_some() {
            notify::committed(
                notify::os(),
                self.region.region().commit_counter(),
                Waiters::ALL,
            );
        }
        Ok(recovered)
    }

    /// Ends one [`hold`](Self::hold); the last releases the lock.
    pub(crate) fn release(&self) {
        let mut holds = self.turns();
        *holds = holds.saturating_sub(1);
        if *holds == 0 {
            self.region.region().set_writer_id(0);
            if let Err(e) = self.unlock() {
                tracing::warn!(error = %e, "releasing a region's writer lock failed");
            }
        }
    }

    fn turns(&self) -> MutexGuard<'_, usize> {
        // A turn that panicked left the count as it was.
        self.turns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the OS lock, repairs what a dead writer left and marks this
    /// process as the writer.
    fn lock(&self) -> Result<Option<Recovered>, ShmError> {
        let path = self.region.path();
        if !file::try_lock(&self.file).map_err(|e| ShmError::io("lock", path, e))? {
            return Err(ShmError::WriterBusy {
                path: path.to_owned(),
                pid: self.region.writer_pid(),
            });
        }
        let live = self.region.region();
        let previous_writer = live.writer_id();
        let recovery = live.recover();
        requests::clear_taken(&live);
        live.set_writer_id(std::process::id());
        Ok(recovery.repaired().then_some(Recovered {
            previous_writer,
            recovery,
        }))
    }

    /// Asks the process that holds the writer lock to write raw byte
    /// ranges of the data area as one commit of its own, through the
    /// region's request area; waits up to `timeout` for it to take the
    /// request and as long again for its answer. Returns the generation
    /// of the applied write.
    ///
    /// [`ShmError::RequestNotTaken`]: the holder did not take it (it
    /// neither committed nor called `apply_requests`); the request is
    /// withdrawn and never applied. [`ShmError::RequestNotAnswered`]: the
    /// holder took it and gave no answer (it may have died applying it).
    /// [`ShmError::WriterBusy`]: another process posts to this region now,
    /// or an earlier request is still being applied.
    pub fn request(&self, ranges: &[(usize, &[u8])], timeout: Duration) -> Result<u64, ShmError> {
        let path = self.region.path();
        let mut guard = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        let (lock, next) = match &mut *guard {
            Some(held) => held,
            empty => {
                let (tenant, name) = file::split_path(&self.name)?;
                let lock = file::open_request_lock(&self.root, tenant, name)?;
                // Ids of one poster differ from those a dead one left.
                empty.insert((lock, file::random_u64() as u32))
            }
        };
        let busy = || ShmError::WriterBusy {
            path: path.to_owned(),
            pid: self.region.writer_pid(),
        };
        if !file::try_lock(lock).map_err(|e| ShmError::io("lock", path, e))? {
            return Err(busy());
        }
        let id = *next & ((1 << 30) - 1);
        *next = next.wrapping_add(1);
        let result = requests::post(&self.region.region(), id, ranges, timeout);
        if let Err(e) = file::unlock(lock) {
            tracing::warn!(error = %e, "releasing a region's request lock failed");
        }
        result.map_err(|unanswered| match unanswered {
            Unanswered::Occupied => busy(),
            Unanswered::TooLarge => ShmError::RequestRefused {
                path: path.to_owned(),
                reason: "the write does not fit the region's request area",
            },
            Unanswered::NotTaken => ShmError::RequestNotTaken {
                path: path.to_owned(),
                pid: self.region.writer_pid(),
                timeout,
            },
            Unanswered::NotAnswered => ShmError::RequestNotAnswered {
                path: path.to_owned(),
                pid: self.region.writer_pid(),
            },
            Unanswered::Refused(code) => ShmError::RequestRefused {
                path: path.to_owned(),
                reason: if code == memwire::layout::REFUSED_OUT_OF_BOUNDS {
                    "a range is out of the data area"
                } else {
                    "the request is malformed"
                },
            },
        })
    }

    fn unlock(&self) -> Result<(), ShmError> {
        file::unlock(&self.file).map_err(|e| ShmError::io("unlock", self.region.path(), e))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};

    use super::*;
    use crate::shm::ShmWriter;

    static SCHEMA: SchemaBuf<1> = SchemaBuilder::new().var("x", Kind::U64, 1).build();

    fn root(name: &str) -> (std::path::PathBuf, Root) {
        let dir = std::env::temp_dir().join(format!("memwire-unit-{name}-{}", std::process::id()));
        let root = Root::new(&dir);
        drop(ShmWriter::create(&root, "t/r", SCHEMA.as_schema()).unwrap());
        (dir, root)
    }

    #[test]
    fn threads_of_one_process_take_turns() {
        let (dir, root) = root("turns");
        let writer = Arc::new(TurnWriter::open(&root, "t/r", None).unwrap());
        const THREADS: u64 = 4;
        const WRITES: u64 = 2_000;
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let writer = Arc::clone(&writer);
                std::thread::spawn(move || {
                    for i in 0..WRITES {
                        let value = (t * WRITES + i).to_le_bytes();
                        let (_, recovered) = writer.write_ranges(&[(0, &value)]).unwrap();
                        // Another thread's write in progress is not a dead
                        // writer's: nothing may be "repaired".
                        assert!(recovered.is_none(), "{recovered:?}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Each write took a generation of its own.
        assert_eq!(writer.reader().generation().unwrap(), THREADS * WRITES);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_hold_keeps_the_lock_between_turns() {
        let (dir, root) = root("hold");
        let writer = TurnWriter::open(&root, "t/r", None).unwrap();
        writer.hold().unwrap();
        writer.hold().unwrap();
        let busy = ShmWriter::open(&root, "t/r");
        assert!(
            matches!(busy, Err(ShmError::WriterBusy { pid, .. }) if pid == std::process::id()),
            "{busy:?}"
        );
        writer.write_ranges(&[(0, &7u64.to_le_bytes())]).unwrap();
        writer.release();
        assert!(ShmWriter::open(&root, "t/r").is_err(), "one hold is left");
        writer.release();
        let local = ShmWriter::open(&root, "t/r").unwrap();
        assert_eq!(local.reader().get_by_name::<u64>("x").unwrap(), 7);
        // The local writer holds the lock now: no hold and no turn.
        assert!(matches!(writer.hold(), Err(ShmError::WriterBusy { .. })));
        assert!(matches!(
            writer.write_ranges(&[(0, &[0; 8])]),
            Err(ShmError::WriterBusy { .. })
        ));
        drop(local);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
