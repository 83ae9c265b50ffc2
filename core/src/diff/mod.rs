//! Change detection: which bytes of a data area differ from a shadow copy.
//!
//! A local writer that maps a region does not report what it touched, so the
//! hub and every change watcher compare the data area against a shadow copy
//! of it. [`Differ`] does that at memory speed and writes the smallest exact
//! set of changed byte ranges into a caller's buffer.
//!
//! # How a scan works
//!
//! 1. **Blocks.** Both slices are walked in 64-byte blocks. Unchanged blocks
//!    are skipped with the widest compare the CPU has ([`Path`]): word-wise
//!    on every target, SSE2 or AVX2 on x86-64, NEON on aarch64.
//! 2. **Trim.** In a changed block the engine takes one bit per byte (set
//!    where the bytes differ) and turns it into exact runs of differing
//!    bytes. A run of changed 64-byte chunks trimmed to its first and last
//!    differing byte can still hold long unchanged stretches when several
//!    writes share it; those are split out too, so a range never spans a
//!    variable that did not change unless it lies in a short gap (below).
//! 3. **Coalesce.** Two runs become one range when the unchanged bytes
//!    between them cost less to send than starting another range: on the
//!    wire a range is a varint of its gap from the previous range, a varint
//!    of its length and its bytes (`RangeEntry`, `spec/wire-format.md`), so
//!    a near, short range costs 2 bytes more than its data. One unchanged
//!    byte between two short runs is merged; two cost the same either way
//!    and are not, nor are more; runs that touch are always one range. The
//!    rule (`cost.rs`) is the one the exact lower bound of
//!    `benches/src/updates.rs` uses, taken greedily run by run.
//!    [`Differ::with_gap`] coalesces by a fixed gap instead.
//! 4. **Output.** Ranges go into a caller's `&mut [ByteRange]`, in ascending
//!    order. When there are more than it holds, neighbouring ranges are
//!    merged, the cheapest first, a quarter of the buffer at a time
//!    (`cost.rs`), until they fit: the list stays a cover
//!    of every changed byte, only coarser where that is cheapest. A fixed
//!    buffer (a device's few ranges, a hub's 4,096) degrades gently instead
//!    of giving up. Only an empty buffer fails, with [`Overflow`]: the
//!    number of ranges needed and the one span that covers every change.
//!
//! [`Differ::update`] copies the changed blocks into the shadow in the same
//! pass, and can mark the chunks it finds changed in a [`Generations`] table
//! (the per-chunk "generation last changed" that a publisher answers
//! "what changed since generation g" from). [`Differ::update_moved`] scans
//! only the variables whose sequence counters moved, so a large region with
//! few active variables costs O(active bytes). [`touched`] maps ranges to the
//! variables they touch in O(ranges × log variables).
//!
//! Ranges are the same on every path and every chunk size: the chunk size of
//! a [`Generations`] table sets only how finely it remembers changes.
//!
//! # Files
//!
//! - `mod.rs`: [`Differ`], its checks and entry points;
//! - `scan.rs`: the block walk, which picks the kernel of a [`Path`];
//! - `kernel.rs`: the contract every kernel meets, and how to add one
//!   (AVX-512, RVV);
//! - `portable.rs`, `simd.rs`: the kernels (word-wise; SSE2, AVX2, NEON);
//! - `path.rs`: [`Path`], which kernels this CPU runs;
//! - `ranges.rs`: block masks to coalesced ranges, and [`touched`];
//! - `cost.rs`: what a range costs on the wire, which ranges to merge, and
//!   merging to fit a full buffer;
//! - `chunks.rs`: the [`Generations`] table;
//! - `byte_range.rs`: [`ByteRange`] and [`Overflow`].
//!
//! ```
//! use memwire::diff::{ByteRange, Differ};
//!
//! let shadow = [0u8; 100];
//! let mut current = shadow;
//! current[3] = 1;
//! current[5] = 1; // 1 unchanged byte after the first change: coalesced
//! current[9] = 1; // 3 unchanged bytes: cheaper as a range of its own
//! current[70] = 1; // far away: a range of its own
//!
//! let mut out = [ByteRange::default(); 8];
//! let n = Differ::new().changes(&current, &shadow, &mut out).unwrap();
//! assert_eq!(
//!     &out[..n],
//!     &[ByteRange::new(3, 6), ByteRange::new(9, 10), ByteRange::new(70, 71)]
//! );
//! ```

