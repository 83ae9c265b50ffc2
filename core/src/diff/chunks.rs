//! The per-chunk "generation last changed" table of a publisher.

use core::fmt;

use super::byte_range::{ByteRange, Overflow};

/// Why a generation table cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TableError {
    /// The chunk size is zero or not a power of two.
    BadChunk,
    /// The table has fewer entries than the data area has chunks
    /// ([`Generations::chunks_for`]).
    TooShort,
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::BadChunk => f.write_str("chunk size is not a power of two"),
            TableError::TooShort => f.write_str("generation table has too few entries"),
        }
    }
}

impl core::error::Error for TableError {}

/// For every chunk of a data area, the generation at which it last changed,
/// over a caller's `&mut [u64]`.
///
/// A scan ([`Differ::update`](super::Differ::update)) stamps the chunks it
/// finds changed, and a publisher applying a remote write calls
/// [`mark`](Self::mark). A peer that holds generation `g` needs exactly the
/// chunks [`changed_since(g)`](Self::changed_since). Memory is one `u64`
/// per chunk, whatever the history.
///
/// ```
/// use memwire::diff::{ByteRange, Generations};
///
/// let mut table = [0u64; 4];
/// let mut gens = Generations::new(&mut table, 200, 64).unwrap();
/// gens.reset(1); // the region as created, at generation 1
/// gens.mark(ByteRange::new(70, 72), 2);
/// gens.mark(ByteRange::new(130, 131), 3);
/// gens.mark(ByteRange::new(199, 200), 3);
/// let since_2: Vec<ByteRange> = gens.changed_since(2).collect();
/// assert_eq!(since_2, [ByteRange::new(128, 200)]); // the last chunk ends at 200
/// let since_1: Vec<ByteRange> = gens.changed_since(1).collect();
/// assert_eq!(since_1, [ByteRange::new(64, 200)]);
/// assert_eq!(gens.changed_since(0).collect::<Vec<_>>(), [ByteRange::new(0, 200)]);
/// ```
#[derive(Debug)]
pub struct Generations<'t> {
    table: &'t mut [u64],
    shift: u32,
    data_len: usize,
}

impl<'t> Generations<'t> {
    /// The default chunk size in bytes.
    pub const DEFAULT_CHUNK: usize = 64;

    /// The number of table entries a data area of `data_len` bytes needs
    /// with chunks of `chunk` bytes (0 if `chunk` is 0).
    pub const fn chunks_for(data_len: usize, chunk: usize) -> usize {
        match chunk {
            0 => 0,
            _ => data_len.div_ceil(chunk),
        }
    }

    /// The table of a data area of `data_len` bytes in chunks of `chunk`
    /// bytes (a power of two), over the first
    /// [`chunks_for`](Self::chunks_for) entries of `table`. The entries are
    /// kept as they are: call [`reset`](Self::reset) for a fresh table.
    pub fn new(table: &'t mut [u64], data_len: usize, chunk: usize) -> Result<Self, TableError> {
        if !chunk.is_power_of_two() {
            return Err(TableError::BadChunk);
        }
        let table = table
            .get_mut(..Self::chunks_for(data_len, chunk))
            .ok_or(TableError::TooShort)?;
        Ok(Generations {
            table,
            shift: chunk.trailing_zeros(),
            data_len,
        })
    }

    /// The chunk size in bytes.
    pub const fn chunk(&self) -> usize {
        1 << self.shift
    }

    /// The length of the data area the table covers.
    pub const fn data_len(&self) -> usize {
        self.data_len
    }

    /// The number of chunks.
    pub const fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the data area is empty.
    pub const fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The generation at which chunk `index` last changed.
    pub fn get(&self, index: usize) -> Option<u64> {
        self.table.get(index).copied()
    }

    /// Stamps every chunk with `generation`: a fresh table for a region at
    /// that generation. Use a generation of at least 1, so that a peer that
    /// holds nothing (generation 0) gets every chunk.
    pub fn reset(&mut self, generation: u64) {
        self.table.fill(generation);
    }

