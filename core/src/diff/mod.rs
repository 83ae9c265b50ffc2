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
//! 3. **Coalesce.** Runs separated by fewer than [`Differ::gap`] unchanged
//!    bytes become one range: resending a few unchanged bytes is cheaper than
//!    the header of another range. The default, [`Differ::DEFAULT_GAP`] = 8,
//!    is the cost of a range on the wire: with postcard varints a range is
//!    an offset (1–5 bytes, 3 for a region under 2 MiB) and a length (1–2
//!    bytes for most writes), 2–6 bytes plus its share of the frame, so a gap
//!    of 7 bytes or fewer costs no more to send than to skip. Runs that touch
//!    are always one range.
//! 4. **Output.** Ranges go into a caller's `&mut [ByteRange]`, in ascending
//!    order. When they do not fit, the call fails with [`Overflow`]: the
//!    buffer holds the first ranges, and the error says how many were needed
//!    and the one span that covers every change. Send that span, or a full
//!    update; never a truncated list.
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
//! current[70] = 1; // far away: a range of its own
//!
//! let mut out = [ByteRange::default(); 8];
//! let n = Differ::new().changes(&current, &shadow, &mut out).unwrap();
//! assert_eq!(&out[..n], &[ByteRange::new(3, 6), ByteRange::new(70, 71)]);
//! ```

mod byte_range;
mod chunks;
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
pub use path::Path;
pub use ranges::{Touched, touched};

use crate::schema::{Schema, VarId};
use ranges::Collector;

/// Why a scan failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DiffError {
    /// The current data and the shadow differ in length.
    LengthMismatch,
    /// The generation table covers a data area of another length.
    TableMismatch,
    /// More ranges than the output buffer holds. The scan still completed
    /// (the shadow and the generation table are up to date); the buffer
    /// holds the first ranges.
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

/// A configured scan: which [`Path`] and which coalescing gap.
///
/// Always holds a path the CPU can run, so it is cheap to copy around and
/// every scan is safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Differ {
    path: Path,
    gap: usize,
}

impl Default for Differ {
    fn default() -> Self {
        Differ::new()
    }
}

impl Differ {
    /// The default coalescing gap in bytes: about the cost of one more range
    /// on the wire (see the [module docs](self)).
    pub const DEFAULT_GAP: usize = 8;

    /// The fastest path of this CPU ([`Path::best`]) and the default gap.
    pub fn new() -> Differ {
        Differ {
            path: Path::best(),
            gap: Self::DEFAULT_GAP,
        }
    }

    /// The portable path and the default gap, usable in `const` context.
    pub const fn portable() -> Differ {
        Differ {
            path: Path::Portable,
            gap: Self::DEFAULT_GAP,
        }
    }

    /// The same scan on `path`, or `None` if this CPU cannot run it.
    pub fn with_path(self, path: Path) -> Option<Differ> {
        path.is_available().then_some(Differ { path, ..self })
    }

    /// The same scan, coalescing ranges separated by fewer than `gap`
    /// unchanged bytes (0 or 1: never coalesce).
    pub const fn with_gap(self, gap: usize) -> Differ {
        Differ { gap, ..self }
    }

    /// The path this scan runs on.
    pub const fn path(&self) -> Path {
        self.path
    }

    /// The coalescing gap in bytes.
    pub const fn gap(&self) -> usize {
        self.gap
    }

    /// Writes the ranges where `current` and `shadow` differ into `out` and
    /// returns how many there are.
    pub fn changes(
        &self,
        current: &[u8],
        shadow: &[u8],
        out: &mut [ByteRange],
    ) -> Result<usize, DiffError> {
        if current.len() != shadow.len() {
            return Err(DiffError::LengthMismatch);
        }
        let mut sink = Collector::new(out, self.gap, None);
        scan::run(self.path, 0, current, shadow, &mut sink);
        Ok(sink.finish()?)
    }

    /// [`changes`](Self::changes), and copies the changed bytes into
    /// `shadow` in the same pass, so that afterwards `shadow == current`.
    ///
    /// With `marks = Some((table, generation))`, every chunk that holds a
    /// changed byte is stamped with `generation` in `table`.
    ///
    /// On [`DiffError::Overflow`] the shadow and the table are still fully
    /// updated; only the list of ranges is incomplete.
    pub fn update(
        &self,
        current: &[u8],
        shadow: &mut [u8],
        out: &mut [ByteRange],
        marks: Option<(&mut Generations<'_>, u64)>,
    ) -> Result<usize, DiffError> {
        check_lengths(current, shadow, marks.as_ref())?;
        let mut sink = Collector::new(out, self.gap, marks);
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
        let mut sink = Collector::new(out, self.gap, marks);
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