mod byte_range;
mod chunks;
mod cost;
mod kernel;
mod path;
mod portable;
mod ranges;
mod scan;
#[allow(unsafe_code)]
mod simd;

use core::fmt;

pub use byte_range::{ByteRange, Overflow};
pub use chunks::{ChangedSince, ChunkTable, Generations, TableError};
pub use cost::chunks_are_cheaper;
pub use path::Path;
pub use ranges::{Touched, touched};

use crate::schema::{Schema, VarId};
use ranges::{Collector, Merge};

/// Why a scan failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DiffError {
    /// The current data and the shadow differ in length.
    LengthMismatch,
    /// The generation table covers a data area of another length.
    TableMismatch,
    /// Something changed and the output buffer holds no range. The scan
    /// still completed (the shadow and the generation table are up to
    /// date). A buffer with room for one range or more never overflows: its
    /// ranges are merged to fit.
    Overflow(Overflow),
    /// A moved variable's id is not in the schema.
    UnknownVariable(VarId),
    /// A moved variable ends past the data area.
    OutOfBounds(VarId),
    /// The moved variables are not in strictly ascending id order.
    Unordered,
}

impl fmt::Display for DiffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiffError::LengthMismatch => f.write_str("data and shadow differ in length"),
            DiffError::TableMismatch => {
                f.write_str("generation table covers a data area of another length")
            }
            DiffError::Overflow(o) => fmt::Display::fmt(o, f),
            DiffError::UnknownVariable(id) => write!(f, "variable {} is not in the schema", id.0),
            DiffError::OutOfBounds(id) => write!(f, "variable {} ends past the data area", id.0),
            DiffError::Unordered => f.write_str("moved variables are not in ascending order"),
        }
    }
}

impl core::error::Error for DiffError {}

impl From<Overflow> for DiffError {
    fn from(o: Overflow) -> Self {
        DiffError::Overflow(o)
    }
}

/// A configured scan: which [`Path`] and how runs are coalesced.
///
/// Always holds a path the CPU can run, so it is cheap to copy around and
/// every scan is safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Differ {
    path: Path,
    merge: Merge,
}

impl Default for Differ {
    fn default() -> Self {
        Differ::new()
    }
}

impl Differ {
    /// The fastest path of this CPU ([`Path::best`]), coalescing by cost.
    pub fn new() -> Differ {
        Differ {
            path: Path::best(),
            merge: Merge::Cost,
        }
    }

    /// The portable path, coalescing by cost, usable in `const` context.
    pub const fn portable() -> Differ {
        Differ {
            path: Path::Portable,
            merge: Merge::Cost,
        }
    }

    /// The same scan on `path`, or `None` if this CPU cannot run it.
    pub fn with_path(self, path: Path) -> Option<Differ> {
        path.is_available().then_some(Differ { path, ..self })
    }

    /// The same scan, coalescing runs separated by fewer than `gap`
    /// unchanged bytes (0 or 1: never coalesce) instead of by cost.
    pub const fn with_gap(self, gap: usize) -> Differ {
        Differ {
            merge: Merge::Gap(gap),
            ..self
        }
    }

    /// The path this scan runs on.
    pub const fn path(&self) -> Path {
        self.path
    }

    /// The fixed coalescing gap in bytes, or `None` when runs are coalesced
    /// by cost (the default).
    pub const fn gap(&self) -> Option<usize> {
        match self.merge {
            Merge::Cost => None,
            Merge::Gap(gap) => Some(gap),
        }
    }