    /// Stamps the chunks that hold bytes of `range` with `generation`; the
    /// part of `range` past the data area is ignored.
    pub fn mark(&mut self, range: ByteRange, generation: u64) {
        let end = range.end.min(self.data_len);
        if end <= range.start {
            return;
        }
        let first = range.start >> self.shift;
        let last = (end - 1) >> self.shift;
        if let Some(chunks) = self.table.get_mut(first..=last) {
            chunks.fill(generation);
        }
    }

    /// A read-only view of the table, for a publisher that only asks what
    /// changed.
    pub fn table(&self) -> ChunkTable<'_> {
        ChunkTable {
            table: self.table,
            shift: self.shift,
            data_len: self.data_len,
        }
    }

    /// The byte ranges of the chunks stamped after `generation`, adjacent
    /// chunks merged, the last one cut at the end of the data area. O(chunks).
    pub fn changed_since(&self, generation: u64) -> ChangedSince<'_> {
        ChangedSince {
            table: self.table,
            since: generation,
            next: 0,
            shift: self.shift,
            data_len: self.data_len,
        }
    }

    /// [`changed_since`](Self::changed_since) into `out`: the number of
    /// ranges, or [`Overflow`] (with the first ranges in `out`).
    pub fn write_changed_since(
        &self,
        generation: u64,
        out: &mut [ByteRange],
    ) -> Result<usize, Overflow> {
        let mut needed = 0;
        let mut span: Option<ByteRange> = None;
        for range in self.changed_since(generation) {
            if let Some(slot) = out.get_mut(needed) {
                *slot = range;
            }
            needed += 1;
            span = Some(ByteRange::new(
                span.map_or(range.start, |s| s.start),
                range.end,
            ));
        }
        match span {
            Some(span) if needed > out.len() => Err(Overflow { needed, span }),
            _ => Ok(needed),
        }
    }
}

/// A read-only view of a [`Generations`] table: what a publisher reads.
///
/// Built from a shared `&[u64]` (or [`Generations::table`]), so many
/// readers can share one table that a single scanner updates.
#[derive(Clone, Copy, Debug)]
pub struct ChunkTable<'t> {
    table: &'t [u64],
    shift: u32,
    data_len: usize,
}

impl<'t> ChunkTable<'t> {
    /// The view of `table` for a data area of `data_len` bytes in chunks of
    /// `chunk` bytes, as [`Generations::new`] checks it.
    pub fn new(table: &'t [u64], data_len: usize, chunk: usize) -> Result<Self, TableError> {
        if !chunk.is_power_of_two() {
            return Err(TableError::BadChunk);
        }
        let table = table
            .get(..Generations::chunks_for(data_len, chunk))
            .ok_or(TableError::TooShort)?;
        Ok(ChunkTable {
            table,
            shift: chunk.trailing_zeros(),
            data_len,
        })
    }

    /// The chunk size in bytes.
    pub const fn chunk(&self) -> usize {
        1 << self.shift
    }

    /// The number of chunks.
    pub const fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the data area is empty.
    pub const fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The generation at which chunk `index` last changed.
    pub fn get(&self, index: usize) -> Option<u64> {
        self.table.get(index).copied()
    }

    /// As [`Generations::changed_since`].
    pub fn changed_since(&self, generation: u64) -> ChangedSince<'t> {
        ChangedSince {
            table: self.table,
            since: generation,
            next: 0,
            shift: self.shift,
            data_len: self.data_len,
        }
    }
}

/// The iterator of [`Generations::changed_since`].
#[derive(Clone, Debug)]
pub struct ChangedSince<'a> {
    table: &'a [u64],
    since: u64,
    /// The first chunk not yet looked at.
    next: usize,
    shift: u32,
    data_len: usize,
}

impl Iterator for ChangedSince<'_> {
    type Item = ByteRange;

    fn next(&mut self) -> Option<ByteRange> {
        let rest = self.table.get(self.next..)?;
        let first = self.next + rest.iter().position(|&g| g > self.since)?;
        let run = self
            .table
            .get(first..)
            .map_or(0, |r| r.iter().take_while(|&&g| g > self.since).count());
        let end = first + run;
        self.next = end;
        Some(ByteRange::new(
            first << self.shift,
            (end << self.shift).min(self.data_len),
        ))
    }
}
