//! Scanning: how the hub finds what local writers changed and sends it.
//!
//! - The scanner threads ([`Scanners`]): one per region, asleep on the
//!   region's futex with a bit of its own (`Waiters::SCANNER` in
//!   `shm/notify.rs`), so writes the hub published itself do not wake it.
//! - The scan ([`Served::scan`]): compares the file with the shadow, only
//!   the variables whose sequence counters moved, and publishes a new
//!   snapshot ([`Published`](super::shadow::Published)); under the
//!   `manual` publish policy, only a state the writer marked, and the
//!   scanner sleeps on the mark rather than on commits. The scanner
//!   thread runs it on a wake-up; a write made in the hub (a remote write,
//!   a [`HubWriter`](super::writer::HubWriter)) runs it from the writing
//!   thread.
//! - The direct sends (`Served::tell`): the first [`DIRECT`] listeners
//!   are sent the update from the scanning thread
//!   ([`Listener::changed`]), the others' tasks are woken
//!   ([`Listener::wake`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use memwire::diff::{DiffError, Generations};
use memwire::{Schema, VarId};

use super::config::PublishPolicy;
use super::region::{Listener, Opened, Served};
use super::shadow::seqs;
use super::shared::Shared;
use crate::shm::ShmError;
use crate::shm::notify::Waiters;

/// Connections a scan sends an update to from its own thread; the tasks of
/// the others send theirs, in parallel on the runtime.
const DIRECT: usize = 16;
/// How long a scanner sleeps on its region before checking for shutdown.
pub(super) const SCAN_WAKE: Duration = Duration::from_millis(200);

impl Served {
    /// Compares the file with the shadow and publishes a new snapshot if the
    /// generation moved, then tells the listening connections. Only the
    /// variables whose sequence counters moved are compared. Returns whether
    /// there was a new generation.
    ///
    /// The region's scanner thread holds no other lock and `waits` for a
    /// connection that is busy; a connection's task scanning after its own
    /// write holds its session, so it must not wait for another's (two
    /// writers would wait for each other) and wakes a busy one instead.
    pub(crate) fn scan(&self, waits: bool) -> Result<bool, ShmError> {
        self.scan_around(waits, || ())
    }

    /// [`scan`](Self::scan), running `between` after the sequence counters
    /// are read and before the bytes are copied: where a commit of another
    /// writer may land (tests land one there).
    fn scan_around(&self, waits: bool, between: impl FnOnce()) -> Result<bool, ShmError> {
        let Some(opened) = self.opened() else {
            return Ok(false);
        };
        let manual = self.publish == PublishPolicy::Manual;
        let started = Instant::now();
        match opened.scan(opened.schema, between, &self.path(), manual) {
            Ok(true) => self.counts.committed(started.elapsed()),
            Ok(false) => return Ok(false),
            Err(e) => {
                self.drop_truncated(&opened, &e, waits);
                return Err(e);
            }
        }
        tracing::trace!(target: "memwire::latency", step = "scanned");
        self.tell(waits);
        Ok(true)
    }

    /// Tells the listening connections of a new snapshot. The first
    /// [`DIRECT`] are sent the update from this thread; the others' tasks
    /// are woken first, so that they run on the runtime's threads meanwhile.
    pub(super) fn tell(&self, waits: bool) {
        let live: Vec<Arc<dyn Listener>> = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for listener in live.iter().skip(DIRECT) {
            listener.wake();
        }
        for listener in live.iter().take(DIRECT) {
            listener.changed(waits);
        }
    }
}

