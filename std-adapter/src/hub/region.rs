//! A region as the hub serves it: the shared-memory file, the shadow that
//! sessions publish from, and the scan that finds what local writers changed.
//!
//! The shadow is published as an immutable snapshot ([`Published`]) behind
//! an `Arc`: a connection holds the snapshot it last looked at and reads it
//! without any lock, and a scan replaces it (copying only while some
//! connection still holds the old one). Connections refresh their snapshot
//! at most at their subscriber rate, which is what holds a subscriber to it:
//! the session sees no new generation until then, and the next update covers
//! everything since.

use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use super::connection::Connection;
use super::parts::Parts;
use crate::schema::OwnedSchema;
use crate::shm::{Root, ShmError, ShmRegion, ShmWriter, TurnWriter};
use memwire::codec::{ErrorCode, Resume};
use memwire::diff::{ByteRange, ChunkTable, DiffError, Differ, Generations};
use memwire::region::AccessError;
use memwire::session::Source;
use memwire::{Region, Schema, VarId};

/// Ranges one scan reports exactly; more and the update falls back to the
/// chunks of the generation table.
const RECENT_MAX: usize = 256;
/// Connections a scan sends an update to from its own thread; the tasks of
/// the others send theirs, in parallel on the runtime.
const DIRECT: usize = 16;

/// The state of a region that sessions publish from, as of one generation.
#[derive(Clone, Debug)]
pub(crate) struct Published {
    pub(crate) instance: u64,
    pub(crate) generation: u64,
    pub(crate) data: Vec<u8>,
    table: Vec<u64>,
    chunk: usize,
    /// The exact ranges of the last scan and the generation they start from.
    recent: Option<(u64, Vec<ByteRange>)>,
}

impl Published {
    /// The session's view of this snapshot.
    pub(crate) fn source<'s>(&'s self, schema: Schema<'s>) -> Option<Source<'s>> {
        let changes = ChunkTable::new(&self.table, self.data.len(), self.chunk).ok()?;
        Some(Source {
            instance: self.instance,
            generation: self.generation,
            schema,
            data: &self.data,
            changes,
            recent: self
                .recent
                .as_ref()
                .map(|(base, ranges)| (*base, ranges.as_slice())),
        })
    }
}

/// What one scan needs between scans.
struct Scanner {
    current: Vec<u8>,
    seqs: Vec<u32>,
    ranges: Vec<ByteRange>,
    differ: Differ,
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
    writer: TurnWriter,
    published: RwLock<Arc<Published>>,
    scanner: Mutex<Scanner>,
    listeners: Mutex<Vec<Weak<Connection>>>,
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
        let len = reader.data_len();
        let mut data = vec![0u8; len];
        let generation = reader.snapshot(&mut data)?;
        let mut table = vec![0u64; Generations::chunks_for(len, chunk)];
        if let Ok(mut gens) = Generations::new(&mut table, len, chunk) {
            gens.reset(generation.max(1));
        }
        let seqs = seqs(reader, schema.as_schema());
        let published = Published {
            instance: reader.instance(),
            generation,
            data,
            table,
            chunk,
            recent: None,
        };
        Ok(Served {
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            publisher: None,
            held: Mutex::new(None),
            parts: None,
            writer,
            published: RwLock::new(Arc::new(published)),
            scanner: Mutex::new(Scanner {
                current: vec![0u8; len],
                seqs,
                ranges: vec![ByteRange::new(0, 0); RECENT_MAX],
                differ: Differ::new(),
            }),
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

    /// The latest snapshot.
    pub(crate) fn published(&self) -> Arc<Published> {
        Arc::clone(
            &self
                .published
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Asks that `connection` be told of every scan that finds a new
    /// generation.
    pub(crate) fn listen(&self, connection: &Weak<Connection>) {
        let mut listeners = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        listeners.retain(|w| w.strong_count() > 0);
        listeners.push(Weak::clone(connection));
    }

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
        let mut guard = self.scanner.lock().unwrap_or_else(PoisonError::into_inner);
        let scanner = &mut *guard;
        let reader = self.writer.reader();
        let schema = self.schema();
        let before = reader.generation()?;
        if before == self.published().generation {
            return Ok(false);
        }
        // Counters before the bytes, so that a variable whose counter did
        // not move is known to be as the shadow has it.
        let fresh = seqs(reader, schema);
        between();
        let generation = reader.snapshot(&mut scanner.current)?;
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
                    tracing::error!(region = %self.path(), error = %e, "scan failed; republishing whole");
                    next.data.copy_from_slice(&scanner.current);
                    if let Ok(mut gens) = Generations::new(&mut next.table, len, next.chunk) {
                        gens.reset(generation.max(1));
                    }
                    None
                }
            };
            next.generation = generation;
        }
        drop(guard);
        tracing::trace!(target: "memwire::latency", step = "scanned");
        self.tell(waits);
        Ok(true)
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

    /// Keeps the region's writer lock for a [`HubWriter`](super::HubWriter)
    /// until [`release`](Self::release).
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

    /// Tells the listening connections of a new snapshot. The first
    /// [`DIRECT`] are sent the update from this thread; the others' tasks
    /// are woken first, so that they run on the runtime's threads meanwhile.
    fn tell(&self, waits: bool) {
        let live: Vec<Arc<Connection>> = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for connection in live.iter().skip(DIRECT) {
            connection.wake();
        }
        for connection in live.iter().take(DIRECT) {
            connection.changed(waits);
        }
    }
}

fn seqs(reader: &ShmRegion, schema: Schema<'_>) -> Vec<u32> {
    (0..schema.len())
        .map(|i| {
            u32::try_from(i)
                .ok()
                .and_then(|i| reader.seq(VarId(i)))
                .unwrap_or(0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};

    use super::*;

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
        let served = Served::open(&root, "t", "r", schema, 64).unwrap();
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
        let mut file = vec![0u8; served.reader().data_len()];
        let generation = served.reader().snapshot(&mut file).unwrap();
        let published = served.published();
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
        let published = served.published();
        let (_, ranges) = published.recent.as_ref().unwrap();
        assert_eq!(ranges.as_slice(), &[ByteRange::new(b, b + 1)]);
        assert_eq!(published.data.get(b..b + 8), Some(&9u64.to_le_bytes()[..]));
        drop(served);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
