//! The hub's copy of a region: the snapshot sessions publish from
//! ([`Published`]) and what the scan keeps between two scans
//! ([`Scanner`]). `scan.rs` moves one to the next.

use std::sync::Arc;

use memwire::diff::{ByteRange, ChunkTable, Differ, Generations};
use memwire::session::Source;
use memwire::{Schema, VarId};

use super::parts::Parts;
use crate::shm::{ShmError, ShmRegion};

/// Ranges one scan reports at most (64 KiB of them). A region of fewer than
/// twice as many bytes gets room for every range it can have (one per two
/// bytes); when a scan of a larger one finds more, the neighbours that cost
/// least to merge are merged until they fit (`memwire::diff`), so an update
/// still sends little more than the changed bytes.
const RECENT_MAX: usize = 4096;

/// The state of a region that sessions publish from, as of one generation.
#[derive(Clone, Debug)]
pub(crate) struct Published {
    pub(crate) instance: u64,
    /// The schema of the file this snapshot is of.
    pub(crate) schema: Schema<'static>,
    pub(crate) generation: u64,
    pub(crate) data: Vec<u8>,
    pub(super) table: Vec<u64>,
    pub(super) chunk: usize,
    /// The exact ranges of the last scan and the generation they start from.
    pub(super) recent: Option<(u64, Vec<ByteRange>)>,
    /// Update parts shared by the subscribers of this file
    /// (`encode_once`): one store per file, since generations mean
    /// something only within one instance.
    pub(crate) parts: Option<Arc<Parts>>,
}

impl Published {
    /// The region file as it is now, every chunk changed at its generation;
    /// with a store of update parts if they are to be `shared`.
    pub(crate) fn first(
        reader: &ShmRegion,
        chunk: usize,
        shared: bool,
    ) -> Result<Published, ShmError> {
        let len = reader.data_len();
        let mut data = vec![0u8; len];
        let generation = reader.snapshot(&mut data)?;
        let mut table = vec![0u64; Generations::chunks_for(len, chunk)];
        if let Ok(mut gens) = Generations::new(&mut table, len, chunk) {
            gens.reset(generation.max(1));
        }
        Ok(Published {
            instance: reader.instance(),
            schema: reader.schema(),
            generation,
            data,
            table,
            chunk,
            recent: None,
            parts: shared.then(|| Arc::new(Parts::default())),
        })
    }

    /// The session's view of this snapshot.
    pub(crate) fn source(&self) -> Option<Source<'_>> {
        let changes = ChunkTable::new(&self.table, self.data.len(), self.chunk).ok()?;
        Some(Source {
            instance: self.instance,
            generation: self.generation,
            schema: self.schema,
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
pub(crate) struct Scanner {
    pub(super) current: Vec<u8>,
    pub(super) seqs: Vec<u32>,
    pub(super) ranges: Vec<ByteRange>,
    pub(super) differ: Differ,
}

impl Scanner {
    /// Ready to scan `reader`, whose counters are as the first snapshot
    /// found them.
    pub(crate) fn new(reader: &ShmRegion, schema: Schema<'_>) -> Scanner {
        Scanner {
            current: vec![0u8; reader.data_len()],
            seqs: seqs(reader, schema),
            ranges: vec![ByteRange::new(0, 0); RECENT_MAX.min(reader.data_len() / 2 + 1)],
            differ: Differ::new(),
        }
    }
}

/// The sequence counters of every variable of `reader`.
pub(crate) fn seqs(reader: &ShmRegion, schema: Schema<'_>) -> Vec<u32> {
    (0..schema.len())
        .map(|i| {
            u32::try_from(i)
                .ok()
                .and_then(|i| reader.seq(VarId(i)))
                .unwrap_or(0)
        })
        .collect()
}