impl Opened {
    /// The scan of this file: publishes a new snapshot if the generation
    /// moved, and says whether it did. `region` names it in the logs.
    ///
    /// With `manual`, only a state the writer marked is published: the
    /// mark is read before the copy, and the copy is published only if its
    /// generation is the mark's (a commit after the mark makes this scan
    /// publish nothing; the writer's next mark carries its changes). The
    /// core's `region/publish.rs` shows why such a copy is a marked state.
    fn scan(
        &self,
        schema: Schema<'_>,
        between: impl FnOnce(),
        region: &str,
        manual: bool,
    ) -> Result<bool, ShmError> {
        let mut guard = self.scanner.lock().unwrap_or_else(PoisonError::into_inner);
        let scanner = &mut *guard;
        let reader = self.writer.reader();
        // A cut inside the file's last page raises no fault: only its
        // length tells. Once truncated, nothing is published any more.
        reader.check_file()?;
        let before = reader.generation()?;
        let mark = if manual {
            Some(reader.published()?)
        } else {
            None
        };
        let last = self.published().generation;
        if mark.map_or(before == last, |mark| mark <= last) {
            return Ok(false);
        }
        // Counters before the bytes, so that a variable whose counter did
        // not move is known to be as the shadow has it.
        let fresh = seqs(reader, schema);
        between();
        let generation = reader.snapshot(&mut scanner.current)?;
        if mark.is_some_and(|mark| mark != generation) {
            return Ok(false);
        }
        // A commit that landed since `before` may be in the copy without
        // its counters in `fresh`: compare every byte, or its change would
        // wait for a later commit (this generation is published already).
        let moved: Option<Vec<VarId>> = (generation == before).then(|| {
            fresh
                .iter()
                .zip(&scanner.seqs)
                .enumerate()
                .filter(|(_, (new, old))| new != old)
                .filter_map(|(i, _)| u32::try_from(i).ok().map(VarId))
                .collect()
        });
        scanner.seqs = fresh;
        {
            let mut slot = self
                .published
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let next = Arc::make_mut(&mut slot);
            let base = next.generation;
            let len = next.data.len();
            let found = match (Generations::new(&mut next.table, len, next.chunk), moved) {
                (Ok(mut gens), Some(moved)) => scanner.differ.update_moved(
                    &scanner.current,
                    &mut next.data,
                    schema,
                    moved,
                    &mut scanner.ranges,
                    Some((&mut gens, generation)),
                ),
                (Ok(mut gens), None) => scanner.differ.update(
                    &scanner.current,
                    &mut next.data,
                    &mut scanner.ranges,
                    Some((&mut gens, generation)),
                ),
                (Err(_), _) => Err(DiffError::TableMismatch),
            };
            next.recent = match found {
                Ok(n) => Some((base, scanner.ranges.get(..n).unwrap_or(&[]).to_vec())),
                // The scan completed; only the exact list did not fit.
                Err(DiffError::Overflow(_)) => None,
                Err(e) => {
                    tracing::error!(region, error = %e, "scan failed; republishing whole");
                    next.data.copy_from_slice(&scanner.current);
                    if let Ok(mut gens) = Generations::new(&mut next.table, len, next.chunk) {
                        gens.reset(generation.max(1));
                    }
                    None
                }
            };
            next.generation = generation;
        }
        Ok(true)
    }
}