    /// Writes the ranges where `current` and `shadow` differ into `out` and
    /// returns how many there are (merged to fit `out` when there are more
    /// than it holds, see the [module docs](self)).
    pub fn changes(
        &self,
        current: &[u8],
        shadow: &[u8],
        out: &mut [ByteRange],
    ) -> Result<usize, DiffError> {
        if current.len() != shadow.len() {
            return Err(DiffError::LengthMismatch);
        }
        let mut sink = Collector::new(out, self.merge, None);
        scan::run(self.path, 0, current, shadow, &mut sink);
        Ok(sink.finish()?)
    }

    /// [`changes`](Self::changes), and copies the changed bytes into
    /// `shadow` in the same pass, so that afterwards `shadow == current`.
    ///
    /// With `marks = Some((table, generation))`, every chunk that holds a
    /// changed byte is stamped with `generation` in `table`.
    ///
    /// On [`DiffError::Overflow`] (an empty `out`) the shadow and the table
    /// are still fully updated.
    pub fn update(
        &self,
        current: &[u8],
        shadow: &mut [u8],
        out: &mut [ByteRange],
        marks: Option<(&mut Generations<'_>, u64)>,
    ) -> Result<usize, DiffError> {
        check_lengths(current, shadow, marks.as_ref())?;
        let mut sink = Collector::new(out, self.merge, marks);
        scan::run(self.path, 0, current, shadow, &mut sink);
        Ok(sink.finish()?)
    }

    /// [`update`](Self::update) restricted to the variables in `moved`
    /// (strictly ascending ids of `schema`, e.g. those whose sequence
    /// counters moved since the last scan). Bytes outside them are neither
    /// compared nor copied, so the cost is O(bytes of the moved variables).
    ///
    /// The ids are checked as they are used: on an error, some of the
    /// variables before the bad one may already have been scanned and their
    /// shadow updated, and their ranges are not reported.
    pub fn update_moved<I>(
        &self,
        current: &[u8],
        shadow: &mut [u8],
        schema: Schema<'_>,
        moved: I,
        out: &mut [ByteRange],
        marks: Option<(&mut Generations<'_>, u64)>,
    ) -> Result<usize, DiffError>
    where
        I: IntoIterator<Item = VarId>,
    {
        check_lengths(current, shadow, marks.as_ref())?;
        let mut sink = Collector::new(out, self.merge, marks);
        // Neighbouring moved variables are scanned as one span, so that a
        // struct of small fields is one pass, not one call per field.
        let mut span: Option<ByteRange> = None;
        let mut last: Option<VarId> = None;
        for id in moved {
            if last.is_some_and(|l| l >= id) {
                return Err(DiffError::Unordered);
            }
            last = Some(id);
            let var = schema.get(id).ok_or(DiffError::UnknownVariable(id))?;
            let range = var.range();
            if range.end > current.len() {
                return Err(DiffError::OutOfBounds(id));
            }
            span = match span {
                Some(s) if s.end == range.start => Some(ByteRange::new(s.start, range.end)),
                Some(s) => {
                    scan_span(self.path, current, shadow, s, &mut sink);
                    Some(ByteRange::new(range.start, range.end))
                }
                None => Some(ByteRange::new(range.start, range.end)),
            };
        }
        if let Some(s) = span {
            scan_span(self.path, current, shadow, s, &mut sink);
        }
        Ok(sink.finish()?)
    }
}

/// Scans and updates one span that the caller has checked to be in bounds.
fn scan_span(
    path: Path,
    current: &[u8],
    shadow: &mut [u8],
    span: ByteRange,
    sink: &mut Collector<'_, '_, '_>,
) {
    if let (Some(c), Some(s)) = (
        current.get(span.as_range()),
        shadow.get_mut(span.as_range()),
    ) {
        scan::run(path, span.start, c, s, sink);
    }
}

/// The current data, its shadow and the generation table must all cover
/// the same data area.
fn check_lengths(
    current: &[u8],
    shadow: &[u8],
    marks: Option<&(&mut Generations<'_>, u64)>,
) -> Result<(), DiffError> {
    if current.len() != shadow.len() {
        return Err(DiffError::LengthMismatch);
    }
    if marks.is_some_and(|(table, _)| table.data_len() != current.len()) {
        return Err(DiffError::TableMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