/// The scanner threads of a hub, one per region, and the thread that
/// discovers regions (`discover.rs`).
pub(crate) struct Scanners {
    scanning: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Scanners {
    /// Starts a scanner for every region of `shared`.
    pub(crate) fn start(shared: &Shared) -> Scanners {
        let scanners = Scanners {
            scanning: Arc::new(AtomicBool::new(true)),
            threads: Mutex::new(Vec::new()),
        };
        for served in &shared.regions {
            scanners.add(served);
        }
        scanners
    }

    /// Starts a scanner for `served` (at start, or a region a reload
    /// added); it ends at shutdown or once the region is retired.
    pub(crate) fn add(&self, served: &Arc<Served>) {
        let served = Arc::clone(served);
        let scanning = Arc::clone(&self.scanning);
        self.spawn(move || scan_loop(&served, &scanning));
    }

    /// Runs `work` on a thread of its own, which [`stop`](Self::stop)
    /// waits for: it must end soon after [`scanning`](Self::scanning)
    /// turns false.
    pub(crate) fn spawn(&self, work: impl FnOnce() + Send + 'static) {
        if !self.scanning() {
            return;
        }
        let thread = std::thread::spawn(work);
        let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
        threads.retain(|t| !t.is_finished());
        threads.push(thread);
    }

    /// Whether the hub is scanning: until shutdown.
    pub(crate) fn scanning(&self) -> bool {
        self.scanning.load(Ordering::Relaxed)
    }

    /// Stops the scanners (each within [`SCAN_WAKE`]) and waits for them.
    pub(crate) async fn stop(&self) {
        self.scanning.store(false, Ordering::Relaxed);
        loop {
            let threads =
                std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
            if threads.is_empty() {
                break;
            }
            for scanner in threads {
                let _ = tokio::task::spawn_blocking(move || scanner.join()).await;
            }
        }
    }
}

/// One region's scanner: sleeps on the file served now and scans it when
/// woken; checks the file (`recheck.rs`) at least every [`SCAN_WAKE`]; and
/// while no file is served, tries to take one up as often. Ends at
/// shutdown, or once a reload retired the region.
fn scan_loop(served: &Served, scanning: &AtomicBool) {
    let mut file: Option<(Arc<Opened>, u64)> = None;
    let mut checked = Instant::now();
    while scanning.load(Ordering::Relaxed) && !served.retired() {
        let Some(opened) = served.opened() else {
            file = None;
            std::thread::sleep(SCAN_WAKE);
            served.retake();
            continue;
        };
        let since = match &file {
            Some((current, since)) if Arc::ptr_eq(current, &opened) => *since,
            _ => opened.published().generation,
        };
        // Writes the hub published itself do not wake it (`Waiters`).
        // Under the manual policy only the writer's marks do, never commits.
        let woke = if served.publish == PublishPolicy::Manual {
            opened.reader().wait_for_publish(since, Some(SCAN_WAKE))
        } else {
            opened
                .reader()
                .wait_for_change_as(since, Some(SCAN_WAKE), Waiters::SCANNER)
        };
        file = Some((Arc::clone(&opened), since));
        if checked.elapsed() >= SCAN_WAKE {
            checked = Instant::now();
            if served.check(true).is_err() {
                continue;
            }
        }
        match woke {
            Ok(None) => continue,
            Ok(Some(generation)) => {
                tracing::trace!(target: "memwire::latency", step = "scanner woke");
                file = Some((opened, generation));
            }
            Err(e @ ShmError::Truncated { .. }) => {
                served.drop_truncated(&opened, &e, true);
                continue;
            }
            Err(e) => {
                tracing::warn!(region = %served.path(), error = %e, "waiting for a change failed");
                std::thread::sleep(SCAN_WAKE);
                continue;
            }
        }
        // A truncated file is dropped by the scan itself.
        if let Err(e) = served.scan(true) {
            tracing::warn!(region = %served.path(), error = %e, "scan failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use memwire::diff::ByteRange;
    use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};

    use super::*;
    use crate::schema::OwnedSchema;
    use crate::shm::{Root, TurnWriter};

    static SCHEMA: SchemaBuf<2> = SchemaBuilder::new()
        .var("a", Kind::U64, 1)
        .var("b", Kind::U64, 1)
        .build();

    /// The region as the hub serves it, and another writer of its file.
    fn served(name: &str) -> (std::path::PathBuf, Served, TurnWriter) {
        let dir = std::env::temp_dir().join(format!("memwire-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = Root::new(&dir);
        let schema = OwnedSchema::from_schema(SCHEMA.as_schema());
        let served = Served::open(&root, "t", "r", Some(&schema), 64, false);
        assert!(served.opened().is_some());
        let other = TurnWriter::open(&root, "t/r", None).unwrap();
        (dir, served, other)
    }

    fn set(writer: &TurnWriter, offset: usize, value: u64) {
        writer
            .write_ranges(&[(offset, &value.to_le_bytes())])
            .unwrap();
    }

    /// A commit landing between the scan's look at the counters and its copy
    /// of the bytes is published by that scan, not held back until some
    /// later commit.
    #[test]
    fn a_commit_during_a_scan_is_published_by_it() {
        let (dir, served, other) = served("scan-race");
        let b = SCHEMA.as_schema().variables()[1].range().start;
        set(&other, 0, 1);
        let scanned = served.scan_around(true, || set(&other, b, 7)).unwrap();
        assert!(scanned);
        let reader = other.reader();
        let mut file = vec![0u8; reader.data_len()];
        let generation = reader.snapshot(&mut file).unwrap();
        let published = served.published().unwrap();
        assert_eq!(published.generation, generation);
        assert_eq!(published.data, file, "b's write is missing");
        // Nothing is left for the next scan.
        assert!(!served.scan(true).unwrap());
        drop(served);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Without a commit in between, a scan compares the variables whose
    /// counters moved and reports their bytes exactly.
    #[test]
    fn a_scan_reports_the_moved_variable() {
        let (dir, served, other) = served("scan-moved");
        let b = SCHEMA.as_schema().variables()[1].range().start;
        set(&other, b, 9);
        assert!(served.scan(true).unwrap());
        let published = served.published().unwrap();
        let (_, ranges) = published.recent.as_ref().unwrap();
        assert_eq!(ranges.as_slice(), &[ByteRange::new(b, b + 1)]);
        assert_eq!(published.data.get(b..b + 8), Some(&9u64.to_le_bytes()[..]));
        drop(served);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
